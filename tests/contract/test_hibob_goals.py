"""Contract tests for the HiBob goal tracker, HTTP faked with `responses`: one test per call,
each naming the shared/VENDORS-next.md section ("HiBob §n") of every fact it checks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import responses

from connector.errors import AuthenticationError, ConfigError, FatalAPIError, RetriableAPIError
from connector.models import Employee, Evidence, GoalKey, GoalRef
from connector.ports import GoalTracker, WithdrawsEvidence
from connector.settings import Settings
from connector.vendors.hibob.client import per_minute_budget
from connector.vendors.hibob.goals import HiBobGoals, goal_marker

BASE = "https://api.hibob.com/v1"
USER, TOKEN = "svc-user-0001", "svc-token-abcdef123456"
KEY = GoalKey(employee_id="101", skill_id="negotiation", cycle="2026H1")
ANN = Employee(employee_id="3300000101", email="ann@example.com")  # HiBob's own id
REF = GoalRef(tracker="hibob", goal_id="g1", milestone_ids={"101": "k1", "102": "k2"})
EVIDENCE = Evidence(goal=KEY, course_id="101", course_name="Negotiation basics",
                    lms_name="TalentLMS", completed_at=datetime(2026, 3, 1, tzinfo=UTC),
                    score=90)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(**options: Any) -> HiBobGoals:
    settings = Settings(_env_file=None, hibob_service_user_id=USER, hibob_token=TOKEN,
                        **options)
    return HiBobGoals.from_settings(settings, sleep=Sleeps(), clock=lambda: 0.0,
                                    jitter=lambda: 0.0, max_attempts=3)


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def test_it_is_a_goal_tracker_that_can_withdraw_evidence() -> None:
    goals = make()
    assert isinstance(goals, GoalTracker) and isinstance(goals, WithdrawsEvidence)


def test_settings_refuse_to_build_without_the_service_user() -> None:
    # HiBob §1: Basic auth with the service user's id and token.
    with pytest.raises(ConfigError, match="CONNECTOR_HIBOB_SERVICE_USER_ID"):
        HiBobGoals.from_settings(Settings(_env_file=None, hibob_token=TOKEN))


@responses.activate
def test_open_goal_creates_one_goal_then_key_results_in_chunks_of_25() -> None:
    # HiBob §2 "Create goals" / "Create key results": body `items[]`, at most 25 per request,
    # the answer an array of the new ids. HiBob §1: Basic base64(SERVICE_USER_ID:TOKEN).
    courses = [(str(100 + i), f"Course {i}") for i in range(30)]
    responses.post(f"{BASE}/goals/goals", json=["g1"])
    responses.post(f"{BASE}/goals/goals/g1/key-results",
                   json=[f"k{i}" for i in range(25)])
    responses.post(f"{BASE}/goals/goals/g1/key-results",
                   json=[f"k{i}" for i in range(25, 30)])
    ref = make(hibob_goal_type_id="individual").open_goal(
        ANN, KEY, "Raise negotiation", date(2026, 6, 1), courses)
    create, first, second = responses.calls
    auth = create.request.headers["Authorization"]
    assert auth == "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    item = body(create)["items"][0]
    assert item["ownerId"] == ANN.employee_id  # opened in HiBob's own id space
    assert item["goalTypeId"] == "individual" and item["dueDate"] == "2026-06-01"
    assert goal_marker(KEY) in item["description"].splitlines()
    assert "status" not in item  # HiBob §2: status changes only through /status
    assert len(body(first)["items"]) == 25 and len(body(second)["items"]) == 5
    assert body(first)["items"][0] == {"title": "Course 0", "measureType": "percentage",
                                       "startValue": 0, "target": 100.0}
    assert ref.goal_id == "g1" and ref.milestone_ids["100"] == "k0"
    assert ref.milestone_ids["129"] == "k29"


@responses.activate
def test_a_create_with_per_item_failures_is_refused() -> None:
    # HiBob §2 "Create goals": failures come back as a structured error per item.
    responses.post(f"{BASE}/goals/goals", json={"errors": [{"index": 0, "message": "owner"}]})
    with pytest.raises(FatalAPIError, match="refused an item"):
        make().open_goal(ANN, KEY, "t", date(2026, 6, 1), [("101", "A")])


@responses.activate
def test_find_goal_searches_the_owners_goals_and_reads_key_results_with_a_goal_filter() -> None:
    # HiBob §2 "Search goals" (filters AND, pagination not enforced) and "Search key results"
    # (a `goalId` filter is mandatory).
    description = (f"text\n\n{goal_marker(KEY)}\nconnector-courses: [\"101\", \"102\"]\n"
                   'connector-key-results: ["A", "B"]')
    responses.post(f"{BASE}/goals/goals/search",
                   json={"items": [{"id": "g0", "description": "someone else's"},
                                   {"id": "g1", "description": description}]})
    responses.post(f"{BASE}/goals/goals/key-results/search",
                   json={"items": [{"id": "k2", "title": "B"}, {"id": "k1", "title": "A"}]})
    ref = make().find_goal(ANN, KEY, "ignored")
    assert ref is not None and ref.goal_id == "g1"
    search, krs = responses.calls
    assert {"fieldPath": "ownerId", "operator": "equals",
            "values": [ANN.employee_id]} in body(search)["filters"]
    assert body(krs)["filters"] == [{"fieldPath": "goalId", "operator": "equals",
                                     "values": ["g1"]}]
    # Matched by the titles the description recorded, not by the search's order.
    assert ref.milestone_ids == {"101": "k1", "102": "k2"}


@responses.activate
def test_evidence_is_one_check_in_with_notes_and_comment() -> None:
    # HiBob §2 "Update key result progress": PATCH …/key-results/progress, goal-level
    # `comment`, per-key-result `notes`; it does not change the goal status.
    responses.patch(f"{BASE}/goals/goals/g1/key-results/progress", json={})
    make().add_evidence(REF, EVIDENCE)
    (call,) = responses.calls
    sent = body(call)
    assert sent["items"] == [{"id": "k1", "currentValue": 100.0, "notes": EVIDENCE.text()}]
    assert sent["comment"] == EVIDENCE.text() and "status" not in sent


@responses.activate
def test_evidence_exists_reads_the_key_result_value_because_notes_are_never_returned() -> None:
    # HiBob §2: comment and notes live in the activity log only, never returned by search;
    # key-result search returns `target` and `currentValue`.
    responses.post(f"{BASE}/goals/goals/key-results/search",
                   json={"items": [{"id": "k1", "target": 100, "currentValue": 100}]})
    responses.post(f"{BASE}/goals/goals/key-results/search",
                   json={"items": [{"id": "k1", "target": 100, "currentValue": 40}]})
    goals = make()
    assert goals.evidence_exists(REF, EVIDENCE) is True
    assert goals.evidence_exists(REF, EVIDENCE) is False


@responses.activate
def test_close_goal_uses_the_status_endpoint() -> None:
    # HiBob §2 "Update goal status": PATCH /goals/goals/{id}/status with an optional comment.
    responses.patch(f"{BASE}/goals/goals/g1/status", json={})
    make(hibob_done_status="achieved").close_goal(REF)
    (call,) = responses.calls
    assert body(call)["status"] == "achieved" and body(call)["comment"]


@responses.activate
def test_close_goal_off_leaves_the_status() -> None:
    make(hibob_close_goals=False).close_goal(REF)
    assert len(responses.calls) == 0


@responses.activate
def test_withdrawn_evidence_puts_the_key_result_back_and_reopens() -> None:
    # HiBob §2: check-ins set key-result values; the status endpoint moves the goal back.
    responses.patch(f"{BASE}/goals/goals/g1/key-results/progress", json={})
    responses.patch(f"{BASE}/goals/goals/g1/status", json={})
    goals = make()
    goals.withdraw_evidence(REF, EVIDENCE, "withdrawn")
    goals.reopen_goal(REF, "withdrawn")
    check_in, status = responses.calls
    assert body(check_in)["items"] == [{"id": "k1", "currentValue": 0.0, "notes": "withdrawn"}]
    assert body(status) == {"status": "inProgress", "comment": "withdrawn"}


@responses.activate
def test_a_note_resends_current_values_with_the_comment() -> None:
    responses.post(f"{BASE}/goals/goals/key-results/search",
                   json={"items": [{"id": "k1", "currentValue": 100}, {"id": "k2"}]})
    responses.patch(f"{BASE}/goals/goals/g1/key-results/progress", json={})
    make().add_note(REF, "failed attempt")
    sent = body(responses.calls[1])
    assert sent == {"comment": "failed attempt", "items": [
        {"id": "k1", "currentValue": 100.0}, {"id": "k2", "currentValue": 0.0}]}


@responses.activate
def test_errors_read_the_goals_api_body_and_never_show_the_token() -> None:
    # HiBob §1 "Errors": the Goals API body adds statusCode and timestamp; 401 is auth; 429
    # is over the per-minute limit.
    responses.patch(f"{BASE}/goals/goals/g1/status", status=401,
                    json={"statusCode": 401, "timestamp": "2026-03-01T00:00:00Z",
                          "message": f"bad token {TOKEN}"})
    with pytest.raises(AuthenticationError) as caught:
        make().close_goal(REF)
    assert TOKEN not in str(caught.value) and "bad token" in str(caught.value)
    responses.patch(f"{BASE}/goals/goals/g2/status", status=429,
                    json={"statusCode": 429, "message": "Too many requests"})
    with pytest.raises(RetriableAPIError):
        make().close_goal(GoalRef(tracker="hibob", goal_id="g2"))


def test_the_per_minute_budget_never_overruns_a_minute() -> None:
    # HiBob §1 "Rate limits": per endpoint, per minute; /people/search 50/min.
    per_hour, burst = per_minute_budget(50)
    assert burst + per_hour / 60 == 50 and burst >= 1
