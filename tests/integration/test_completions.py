"""Completions → evidence on goals, through the worker on both engines.

Evidence is posted once however often (and in whatever order) completions arrive; a failure
is a note; a pass from before the gap counts only within the rule's window; the goal closes
when every linked course is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from connector.errors import FatalAPIError, RetriableAPIError
from connector.executor import Context
from connector.models import (
    CompletionEvent,
    Employee,
    Evidence,
    GoalRef,
    Outcome,
    Rating,
    Review,
)
from connector.store import Store
from connector.store.schema import jobs
from connector.worker import Worker
from mappings.loader import load_mapping
from tests.support.fakes import FakeGoals, FakeLMS, ManualClock

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
REVIEWED = datetime(2026, 3, 1, tzinfo=UTC)  # when the gap was found
MAPPING = load_mapping("mappings/example.toml")
ANN = Employee(employee_id="E1", email="ann@example.com", role="Account Executive")
NEGOTIATION = "E1/negotiation/2026H1"  # courses 101, 102; earlier passes never count
CUSTOMER = "E1/customer_focus/2026H1"  # courses 105, 106; passes up to 365 days earlier count


class Pipeline:
    def __init__(self, url: str, goals: FakeGoals | None = None) -> None:
        self.clock = ManualClock(NOW.timestamp())
        self.store = Store.open(url, clock=self.clock, db_clock=self.clock, jitter=lambda: 0.0)
        self.lms = FakeLMS({"ann@example.com": "u1"})
        self.goals = goals or FakeGoals()
        self.ctx = Context(store=self.store, mapping=MAPPING, lms=self.lms, goals=self.goals,
                           now=lambda: NOW)
        self.worker = Worker(self.ctx)

    def send_review(self, ratings: dict[str, float], review_id: str = "R1") -> None:
        r = Review(review_id=review_id, source="csv", cycle="2026H1", employee=ANN,
                   completed_at=REVIEWED,
                   ratings=tuple(Rating(skill_key=k, value=v) for k, v in ratings.items()))
        assert self.store.ingest("csv", review_id, "review", {"review": r.model_dump(mode="json")},
                                 employee_id="E1")

    def send_completion(self, event_id: str, course: str, *, day: datetime | None = None,
                        outcome: Outcome = Outcome.PASSED, job_employee: str | None = "E1",
                        **extra: Any) -> bool:
        event = CompletionEvent(source="talentlms", event_id=event_id, course_id=course,
                                lms_user_id="u1", completed_at=day or datetime(
                                    2026, 3, 10, tzinfo=UTC), outcome=outcome, score=90,
                                **extra)
        return self.store.ingest("talentlms", event_id, "completion",
                                 {"completion": event.model_dump(mode="json")},
                                 employee_id=job_employee)

    def drain(self) -> None:
        self.worker.drain()

    def evidence(self, goal_key: str) -> list[str]:
        return list(self.goals.goals[goal_key]["evidence"])


@pytest.fixture
def pipe(database_url: str) -> Iterator[Pipeline]:
    p = Pipeline(database_url)
    yield p
    p.store.close()


def test_evidence_is_posted_once_when_a_completion_arrives_twice(pipe: Pipeline) -> None:
    pipe.send_review({"Negotiation": 2})
    pipe.drain()
    assert pipe.send_completion("c1", "101")
    assert not pipe.send_completion("c1", "101")  # the same delivery again: deduped at the door
    assert pipe.send_completion("webhook-77", "101")  # the same pass seen by another path
    pipe.drain()
    assert pipe.goals.calls["evidence"] == 1
    (text,) = pipe.evidence(NEGOTIATION)
    assert text.startswith("Completed Course 101 in ")
    assert "score 90" in text
    (row,) = pipe.store.evidence_for(NEGOTIATION)
    assert (row.course_id, row.completion_event) == ("101", "c1")
    goal = pipe.store.goal(NEGOTIATION)
    assert goal is not None
    assert (goal.progress, goal.state) == (50.0, "open")
    assert pipe.goals.goals[NEGOTIATION]["done"] == {"101"}
    assert {(a.course_id, a.state) for a in pipe.store.assignments_for("E1")} == {
        ("101", "completed"), ("102", "enrolled")}


def test_the_goal_closes_when_every_linked_course_is_done_whatever_the_order(
        pipe: Pipeline) -> None:
    pipe.send_review({"Negotiation": 2})
    pipe.drain()
    pipe.send_completion("c2", "102", day=datetime(2026, 3, 12, tzinfo=UTC))
    pipe.send_completion("c1", "101", day=datetime(2026, 3, 10, tzinfo=UTC))  # older, later
    pipe.drain()
    assert pipe.goals.calls["evidence"] == 2
    assert pipe.goals.calls["close"] == 1
    assert pipe.goals.goals[NEGOTIATION]["closed"] is True
    goal = pipe.store.goal(NEGOTIATION)
    assert goal is not None
    assert (goal.state, goal.progress) == ("closed", 100.0)
    # A late re-delivery after closing changes nothing.
    pipe.send_completion("c1-again", "101")
    pipe.drain()
    assert (pipe.goals.calls["evidence"], pipe.goals.calls["close"]) == (2, 1)
    assert pipe.store.jobs.counts() == {"done": 4}


def test_a_failed_attempt_is_a_note_not_evidence(pipe: Pipeline) -> None:
    pipe.send_review({"Negotiation": 2})
    pipe.drain()
    pipe.send_completion("f1", "101", outcome=Outcome.FAILED)
    pipe.send_completion("f1-dup", "101", outcome=Outcome.FAILED)  # another failed attempt
    pipe.drain()
    assert pipe.goals.calls["evidence"] == 0
    assert pipe.evidence(NEGOTIATION) == []
    notes = pipe.goals.goals[NEGOTIATION]["notes"]
    assert len(notes) == 2
    assert "not passed" in notes[0]
    assert pipe.store.evidence_for(NEGOTIATION) == []
    goal = pipe.store.goal(NEGOTIATION)
    assert goal is not None
    assert goal.progress == 0.0


def test_a_completion_before_its_assignment_waits_and_is_then_applied(
        database_url: str) -> None:
    class GoalsDownOnce(FakeGoals):
        """The goal tracker is down when the review is first worked on."""

        down = 1

        def open_goal(self, *args: Any, **kwargs: Any) -> GoalRef:
            if self.down:
                self.down -= 1
                raise RetriableAPIError("unavailable", vendor="fakegoals",
                                        operation="open_goal", status=503)
            return super().open_goal(*args, **kwargs)

    pipe = Pipeline(database_url, GoalsDownOnce())
    try:
        pipe.store.jobs.backoff_base = 60.0  # the review's retry is a minute away
        pipe.store.jobs.jitter = lambda: 1.0
        pipe.send_review({"Negotiation": 2})
        pipe.drain()  # the review fails once and waits for its retry
        # The LMS webhook cannot say which employee (no job employee): it runs now.
        pipe.send_completion("c1", "101", job_employee=None)
        pipe.drain()
        assert pipe.worker.stats.retried == 2  # the review, then the too-early completion
        with pipe.store.engine.connect() as conn:
            waiting = conn.execute(select(jobs.c.kind, jobs.c.state, jobs.c.last_error)
                                   .order_by(jobs.c.id)).all()
        assert [(k, s) for k, s, _ in waiting] == [("review", "pending"),
                                                  ("completion", "pending")]
        assert "arrived before its assignment" in waiting[1][2]
        assert pipe.goals.calls["evidence"] == 0
        pipe.clock.now += 300  # both retries are due; the review (queued first) runs first
        pipe.drain()
        assert pipe.goals.calls["open"] == 1
        assert pipe.goals.calls["evidence"] == 1
        assert len(pipe.evidence(NEGOTIATION)) == 1
        assert pipe.store.jobs.counts() == {"done": 2}
    finally:
        pipe.store.close()


def test_a_pass_from_before_the_gap_is_ignored_unless_the_rule_accepts_it(
        pipe: Pipeline) -> None:
    pipe.send_review({"Negotiation": 2, "Customer focus": 3})
    pipe.drain()
    assert set(pipe.goals.goals) == {NEGOTIATION, CUSTOMER}
    linked = pipe.store.goal(CUSTOMER)
    assert linked is not None
    assert linked.course_ids == ["105"]  # the per-review limit of 3 left one course
    before = datetime(2026, 1, 15, tzinfo=UTC)
    pipe.send_completion("old-neg", "101", day=before)  # negotiation: prior passes ignored
    pipe.send_completion("old-cust", "105", day=before)  # customer focus: within 365 days
    pipe.drain()
    assert pipe.evidence(NEGOTIATION) == []
    assert len(pipe.evidence(CUSTOMER)) == 1
    (ignored,) = pipe.store.audit_events("completion.ignored")
    assert "completed before the gap was found (2026-03-01)" in ignored.message
    assert pipe.goals.goals[CUSTOMER]["closed"] is True  # its only course is done


def test_a_pass_outside_the_accepted_window_or_with_an_expired_certificate_is_no_evidence(
        pipe: Pipeline) -> None:
    pipe.send_review({"Customer focus": 3})
    pipe.drain()
    assert set(pipe.goals.goals) == {CUSTOMER}
    pipe.send_completion("ancient", "105", day=datetime(2024, 6, 1, tzinfo=UTC))
    pipe.send_completion("expired", "106", expires_at=datetime(2026, 3, 15, tzinfo=UTC))
    pipe.drain()
    assert pipe.evidence(CUSTOMER) == []
    messages = sorted(a.message for a in pipe.store.audit_events("completion.ignored"))
    assert "outside the 365-day window" in messages[0]
    assert "certification expired on 2026-03-15" in messages[1]


def test_a_completion_of_an_unassigned_course_is_recorded_and_touches_no_goal(
        pipe: Pipeline) -> None:
    pipe.send_review({"Negotiation": 2})
    pipe.drain()
    pipe.send_completion("other", "129")
    pipe.drain()
    assert pipe.goals.calls["evidence"] == 0
    assert pipe.store.audit_events("completion.unassigned")
    assert [c.course_id for c in pipe.store.completions_for("E1")] == ["129"]


class GoalsThatDropTheAnswer(FakeGoals):
    """Evidence is stored by the vendor, but the answer never reaches us (once)."""

    drops = 1

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        super().add_evidence(goal, evidence)
        if self.drops:
            self.drops -= 1
            raise RetriableAPIError("read timed out", vendor="fakegoals",
                                    operation="add_evidence")


def test_evidence_interrupted_after_the_vendor_stored_it_is_not_posted_twice(
        database_url: str) -> None:
    pipe = Pipeline(database_url, GoalsThatDropTheAnswer())
    try:
        pipe.send_review({"Negotiation": 2})
        pipe.drain()
        pipe.send_completion("c1", "101")
        pipe.drain()
        assert pipe.worker.stats.retried == 1
        assert len(pipe.evidence(NEGOTIATION)) == 1
        assert pipe.goals.calls["evidence"] == 1
        assert pipe.store.audit_events("goal.evidence.recovered")
        assert len(pipe.store.evidence_for(NEGOTIATION)) == 1
    finally:
        pipe.store.close()


def test_a_pass_recorded_before_the_goal_existed_is_caught_up(pipe: Pipeline) -> None:
    """The employee is known (linked by an earlier review); the pass lands first."""
    pipe.send_review({"Negotiation": 2}, review_id="R0")
    pipe.drain()
    pipe.send_completion("early", "105", day=datetime(2026, 3, 10, tzinfo=UTC))
    pipe.drain()  # no goal links 105 yet, nothing on its way: recorded as unassigned
    assert pipe.store.audit_events("completion.unassigned")
    pipe.send_review({"Customer focus": 3}, review_id="R2")
    pipe.drain()
    assert len(pipe.evidence(CUSTOMER)) == 1


class GoalsThatRefuseEvidence(FakeGoals):
    """Refuses the first evidence for good (an operator fixes the cause later)."""

    refusals = 1

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        if self.refusals:
            self.refusals -= 1
            raise FatalAPIError("comment rejected", vendor="fakegoals",
                                operation="add_evidence", status=400)
        super().add_evidence(goal, evidence)


def test_an_evidence_effect_left_half_done_does_not_break_the_employees_later_reviews(
        database_url: str) -> None:
    """The ledger row of a non-plan effect (evidence) stuck at `intent` is not a plan action."""
    pipe = Pipeline(database_url, GoalsThatRefuseEvidence())
    try:
        pipe.send_review({"Negotiation": 2})
        pipe.drain()
        pipe.send_completion("c1", "101")
        pipe.drain()
        assert pipe.worker.stats.dead == 1  # the evidence was refused for good
        action = pipe.store.action(f"evidence:{NEGOTIATION}:101")
        assert action is not None
        assert action.state == "intent"
        pipe.send_review({"Negotiation": 2, "Communication": 3}, review_id="R2")
        pipe.drain()
        assert pipe.worker.stats.dead == 1  # the new review went through
        assert set(pipe.goals.goals) == {NEGOTIATION, "E1/communication/2026H1"}
        assert ("u1", "103") in pipe.lms.enrollments
        # ...and its catch-up finished the evidence the dead completion job left half done.
        assert len(pipe.evidence(NEGOTIATION)) == 1
    finally:
        pipe.store.close()


class GoalsThatFailTheTickOnce(FakeGoals):
    """The evidence comment is stored, then the milestone update fails (or we crash)."""

    failures = 1

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        if self.failures:
            self.failures -= 1
            raise RetriableAPIError("unavailable", vendor="fakegoals",
                                    operation="complete_course", status=503)
        super().complete_course(goal, course_id, percent)


def test_an_interrupted_evidence_still_ticks_the_milestone_on_retry(database_url: str) -> None:
    pipe = Pipeline(database_url, GoalsThatFailTheTickOnce())
    try:
        pipe.send_review({"Negotiation": 2})
        pipe.drain()
        pipe.send_completion("c1", "101")
        pipe.drain()
        assert pipe.worker.stats.retried == 1
        assert len(pipe.evidence(NEGOTIATION)) == 1  # not posted twice...
        assert pipe.goals.goals[NEGOTIATION]["done"] == {"101"}  # ...and the milestone ticked
    finally:
        pipe.store.close()
