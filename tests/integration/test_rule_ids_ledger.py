"""Open goals follow their rule by its stable id: inserting or reordering rules in the mapping
changes nothing for them, and `trace` names the rule that really applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from connector.cli import main
from connector.commands import format_trace, trace_report
from connector.store.schema import goals
from mappings.loader import load_mapping_text
from mappings.schema import Mapping
from tests.integration.test_completions import CUSTOMER, MAPPING, Pipeline


def reordered(mapping: Mapping) -> Mapping:
    """The same rules, in the opposite order, with one new rule in front."""
    data = mapping.model_dump()
    data["skills"].append({"id": "filing", "name": None, "aliases": []})
    data["rules"] = [{**data["rules"][0], "skill": "filing", "courses": ["900"]},
                     *reversed(data["rules"])]
    return Mapping.model_validate(data)


@pytest.fixture
def pipe(database_url: str) -> Iterator[Pipeline]:
    p = Pipeline(database_url)
    yield p
    p.store.close()


def test_goals_record_their_rule_id_and_versions(pipe: Pipeline) -> None:
    pipe.send_review({"Customer focus": 3})
    pipe.drain()
    goal = pipe.store.goal(CUSTOMER)
    assert goal is not None
    rule = MAPPING.rule_by_id("customerfocus:105+106")
    assert rule is not None and rule.skill == "customer_focus"
    assert (goal.rule_id, goal.rule_version, goal.mapping_version) == (
        "customerfocus:105+106", rule.version, MAPPING.version)


def test_a_reordered_mapping_keeps_an_open_goals_evidence_window(pipe: Pipeline) -> None:
    pipe.send_review({"Customer focus": 3})
    pipe.drain()
    # The admin inserts a rule and reorders the rest: rules[2] is now another skill's rule,
    # one without the 365-day window customer focus has.
    pipe.ctx.mapping = reordered(MAPPING)
    assert pipe.ctx.mapping.rules[2].skill != "customer_focus"
    pipe.send_completion("old-cust", "105", day=datetime(2026, 1, 15, tzinfo=UTC))
    pipe.drain()
    assert len(pipe.evidence(CUSTOMER)) == 1  # still within customer focus's window


def test_a_goal_from_before_rule_ids_follows_its_position(pipe: Pipeline) -> None:
    pipe.send_review({"Customer focus": 3})
    pipe.drain()
    with pipe.store.engine.begin() as conn:  # as rows written before 0002_rule_ids
        conn.execute(update(goals).values(rule_id=None, rule_version=None, mapping_version=None))
    old = pipe.store.goal(CUSTOMER)
    assert old is not None and old.rule_id is None and old.rule_index == 2
    pipe.send_completion("old-cust", "105", day=datetime(2026, 1, 15, tzinfo=UTC))
    pipe.drain()
    assert len(pipe.evidence(CUSTOMER)) == 1  # rules[2] of today's file: customer focus


def test_trace_names_the_rule_by_its_id(pipe: Pipeline) -> None:
    pipe.send_review({"Customer focus": 3})
    pipe.drain()
    text = format_trace(trace_report(pipe.store, "E1"))
    assert "rule customerfocus:105+106)" in text
    assert "rules[" not in text


EDITED = (Path(__file__).resolve().parents[2] / "mappings" / "example.toml").read_text()


def check_output(url: str, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
    assert main(["check", "--mapping", str(path)]) == 0
    return capsys.readouterr().out


def test_check_warns_when_an_edit_changes_or_drops_a_rule_open_goals_follow(
        pipe: Pipeline, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pipe.send_review({"Customer focus": 3, "Negotiation": 2})
    pipe.drain()
    assert check_output(database_url, EDITED, tmp_path, monkeypatch, capsys).count(
        "warning") == 0  # the file the goals were planned under
    window = EDITED.replace("accept_within_days = 365", "accept_within_days = 30")
    out = check_output(database_url, window, tmp_path, monkeypatch, capsys)
    assert "warning: rule 'customerfocus:105+106' changed since 1 open goal were planned" in out
    courses = EDITED.replace('courses = ["101", "102"]', 'courses = ["101", "199"]')
    out = check_output(database_url, courses, tmp_path, monkeypatch, capsys)
    assert ("warning: rule 'negotiation:101+102', which 1 open goal follow, is no longer in "
            "the file") in out
    assert 'id = "negotiation:101+102"' in out  # how to keep it
    # Reordering changes nothing for them: no warning.
    negotiation = EDITED[EDITED.index('[[rules]]\nskill = "negotiation"'):
                         EDITED.index('[[rules]]\nskill = "communication"')]
    reordered_text = EDITED.replace(negotiation, "").replace(
        "[limits]", negotiation + "[limits]")
    assert load_mapping_text(reordered_text, "m").rules[-1].skill == "negotiation"
    assert "warning" not in check_output(database_url, reordered_text, tmp_path, monkeypatch,
                                         capsys)


def test_check_without_a_database_warns_about_nothing_and_creates_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert "warning" not in check_output(url, EDITED, tmp_path, monkeypatch, capsys)
    assert not (tmp_path / "none.db").exists()
