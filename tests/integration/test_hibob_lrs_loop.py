"""HiBob as the goal tracker and directory, an xAPI LRS as a pulled completion source, against
their simulators on both engines: goals open in HiBob's own id space with a key result per
course, a pulled completion is a check-in, the goal is done at 100 %, and a voided completion
takes its evidence back (a note, the key result at 0, the goal reopened, the story says so)
without deleting anything; a new completion earns it again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from connector.demo.sandboxes import sandbox_settings, seed_organisation, start_sandboxes
from connector.inbound import queue_completion
from connector.models import CompletionEvent, Outcome
from connector.operations.trace import employee_trace
from connector.pollers import poll_all
from connector.runtime import build_runtime
from connector.store import GoalState
from connector.vendors.hibob.sandbox import ID_BASE
from connector.vendors.registry import Role
from connector.vendors.xapi_lrs.sandbox import LrsSandbox
from connector.worker import Worker

ROLES = {Role.LMS: "talentlms", Role.GOALS: "hibob", Role.REVIEWS: "orangehrm"}


def _poll_and_drain(rt: Any, only: frozenset[str] | None = None) -> None:
    report = poll_all(rt, only=only) if only else poll_all(rt)
    assert report.errors == [], report.errors
    stats = Worker(rt.ctx).drain()
    assert stats.dead == 0, stats.errors


def test_hibob_goals_with_lrs_completions_and_a_void(database_url: str) -> None:
    sb = start_sandboxes(ROLES)
    lrs = LrsSandbox.start()
    try:
        people = seed_organisation(sb, employees=6, missing_learners=0)
        settings = sandbox_settings(sb, database_url, max_assignment_share=1.0,
                                    **lrs.settings())  # it names itself a completion source
        rt = build_runtime(settings)
        try:
            _poll_and_drain(rt)
            hibob = sb.hibob.state()
            goals = [g for p in people for g in rt.store.goals_for(str(p["id"]))]
            assert goals and len(hibob["goals"]) == len(goals)
            # VENDORS-next.md HiBob §2: one goal per create call here, its key results in one
            # more call (≤ 25 per call); HiBob's own ids as owners (id-space linking).
            counts = hibob["counts"]
            assert counts["post_goals-goals"] == len(goals)
            assert counts["post_goals-goals-goalid-key-results"] == len(goals)
            assert {g["ownerId"] for g in hibob["goals"]} <= {str(ID_BASE + p["id"])
                                                            for p in people}
            goal = goals[0]
            email = rt.store.identity(goal.employee_id).email  # type: ignore[union-attr]
            assert email
            before = dict(counts)

            # The learner completes every course of the goal; the LRS holds the statements.
            now = datetime.now(UTC)
            ids = lrs.send([lrs.statement(email, c, "completed", passed=True, score=90,  # type: ignore[attr-defined]
                                          when=now) for c in goal.course_ids])
            _poll_and_drain(rt, frozenset({"completions"}))
            closed = rt.store.goal(goal.goal_key)
            assert closed is not None and closed.state is GoalState.CLOSED
            hibob = sb.hibob.state()
            remote = next(g for g in hibob["goals"] if g["id"] == goal.goal_id)
            assert remote["status"] == "completed" and remote["progress"] == 100.0
            checkins = [a for a in hibob["activity"] if a["goalId"] == goal.goal_id
                        and a["kind"] == "check-in"]
            assert len(checkins) == len(goal.course_ids)
            assert all("Completed" in (a["items"][0]["notes"] or "") for a in checkins)
            # Calls per evidence: one check-in; per goal: one status change.
            after = sb.hibob.state()["counts"]
            assert after["patch_goals-goals-goalid-key-results-progress"] - before.get(
                "patch_goals-goals-goalid-key-results-progress", 0) == len(goal.course_ids)
            assert after["patch_goals-goals-goalid-status"] - before.get(
                "patch_goals-goals-goalid-status", 0) == 1

            # The LMS withdraws the first completion: the LRS voids its statement.
            void_id = lrs.void(ids[0])  # type: ignore[attr-defined]
            _poll_and_drain(rt, frozenset({"completions"}))
            reopened = rt.store.goal(goal.goal_key)
            assert reopened is not None and reopened.state is GoalState.OPEN
            assert reopened.progress < 100.0
            assert rt.store.voided_courses(goal.goal_key) == {goal.course_ids[0]}
            assert len(rt.store.evidence_for(goal.goal_key)) == len(goal.course_ids)  # kept
            hibob = sb.hibob.state()
            remote = next(g for g in hibob["goals"] if g["id"] == goal.goal_id)
            assert remote["status"] == "inProgress"
            first_kr = goal.milestone_ids[goal.course_ids[0]]
            assert next(k for k in hibob["key_results"] if k["id"] == first_kr)[
                "currentValue"] == 0.0
            assert any("withdrawn" in (a.get("comment") or "") for a in hibob["activity"]
                       if a["goalId"] == goal.goal_id)
            story = employee_trace(rt.store, employee_id=goal.employee_id)
            assert any(a.event == "goal.evidence_withdrawn" and ids[0] in a.message
                       for a in story.audit)
            assert any(c.voids == ids[0] and c.event_id == void_id for c in story.completions)

            # A repeat poll changes nothing; a new completion earns the course again.
            _poll_and_drain(rt, frozenset({"completions"}))
            assert rt.store.goal(goal.goal_key).state is GoalState.OPEN  # type: ignore[union-attr]
            lrs.send([lrs.statement(email, goal.course_ids[0], "passed",  # type: ignore[attr-defined]
                                    when=datetime.now(UTC))])
            _poll_and_drain(rt, frozenset({"completions"}))
            again = rt.store.goal(goal.goal_key)
            assert again is not None and again.state is GoalState.CLOSED
            assert rt.store.voided_courses(goal.goal_key) == set()
            remote = next(g for g in sb.hibob.state()["goals"] if g["id"] == goal.goal_id)
            assert remote["status"] == "completed"

            # Pushed (`/webhooks/xapi`): a void that arrives before the completion it voids.
            other = next(g for g in goals if g.employee_id != goal.employee_id)
            who = rt.store.identity(other.employee_id).email  # type: ignore[union-attr]
            at = datetime.now(UTC)
            queue_completion(rt.store, CompletionEvent(
                source="xapi", event_id="void-early", course_id="", completed_at=at,
                outcome=Outcome.VOIDED, voids="early-1"))
            queue_completion(rt.store, CompletionEvent(
                source="xapi", event_id="early-1", course_id=other.course_ids[0], email=who,
                completed_at=at))
            Worker(rt.ctx).drain()
            assert rt.store.evidence_for(other.goal_key) == []
            assert any(a.event == "completion.voided" and "early-1" in a.message
                       for a in rt.store.audit_trail(other.employee_id))
        finally:
            rt.close()
    finally:
        lrs.stop()
        sb.stop()


def test_a_leaver_in_hibob_is_read_with_show_inactive(database_url: str) -> None:
    sb = start_sandboxes(ROLES)
    try:
        people = seed_organisation(sb, employees=6, missing_learners=0)
        leaver = str(ID_BASE + people[0]["id"])
        requests.patch(f"{sb.hibob.url}/_sandbox/employees/{leaver}",
                       json={"status": "Inactive"}, timeout=10).raise_for_status()
        rt = build_runtime(sandbox_settings(sb, database_url, max_assignment_share=1.0,
                                            max_leaver_share=1.0))
        try:
            employees, complete = rt.directory.list_employees()  # type: ignore[union-attr]
            assert complete and len(employees) == 6
            assert {e.employee_id for e in employees if not e.active} == {leaver}
        finally:
            rt.close()
    finally:
        sb.stop()
