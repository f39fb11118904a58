"""OrangeHRM as the goal tracker under `connector reconcile`, on both engines: a tracker
deleted in OrangeHRM (its soft delete, switched on the simulator) is flagged once and never
re-created, and a completion that meets it (the logs answer 404) ends as a flagged,
unposted completion instead of a job retried into a dead letter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from connector.completions import handle_completion
from connector.executor import Context
from connector.models import CompletionEvent, Employee, GoalKey, Outcome
from connector.operations.reconcile import reconcile
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.orangehrm import create_app
from connector.settings import Settings
from connector.store import Store
from connector.vendors.orangehrm import OrangeHRMTrackers, orangehrm_http
from mappings.loader import load_mapping
from tests.support.fakes import ManualClock

ANN = Employee(employee_id="7", email="ann@example.com", manager_id="2")


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = serve(create_app(token_ttl=3600, client_credentials=True), "orangehrm")
    requests.post(f"{running.url}/_sandbox/employees", timeout=5, json=[
        {"empNumber": 2, "firstName": "Bo", "lastName": "Boss"},
        {"empNumber": 7, "firstName": "Ann", "lastName": "Lee", "supervisorEmpNumber": 2},
    ]).raise_for_status()
    yield running
    running.stop()


def trackers(url: str) -> OrangeHRMTrackers:
    settings = Settings(_env_file=None, orangehrm_base_url=url,
                        orangehrm_client_id="sandbox-client",
                        orangehrm_client_secret="sandbox-secret")
    return OrangeHRMTrackers(orangehrm_http(settings, clock=ManualClock(5000.0),
                                            sleep=lambda _s: None, jitter=lambda: 0.0))


def goal_in_both(store: Store, tracker: OrangeHRMTrackers, skill: str) -> str:
    key = GoalKey(employee_id="7", skill_id=skill, cycle="2026-H1")
    ref = tracker.open_goal(ANN, key, f"Raise {skill}", date(2026, 9, 1),
                            [("101", "Negotiation 101")])
    with store.transaction() as tx:
        store.save_goal(tx, goal_key=str(key), employee_id="7", skill_id=skill,
                        cycle="2026-H1", title=f"Raise {skill}", course_ids=["101"],
                        tracker="orangehrm", goal_id=ref.goal_id, milestone_ids={},
                        gap_found_at=datetime.now(UTC) - timedelta(days=3),
                        due_date="2026-09-01", rule_index=0)
    return ref.goal_id


def test_a_deleted_tracker_is_flagged_once_and_its_evidence_is_not_dead_lettered(
        sim: RunningSimulator, database_url: str) -> None:
    store = Store.open(database_url)
    store.upsert_employee(ANN)
    tracker = trackers(sim.url)
    ctx = Context(store=store, mapping=load_mapping("mappings/example.toml"), goals=tracker)
    kept = goal_in_both(store, tracker, "negotiation")
    gone = goal_in_both(store, tracker, "forecasting")
    requests.post(f"{sim.url}/_sandbox/drift", json={"delete_trackers": [int(gone)]},
                  timeout=5).raise_for_status()

    report = reconcile(ctx)
    assert [(f.kind, f.goal_key) for f in report.findings] == [
        ("goal_deleted", "7/forecasting/2026-H1")]
    assert report.goals_checked == 2
    assert [f.outcome for f in reconcile(ctx).findings] == ["already flagged"]

    store.drift.resolve("goal_deleted", "7/forecasting/2026-H1")  # as if not reconciled yet
    event = CompletionEvent(source="talentlms", event_id="c-1", course_id="101",
                            employee_id="7", completed_at=datetime.now(UTC),
                            outcome=Outcome.PASSED, score=90)
    outcome = handle_completion(ctx, event)  # the deleted tracker's log answers 404
    assert sorted(outcome.split(",")) == ["evidence", "goal-deleted"]
    trackers_now = requests.get(f"{sim.url}/_sandbox/state", timeout=5).json()["trackers"]
    logs = {str(t["id"]): len(t["logs"]) for t in trackers_now}
    assert logs[kept] >= 1 and logs[gone] == 0  # evidence only where the goal still is
    assert [t for t in trackers_now if not t.get("deleted")] != []
    assert len(trackers_now) == 2  # nothing re-created
    flagged = store.drift.get("goal_deleted", "7/forecasting/2026-H1")
    assert flagged is not None and flagged.state == "open"
    assert handle_completion(ctx, event).count("goal-deleted") == 1  # a repeat: said again,
    events = [e.event for e in store.audit_trail("7")]  # never posted, flagged once
    assert events.count("drift.flagged") == 2  # once by reconcile, once when it came back
    assert events.count("completion.goal_deleted") == 2
    store.close()
