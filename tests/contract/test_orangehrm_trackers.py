"""OrangeHRMTrackers against OrangeHRM 5's tracker and tracker-log endpoints."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from connector.errors import ConfigError, FatalAPIError, NotFoundError
from connector.http import VendorHttp
from connector.models import Employee, Evidence, GoalKey, GoalRef, Outcome
from connector.ports import GoalTracker
from connector.vendors.orangehrm.client import error_message
from connector.vendors.orangehrm.trackers import OrangeHRMTrackers, evidence_marker, goal_marker

BASE = "https://hr.acme.test"  # not a placeholder host (those are refused)
API = f"{BASE}/web/index.php/api/v2"
TRACKERS = f"{API}/performance/config/trackers"
EMP = Employee(employee_id="7", first_name="Ann", last_name="Lee", manager_id="2")
KEY = GoalKey(employee_id="7", skill_id="negotiation", cycle="2026-H1")
GOAL = GoalRef(tracker="orangehrm", goal_id="31")
LOGS = f"{API}/performance/trackers/31/logs"


class StaticBearer(requests.auth.AuthBase):
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = "Bearer test"
        return r


def trackers(**kw: Any) -> OrangeHRMTrackers:
    http = VendorHttp("orangehrm", BASE, auth=StaticBearer(), sleep=lambda _s: None,
                      jitter=lambda: 0.0, error_message=error_message, max_attempts=2)
    return OrangeHRMTrackers(http, **kw)


def sent_json(call: responses.Call) -> Any:
    return json.loads(call.request.body or b"{}")


def evidence(**kw: Any) -> Evidence:
    values: dict[str, Any] = {"goal": KEY, "course_id": "123", "course_name": "Negotiation 101",
                              "lms_name": "TalentLMS",
                              "completed_at": datetime(2026, 8, 1, 12, tzinfo=UTC),
                              "score": 92.0}
    values.update(kw)
    return Evidence(**values)


def log_list(*comments: str) -> dict[str, Any]:
    data = [{"id": n, "log": "x", "comment": c, "achievement": "1", "addedDate": "2026-08-01",
             "modifiedDate": None, "reviewer": None, "editable": True}
            for n, c in enumerate(comments, start=1)]
    return {"data": data, "meta": {"total": len(data), "positive": len(data), "negative": 0},
            "rels": []}


def test_the_adapter_is_a_goal_tracker() -> None:
    assert isinstance(trackers(), GoalTracker)


@responses.activate
def test_open_goal_posts_a_tracker_with_the_marker_and_the_reviewers() -> None:
    responses.post(TRACKERS, json={"data": {"id": 31, "trackerName": "…"}, "meta": {},
                                   "rels": []})

    ref = trackers(reviewer_emp_numbers=[1]).open_goal(
        EMP, KEY, "Raise negotiation from 2 to 4", date(2026, 9, 1), [("123", "Negotiation 101")])

    assert ref == GoalRef(tracker="orangehrm", goal_id="31")
    body = sent_json(responses.calls[0])
    assert body == {"trackerName": f"Raise negotiation from 2 to 4 {goal_marker(KEY)}",
                    "empNumber": 7, "reviewerEmpNumbers": [1]}


@responses.activate
def test_the_manager_reviews_the_tracker_when_no_reviewer_is_configured() -> None:
    responses.post(TRACKERS, json={"data": {"id": 32}, "meta": {}, "rels": []})

    trackers().open_goal(EMP, KEY, "Goal", date(2026, 9, 1), [])

    assert sent_json(responses.calls[0])["reviewerEmpNumbers"] == [2]


def test_a_tracker_without_any_reviewer_is_refused_before_calling() -> None:
    loner = Employee(employee_id="7")
    with pytest.raises(ConfigError, match="reviewer"):
        trackers().open_goal(loner, KEY, "Goal", date(2026, 9, 1), [])


@responses.activate
def test_a_long_title_is_cut_to_200_characters_keeping_the_marker() -> None:
    responses.post(TRACKERS, json={"data": {"id": 33}, "meta": {}, "rels": []})

    trackers().open_goal(EMP, KEY, "N" * 400, date(2026, 9, 1), [])

    name = sent_json(responses.calls[0])["trackerName"]
    assert len(name) == 200
    assert name.endswith(goal_marker(KEY))


@responses.activate
def test_find_goal_pages_the_employees_trackers_and_matches_the_marker() -> None:
    other = GoalKey(employee_id="7", skill_id="forecasting", cycle="2026-H1")
    responses.get(TRACKERS, json={"data": [
        {"id": 5, "trackerName": f"Forecasting {goal_marker(other)}"}],
        "meta": {"total": 2}, "rels": []})
    responses.get(TRACKERS, json={"data": [
        {"id": 6, "trackerName": f"Negotiation {goal_marker(KEY)}"}],
        "meta": {"total": 2}, "rels": []})

    found = trackers(page_size=1).find_goal(EMP, KEY, "Negotiation")

    assert found == GoalRef(tracker="orangehrm", goal_id="6")
    queries = [parse_qs(urlparse(str(c.request.url)).query) for c in responses.calls]
    assert [q["empNumber"] for q in queries] == [["7"], ["7"]]
    assert [q["offset"] for q in queries] == [["0"], ["1"]]


@responses.activate
def test_find_goal_returns_none_when_no_tracker_carries_the_marker() -> None:
    responses.get(TRACKERS, json={"data": [{"id": 5, "trackerName": "Hand-made tracker"}],
                                  "meta": {"total": 1}, "rels": []})

    assert trackers().find_goal(EMP, KEY, "Negotiation") is None


@responses.activate
def test_evidence_is_a_positive_log_with_details_and_marker_in_the_comment() -> None:
    responses.post(LOGS, json={"data": {"id": 1}, "meta": {}, "rels": []})
    ev = evidence(certificate_url="https://lms.example.com/cert/9")

    trackers().add_evidence(GOAL, ev)

    body = sent_json(responses.calls[0])
    assert body["achievement"] == 1
    assert body["log"] == ev.text()
    assert body["comment"] == f"{ev.text()}\n{evidence_marker(ev)}"


@responses.activate
def test_a_long_log_is_cut_to_150_characters_and_the_comment_to_3000() -> None:
    responses.post(LOGS, json={"data": {"id": 1}, "meta": {}, "rels": []})
    ev = evidence(course_name="C" * 4000)

    trackers().add_evidence(GOAL, ev)

    body = sent_json(responses.calls[0])
    assert len(body["log"]) == 150 and body["log"].endswith("…")
    assert len(body["comment"]) <= 3000
    assert body["comment"].endswith(evidence_marker(ev))


@responses.activate
def test_a_failed_attempt_and_a_note_are_negative_logs() -> None:
    responses.post(LOGS, json={"data": {"id": 1}, "meta": {}, "rels": []})
    responses.post(LOGS, json={"data": {"id": 2}, "meta": {}, "rels": []})

    t = trackers()
    t.add_evidence(GOAL, evidence(outcome=Outcome.FAILED))
    t.add_note(GOAL, "Assignment cancelled: employee left")

    bodies = [sent_json(c) for c in responses.calls]
    assert [b["achievement"] for b in bodies] == [2, 2]
    assert bodies[1]["log"] == bodies[1]["comment"] == "Assignment cancelled: employee left"


@responses.activate
def test_evidence_exists_reads_the_logs_for_the_marker() -> None:
    ev = evidence()
    responses.get(LOGS, json=log_list("old note", f"Completed…\n{evidence_marker(ev)}"))
    responses.get(LOGS, json=log_list("old note"))

    t = trackers()
    assert t.evidence_exists(GOAL, ev) is True
    assert t.evidence_exists(GOAL, ev) is False


@responses.activate
def test_complete_course_calls_nothing_since_trackers_have_no_milestones() -> None:
    trackers().complete_course(GOAL, "123", 100.0)
    assert len(responses.calls) == 0


@responses.activate
def test_close_goal_posts_one_final_positive_log_and_is_idempotent() -> None:
    responses.get(LOGS, json=log_list("Completed…"))
    responses.post(LOGS, json={"data": {"id": 9}, "meta": {}, "rels": []})
    responses.get(LOGS, json=log_list("Completed…", "All linked courses are complete.\n"
                                      "[sg-closed]"))

    t = trackers()
    t.close_goal(GOAL)
    t.close_goal(GOAL)

    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1
    assert sent_json(posts[0])["log"] == "Goal complete"
    assert sent_json(posts[0])["achievement"] == 1


@responses.activate
def test_a_422_names_the_invalid_parameters() -> None:
    responses.post(LOGS, status=422, json={"error": {
        "status": "422", "message": "Invalid Parameter",
        "data": {"invalidParamKeys": {"log": "Invalid string length"}}}})

    with pytest.raises(FatalAPIError, match=r"Invalid Parameter \(log: Invalid string length\)"):
        trackers().add_note(GOAL, "x")


@responses.activate
def test_a_422_with_a_list_of_invalid_parameters_names_them() -> None:
    """OrangeHRM 5's own shape (InvalidParamException::getNormalizedErrorBag): a list."""
    responses.post(LOGS, status=422, json={"error": {
        "status": "422", "message": "Invalid Parameter",
        "data": {"invalidParamKeys": ["log", "comment"]}}})

    with pytest.raises(FatalAPIError, match=r"Invalid Parameter \(invalid: log, comment\)"):
        trackers().add_note(GOAL, "x")


@responses.activate
def test_a_write_is_not_retried_after_a_5xx() -> None:
    responses.post(LOGS, status=502, json={})

    with pytest.raises(Exception, match="HTTP 502"):
        trackers().add_note(GOAL, "x")
    assert len(responses.calls) == 1


@responses.activate
def test_logs_of_a_deleted_tracker_are_not_found() -> None:
    responses.get(LOGS, status=404, json={"error": {"status": "404",
                                                    "message": "Record Not Found"}})
    with pytest.raises(NotFoundError):
        trackers().evidence_exists(GOAL, evidence())
