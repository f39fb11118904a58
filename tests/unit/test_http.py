"""The shared vendor HTTP client: error mapping, retry rules, waits, pacing, no secrets out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connector.errors import (
    AuthenticationError,
    FatalAPIError,
    NotFoundError,
    RetriableAPIError,
)
from connector.http import (
    ErrorKind,
    ErrorRule,
    VendorConnectionError,
    VendorHttp,
    error_for_response,
    json_object,
    parse_retry_after,
    retry_wait,
    should_retry,
)

BASE = "https://acme.example.com/api/v1"
KEY = "sk-live-SUPERSECRET-123"


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class RecordingBudget:
    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait
        self.vendors: list[str] = []

    def acquire(self, vendor: str) -> float:
        self.vendors.append(vendor)
        return self.wait


def client(t: FakeTime, **kw: object) -> VendorHttp:
    options: dict[str, object] = {
        "auth": (KEY, ""), "clock": t.clock, "sleep": t.sleep, "jitter": lambda: 1.0,
        "burst": 1000,
    }
    options.update(kw)
    return VendorHttp("acme", BASE, **options)  # type: ignore[arg-type]


def make_response(status: int, body: str = "", headers: dict[str, str] | None = None
                  ) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers.update(headers or {})
    response.reason = "Reason"
    return response


def connect_refused() -> requests.exceptions.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


# --- the one status → error mapping ------------------------------------------------------------

@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "message"),
    [
        (400, '{"error":{"message":"Bad course id"}}', {}, FatalAPIError, "Bad course id"),
        (401, '{"error":{"message":"Invalid API key"}}', {}, AuthenticationError,
         "Invalid API key"),
        (403, '{"type":"api_error","message":"API is disabled"}', {}, AuthenticationError,
         "API is disabled"),
        (404, '{"error":{"message":"The requested user does not exist"}}', {}, NotFoundError,
         "The requested user does not exist"),
        (409, "conflict", {}, FatalAPIError, "Reason"),
        (422, '{"message":"course_id is required"}', {}, FatalAPIError,
         "course_id is required"),
        (408, "", {}, RetriableAPIError, "Reason"),
        (429, '{"error":"Too many requests"}', {"Retry-After": "7"}, RetriableAPIError,
         "Too many requests"),
        (500, "<html>oops</html>", {}, RetriableAPIError, "Reason"),
        (502, "", {"X-Request-ID": "req-42"}, RetriableAPIError, "Reason"),
        (503, '{"detail":"maintenance"}', {"Retry-After": "30"}, RetriableAPIError,
         "maintenance"),
    ],
)
def test_status_maps_to_error_class(status: int, body: str, headers: dict[str, str],
                                    cls: type, message: str) -> None:
    error = error_for_response("acme", "enroll", make_response(status, body, headers))
    assert type(error) is cls
    assert error.status == status
    assert error.message == message
    assert error.vendor == "acme" and error.operation == "enroll"
    assert str(error).startswith(f"acme enroll failed (HTTP {status})")
    if body:
        assert error.body_excerpt == body[:300]


def test_error_carries_request_id_retry_after_and_short_excerpt() -> None:
    response = make_response(429, "x" * 1000, {"Request-Id": "abc", "Retry-After": "12"})
    error = error_for_response("acme", "op", response, message="slow down")
    assert error.request_id == "abc"
    assert error.retry_after == 12.0
    assert error.message == "slow down"
    assert error.body_excerpt is not None and len(error.body_excerpt) == 300
    assert "[request id abc]" in str(error)


# --- Retry-After ---------------------------------------------------------------------------------

def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    server_now = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 3, 1, 10, 0, 45, tzinfo=UTC), usegmt=True)
    response = make_response(429, headers={"Date": format_datetime(server_now, usegmt=True)})
    assert parse_retry_after(later, response) == 45.0
    # Without a Date header the date is measured against the given wall time.
    assert parse_retry_after(later, now=server_now.timestamp() + 40) == 5.0
    earlier = format_datetime(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(earlier, response) == 0.0


@pytest.mark.parametrize(
    ("attempt", "retry_after", "jitter", "expected"),
    [
        (1, 7.0, 0.3, 7.0),  # the vendor's word wins over backoff
        (1, 500.0, 0.3, 60.0),  # clamped to max_wait
        (1, None, 1.0, 0.5),  # backoff: cap 0.5 * 2**0
        (3, None, 1.0, 2.0),
        (3, None, 0.25, 0.5),  # full jitter scales the cap
        (20, None, 1.0, 60.0),  # capped
        (4, None, 0.0, 0.0),
    ],
)
def test_retry_wait(attempt: int, retry_after: float | None, jitter: float,
                    expected: float) -> None:
    error = RetriableAPIError("x", vendor="v", operation="o", retry_after=retry_after)
    assert retry_wait(attempt, error, max_wait=60.0, jitter=lambda: jitter) == expected


def test_should_retry_is_a_pure_rule() -> None:
    server = RetriableAPIError("x", vendor="v", operation="o", status=503)
    fatal = FatalAPIError("x", vendor="v", operation="o", status=400)
    unsent = VendorConnectionError("x", vendor="v", operation="o", request_sent=False)
    sent = VendorConnectionError("x", vendor="v", operation="o", request_sent=True)
    assert should_retry(1, server, idempotent=True, max_attempts=5)
    assert not should_retry(5, server, idempotent=True, max_attempts=5)
    assert not should_retry(1, fatal, idempotent=True, max_attempts=5)
    assert not should_retry(1, None, idempotent=True, max_attempts=5)
    assert not should_retry(1, server, idempotent=False, max_attempts=5)
    assert not should_retry(1, sent, idempotent=False, max_attempts=5)
    assert should_retry(1, unsent, idempotent=False, max_attempts=5)


# --- retries through the client ------------------------------------------------------------------

@responses.activate
def test_get_retried_honouring_retry_after_then_succeeds() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", status=503, headers={"Retry-After": "3"})
    responses.get(f"{BASE}/users", status=500)
    responses.get(f"{BASE}/users", json=[{"id": "1"}])
    http = client(t)
    assert http.get_json("users", operation="list users") == [{"id": "1"}]
    assert http.calls == 3
    assert http.statuses == {503: 1, 500: 1, 200: 1}
    assert t.sleeps == [3.0, 1.0]  # Retry-After, then backoff cap 0.5*2 with jitter 1.0


@responses.activate
def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", status=502)
    http = client(t, max_attempts=3)
    with pytest.raises(RetriableAPIError) as caught:
        http.get_json("users", operation="list users")
    assert caught.value.status == 502
    assert http.calls == 3


@responses.activate
def test_fatal_error_not_retried() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", status=400, json={"error": {"message": "Invalid arguments"}})
    http = client(t)
    with pytest.raises(FatalAPIError, match="Invalid arguments"):
        http.get_json("users", operation="list users")
    assert http.calls == 1 and t.sleeps == []


@responses.activate
def test_post_not_retried_after_read_timeout() -> None:
    t = FakeTime()
    responses.post(f"{BASE}/usersignup", body=requests.exceptions.ReadTimeout("slow"))
    responses.post(f"{BASE}/usersignup", json={"id": "5"})
    http = client(t)
    with pytest.raises(VendorConnectionError) as caught:
        http.post_json("usersignup", operation="create learner", data={"login": "a"})
    assert caught.value.request_sent is True
    assert http.calls == 1


@responses.activate
def test_post_not_retried_on_5xx_unless_idempotent() -> None:
    t = FakeTime()
    responses.post(f"{BASE}/usersignup", status=503)
    responses.post(f"{BASE}/usersignup", json={"id": "5"})
    http = client(t)
    with pytest.raises(RetriableAPIError):
        http.post_json("usersignup", operation="create learner")
    assert http.calls == 1
    assert http.post_json("usersignup", operation="create learner", idempotent=True) == {
        "id": "5"}


@responses.activate
def test_post_retried_when_connect_failed_before_sending() -> None:
    t = FakeTime()
    responses.post(f"{BASE}/usersignup", body=connect_refused())
    responses.post(f"{BASE}/usersignup", body=requests.exceptions.ConnectTimeout("slow"))
    responses.post(f"{BASE}/usersignup", json={"id": "5"})
    seen: list[tuple[str, int | None]] = []
    http = client(t, observer=lambda v, s, _elapsed: seen.append((v, s)))
    assert http.post_json("usersignup", operation="create learner") == {"id": "5"}
    assert http.calls == 3
    assert seen == [("acme", None), ("acme", None), ("acme", 200)]


@responses.activate
def test_dropped_connection_after_sending_retried_for_get_only() -> None:
    t = FakeTime()
    dropped = requests.exceptions.ConnectionError("Connection aborted.")
    responses.get(f"{BASE}/users", body=dropped)
    responses.get(f"{BASE}/users", json=[])
    responses.post(f"{BASE}/usersignup", body=dropped)
    http = client(t)
    assert http.get_json("users", operation="list users") == []
    with pytest.raises(VendorConnectionError) as caught:
        http.post_json("usersignup", operation="create learner")
    assert caught.value.request_sent is True
    assert http.calls == 3


# --- pacing ----------------------------------------------------------------------------------

@responses.activate
def test_budget_acquired_before_every_attempt_and_its_wait_slept() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", status=500)
    responses.get(f"{BASE}/users", json=[])
    budget = RecordingBudget(wait=0.25)
    http = client(t, budget=budget, jitter=lambda: 0.0)
    http.get_json("users", operation="list users")
    assert budget.vendors == ["acme", "acme"]
    assert t.sleeps == [0.25, 0.0, 0.25]  # budget, backoff (jitter 0), budget


@responses.activate
def test_burst_cap_spaces_calls_on_the_injected_clock() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", json=[])
    http = client(t, burst=2)
    for _ in range(4):
        http.get_json("users", operation="list users")
    assert t.sleeps == [0.5, 0.5]  # two calls free, then one every 1/2 s
    assert t.now == pytest.approx(1001.0)


@responses.activate
def test_low_remaining_pauses_until_reset_delay() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", json=[],
                  headers={"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "7"})
    responses.get(f"{BASE}/users", json=[], headers={"X-RateLimit-Remaining": "1999"})
    http = client(t)
    http.get_json("users", operation="a")
    assert t.sleeps == []
    http.get_json("users", operation="b")
    assert t.sleeps == [7.0]
    http.get_json("users", operation="c")
    assert t.sleeps == [7.0]


@responses.activate
def test_low_remaining_with_epoch_reset_or_none() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/a", json=[],
                  headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000012"})
    responses.get(f"{BASE}/b", json=[], headers={"X-RateLimit-Remaining": "2"})
    responses.get(f"{BASE}/c", json=[], headers={"X-RateLimit-Remaining": "500"})
    http = client(t, wall_clock=lambda: 1_700_000_000.0)
    http.get_json("a", operation="a")
    http.get_json("b", operation="b")  # waits 12 s for the epoch reset
    http.get_json("c", operation="c")  # waits the short pause: no reset given
    http.get_json("c", operation="c")
    assert t.sleeps == [12.0, 1.0]


@responses.activate
def test_429_pause_applies_to_the_next_call_too() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", status=429, headers={"Retry-After": "4"})
    responses.get(f"{BASE}/users", json=[])
    http = client(t)
    http.get_json("users", operation="list users")
    assert t.sleeps == [4.0]
    assert http.statuses[429] == 1


# --- secrets -----------------------------------------------------------------------------------

@responses.activate
def test_secrets_never_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    echo = {"error": {"message": f"Invalid API key {KEY}"}}
    responses.get(f"{BASE}/users", status=401, json=echo)
    responses.get(f"{BASE}/courses", body=connect_refused())
    http = client(t, headers={"X-API-Key": KEY}, max_attempts=2)
    caplog.set_level(logging.DEBUG, logger="connector.http")
    with pytest.raises(AuthenticationError) as auth_error:
        http.get_json("users", operation="list users", params={"api_key": KEY})
    with pytest.raises(VendorConnectionError) as conn_error:
        http.get_json("courses", operation="list courses", params={"token": KEY})
    for error in (auth_error.value, conn_error.value):
        assert KEY not in str(error)
        assert KEY not in repr(error)
        assert KEY not in (error.body_excerpt or "")
        assert KEY not in " ".join(map(str, error.args))
        assert "?" not in str(error)  # never the URL or its query
    assert "Invalid API key ***" in str(auth_error.value)
    assert caplog.records, "the client logs each call at DEBUG"
    assert KEY not in caplog.text
    assert "api_key" not in caplog.text and "token=" not in caplog.text
    assert "vendor=acme operation=list users status=401" in caplog.text
    assert KEY not in repr(http)


@responses.activate
def test_non_json_answer_is_fatal() -> None:
    t = FakeTime()
    responses.get(f"{BASE}/users", body="<html>login</html>", status=200)
    http = client(t)
    with pytest.raises(FatalAPIError, match="not JSON"):
        http.get_json("users", operation="list users")


# -- a vendor's own error table ----------------------------------------------------------------


def _moodle_style_exception(response: requests.Response) -> bool:
    body = json_object(response)
    return body is not None and "exception" in body


VENDOR_RULES = (
    ErrorRule(ErrorKind.AUTH, frozenset({200}),
              lambda r: (json_object(r) or {}).get("errorcode") == "invalidtoken"),
    ErrorRule(ErrorKind.FATAL, frozenset({200}), _moodle_style_exception),
    ErrorRule(ErrorKind.RETRY, frozenset({400}),
              lambda r: "try later" in r.text),
)


@pytest.mark.parametrize(("status", "body", "expected"), [
    (200, {"exception": "moodle_exception", "errorcode": "invalidtoken"},
     AuthenticationError),
    (200, {"exception": "invalid_parameter_exception", "errorcode": "invalidparameter"},
     FatalAPIError),
    (400, {"message": "busy, try later"}, RetriableAPIError),
    (400, {"message": "bad field"}, FatalAPIError),
    (503, {}, RetriableAPIError),
])
@responses.activate
def test_a_vendor_table_classifies_its_own_error_bodies(status: int, body: dict[str, Any],
                                                        expected: type[Exception]) -> None:
    responses.add(responses.POST, "https://lms.example.com/ws", json=body, status=status)
    http = VendorHttp("moodleish", "https://lms.example.com", error_rules=VENDOR_RULES,
                      max_attempts=1, sleep=lambda _: None)
    with pytest.raises(expected) as caught:
        http.post_json("/ws", operation="call", json={})
    assert type(caught.value) is expected


@responses.activate
def test_a_success_that_matches_no_rule_is_a_success() -> None:
    responses.add(responses.POST, "https://lms.example.com/ws", json={"id": 3}, status=200)
    http = VendorHttp("moodleish", "https://lms.example.com", error_rules=VENDOR_RULES)
    assert http.post_json("/ws", operation="call", json={}) == {"id": 3}


def test_a_rule_that_would_match_every_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="names statuses"):
        ErrorRule(ErrorKind.FATAL)


# --- what a failed connection says -----------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(("failure", "says"), [
    (connect_refused(), "could not connect to"),
    (requests.exceptions.ConnectionError("Connection aborted."), "no complete answer from"),
    (requests.exceptions.ReadTimeout("slow"), "no complete answer from"),
])
def test_a_connection_error_names_the_host_and_the_setting_never_the_path(
        failure: Exception, says: str) -> None:
    responses.get(f"{BASE}/users/email:ann@example.com", body=failure)
    http = client(FakeTime(), max_attempts=1, base_url_variable="CONNECTOR_ACME_BASE_URL")
    with pytest.raises(VendorConnectionError) as caught:
        http.get_json("users/email:ann@example.com", operation="find learner",
                      params={"token": "t0ps3cret"})
    text = f"{caught.value} {caught.value!r}"
    host = BASE.split("//")[1].split("/", maxsplit=1)[0]
    assert f"{says} {host}" in text and "CONNECTOR_ACME_BASE_URL" in text
    for private in ("ann@example.com", "users", "t0ps3cret", "token"):
        assert private not in text


@pytest.mark.parametrize("base_url", ["acme.bamboohr.com", "ftp://acme.bamboohr.com",
                                      "https://"])
def test_a_base_url_that_is_not_a_url_names_its_setting(base_url: str) -> None:
    http = VendorHttp("acme", base_url, base_url_variable="CONNECTOR_ACME_BASE_URL",
                      max_attempts=1)
    with pytest.raises(FatalAPIError) as caught:
        http.get_json("employees/directory", operation="list employees")
    assert "CONNECTOR_ACME_BASE_URL is not a URL" in str(caught.value)
    assert "MissingSchema" not in str(caught.value) and "InvalidURL" not in str(caught.value)
