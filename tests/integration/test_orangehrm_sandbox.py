"""The OrangeHRM adapters against the OrangeHRM simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests

from connector.errors import AuthenticationError
from connector.http import VendorHttp
from connector.models import Employee, Evidence, GoalKey
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.orangehrm import create_app
from connector.settings import Settings
from connector.vendors.orangehrm import (
    OrangeHRMReviews,
    OrangeHRMTrackers,
    orangehrm_http,
    orangehrm_token,
)
from tests.support.fakes import ManualClock

TODAY = datetime.now(UTC).date()


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = serve(create_app(token_ttl=3600), "orangehrm")
    try:
        seed(running.url)
        yield running
    finally:
        running.stop()


def post(sim_url: str, path: str, body: Any) -> Any:
    resp = requests.post(f"{sim_url}{path}", json=body, timeout=5)
    resp.raise_for_status()
    return resp.json()


def state(sim_url: str) -> Any:
    return requests.get(f"{sim_url}/_sandbox/state", timeout=5).json()


def seed(url: str) -> None:
    post(url, "/_sandbox/employees", [
        {"empNumber": 2, "employeeId": "0002", "firstName": "Bo", "lastName": "Boss",
         "jobTitle": "Sales Manager"},
        {"empNumber": 7, "employeeId": "0007", "firstName": "Ann", "lastName": "Lee",
         "jobTitle": "Account Executive", "email": "ann@example.com",
         "supervisorEmpNumber": 2},
    ])
    post(url, "/_sandbox/kpis", [
        {"id": 11, "title": "Negotiation", "minRating": 1, "maxRating": 5,
         "jobTitle": "Account Executive"},
        {"id": 12, "title": "Forecasting", "minRating": 0, "maxRating": 100},
    ])
    add_review(url, completed=TODAY.isoformat())


def add_review(url: str, *, completed: str) -> int:
    ids = post(url, "/_sandbox/reviews", {
        "empNumber": 7, "reviewPeriodStart": f"{TODAY.year}-01-01",
        "reviewPeriodEnd": f"{TODAY.year}-06-30", "dueDate": TODAY.isoformat(),
        "completedDate": completed, "finalRating": 55, "finalComment": "fine",
        "ratings": [{"kpiId": 11, "rating": 2, "comment": "weak", "selfRating": 4},
                    {"kpiId": 12, "rating": 70, "selfRating": None}]})["ids"]
    return int(ids[0])


def consent(url: str) -> str:
    """The admin's one-time browser consent (stock OrangeHRM 5 has no client credentials)."""
    return str(post(url, "/_sandbox/oauth/authorize", {})["refresh_token"])


def client(url: str, *, refresh: str | None = None, rotated: list[str] | None = None,
           clock: ManualClock | None = None) -> VendorHttp:
    refresh = refresh or consent(url)
    settings = Settings(_env_file=None, orangehrm_base_url=url,
                        orangehrm_client_id="sandbox-client",
                        orangehrm_client_secret="sandbox-secret",
                        orangehrm_refresh_token=refresh)
    return orangehrm_http(settings, clock=clock or ManualClock(5000.0),
                          on_refresh_token=rotated.append if rotated is not None else None,
                          sleep=lambda _s: None, jitter=lambda: 0.0)


def test_completed_reviews_are_polled_once_then_only_new_ones(sim: RunningSimulator) -> None:
    reviews = OrangeHRMReviews(client(sim.url), include_self_ratings=True)

    first, cursor = reviews.reviews_completed_since(None)
    second, cursor2 = reviews.reviews_completed_since(cursor)
    new_id = add_review(sim.url, completed=TODAY.isoformat())
    third, _ = reviews.reviews_completed_since(cursor2)

    assert len(first) == 1 and second == [] and cursor2 == cursor
    [review] = first
    assert review.cycle == f"{TODAY.year}-H1"
    assert review.employee == Employee(
        employee_id="7", email="ann@example.com", first_name="Ann", last_name="Lee",
        role="Account Executive", manager_id="2", active=True)
    assert [(r.skill_key, r.rater, r.value, r.scale_max) for r in review.ratings] == [
        ("Negotiation", "manager", 2.0, 5.0), ("Forecasting", "manager", 70.0, 100.0),
        ("Negotiation", "self", 4.0, 5.0)]
    assert [r.review_id for r in third] == [str(new_id)]


def test_expired_tokens_mid_run_are_refreshed_with_the_rotated_refresh_token(
        sim: RunningSimulator) -> None:
    refresh = consent(sim.url)
    rotated: list[str] = []
    reviews = OrangeHRMReviews(client(sim.url, refresh=refresh, rotated=rotated))

    _, cursor = reviews.reviews_completed_since(None)
    post(sim.url, "/_sandbox/expire-tokens", {})
    add_review(sim.url, completed=TODAY.isoformat())
    later, _ = reviews.reviews_completed_since(cursor)

    assert len(later) == 1
    counts = state(sim.url)["counts"]
    assert counts["token_grants"]["refresh_token"] == 2
    assert counts["unauthorized"] == 1  # one 401, then the same call succeeded
    assert len(rotated) == 2 and refresh not in rotated


def test_tokens_are_refreshed_before_they_expire(sim: RunningSimulator) -> None:
    clock = ManualClock(5000.0)
    http = client(sim.url, clock=clock)
    reviews = OrangeHRMReviews(http, fetch_emails=False)

    _, cursor = reviews.reviews_completed_since(None)
    clock.now += 3600 - 30  # inside the margin before the sandbox's hour runs out
    reviews.reviews_completed_since(cursor)

    counts = state(sim.url)["counts"]
    assert counts["token_grants"] == {"client_credentials": 0, "refresh_token": 2}
    assert counts["unauthorized"] == 0


def test_client_credentials_are_refused_as_stock_orangehrm_refuses_them(
        sim: RunningSimulator) -> None:
    settings = Settings(_env_file=None, orangehrm_base_url=sim.url,
                        orangehrm_client_id="sandbox-client",
                        orangehrm_client_secret="sandbox-secret")
    reviews = OrangeHRMReviews(orangehrm_http(settings, sleep=lambda _s: None), fetch_emails=False)
    with pytest.raises(AuthenticationError, match=r"no client_credentials grant.*REFRESH_TOKEN"):
        reviews.reviews_completed_since(None)
    assert state(sim.url)["counts"]["token_grants"]["client_credentials"] == 0


def test_a_deployment_that_enables_client_credentials_grants_them() -> None:
    running = serve(create_app(client_credentials=True), "orangehrm")
    try:
        seed(running.url)
        settings = Settings(_env_file=None, orangehrm_base_url=running.url,
                            orangehrm_client_id="sandbox-client",
                            orangehrm_client_secret="sandbox-secret")
        reviews = OrangeHRMReviews(orangehrm_http(settings), fetch_emails=False)
        assert len(reviews.reviews_completed_since(None)[0]) == 1
        assert state(running.url)["counts"]["token_grants"]["client_credentials"] == 1
    finally:
        running.stop()


def test_a_revoked_refresh_token_is_an_authentication_error(sim: RunningSimulator) -> None:
    reviews = OrangeHRMReviews(client(sim.url, refresh="never-issued"))
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        reviews.reviews_completed_since(None)


def test_tracker_with_evidence_logs_and_close(sim: RunningSimulator) -> None:
    trackers = OrangeHRMTrackers(client(sim.url))
    emp = Employee(employee_id="7", manager_id="2")
    key = GoalKey(employee_id="7", skill_id="negotiation", cycle=f"{TODAY.year}-H1")
    evidence = Evidence(goal=key, course_id="123", course_name="Negotiation 101",
                        lms_name="TalentLMS", completed_at=datetime(2026, 8, 1, tzinfo=UTC),
                        score=91.0)

    goal = trackers.open_goal(emp, key, "Raise negotiation from 2 to 4", date(2026, 9, 1),
                              [("123", "Negotiation 101")])
    assert trackers.evidence_exists(goal, evidence) is False
    trackers.add_evidence(goal, evidence)
    assert trackers.evidence_exists(goal, evidence) is True
    trackers.complete_course(goal, "123", 100.0)
    trackers.close_goal(goal)
    trackers.close_goal(goal)

    [tracker] = state(sim.url)["trackers"]
    assert tracker["empNumber"] == 7 and tracker["reviewers"] == [2]
    assert [(entry["log"], entry["achievement"]) for entry in tracker["logs"]] == [
        (evidence.text(), "1"), ("Goal complete", "1")]


def test_find_goal_after_a_crash_finds_the_tracker_made_before(sim: RunningSimulator) -> None:
    emp = Employee(employee_id="7", manager_id="2")
    key = GoalKey(employee_id="7", skill_id="negotiation", cycle="2026-H1")
    other = GoalKey(employee_id="7", skill_id="forecasting", cycle="2026-H1")
    made = OrangeHRMTrackers(client(sim.url)).open_goal(emp, key, "Negotiation",
                                                          date(2026, 9, 1), [])
    OrangeHRMTrackers(client(sim.url)).open_goal(emp, other, "Forecasting", date(2026, 9, 1), [])

    restarted = OrangeHRMTrackers(client(sim.url), page_size=1)  # a fresh process, no memory

    assert restarted.find_goal(emp, key, "Negotiation") == made
    assert restarted.find_goal(emp, GoalKey(employee_id="7", skill_id="x", cycle="y"), "") is None


def test_polling_survives_a_flaky_vendor(sim: RunningSimulator) -> None:
    post(sim.url, "/_sandbox/faults", {"error_rate": 0.25, "seed": 3})
    for _ in range(3):
        add_review(sim.url, completed=TODAY.isoformat())

    http = client(sim.url)
    reviews, _ = OrangeHRMReviews(http, page_size=2).reviews_completed_since(None)

    assert len(reviews) == 4
    assert sum(n for status, n in http.statuses.items() if status >= 500) > 0


def test_one_shared_token_serves_reviews_and_trackers_with_a_rotating_refresh_token(
        sim: RunningSimulator) -> None:
    refresh = post(sim.url, "/_sandbox/oauth/authorize", {})["refresh_token"]
    settings = Settings(_env_file=None, orangehrm_base_url=sim.url,
                        orangehrm_client_id="sandbox-client",
                        orangehrm_client_secret="sandbox-secret",
                        orangehrm_refresh_token=refresh)
    token = orangehrm_token(settings, sleep=lambda _s: None)
    reviews = OrangeHRMReviews(orangehrm_http(settings, token=token))
    trackers = OrangeHRMTrackers(orangehrm_http(settings, token=token))

    reviews.reviews_completed_since(None)
    post(sim.url, "/_sandbox/expire-tokens", {})
    key = GoalKey(employee_id="7", skill_id="negotiation", cycle="2026-H1")
    assert trackers.find_goal(Employee(employee_id="7"), key, "") is None

    assert state(sim.url)["counts"]["token_grants"]["refresh_token"] == 2


def test_check_online_is_one_call_and_names_a_refused_token(sim: RunningSimulator) -> None:
    add_review(sim.url, completed=TODAY.isoformat())  # more than one review to read

    report = OrangeHRMReviews(client(sim.url)).check_online(())
    refused = OrangeHRMReviews(client(sim.url, refresh="never-issued")).check_online(())

    assert report == {"key_ok": True}
    assert state(sim.url)["calls_by_route"] == {"GET /performance/manage/reviews": 1}
    assert refused["key_ok"] is False and "invalid_grant" in refused["error"]
