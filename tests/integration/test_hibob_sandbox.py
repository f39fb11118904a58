"""The HiBob simulator against HiBob's published definitions (shared/VENDORS-next.md, "HiBob
§n" named per test), and the adapters' pacing against it: the shared budget in the store (both
engines) keeps people search under 50 a minute, so the simulator never answers 429."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests

from connector.models import Employee, GoalKey
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.hibob import create_app
from connector.settings import Settings
from connector.store import Store
from connector.vendors.hibob.client import SEARCH_BUCKET, per_minute_budget
from connector.vendors.hibob.directory import HiBobDirectory
from connector.vendors.hibob.goals import HiBobGoals

USER, TOKEN = "svc-user", "svc-token-123456"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()}
PEOPLE = [{"id": "11", "email": "ann@example.com", "firstName": "Ann", "surname": "Lee"},
          {"id": "12", "email": "old@example.com", "status": "Inactive"}]


class FakeClock:
    """Simulated time shared by the simulator's rate windows, the store's budget and the
    client's sleeps."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[RunningSimulator]:
    running = serve(create_app(service_user=USER, token=TOKEN, clock=clock), "hibob")
    requests.post(f"{running.url}/_sandbox/employees", json=PEOPLE, timeout=5)
    yield running
    running.stop()


def call(sim: RunningSimulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{sim.url}/v1{path}", json=body, headers=AUTH, timeout=5)


def goal(sim: RunningSimulator) -> str:
    answer = call(sim, "POST", "/goals/goals", {"items": [{"title": "G", "ownerId": "11"}]})
    assert answer.status_code == 200
    gid: str = answer.json()[0]
    return gid


def test_auth_and_error_bodies(sim: RunningSimulator) -> None:
    # HiBob §1 "Auth" (Basic service user id:token) and "Errors" (the Goals API adds
    # statusCode and timestamp; other modules a simpler body).
    bad = requests.post(f"{sim.url}/v1/goals/goals/search", json={}, timeout=5)
    assert bad.status_code == 401 and {"statusCode", "timestamp"} <= set(bad.json())
    people = requests.post(f"{sim.url}/v1/people/search", json={}, timeout=5)
    assert people.status_code == 401 and set(people.json()) == {"error"}


def test_create_goals_and_key_results_are_capped_at_25(sim: RunningSimulator) -> None:
    # HiBob §2 "Create goals" / "Create key results": at most 25 per request, more fails.
    items = [{"title": f"G{i}", "ownerId": "11"} for i in range(26)]
    assert call(sim, "POST", "/goals/goals", {"items": items}).status_code == 400
    assert len(call(sim, "POST", "/goals/goals", {"items": items[:25]}).json()) == 25
    gid = goal(sim)
    krs = [{"title": f"K{i}", "measureType": "percentage", "target": 100} for i in range(26)]
    assert call(sim, "POST", f"/goals/goals/{gid}/key-results",
                {"items": krs}).status_code == 400
    assert len(call(sim, "POST", f"/goals/goals/{gid}/key-results",
                    {"items": krs[:25]}).json()) == 25


def test_status_only_through_its_endpoint_and_check_ins_keep_it(sim: RunningSimulator) -> None:
    # HiBob §2 "Update goal" (status cannot be changed there), "Update key result progress"
    # (does not change the goal status), "Update goal status".
    gid = goal(sim)
    (kid,) = call(sim, "POST", f"/goals/goals/{gid}/key-results",
                  {"items": [{"title": "K", "target": 100}]}).json()
    assert call(sim, "PATCH", f"/goals/goals/{gid}", {"status": "completed"}).status_code == 400
    assert call(sim, "PATCH", f"/goals/goals/{gid}/key-results/progress",
                {"comment": "c", "items": [{"id": kid, "currentValue": 100, "notes": "n"}]}
                ).status_code == 200
    state = requests.get(f"{sim.url}/_sandbox/state", timeout=5).json()
    assert state["goals"][0]["status"] == "notStarted" and state["goals"][0]["progress"] == 100
    assert call(sim, "PATCH", f"/goals/goals/{gid}/status",
                {"status": "completed", "comment": "done"}).status_code == 200


def test_key_result_search_needs_a_goal_filter_and_hides_notes(sim: RunningSimulator) -> None:
    # HiBob §2 "Search key results" (goalId filter mandatory; returns target, currentValue,
    # progress, startValue) and "check-in" (comment/notes never returned by search).
    gid = goal(sim)
    call(sim, "POST", f"/goals/goals/{gid}/key-results", {"items": [{"title": "K"}]})
    assert call(sim, "POST", "/goals/goals/key-results/search", {}).status_code == 400
    found = call(sim, "POST", "/goals/goals/key-results/search", {"filters": [
        {"fieldPath": "goalId", "operator": "equals", "values": [gid]}]}).json()["items"]
    assert {"target", "currentValue", "progress", "startValue"} <= set(found[0])
    assert "notes" not in found[0]


def test_people_search_active_only_by_default_and_silent_omission(sim: RunningSimulator) -> None:
    # HiBob §3 (showInactive default: active only; no pagination) and §1 "Silent omission".
    active = call(sim, "POST", "/people/search", {"fields": []}).json()["employees"]
    assert [p["id"] for p in active] == ["11"]
    everyone = call(sim, "POST", "/people/search", {"fields": [], "showInactive": True})
    assert len(everyone.json()["employees"]) == 2
    requests.post(f"{sim.url}/_sandbox/hidden", json={"fields": ["internal.status"]}, timeout=5)
    hidden = call(sim, "POST", "/people/search", {"fields": [], "showInactive": True})
    assert hidden.status_code == 200
    assert all("status" not in p["internal"] for p in hidden.json()["employees"])


def test_people_search_answers_429_past_50_a_minute(sim: RunningSimulator) -> None:
    # HiBob §1 "Rate limits": /v1/people/search 50/min, 429 over it; rate headers
    # (*unconfirmed* names).
    answers = [call(sim, "POST", "/people/search", {"fields": []}) for _ in range(51)]
    assert [a.status_code for a in answers[:50]] == [200] * 50
    assert answers[50].status_code == 429
    assert answers[49].headers["X-RateLimit-Remaining"] == "0"


def test_the_shared_budget_keeps_people_search_under_its_limit(
        sim: RunningSimulator, clock: FakeClock, database_url: str) -> None:
    store = Store.open(database_url, clock=clock)
    try:
        store.configure_budget(SEARCH_BUCKET, *per_minute_budget(50))
        settings = Settings(_env_file=None, hibob_base_url=f"{sim.url}/v1",
                            hibob_service_user_id=USER, hibob_token=TOKEN)
        directory = HiBobDirectory.from_settings(settings, budget=store, clock=clock,
                                                 wall_clock=clock, sleep=clock.sleep,
                                                 max_attempts=1)
        started = clock()
        for _ in range(70):
            people, complete = directory.list_employees()  # a 429 would raise here
            assert complete and len(people) == 2
        # 70 calls at 45/min after a burst of 5 (two fixed minutes at most 50 each): about
        # 87 simulated seconds, never a 429.
        assert clock() - started >= 80
    finally:
        store.close()


def test_a_goal_opened_is_found_again_with_its_key_results(sim: RunningSimulator) -> None:
    # HiBob §2 "Search goals" and "Search key results": what a retry after a crash reads.
    settings = Settings(_env_file=None, hibob_base_url=f"{sim.url}/v1",
                        hibob_service_user_id=USER, hibob_token=TOKEN)
    goals = HiBobGoals.from_settings(settings)
    key = GoalKey(employee_id="101", skill_id="negotiation", cycle="2026H1")
    ann = Employee(employee_id="11", email="ann@example.com")
    assert goals.find_goal(ann, key, "t") is None
    courses = [(str(200 + i), f"Course {i}") for i in range(27)]  # two key-result calls
    opened = goals.open_goal(ann, key, "Raise negotiation", date(2026, 6, 1), courses)
    found = goals.find_goal(ann, key, "t")
    assert found == opened and len(opened.milestone_ids) == 27
