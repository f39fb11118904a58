"""Fault: people change the vendors by hand behind the connector's back. A running
`connector serve` (its reconcile schedule at 2 s) re-enrolls an enrollment removed in the LMS
while its goal is open, flags a goal deleted in the goal tracker without re-creating it, and
a later completion for that goal is said once in the audit trail instead of retried into a
dead letter; `status` and `reconcile --dry-run` show it all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from connector.demo.sandboxes import seed_organisation
from connector.store import AssignmentState, GoalState, Store
from tests.support.e2e import (
    ConnectorProcess,
    Vendors,
    connector_env,
    engine_name,
    jobs_idle,
    open_ledger,
    run_cli,
    wait_until,
)

pytestmark = pytest.mark.slow

PHASE_TIMEOUT = 90.0


def open_rows(store: Store) -> list[tuple[str, str, str, str]]:
    """(employee, LMS user, course, goal key): one open assignment per employee."""
    found: dict[str, tuple[str, str, str, str]] = {}
    for a in store.assignments_for(state=AssignmentState.ENROLLED):
        who, goal = store.identity(a.employee_id), store.goal(a.goal_key)
        if who and who.lms_user_id and goal and goal.state is GoalState.OPEN and goal.goal_id:
            found.setdefault(a.employee_id, (a.employee_id, who.lms_user_id, a.course_id,
                                             a.goal_key))
    return list(found.values())


def enrolled(vendors: Vendors) -> set[tuple[str, str]]:
    return {(e["user_id"], e["course_id"]) for e in vendors.state("talentlms")["enrollments"]}


def test_hand_made_drift_is_repaired_or_flagged_by_the_running_service(
        vendors: Vendors, database_url: str, mapping_file: Path, e2e_log_dir: Path) -> None:
    engine = engine_name(database_url)
    seed_organisation(vendors.as_sandboxes(), employees=4, seed=5, missing_learners=0)
    env = connector_env(vendors, database_url, mapping_file, reconcile_seconds=2)
    proc = ConnectorProcess(env, e2e_log_dir, f"drift-{engine}")
    proc.start()
    try:
        with open_ledger(database_url) as store:
            wait_until(lambda: len(open_rows(store)) >= 2 and jobs_idle(store), PHASE_TIMEOUT,
                       "the review cycle assigned courses")
            (eid, user, course, _), (eid2, user2, course2, goal_key2) = open_rows(store)[:2]
            goal2 = store.goal(goal_key2)
            assert goal2 is not None and goal2.goal_id
            requests.post(f"{vendors.talentlms.url}/_sandbox/drift", timeout=10, json={
                "unenroll": [{"user_id": user, "course_id": course}]}).raise_for_status()
            requests.post(f"{vendors.bamboohr.url}/_sandbox/drift", timeout=10, json={
                "delete_goals": [goal2.goal_id.split(":")[1]]}).raise_for_status()
            goals_after_delete = len(vendors.state("bamboohr")["goals"])

            wait_until(lambda: (user, course) in enrolled(vendors)
                       and store.drift.get("goal_deleted", goal_key2) is not None,
                       PHASE_TIMEOUT, "the schedule repaired the enrollment, flagged the goal")
            assert [e.event for e in store.audit_trail(eid)].count("drift.repaired") == 1

            requests.post(f"{vendors.talentlms.url}/_sandbox/complete", timeout=10, json={
                "user_id": user2, "course_id": course2, "passed": True,
                "score": 88}).raise_for_status()
            wait_until(lambda: any(e.event == "completion.goal_deleted"
                                   for e in store.audit_trail(eid2)), PHASE_TIMEOUT,
                       "the completion for the deleted goal was recorded, not posted")
            wait_until(lambda: jobs_idle(store), PHASE_TIMEOUT, "the queue drained")
            assert store.jobs.dead_letters() == []
            assert len(vendors.state("bamboohr")["goals"]) == goals_after_delete  # not re-made
            flagged = [e.event for e in store.audit_trail(eid2)].count("drift.flagged")
            assert flagged == 1  # once, though the schedule saw it on every run

        status = run_cli(env, e2e_log_dir, "status", "--json")
        assert status.returncode == 0, status.stderr
        kinds = {(d["kind"], d["state"]) for d in json.loads(status.stdout)["drift"]}
        assert kinds == {("enrollment_removed", "repaired"), ("goal_deleted", "open")}
        preview = run_cli(env, e2e_log_dir, "reconcile", "--dry-run", "--json")
        assert preview.returncode == 0, preview.stderr
        outcomes = {f["kind"]: f["outcome"] for f in json.loads(preview.stdout)["findings"]}
        assert outcomes == {"goal_deleted": "already flagged"}
        trace = run_cli(env, e2e_log_dir, "trace", eid2)
        assert "drift (open)" in trace.stdout and "was deleted in" in trace.stdout
    finally:
        proc.stop()
