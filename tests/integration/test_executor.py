"""Review → plan → effects, exactly once, through the worker on both engines.

The vendors are the in-memory port fakes (`tests/support/fakes.py`), which count every effect;
the store, planner, executor and worker are the real ones. Jitter is pinned to 0, so a retried
job is runnable again at once and `drain()` carries it through without sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime

import pytest

from connector.errors import FatalAPIError, RetriableAPIError
from connector.executor import Context
from connector.models import Employee, GoalKey, GoalRef, LearnerRef, Rating, Review
from connector.store import ActionState, MatchState, Store
from connector.worker import Worker
from mappings.loader import load_mapping
from tests.support.fakes import FakeGoals, FakeLMS

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAPPING = load_mapping("mappings/example.toml")
ANN = Employee(employee_id="E1", email="ann@example.com", first_name="Ann",
               role="Account Executive")


def review(ratings: dict[str, float], *, review_id: str = "R1",
           employee: Employee = ANN) -> Review:
    return Review(review_id=review_id, source="csv", cycle="2026H1", employee=employee,
                  completed_at=datetime(2026, 3, 1, tzinfo=UTC),
                  ratings=tuple(Rating(skill_key=k, value=v) for k, v in ratings.items()))


class Pipeline:
    """The real store and worker around counting fakes of the vendor ports."""

    def __init__(self, url: str, lms: FakeLMS, goals: FakeGoals) -> None:
        self.store = Store.open(url, jitter=lambda: 0.0)
        self.lms = lms
        self.goals = goals
        self.ctx = Context(store=self.store, mapping=MAPPING, lms=lms, goals=goals,
                           now=lambda: NOW)
        self.worker = Worker(self.ctx)
        self.events = 0

    def send_review(self, r: Review) -> bool:
        self.events += 1
        return self.store.ingest(r.source, f"{r.review_id}#{self.events}", "review",
                                 {"review": r.model_dump(mode="json")},
                                 employee_id=r.employee.employee_id)

    def drain(self) -> None:
        self.worker.drain()

    def actions(self, state: ActionState) -> set[str]:
        return {a.key for a in self.store.actions_for("E1", (state,))}


@pytest.fixture
def pipe(database_url: str) -> Iterator[Pipeline]:
    p = Pipeline(database_url, FakeLMS({"ann@example.com": "u1"}), FakeGoals())
    yield p
    p.store.close()


NEGOTIATION = "E1/negotiation/2026H1"
COMMUNICATION = "E1/communication/2026H1"


def test_a_review_becomes_goals_and_enrollments_once(pipe: Pipeline) -> None:
    assert pipe.send_review(review({"Negotiation": 2}))
    pipe.drain()
    assert dict(pipe.lms.enrollments) == {("u1", "101"): 1, ("u1", "102"): 1}
    assert pipe.lms.calls["enroll"] == 2
    assert pipe.goals.calls["open"] == 1
    assert set(pipe.goals.goals) == {NEGOTIATION}
    assert pipe.goals.goals[NEGOTIATION]["milestones"] == {"101": "m0", "102": "m1"}
    goal = pipe.store.goal(NEGOTIATION)
    assert goal is not None
    assert (goal.goal_id, goal.state, goal.course_ids) == ("g1", "open", ["101", "102"])
    assert {(a.course_id, a.state) for a in pipe.store.assignments_for("E1")} == {
        ("101", "enrolled"), ("102", "enrolled")}
    assert pipe.actions(ActionState.DONE) == {"learner:E1", f"goal:{NEGOTIATION}",
                                  f"enroll:E1:101:{NEGOTIATION}", f"enroll:E1:102:{NEGOTIATION}"}
    identity = pipe.store.identity("E1")
    assert identity is not None
    assert identity.lms_user_id == "u1"
    assert pipe.worker.stats.done == 1


def test_the_same_review_again_adds_nothing(pipe: Pipeline) -> None:
    pipe.send_review(review({"Negotiation": 2}))
    pipe.drain()
    calls = (pipe.lms.calls["enroll"], pipe.goals.calls["open"])
    assert pipe.send_review(review({"Negotiation": 2}))  # a new delivery of the same review
    pipe.drain()
    assert (pipe.lms.calls["enroll"], pipe.goals.calls["open"]) == calls
    assert len(pipe.store.assignments_for("E1")) == 2
    assert [e.event for e in pipe.store.audit_events("review.duplicate")] == [
        "review.duplicate"]
    assert pipe.store.jobs.counts() == {"done": 2}


def test_a_reopened_review_with_changed_ratings_only_adds_the_difference(
        pipe: Pipeline) -> None:
    pipe.send_review(review({"Negotiation": 2}))
    pipe.drain()
    pipe.send_review(review({"Negotiation": 2, "Communication": 3}))  # same review id, edited
    pipe.drain()
    # Negotiation's two courses are not enrolled again; communication gets what the
    # per-review limit (3) leaves: one course.
    assert pipe.lms.calls["enroll"] == 3
    assert dict(pipe.lms.enrollments) == {("u1", "101"): 1, ("u1", "102"): 1, ("u1", "103"): 1}
    assert pipe.goals.calls["open"] == 2
    assert set(pipe.goals.goals) == {NEGOTIATION, COMMUNICATION}
    assert {a.course_id for a in pipe.store.assignments_for("E1")} == {"101", "102", "103"}


class GoalsThatCrashAfterCreating(FakeGoals):
    """The vendor makes the goal, then the connection drops before we hear back."""

    def __init__(self) -> None:
        super().__init__()
        self.crashes = 1

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        ref = super().open_goal(employee, key, title, due_date, courses)
        if self.crashes:
            self.crashes -= 1
            raise RetriableAPIError("connection reset after the request was sent",
                                    vendor="fakegoals", operation="open_goal")
        return ref


def test_a_crash_between_intent_and_outcome_is_recovered_without_a_duplicate_goal(
        database_url: str) -> None:
    pipe = Pipeline(database_url, FakeLMS({"ann@example.com": "u1"}),
                    GoalsThatCrashAfterCreating())
    try:
        pipe.send_review(review({"Negotiation": 2}))
        pipe.drain()
        assert pipe.worker.stats.retried == 1
        assert pipe.goals.calls["open"] == 1  # asked find_goal instead of creating again
        assert set(pipe.goals.goals) == {NEGOTIATION}
        goal = pipe.store.goal(NEGOTIATION)
        assert goal is not None
        assert goal.goal_id == "g1"
        assert goal.milestone_ids == {"101": "m0", "102": "m1"}
        (recovered,) = pipe.store.audit_events("goal.open.recovered")
        assert recovered.ref == f"goal:{NEGOTIATION}"
        assert dict(pipe.lms.enrollments) == {("u1", "101"): 1, ("u1", "102"): 1}
        assert pipe.store.jobs.counts() == {"done": 1}
    finally:
        pipe.store.close()


def test_a_flaky_enrollment_is_retried_and_enrolled_once(database_url: str) -> None:
    pipe = Pipeline(database_url, FakeLMS({"ann@example.com": "u1"}, fail_enrolls=1),
                    FakeGoals())
    try:
        pipe.send_review(review({"Negotiation": 2}))
        pipe.drain()
        assert pipe.worker.stats.retried == 1
        assert dict(pipe.lms.enrollments) == {("u1", "101"): 1, ("u1", "102"): 1}
        assert pipe.goals.calls["open"] == 1
        assert len(pipe.store.assignments_for("E1")) == 2
    finally:
        pipe.store.close()


class LMSThatRejects(FakeLMS):
    def enroll(self, learner: LearnerRef, course_id: str) -> None:
        raise FatalAPIError("course does not exist", vendor="fakelms", operation="enroll",
                            status=400)


def test_a_rejected_enrollment_is_a_dead_letter_with_an_audit_row(database_url: str) -> None:
    pipe = Pipeline(database_url, LMSThatRejects({"ann@example.com": "u1"}), FakeGoals())
    try:
        pipe.send_review(review({"Negotiation": 2}))
        pipe.drain()
        assert pipe.worker.stats.dead == 1
        (letter,) = pipe.store.jobs.dead_letters()
        assert "course does not exist" in letter.last_error
        (dead,) = pipe.store.audit_events("job.dead")
        assert dead.employee_id == "E1"
        assert pipe.store.assignments_for("E1") == []
    finally:
        pipe.store.close()


def test_identity_miss_waits_then_linking_and_resume_complete_the_work(
        database_url: str) -> None:
    pipe = Pipeline(database_url, FakeLMS({}), FakeGoals())  # nobody in the LMS yet
    try:
        pipe.send_review(review({"Negotiation": 2}))
        pipe.drain()
        assert pipe.lms.calls["enroll"] == 0
        identity = pipe.store.identity("E1")
        assert identity is not None
        assert identity.match_state == "pending"
        assert "ann@example.com" in identity.match_note
        assert [i.employee_id for i in pipe.store.identities_in_state(MatchState.PENDING)] == ["E1"]
        assert pipe.actions(ActionState.WAITING) == {"learner:E1", f"enroll:E1:101:{NEGOTIATION}",
                                         f"enroll:E1:102:{NEGOTIATION}"}
        assert pipe.goals.calls["open"] == 1  # the goal does not wait for the LMS link
        assert pipe.store.audit_events("identity.pending")

        # A person links the employee (`connector identities link`), and the work resumes.
        pipe.store.set_identity("E1", state=MatchState.LINKED, lms_user_id="u9", note="by hand")
        pipe.store.jobs.add("resume", {"employee_id": "E1"}, employee_id="E1")
        pipe.drain()
        assert dict(pipe.lms.enrollments) == {("u9", "101"): 1, ("u9", "102"): 1}
        assert pipe.actions(ActionState.WAITING) == set()
        assert pipe.goals.calls["open"] == 1
        assert pipe.store.jobs.counts() == {"done": 2}
    finally:
        pipe.store.close()


def test_a_leaver_cancels_what_is_pending_and_touches_nothing_else(database_url: str) -> None:
    pipe = Pipeline(database_url, FakeLMS({}), FakeGoals())
    try:
        pipe.send_review(review({"Negotiation": 2}))
        pipe.drain()
        pipe.store.ingest("bamboohr", "left-1", "employee",
                          {"action": "deleted", "employee": ANN.model_dump(mode="json")},
                          employee_id="E1")
        pipe.drain()
        assert pipe.actions(ActionState.CANCELLED) == {"learner:E1", f"enroll:E1:101:{NEGOTIATION}",
                                           f"enroll:E1:102:{NEGOTIATION}"}
        assert pipe.actions(ActionState.DONE) == {f"goal:{NEGOTIATION}"}
        identity = pipe.store.identity("E1")
        assert identity is not None
        assert identity.active is False
        (left,) = pipe.store.audit_events("employee.left")
        assert "3 pending action(s) cancelled" in left.message
        # A late link and resume do nothing for a leaver.
        pipe.store.set_identity("E1", state=MatchState.LINKED, lms_user_id="u9")
        pipe.store.jobs.add("resume", {"employee_id": "E1"}, employee_id="E1")
        pipe.drain()
        assert pipe.lms.calls["enroll"] == 0
        assert pipe.goals.calls["close"] == 0
        assert pipe.goals.goals[NEGOTIATION]["closed"] is False
    finally:
        pipe.store.close()


def test_every_assignment_has_its_cause_chain_in_the_audit_trail(pipe: Pipeline) -> None:
    pipe.send_review(review({"Negotiation": 2, "Communication": 3, "Leadership": 2}))
    pipe.drain()
    trail = pipe.store.audit_trail("E1")
    assigned = {row.ref: row for row in trail if row.event == "course.assign"}
    assignments = pipe.store.assignments_for("E1")
    assert len(assignments) == 3  # the per-review limit
    for a in assignments:
        key = f"enroll:E1:{a.course_id}:{a.goal_key}"
        row = assigned[key]
        (cause,) = row.cause
        skill = a.goal_key.split("/")[1]
        assert cause["review_id"] == "R1"
        assert cause["source"] == "csv"
        assert cause["skill_id"] == skill
        assert cause["target"] - cause["rating"] == cause["gap"] >= 1
        assert MAPPING.rules[cause["rule_index"]].skill == skill
        assert a.course_id in MAPPING.rules[cause["rule_index"]].courses
        # ...and the same chain was written when it was planned and when the gap was found.
        planned = [r for r in trail if r.event == "planned.enroll" and r.ref == key]
        assert planned[0].cause == row.cause
        assert any(r.event == "gap.found" and r.cause == cause for r in trail)
    assert any(r.event == "planned.skipped" for r in trail)
