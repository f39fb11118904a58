"""Properties of planning that must hold for any reviews, ledger and per-review limit."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.models import ActionKind, Employee, Rating, Review
from connector.planner import LedgerView, Planner, plan_reviews
from mappings.loader import load_mapping_text
from mappings.schema import Mapping

TEXT = """
protected = ["E9"]
[targets]
default = 3
[targets.roles.AE]
negotiation = 5
[[skills]]
id = "negotiation"
[[skills]]
id = "communication"
[[skills]]
id = "writing"
[[skills]]
id = "typing"
[[rules]]
skill = "negotiation"
courses = ["101", "102"]
priority = 5
[[rules]]
skill = "communication"
courses = ["103", "104"]
[[rules]]
skill = "writing"
min_gap = 2
courses = ["104", "105", "106"]
[limits]
max_courses_per_review = LIMIT
"""

SKILLS = ["negotiation", "communication", "writing", "typing", "Unknown"]
EMPLOYEES = ["E1", "E2", "E3", "E9"]
COURSES = ["101", "102", "103", "104", "105", "106"]


@cache
def mapping_with_limit(limit: int) -> Mapping:
    return load_mapping_text(TEXT.replace("LIMIT", str(limit)), "m.toml")


ratings = st.builds(
    Rating,
    skill_key=st.sampled_from(SKILLS),
    value=st.integers(1, 5).map(float),
    rater=st.sampled_from(["manager", "self", "peer"]),
)


@st.composite
def reviews(draw: st.DrawFn) -> Review:
    employee = draw(st.sampled_from(EMPLOYEES))
    cycle = draw(st.sampled_from(["2025-H2", "2026-H1"]))
    return Review(
        review_id=f"{employee}-{cycle}-{draw(st.integers(0, 1))}",
        source="csv",
        cycle=cycle,
        employee=Employee(employee_id=employee, role=draw(st.sampled_from([None, "AE"]))),
        completed_at=datetime(2026, 3, 1, tzinfo=UTC),
        ratings=tuple(draw(st.lists(ratings, max_size=6))),
    )


ledgers = st.builds(
    lambda courses: LedgerView(open_courses={e: frozenset(c) for e, c in courses.items()}),
    st.dictionaries(st.sampled_from(EMPLOYEES), st.sets(st.sampled_from(COURSES), max_size=3)),
)
limits = st.integers(0, 4)


@settings(max_examples=60, deadline=None)
@given(st.lists(reviews(), max_size=6), ledgers, limits)
def test_planning_again_with_the_updated_ledger_adds_nothing(
    batch: list[Review], ledger: LedgerView, limit: int
) -> None:
    mapping = mapping_with_limit(limit)
    first = plan_reviews(batch, mapping, ledger)
    second = plan_reviews(batch, mapping, ledger.with_plan(first))
    assert second.actions == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(reviews(), max_size=6), ledgers, limits)
def test_no_employee_gets_the_same_course_twice(
    batch: list[Review], ledger: LedgerView, limit: int
) -> None:
    plan = plan_reviews(batch, mapping_with_limit(limit), ledger)
    enrolled = Counter(
        (a.employee.employee_id, a.course_id) for a in plan.actions if a.kind is ActionKind.ENROLL
    )
    assert all(n == 1 for n in enrolled.values())
    for (employee, course), _ in enrolled.items():
        assert course not in ledger.open_courses.get(employee, frozenset())
    learners = Counter(
        a.employee.employee_id for a in plan.actions if a.kind is ActionKind.ENSURE_LEARNER
    )
    assert all(n == 1 for n in learners.values())
    assert set(learners) == {employee for employee, _ in enrolled}


@settings(max_examples=60, deadline=None)
@given(st.lists(reviews(), max_size=6), ledgers, limits)
def test_limits_and_protection_always_hold(
    batch: list[Review], ledger: LedgerView, limit: int
) -> None:
    planner = Planner(mapping_with_limit(limit), ledger)
    goals: dict[str, tuple[str, ...]] = {}  # goals opened so far in the run → linked courses
    for one in batch:
        plan = planner.plan_review(one)
        assert plan.count(ActionKind.ENROLL) <= limit
        if one.employee.employee_id == "E9":
            assert plan.actions == ()
        goals.update(
            (str(a.goal), a.course_ids) for a in plan.actions if a.kind is ActionKind.OPEN_GOAL
        )
        for action in plan.actions:
            if action.kind is ActionKind.ENROLL:
                # Every enrollment serves a goal opened in this run (a re-opened review may add
                # a course to the goal its first delivery opened).
                assert str(action.goal) in goals


@settings(max_examples=80, deadline=None)
@given(reviews(), ledgers, limits, st.data())
def test_a_worse_rating_never_yields_fewer_assignments(
    one: Review, ledger: LedgerView, limit: int, data: st.DataObject
) -> None:
    if not one.ratings:
        return
    mapping = mapping_with_limit(limit)
    index = data.draw(st.integers(0, len(one.ratings) - 1))
    rating = one.ratings[index]
    assert rating.value is not None
    worse_value = data.draw(st.integers(1, int(rating.value)).map(float))
    worse = one.model_copy(update={
        "ratings": (*one.ratings[:index], rating.model_copy(update={"value": worse_value}),
                    *one.ratings[index + 1:]),
    })
    before = plan_reviews([one], mapping, ledger).count(ActionKind.ENROLL)
    after = plan_reviews([worse], mapping, ledger).count(ActionKind.ENROLL)
    assert after >= before
