"""Employee-supplied text that starts a vendor field is never a spreadsheet formula there.

A goal title naming the employee (`{employee}` in the rule) and a course title from the LMS
reach the BambooHR sandbox's goal title and milestones through the real planner and
executor; they arrive with the neutralising quote of connector/text_safety.py, while the
lines we format ourselves (the goal description's `- course` lines and markers) keep their
shape, and ordinary titles are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.executor import Context
from connector.handlers import process_review
from connector.id_spaces import IdSpaces
from connector.models import Employee, Rating, Review
from connector.settings import Settings
from connector.store import Store
from connector.vendors.bamboohr.goals import BambooHRGoals
from connector.vendors.bamboohr.sandbox import BambooHRSandbox
from mappings.loader import load_mapping
from tests.support.fakes import FakeLMS

FORMULA_NAME = "=HYPERLINK(\"http://evil.example\",\"x\")"


@pytest.fixture
def bamboohr() -> Iterator[BambooHRSandbox]:
    sim = BambooHRSandbox.start()
    sim.post("/_sandbox/employees", [{"id": "7", "firstName": FORMULA_NAME, "lastName": "Lee",
                                      "workEmail": "ann@example.com", "status": "Active"}])
    yield sim
    sim.stop()


def mapping(tmp_path: Path) -> Path:
    text = (Path(__file__).parents[2] / "mappings" / "example.toml").read_text()
    text = re.sub(r'goal_title = "Raise \{skill\}', 'goal_title = "{employee}: raise {skill}',
                  text)
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_names_and_course_titles_are_neutralised_where_they_start_a_vendor_field(
        bamboohr: BambooHRSandbox, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, **bamboohr.settings())
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    ctx = Context(store=store, mapping=load_mapping(mapping(tmp_path)),
                  lms=FakeLMS({"ann@example.com": "u1"}),
                  goals=BambooHRGoals.from_settings(settings),
                  course_names={"101": "@SUM(1+1)", "102": "-2+3", "105": "Customer focus",
                                "106": "Listening"},
                  id_spaces=IdSpaces(match_by="id"), now=lambda: datetime.now(UTC))
    ann = Employee(employee_id="7", email="ann@example.com", first_name=FORMULA_NAME,
                   last_name="Lee", role="Account Executive")
    review = Review(review_id="R1", source="csv", cycle="2026H1", employee=ann,
                    completed_at=datetime.now(UTC),
                    ratings=(Rating(skill_key="negotiation", value=1),
                             Rating(skill_key="customer_focus", value=1)))
    process_review(ctx, review)
    goals = {g["title"]: g for g in bamboohr.state()["goals"]}
    assert len(goals) == 2
    named = next(g for t, g in goals.items() if "raise" in t)
    assert named["title"].startswith("'=HYPERLINK(")  # shown as typed, never evaluated
    assert [m["title"] for m in named["milestones"]] == ["'@SUM(1+1)", "'-2+3"]
    lines = named["description"].splitlines()
    assert "- '@SUM(1+1)" in lines and "- '-2+3" in lines  # our `- ` lines keep their shape
    assert not any(line.startswith("'") for line in lines)
    plain = next(g for t, g in goals.items() if "raise" not in t)
    assert plain["title"].startswith("Grow ")  # ordinary text is unchanged
    assert plain["milestones"][0]["title"] == "Customer focus"
    ledger = {g.title for g in store.goals_for("7")}
    assert ledger == set(goals)  # the ledger keeps the title as the tracker holds it
    store.close()
