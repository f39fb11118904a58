"""The planner: actions, order, due dates, limits, the ledger and protected employees."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connector.models import ActionKind, Employee, Plan, PlanAction, Rating, Review
from connector.planner import LedgerView, Planner, plan_reviews
from mappings.loader import load_mapping_text
from mappings.schema import Mapping

TEXT = """
protected = ["E9"]
[targets]
default = 3
[[skills]]
id = "negotiation"
aliases = ["Negotiation skills"]
[[skills]]
id = "communication"
[[skills]]
id = "writing"
[[rules]]
skill = "negotiation"
courses = ["101", "102"]
priority = 10
due_in_days = 30
goal_title = "Raise {skill} from {rating} to {target} for {employee} ({cycle}, gap {gap})"
[[rules]]
skill = "communication"
courses = ["103", "104"]
[[rules]]
skill = "writing"
courses = ["104", "105"]
[limits]
max_courses_per_review = 3
max_assignments_per_run = 4
max_assignment_share = 0.5
"""


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping_text(TEXT, "m.toml")


def review(
    *ratings: tuple[str, float], employee: str = "E1", review_id: str = "R1",
    cycle: str = "2026-H1",
) -> Review:
    return Review(
        review_id=review_id, source="csv", cycle=cycle,
        employee=Employee(employee_id=employee, first_name="Ana", last_name="Lopez"),
        completed_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        ratings=tuple(Rating(skill_key=s, value=v) for s, v in ratings),
    )


def kinds(plan: Plan) -> list[tuple[str, str | None]]:
    return [(a.kind.value, a.course_id or (str(a.goal) if a.goal else None)) for a in plan.actions]


def test_one_gap_plans_learner_goal_and_enrollments(mapping: Mapping) -> None:
    plan = plan_reviews([review(("Negotiation skills", 2))], mapping)
    assert kinds(plan) == [
        ("ensure_learner", None),
        ("open_goal", "E1/negotiation/2026-H1"),
        ("enroll", "101"),
        ("enroll", "102"),
    ]
    goal = plan.actions[1]
    assert goal.course_ids == ("101", "102")
    assert goal.goal_title == "Raise negotiation from 2 to 3 for Ana Lopez (2026-H1, gap 1)"
    assert goal.due_date == date(2026, 3, 31)  # completed 1 March + 30 days
    assert all(a.causes[0].skill_id == "negotiation" for a in plan.actions)
    assert [a.key for a in plan.actions[2:]] == [
        "enroll:E1:101:E1/negotiation/2026-H1", "enroll:E1:102:E1/negotiation/2026-H1",
    ]
    assert plan.gaps[0].gap == 1


def test_due_date_counts_from_today_when_later(mapping: Mapping) -> None:
    planner = Planner(mapping, today=date(2026, 6, 1))
    plan = planner.plan_review(review(("negotiation", 2)))
    assert {a.due_date for a in plan.actions if a.due_date} == {date(2026, 7, 1)}
    earlier = Planner(mapping, today=date(2026, 1, 1)).plan_review(review(("negotiation", 2)))
    assert {a.due_date for a in earlier.actions if a.due_date} == {date(2026, 3, 31)}


def test_limit_takes_priority_then_gap_then_skill(mapping: Mapping) -> None:
    # communication (gap 2) and writing (gap 2) tie on priority 0 and gap: skill id decides.
    plan = plan_reviews(
        [review(("writing", 1), ("communication", 1), ("negotiation", 2))], mapping
    )
    enrolled = [a.course_id for a in plan.actions if a.kind is ActionKind.ENROLL]
    assert enrolled == ["101", "102", "103"]  # negotiation first (priority 10), then comm.
    reasons = {(s.skill_id, s.course_id): s.reason for s in plan.skipped}
    assert reasons == {
        ("communication", "104"): "limit max_courses_per_review",
        ("writing", "104"): "limit max_courses_per_review",
        ("writing", "105"): "limit max_courses_per_review",
        ("writing", None): "limit max_courses_per_review",
    }
    goals = [a for a in plan.actions if a.kind is ActionKind.OPEN_GOAL]
    assert [(str(g.goal), g.course_ids) for g in goals] == [
        ("E1/negotiation/2026-H1", ("101", "102")),
        ("E1/communication/2026-H1", ("103",)),
    ]


def test_bigger_gap_goes_first_at_equal_priority(mapping: Mapping) -> None:
    plan = plan_reviews([review(("communication", 2), ("writing", 1))], mapping)
    enrolled = [a.course_id for a in plan.actions if a.kind is ActionKind.ENROLL]
    assert enrolled == ["104", "105", "103"]


def test_shared_course_is_enrolled_once_and_linked_to_both_goals(mapping: Mapping) -> None:
    limits = TEXT.replace("max_courses_per_review = 3", "max_courses_per_review = 9")
    plan = plan_reviews(
        [review(("communication", 1), ("writing", 1))], load_mapping_text(limits, "m.toml")
    )
    enrolled = [a.course_id or "" for a in plan.actions if a.kind is ActionKind.ENROLL]
    assert sorted(enrolled) == ["103", "104", "105"]
    goals = {str(a.goal): a.course_ids for a in plan.actions if a.kind is ActionKind.OPEN_GOAL}
    assert goals == {
        "E1/communication/2026-H1": ("103", "104"), "E1/writing/2026-H1": ("104", "105"),
    }
    assert [(s.skill_id, s.course_id, s.reason) for s in plan.skipped] == [
        ("writing", "104", "already assigned"),
    ]


def test_open_course_in_ledger_is_not_assigned_again(mapping: Mapping) -> None:
    ledger = LedgerView(open_courses={"E1": frozenset({"101"})})
    plan = plan_reviews([review(("negotiation", 2))], mapping, ledger)
    assert [a.course_id for a in plan.actions if a.kind is ActionKind.ENROLL] == ["102"]
    assert plan.actions[1].course_ids == ("101", "102")  # the goal still links it
    assert [(s.course_id, s.reason) for s in plan.skipped] == [("101", "already assigned")]


def test_done_keys_are_skipped_and_use_up_the_review_budget(mapping: Mapping) -> None:
    first = plan_reviews([review(("negotiation", 2))], mapping)
    ledger = LedgerView.empty().with_plan(first)
    # Re-opened with a new gap: only the difference is planned, within what is left of 3.
    second = plan_reviews([review(("negotiation", 2), ("communication", 1))], mapping, ledger)
    # No ENSURE_LEARNER: the learner was already ensured by the first plan.
    assert kinds(second) == [("open_goal", "E1/communication/2026-H1"), ("enroll", "103")]
    reasons = sorted((s.skill_id, s.course_id or "", s.reason) for s in second.skipped)
    assert reasons == [
        ("", "", "already done"),
        ("communication", "104", "limit max_courses_per_review"),
        ("negotiation", "", "already done"),
        ("negotiation", "101", "already done"),
        ("negotiation", "102", "already done"),
    ]


def test_same_course_twice_in_one_run_is_planned_once(mapping: Mapping) -> None:
    planner = Planner(mapping)
    first = planner.plan_review(review(("negotiation", 2), cycle="2025-H2", review_id="R0"))
    again = planner.plan_review(review(("negotiation", 2)))
    assert first.count(ActionKind.ENROLL) == 2
    assert again.count(ActionKind.ENROLL) == 0
    assert again.count(ActionKind.ENSURE_LEARNER) == 0
    # A new cycle, but both courses already serve the open 2025-H2 goal: no second goal.
    assert again.actions == ()
    assert [(s.course_id, s.reason) for s in again.skipped] == [
        ("101", "already assigned"), ("102", "already assigned"), (None, "already assigned"),
    ]
    duplicate = planner.plan_review(review(("negotiation", 2)))
    assert duplicate.actions == ()
    assert {s.reason for s in duplicate.skipped} == {"already assigned"}


def test_protected_employee_gets_nothing(mapping: Mapping) -> None:
    plan = plan_reviews([review(("negotiation", 1), ("writing", 1), employee="E9")], mapping)
    assert plan.actions == ()
    assert len(plan.gaps) == 2
    assert [(s.skill_id, s.reason) for s in plan.skipped] == [
        ("negotiation", "protected"), ("writing", "protected"),
    ]


def test_no_gap_no_actions(mapping: Mapping) -> None:
    plan = plan_reviews([review(("negotiation", 3), ("Typing", 1))], mapping)
    assert plan.actions == () and plan.skipped == ()
    assert [u.reason for u in plan.unmapped] == ["unknown skill"]


def test_bulk_limits_are_reported(mapping: Mapping) -> None:
    planner = Planner(mapping)
    for n in range(3):
        planner.plan_review(review(("negotiation", 2), employee=f"E{n}", review_id=f"R{n}"))
    assert planner.enrollments_planned == 6
    problems = planner.bulk_limit_problems(headcount=4)
    assert any("max_assignments_per_run = 4" in p for p in problems)
    # Below the small-batch floor a share is not judged: a 4-person team is not stopped.
    assert not any("employees" in p for p in problems)
    assert planner.bulk_limit_problems(headcount=100)[1:] == []
    # From the floor up, the mapping's share and the operator's setting both apply.
    for n in range(3, 12):
        planner.plan_review(review(("negotiation", 2), employee=f"E{n}", review_id=f"R{n}"))
    problems = planner.bulk_limit_problems(headcount=20, max_share=0.5)
    assert planner.employees_enrolled > 10
    assert any(f"{planner.employees_enrolled} of 20 employees" in p
               and "limits.max_assignment_share" in p for p in problems)
    assert any("CONNECTOR_MAX_ASSIGNMENT_SHARE = 0.5" in p for p in problems)


def test_plan_is_deterministic(mapping: Mapping) -> None:
    reviews = [review(("writing", 1), ("negotiation", 1), ("communication", 2))]
    assert plan_reviews(reviews, mapping) == plan_reviews(reviews, mapping)


def test_action_keys_match_the_model(mapping: Mapping) -> None:
    plan = plan_reviews([review(("negotiation", 2))], mapping)
    for action in plan.actions:
        rebuilt = PlanAction.model_validate(action.model_dump())
        assert rebuilt.key == action.key


def test_plans_built_without_validation_equal_validated_ones(mapping: Mapping) -> None:
    # The planner builds its results without pydantic validation (the hot path): every field
    # must be there, of the right type, in declaration order, exactly as validation makes it.
    ledger = LedgerView(open_courses={"E1": frozenset({"104"})})
    planner = Planner(mapping, ledger, today=date(2026, 3, 2))
    for one in (
        review(("writing", 1), ("negotiation", 2), ("communication", 1), ("Typing", 1)),
        review(("negotiation", 1), employee="E9", review_id="R9"),
    ):
        plan = planner.plan_review(one)
        rebuilt = Plan.model_validate(plan.model_dump())
        assert rebuilt == plan
        assert repr(rebuilt) == repr(plan)
        assert all(a.model_fields_set == PlanAction.model_fields.keys() for a in plan.actions)
    assert plan.skipped and plan.gaps


def test_changing_a_copy_of_an_action_leaves_the_plan_alone(mapping: Mapping) -> None:
    plan = plan_reviews([review(("negotiation", 2))], mapping)
    enroll = plan.actions[2]
    changed = enroll.model_copy(update={"course_id": "999"})
    assert changed.course_id == "999" and enroll.course_id == "101"
    assert plan.actions[3].model_fields_set == PlanAction.model_fields.keys()


def test_goal_titles_are_worked_out_per_employee_and_cycle(mapping: Mapping) -> None:
    # The same rule and levels for different people and cycles: a title each.
    planner = Planner(mapping)
    titles = []
    for employee, name, cycle in (
        ("E1", "Ana", "2026-H1"), ("E2", "Ben", "2026-H1"), ("E3", "Ben", "2026-H2"),
    ):
        one = Review(
            review_id=f"{employee}{cycle}", source="csv", cycle=cycle,
            employee=Employee(employee_id=employee, first_name=name),
            completed_at=datetime(2026, 3, 1, tzinfo=UTC),
            ratings=(Rating(skill_key="negotiation", value=2),),
        )
        plan = planner.plan_review(one)
        titles += [a.goal_title for a in plan.actions if a.kind is ActionKind.OPEN_GOAL]
    assert titles == [
        "Raise negotiation from 2 to 3 for Ana (2026-H1, gap 1)",
        "Raise negotiation from 2 to 3 for Ben (2026-H1, gap 1)",
        "Raise negotiation from 2 to 3 for Ben (2026-H2, gap 1)",
    ]
