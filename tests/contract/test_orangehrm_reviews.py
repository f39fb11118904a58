"""OrangeHRMReviews against OrangeHRM 5's documented review, evaluation and KPI answers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from connector.errors import AuthenticationError, FatalAPIError, NotFoundError, RetriableAPIError
from connector.http import VendorHttp
from connector.ports import ReviewSource
from connector.settings import Settings
from connector.vendors.orangehrm.client import error_message
from connector.vendors.orangehrm.reviews import OrangeHRMReviews, review_cycle

BASE = "https://hr.acme.test"  # not a placeholder host (those are refused)
API = f"{BASE}/web/index.php/api/v2"
REVIEWS = f"{API}/performance/manage/reviews"
TODAY = date(2026, 7, 15)


class StaticBearer(requests.auth.AuthBase):
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = "Bearer test"
        return r


def http() -> VendorHttp:
    return VendorHttp("orangehrm", BASE, auth=StaticBearer(), sleep=lambda _s: None,
                      jitter=lambda: 0.0, error_message=error_message, max_attempts=2)


def source(**kw: Any) -> OrangeHRMReviews:
    kw.setdefault("fetch_emails", False)
    return OrangeHRMReviews(http(), today=lambda: TODAY, **kw)


def review_item(review_id: int, emp: int = 7, *, start: str = "2026-01-01",
                end: str = "2026-06-30", job: str = "Account Executive") -> dict[str, Any]:
    return {
        "id": review_id,
        "jobTitle": {"id": 3, "name": job, "deleted": False},
        "subunit": {"id": 1, "name": "Sales"},
        "reviewPeriodStart": start, "reviewPeriodEnd": end, "dueDate": "2026-07-10",
        "overallStatus": {"statusId": 4, "statusName": "Completed"},
        "employee": {"empNumber": emp, "lastName": "Lee", "firstName": "Ann",
                     "terminationId": None},
        "reviewer": {"id": 99, "employee": {"empNumber": 2, "lastName": "Boss",
                                            "firstName": "Bo", "terminationId": None}},
    }


KPI_META = [{"id": 11, "title": "Negotiation", "minRating": 1, "maxRating": 5},
            {"id": 12, "title": "Forecasting", "minRating": 0, "maxRating": 100}]


def add_review(review_id: int, completed: str | None, *, ratings: list[dict] | None = None,
               kpis: list[dict] | None = None, self_ratings: list[dict] | None = None) -> None:
    base = f"{API}/performance/reviews/{review_id}/evaluation"
    responses.get(f"{base}/final", json={"data": {
        "id": review_id, "finalRating": 60, "finalComment": "ok", "completedDate": completed,
        "overallStatus": {"statusId": 4, "statusName": "Completed"}}, "meta": {}, "rels": []})
    items = ratings if ratings is not None else [
        {"id": 1, "rating": 2, "comment": "needs work", "kpi": {"id": 11}},
        {"id": 2, "rating": 80, "comment": None, "kpi": {"id": 12}},
    ]
    responses.get(f"{base}/supervisor", json={"data": items, "meta": {
        "total": len(items), "generalComment": None,
        "kpis": KPI_META if kpis is None else kpis}, "rels": []})
    if self_ratings is not None:
        responses.get(f"{base}/employee", json={"data": self_ratings, "meta": {
            "total": len(self_ratings), "kpis": KPI_META}, "rels": []})


def list_reviews(*pages: list[dict], total: int | None = None) -> None:
    count = total if total is not None else sum(len(p) for p in pages)
    for page in pages:
        responses.get(REVIEWS, json={"data": page, "meta": {"total": count}, "rels": []})


def calls_to(url: str) -> list[responses.Call]:
    return [c for c in responses.calls if str(c.request.url).split("?")[0] == url]


def query(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(str(call.request.url)).query).items()}


def test_the_adapter_is_a_review_source() -> None:
    assert isinstance(source(), ReviewSource)
    assert source().name == "orangehrm"


@responses.activate
def test_completed_reviews_are_listed_page_by_page_until_meta_total() -> None:
    list_reviews([review_item(1), review_item(2)], [review_item(3)], total=3)
    for n in (1, 2, 3):
        add_review(n, "2026-07-01")

    reviews, _ = source(page_size=2).reviews_completed_since(None)

    assert [r.review_id for r in reviews] == ["1", "2", "3"]
    pages = [query(c) for c in calls_to(REVIEWS)]
    assert [(p["limit"], p["offset"]) for p in pages] == [("2", "0"), ("2", "2")]
    assert pages[0]["statusId"] == "4"
    assert pages[0]["includeEmployees"] == "currentAndPast"
    # Both dates are always sent: without them OrangeHRM lists only the current year.
    assert pages[0]["fromDate"] == "2025-07-14"
    assert pages[0]["toDate"] == "2027-07-16"


@responses.activate
def test_a_review_maps_to_the_domain_with_kpi_titles_and_scales() -> None:
    list_reviews([review_item(5)])
    add_review(5, "2026-07-02")

    [review], _ = source().reviews_completed_since(None)

    assert review.source == "orangehrm"
    assert review.review_id == "5"
    assert review.cycle == "2026-H1"
    assert review.completed_at == datetime(2026, 7, 2, tzinfo=UTC)
    emp = review.employee
    assert (emp.employee_id, emp.first_name, emp.last_name, emp.role, emp.manager_id) == (
        "7", "Ann", "Lee", "Account Executive", "2")
    assert emp.email is None and emp.active
    negotiation, forecasting = review.ratings
    assert (negotiation.skill_key, negotiation.value, negotiation.scale_min,
            negotiation.scale_max, negotiation.rater, negotiation.comment) == (
        "Negotiation", 2.0, 1.0, 5.0, "manager", "needs work")
    assert (forecasting.skill_key, forecasting.value, forecasting.scale_max) == (
        "Forecasting", 80.0, 100.0)


@responses.activate
def test_unknown_kpis_come_from_the_kpi_list_fetched_once_per_run() -> None:
    list_reviews([review_item(1), review_item(2)])
    rating = [{"id": 1, "rating": 3, "comment": "", "kpi": {"id": 40}}]
    add_review(1, "2026-07-01", ratings=rating, kpis=[])
    add_review(2, "2026-07-01", ratings=rating, kpis=[])
    responses.get(f"{API}/performance/kpis", json={"data": [
        {"id": 40, "title": "Coaching", "jobTitle": {"id": 3, "name": "AE"},
         "minRating": 1, "maxRating": 10}], "meta": {"total": 1}, "rels": []})

    reviews, _ = source().reviews_completed_since(None)

    assert [(r.ratings[0].skill_key, r.ratings[0].scale_max) for r in reviews] == [
        ("Coaching", 10.0), ("Coaching", 10.0)]
    assert len(calls_to(f"{API}/performance/kpis")) == 1


@responses.activate
def test_self_ratings_only_when_asked_and_unrated_kpis_are_skipped() -> None:
    list_reviews([review_item(1)])
    add_review(1, "2026-07-01", self_ratings=[
        {"id": 8, "rating": 4, "comment": "I'm fine", "kpi": {"id": 11}},
        {"id": 9, "rating": None, "comment": None, "kpi": {"id": 12}}])

    [review], _ = source(include_self_ratings=True).reviews_completed_since(None)

    assert [(r.skill_key, r.rater, r.value) for r in review.ratings] == [
        ("Negotiation", "manager", 2.0), ("Forecasting", "manager", 80.0),
        ("Negotiation", "self", 4.0)]


@responses.activate
def test_without_self_ratings_the_employee_evaluation_is_not_read() -> None:
    list_reviews([review_item(1)])
    add_review(1, "2026-07-01")

    source().reviews_completed_since(None)

    assert not [c for c in responses.calls if "evaluation/employee" in str(c.request.url)]


@responses.activate
def test_email_comes_from_contact_details_once_per_employee() -> None:
    list_reviews([review_item(1, emp=7), review_item(2, emp=7), review_item(3, emp=8)])
    for n in (1, 2, 3):
        add_review(n, "2026-07-01")
    responses.get(f"{API}/pim/employee/7/contact-details",
                  json={"data": {"workEmail": "ann@example.com"}, "meta": {}, "rels": []})
    responses.get(f"{API}/pim/employee/8/contact-details", status=404,
                  json={"error": {"status": "404", "message": "Record Not Found"}})

    reviews, _ = source(fetch_emails=True).reviews_completed_since(None)

    assert [r.employee.email for r in reviews] == ["ann@example.com", "ann@example.com", None]
    assert len(calls_to(f"{API}/pim/employee/7/contact-details")) == 1


@responses.activate
def test_a_second_poll_with_the_cursor_yields_nothing_and_skips_the_evaluations() -> None:
    list_reviews([review_item(1), review_item(2)])
    list_reviews([review_item(1), review_item(2)])
    add_review(1, "2026-07-01")
    add_review(2, "2026-07-03")
    reviews = source()

    first, cursor = reviews.reviews_completed_since(None)
    evaluation_calls = len([c for c in responses.calls if "/evaluation/" in str(c.request.url)])
    second, cursor2 = reviews.reviews_completed_since(cursor)

    assert len(first) == 2 and second == []
    assert json.loads(cursor or "") == {"v": 1, "through": "2026-07-03", "seen": [1, 2]}
    assert cursor2 == cursor
    now = len([c for c in responses.calls if "/evaluation/" in str(c.request.url)])
    assert now == evaluation_calls


@responses.activate
def test_a_back_dated_completion_after_the_cursor_is_still_delivered_once() -> None:
    cursor = json.dumps({"v": 1, "through": "2026-07-10", "seen": [1]})
    list_reviews([review_item(1), review_item(4)])
    add_review(4, "2026-06-20")  # completed today, dated three weeks ago by the reviewer

    reviews, new_cursor = source().reviews_completed_since(cursor)

    assert [r.review_id for r in reviews] == ["4"]
    assert json.loads(new_cursor or "") == {"v": 1, "through": "2026-07-10", "seen": [1, 4]}
    # The listing window is anchored on the cursor, never moved past what was read.
    assert query(calls_to(REVIEWS)[0])["fromDate"] == "2025-07-09"


@responses.activate
def test_ids_that_left_the_listing_window_are_forgotten() -> None:
    cursor = json.dumps({"v": 1, "through": "2026-07-10", "seen": [1, 2, 3]})
    list_reviews([review_item(3)])

    reviews, new_cursor = source().reviews_completed_since(cursor)

    assert reviews == []
    assert json.loads(new_cursor or "")["seen"] == [3]


@responses.activate
def test_reviews_completed_before_not_before_are_marked_seen_but_not_delivered() -> None:
    list_reviews([review_item(1), review_item(2)])
    add_review(1, "2026-01-15")
    add_review(2, "2026-07-01")

    reviews, cursor = source(not_before=date(2026, 7, 1)).reviews_completed_since(None)

    assert [r.review_id for r in reviews] == ["2"]
    assert json.loads(cursor or "")["seen"] == [1, 2]


@responses.activate
def test_a_review_deleted_while_being_read_is_skipped_and_not_marked_seen() -> None:
    list_reviews([review_item(1), review_item(2)])
    responses.get(f"{API}/performance/reviews/1/evaluation/final", status=404,
                  json={"error": {"status": "404", "message": "Record Not Found"}})
    add_review(2, "2026-07-01")

    reviews, cursor = source().reviews_completed_since(None)

    assert [r.review_id for r in reviews] == ["2"]
    assert json.loads(cursor or "")["seen"] == [2]


@responses.activate
@pytest.mark.parametrize(("status", "body", "error", "text"), [
    (401, {"error": "access_denied", "error_description": "denied"}, AuthenticationError,
     "access_denied: denied"),
    (403, {"error": {"status": "403", "message": "Unauthorized"}}, AuthenticationError,
     "Unauthorized"),
    (404, {"error": {"status": "404", "message": "Record Not Found"}}, NotFoundError,
     "Record Not Found"),
    (422, {"error": {"status": "422", "message": "Invalid Parameter",
                     "data": {"invalidParamKeys": {"statusId": "Invalid parameter"}}}},
     FatalAPIError, "Invalid Parameter (statusId: Invalid parameter)"),
    (500, {"error": {"status": "500", "message": "Unexpected Error Occurred"}},
     RetriableAPIError, "Unexpected Error Occurred"),
])
def test_list_errors_map_to_what_the_caller_should_do(
        status: int, body: dict, error: type[Exception], text: str) -> None:
    responses.get(REVIEWS, json=body, status=status)

    with pytest.raises(error) as info:
        source().reviews_completed_since(None)

    assert text in str(info.value)
    assert type(info.value) is error


@responses.activate
def test_a_failed_poll_leaves_no_cursor_to_store() -> None:
    list_reviews([review_item(1), review_item(2)])
    add_review(1, "2026-07-01")
    responses.get(f"{API}/performance/reviews/2/evaluation/final", status=503, json={})

    with pytest.raises(RetriableAPIError):
        source().reviews_completed_since(None)


@pytest.mark.parametrize(("start", "end", "cycle"), [
    (date(2026, 1, 1), date(2026, 12, 31), "2026"),
    (date(2026, 1, 1), date(2026, 6, 30), "2026-H1"),
    (date(2026, 7, 1), date(2026, 12, 31), "2026-H2"),
    (date(2026, 4, 1), date(2026, 6, 30), "2026-Q2"),
    (date(2026, 2, 1), date(2026, 7, 31), "2026-02-01..2026-07-31"),
    (date(2025, 11, 15), date(2026, 5, 14), "2025-11-15..2026-05-14"),
])
def test_the_cycle_is_named_from_the_review_period(start: date, end: date, cycle: str) -> None:
    assert review_cycle(start, end) == cycle


def test_from_settings_reads_the_orangehrm_settings() -> None:
    settings = Settings(_env_file=None, orangehrm_base_url=BASE,
                        orangehrm_client_id="cid", orangehrm_include_self_ratings=True)
    reviews = OrangeHRMReviews.from_settings(settings)
    assert reviews.include_self_ratings is True
    assert reviews.http.base_url == BASE


@responses.activate
def test_paging_stops_on_an_empty_page_even_if_total_lies() -> None:
    responses.get(REVIEWS, json={"data": [review_item(1)], "meta": {"total": 5}, "rels": []})
    responses.get(REVIEWS, json={"data": [], "meta": {"total": 5}, "rels": []})
    add_review(1, "2026-07-01")

    reviews, _ = source(page_size=1).reviews_completed_since(None)

    assert len(reviews) == 1
    assert len(calls_to(REVIEWS)) == 2

