"""The demo's summary accounts for every gap and every planned course, on both engines: the
totals add up (a gap opened a goal or says why not; a planned course was assigned or says
where it waits)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.demo.checks import account, format_summary
from connector.executor import Context
from connector.handlers import process_review
from connector.models import Employee, Rating, Review
from connector.runtime import Runtime
from connector.settings import Settings
from connector.store import Store
from mappings.loader import load_mapping
from tests.support.fakes import FakeGoals, FakeLMS

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"
CUT = ("Negotiation skills", "Customer focus", "Technical skills")  # 6 courses, 3 allowed


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


def review(eid: str, *skills: str) -> Review:
    return Review(review_id=f"R-{eid}", source="csv", cycle="2026-H1",
                  completed_at=datetime(2026, 6, 30, tzinfo=UTC),
                  employee=Employee(employee_id=eid, email=f"{eid.lower()}@example.com",
                                    role="Account Executive"),
                  ratings=tuple(Rating(skill_key=s, value=1) for s in skills))


def test_every_gap_and_planned_course_is_accounted_for(store: Store) -> None:
    ctx = Context(store=store, mapping=load_mapping(EXAMPLE),
                  lms=FakeLMS({"e1@example.com": "u1"}), goals=FakeGoals())
    process_review(ctx, review("E1", *CUT))  # the third goal's courses are all cut
    process_review(ctx, review("E2", "Negotiation skills"))  # no LMS user: waits
    rt = Runtime(settings=Settings(_env_file=None), store=store, ctx=ctx)  # type: ignore[call-arg]
    got = account(rt)
    assert got["gaps_with_goal"] == 3
    assert got["gaps_without_goal"] == {
        "all its courses cut by limit max_courses_per_review": 1}
    assert got["courses_planned"] == 5
    assert got["courses_by_fate"] == {"assigned": 3, "waiting for an identity": 2}
    assert got["courses_cut_by_limit"] == 4
    text = format_summary({**got, "reviews": 2, "gaps": 4, "assignments": 3, "goals_open": 3,
                           "goals_closed": 0, "evidence": 0, "failed_attempts_noted": 0,
                           "unmapped": [], "identities_pending": ["E2"], "checks": {}})
    assert ("skill gaps found:     4: 3 opened a goal; 1 did not (all its courses cut by "
            "limit max_courses_per_review: 1)") in text
    assert ("courses planned:      5: 3 assigned; waiting for an identity: 2 (4 more cut by "
            "a limit, never planned)") in text
