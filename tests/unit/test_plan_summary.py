"""How a plan reads for a decision: effect lines and their hash (due dates left out), the
difference between two plans, skips counted once (no phantom `course -` rows), levels
rounded as goal titles round them."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connector.cli import main
from connector.models import Employee, Rating, Review
from connector.plan_summary import (
    batch_summary,
    difference,
    distinct_skips,
    lines_hash,
    plan_hash,
    skip_text,
)
from connector.planner import plan_reviews
from mappings.loader import load_mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"
MAPPING = load_mapping(EXAMPLE)


def review(*skills: str, rating: float = 1) -> Review:
    return Review(review_id="HR-7", source="csv", cycle="2026-H1",
                  completed_at=datetime(2026, 3, 1, tzinfo=UTC),
                  employee=Employee(employee_id="E1", first_name="Ana", last_name="Lopez",
                                    role="Account Executive"),
                  ratings=tuple(Rating(skill_key=s, value=rating) for s in skills))


CUT = ("Negotiation skills", "Customer focus", "Technical skills")  # 6 courses, 3 allowed


def test_a_goal_cut_with_all_its_courses_is_one_cut_not_two() -> None:
    plan = plan_reviews([review(*CUT)], MAPPING)
    raw = [s for s in plan.skipped if s.skill_id == "customer_focus"]
    assert [s.course_id for s in raw] == ["105", "106", None]  # the planner's own record
    once = [s for s in distinct_skips(plan.skipped) if s.skill_id == "customer_focus"]
    assert [s.course_id for s in once] == ["105", "106"]
    assert skip_text(once[0]) == "customer_focus: course 105: limit max_courses_per_review"


def test_the_plan_table_counts_each_skip_once_and_has_no_course_dash_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CONNECTOR_"):
            monkeypatch.delenv(name)
    path = tmp_path / "reviews.csv"
    path.write_text("employee_id,role,review_id,cycle,completed_at,skill,rating\n" + "".join(
        f"E1,Account Executive,R1,2026-H1,2026-03-01,{skill},1\n" for skill in CUT),
        encoding="utf-8")
    assert main(["plan", "--reviews", str(path), "--mapping", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "4 skipped" in out and "Skipped (4)" in out
    assert "  -  " not in out.split("Skipped (4)")[1]


def test_the_hash_binds_effects_not_due_dates() -> None:
    early = plan_reviews([review(*CUT)], MAPPING, today=date(2026, 3, 2))
    later = plan_reviews([review(*CUT)], MAPPING, today=date(2026, 4, 2))
    assert early.actions[1].due_date != later.actions[1].due_date
    assert plan_hash(early.actions) == plan_hash(later.actions)
    other = plan_reviews([review("Negotiation skills")], MAPPING)
    assert plan_hash(other.actions) != plan_hash(early.actions)
    summary = batch_summary(early.actions, 1)
    assert lines_hash(summary["lines"]) == plan_hash(early.actions)
    assert summary["employees"][0]["courses"] == ["101", "102", "107"]
    changes = difference(summary["lines"], batch_summary(other.actions, 1)["lines"])
    assert changes and all(c.startswith("- ") for c in changes)
    assert "- assign course 107 to E1 (goal E1/technical_depth/2026-H1)" in changes


def test_levels_are_rounded_for_people() -> None:
    plan = plan_reviews([review("Negotiation skills", rating=1.888889)], MAPPING)
    goal = next(a for a in plan.actions if a.goal_title)
    assert "1.89" in (goal.goal_title or "") and "1.8888" not in (goal.goal_title or "")
