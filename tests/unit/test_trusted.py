"""`mappings.trusted` builds models without validation by filling pydantic's private slots.

These tests are the guard on that: every model the hot path builds (a review file read and
planned) must equal, slot by slot, the model pydantic itself validates from the same values.
A pydantic upgrade that adds a slot, changes what one holds, or changes how equality, hashing,
copying or dumping read them fails here rather than in the planner.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr

from connector.planner import Planner
from connector.reviews.file import read_reviews
from mappings.loader import load_mapping
from mappings.trusted import MODEL_SLOTS, trusted_maker

ROOT = Path(__file__).resolve().parents[2]
SKILLS = ["Negotiation skills", "KPI 3", "Customer focus", "Technical skills",
          "Problem solving", "Time management", "Leadership", "Working with data",
          "Juggling"]  # the last one is in no mapping: an unmapped entry
HEADER = ("employee_id,email,first_name,last_name,role,review_id,cycle,completed_at,skill,"
          "rating,scale_min,scale_max,rater,comment\n")
ROLES = ["Account Executive", "Software Engineer", "Support Specialist", "Analyst"]
#: Every model class the hot path builds with `trusted_maker`; the walk must meet them all.
BUILT = {"Employee", "Review", "Rating", "GoalKey", "PlanAction", "Skipped", "Plan", "Cause",
         "SkillGap", "Unmapped"}


def _csv(tmp_path: Path) -> Path:
    lines = [HEADER]
    for n in range(12):
        for s, skill in enumerate(SKILLS):
            value = ["1", "2", "3", "5", "Meets expectations"][(n + s) % 5]
            lo, hi = ("1", "10") if n % 3 == 0 else ("", "")
            lines.append(f"E{n},e{n}@example.com,Ann,Lee,{ROLES[n % 4]},R{n},2026-H1,"
                         f"2026-03-0{1 + n % 9},{skill},{value},{lo},{hi},manager,\n")
    path = tmp_path / "reviews.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _models(value: Any) -> list[BaseModel]:
    """Every model in `value`, depth first (models, tuples, lists, dict values)."""
    found: list[BaseModel] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, BaseModel):
            found.append(node)
            stack.extend(node.__dict__.values())
        elif isinstance(node, list | tuple | set | frozenset):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return found


def _built_models(tmp_path: Path) -> list[BaseModel]:
    planner = Planner(load_mapping(ROOT / "mappings" / "example.toml"), today=date(2026, 4, 1))
    models: list[BaseModel] = []
    with read_reviews(_csv(tmp_path)) as reviews:
        for review in reviews:
            models.extend(_models(review))
            models.extend(_models(planner.plan_review(review)))
    return models


def test_base_model_has_exactly_the_slots_the_helper_fills() -> None:
    assert tuple(BaseModel.__slots__) == MODEL_SLOTS


def test_every_built_model_equals_the_validated_one_slot_by_slot(tmp_path: Path) -> None:
    seen: set[str] = set()
    for model in _built_models(tmp_path):
        cls = type(model)
        seen.add(cls.__name__)
        validated = cls.model_validate(dict(model.__dict__))
        assert model.__dict__ == validated.__dict__, cls.__name__
        assert list(model.__dict__) == list(cls.model_fields), cls.__name__  # repr order
        assert model.model_fields_set == validated.model_fields_set, cls.__name__
        assert model.__pydantic_extra__ == validated.__pydantic_extra__, cls.__name__
        assert model.__pydantic_private__ == validated.__pydantic_private__, cls.__name__
        assert model == validated and repr(model) == repr(validated), cls.__name__
        assert model.model_dump() == validated.model_dump(), cls.__name__
        assert model.model_dump_json() == validated.model_dump_json(), cls.__name__
        if cls.model_config.get("frozen"):
            assert hash(model) == hash(validated), cls.__name__
    assert seen >= BUILT, f"the walk never met {sorted(BUILT - seen)}"


def test_copies_of_built_models_do_not_share_their_fields_set(tmp_path: Path) -> None:
    rating = next(m for m in _built_models(tmp_path) if type(m).__name__ == "Rating")
    sibling = type(rating).model_validate(dict(rating.__dict__))
    changed = rating.model_copy(update={"comment": "copied"})
    assert changed.comment == "copied" and rating.comment != "copied"
    assert rating.model_fields_set == sibling.model_fields_set
    assert type(rating).model_validate(changed.model_dump()) == changed


def test_models_it_would_build_wrong_are_refused() -> None:
    class WithPrivate(BaseModel):
        name: str
        _memo: dict[str, int] = PrivateAttr(default_factory=dict)

    class WithExtra(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str

    with pytest.raises(TypeError, match="private attributes"):
        trusted_maker(WithPrivate)
    with pytest.raises(TypeError, match="extra fields"):
        trusted_maker(WithExtra)
