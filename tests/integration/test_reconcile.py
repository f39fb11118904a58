"""`connector reconcile` against the sandbox vendors, on both engines: what a person changes
by hand in the LMS or the goal tracker is found with batched reads, repaired when safe (a
removed enrollment, once) or flagged once (a deleted goal, a deactivated learner), shown by
`status` and `trace`; evidence for a deleted goal ends its job instead of a dead letter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.demo.sandboxes import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.operations.reconcile import FIRST_RUN_AFTER, reconcile, seconds_until_due
from connector.operations.status import status_report
from connector.operations.trace import employee_trace
from connector.runtime import Runtime, build_runtime
from connector.service import sync_once
from connector.store import AssignmentState, GoalState


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    sb = start_sandboxes()
    seed_organisation(sb, employees=4, missing_learners=0)
    yield sb
    sb.stop()


@pytest.fixture
def rt(sandboxes: Sandboxes, database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(sandbox_settings(sandboxes, database_url))
    sync_once(runtime, confirm=True)
    yield runtime
    runtime.close()


def enrolled(sb: Sandboxes) -> set[tuple[str, str]]:
    return {(e["user_id"], e["course_id"]) for e in sb.talentlms.state()["enrollments"]}


def open_assignments(rt: Runtime) -> list[tuple[str, str, str, str]]:
    """(employee, LMS user, course, goal key) of one open assignment per employee."""
    found: dict[str, tuple[str, str, str, str]] = {}
    for a in rt.store.assignments_for(state=AssignmentState.ENROLLED):
        identity = rt.store.identity(a.employee_id)
        goal = rt.store.goal(a.goal_key)
        if identity and identity.lms_user_id and goal and goal.state is GoalState.OPEN:
            found.setdefault(a.employee_id, (a.employee_id, identity.lms_user_id, a.course_id,
                                             a.goal_key))
    assert len(found) >= 2, "the sync assigned too little"
    return list(found.values())


def drift_events(rt: Runtime, employee_id: str) -> list[str]:
    return [e.event for e in rt.store.audit_trail(employee_id) if e.event.startswith("drift.")]


def calls(sb: Sandboxes) -> dict[str, Any]:
    return {"lms": sb.talentlms.state()["counts"]["calls"],
            "goal_lists": sb.bamboohr.state()["counts"].get("list-goals", 0)}


def test_lms_drift_is_read_in_batches_repaired_once_or_flagged(
        rt: Runtime, sandboxes: Sandboxes) -> None:
    open_rows = rt.store.assignments_for(state=AssignmentState.ENROLLED)
    learners = {rt.store.identity(a.employee_id).lms_user_id  # type: ignore[union-attr]
                for a in open_rows}
    courses = {a.course_id for a in open_rows}
    owners = {g.employee_id for g in rt.store.open_goals()}
    assert seconds_until_due(rt.ctx, 86400) == FIRST_RUN_AFTER  # never reconciled yet
    before = calls(sandboxes)
    clean = reconcile(rt.ctx)
    assert 86000 < seconds_until_due(rt.ctx, 86400) <= 86400  # `serve`: a day after this run
    after = calls(sandboxes)
    assert clean.findings == [] and clean.assignments_checked == len(open_rows) > 1
    assert after["lms"] - before["lms"] <= min(len(learners), len(courses) + 1)
    assert after["lms"] - before["lms"] < len(open_rows)  # never one call per assignment
    assert after["goal_lists"] - before["goal_lists"] == len(owners)

    (eid, user, course, goal_key), (left_eid, left_user, left_course, _) = \
        open_assignments(rt)[:2]
    removed = {"unenroll": [{"user_id": user, "course_id": course}]}
    sandboxes.talentlms.post("/_sandbox/drift", removed)
    sandboxes.talentlms.post("/_sandbox/drift", {
        "deactivate": [left_user], "unenroll": [{"user_id": left_user,
                                                 "course_id": left_course}]})

    rt.store.save_cursor("_reconcile.last", "2020-01-01T00:00:00+00:00")
    preview = reconcile(rt.ctx, dry_run=True)
    assert sorted(f.outcome for f in preview.findings) == ["would flag", "would repair"]
    assert seconds_until_due(rt.ctx, 86400) == 0  # a dry run is not a run
    assert (user, course) not in enrolled(sandboxes)  # a dry run changes nothing
    assert rt.store.drift.listed(states=("open", "repaired")) == []

    first = reconcile(rt.ctx)
    assert sorted((f.kind, f.outcome) for f in first.findings) == [
        ("enrollment_removed", "repaired"), ("learner_inactive", "flagged")]
    assert (user, course) in enrolled(sandboxes)
    assert (left_user, left_course) not in enrolled(sandboxes)  # deactivated: not re-enrolled
    assert drift_events(rt, eid) == ["drift.repaired"]
    assert [f.outcome for f in reconcile(rt.ctx).findings] == ["already flagged"]

    sandboxes.talentlms.post("/_sandbox/drift", removed)  # removed again: a person means it
    again = reconcile(rt.ctx)
    assert sorted(f.outcome for f in again.findings) == ["already flagged", "flagged"]
    assert (user, course) not in enrolled(sandboxes)
    reconcile(rt.ctx)  # seen again: flagged once
    assert drift_events(rt, eid) == ["drift.repaired", "drift.flagged"]
    assert drift_events(rt, left_eid) == ["drift.flagged"]
    shown = {d["kind"]: d for d in status_report(rt.store).as_json()["drift"]}
    assert sorted(shown) == ["enrollment_removed", "learner_inactive"]
    assert shown["enrollment_removed"]["course_id"] == course
    assert "removed again" in shown["enrollment_removed"]["message"]
    traced = employee_trace(rt.store, employee_id=eid).as_json()["drift"]
    assert [d["goal_key"] for d in traced] == [goal_key]


def test_evidence_for_a_deleted_goal_is_flagged_once_never_dead_lettered(
        rt: Runtime, sandboxes: Sandboxes) -> None:
    (eid, user, course, goal_key), (eid2, user2, course2, goal_key2) = open_assignments(rt)[:2]
    for key in (goal_key, goal_key2):
        goal = rt.store.goal(key)
        assert goal is not None and goal.goal_id
        sandboxes.bamboohr.post("/_sandbox/drift",
                                {"delete_goals": [goal.goal_id.split(":")[1]]})
    found = reconcile(rt.ctx)  # both deleted: each flagged
    assert sorted((f.kind, f.goal_key) for f in found.findings) == sorted(
        [("goal_deleted", goal_key), ("goal_deleted", goal_key2)])
    rt.store.drift.resolve("goal_deleted", goal_key2)  # as if never reconciled: the
    # second goal is met by its evidence first (the tracker's 404), then flagged
    goals_before = sandboxes.bamboohr.state()["goals"]

    sandboxes.talentlms.complete(user, course, passed=True, score=90)
    sandboxes.talentlms.complete(user2, course2, passed=True, score=90)
    sync_once(rt)
    assert rt.store.jobs.dead_letters() == []
    assert sandboxes.bamboohr.state()["goals"] == goals_before  # nothing re-created
    for who in (eid, eid2):
        events = [e.event for e in rt.store.audit_trail(who)]
        assert events.count("completion.goal_deleted") == 1
    assert rt.store.drift.get("goal_deleted", goal_key2).state == "open"  # type: ignore[union-attr]
    assert [f.outcome for f in reconcile(rt.ctx).findings] == ["already flagged"] * 2
    assert {d["kind"] for d in status_report(rt.store).as_json()["drift"]} == {"goal_deleted"}
