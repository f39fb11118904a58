"""The real TalentLMS adapter against the simulator served on loopback."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connector.errors import AuthenticationError, NotFoundError
from connector.models import Employee, LearnerRef, Outcome
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.talentlms import create_app
from connector.vendors.talentlms import TalentLMS
from connector.vendors.talentlms.timeline import TimelineCursor

KEY = "sandbox-key"


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = serve(create_app(api_key=KEY, task_delay=0.0), "talentlms")
    try:
        yield running
    finally:
        running.stop()


def control(sim: RunningSimulator, path: str, body: Any = None) -> Any:
    url = f"{sim.url}/_sandbox/{path}"
    response = requests.post(url, json=body, timeout=5) if body is not None else requests.get(
        url, timeout=5)
    response.raise_for_status()
    return response.json()


def seed(sim: RunningSimulator, users: int = 3) -> None:
    control(sim, "users", [{"email": f"u{i}@example.com", "first_name": f"U{i}",
                            "last_name": "Test", "login": f"user{i}",
                            "custom_field_1": f"E{i}"} for i in range(1, users + 1)]
            + [{"email": "ann+lms@example.com", "login": "ann", "first_name": "Ann"}])
    control(sim, "courses", [{"id": 12, "name": "Negotiation", "code": "NEG"},
                             {"id": 13, "name": "Feedback"}])


def adapter(sim: RunningSimulator, **kw: Any) -> TalentLMS:
    options: dict[str, Any] = {"jitter": lambda: 0.0, "v2_poll_interval": 0.01}
    options.update(kw)
    return TalentLMS(sim.url, KEY, **options)


def employee(email: str, employee_id: str = "E1") -> Employee:
    return Employee(employee_id=employee_id, email=email)


def test_enroll_twice_makes_one_enrollment(sim: RunningSimulator) -> None:
    seed(sim)
    lms = adapter(sim)
    ann = lms.find_learner(employee("ANN+lms@example.com"))
    assert ann is not None and ann.login == "ann"
    lms.enroll(ann, "12")
    lms.enroll(ann, "12")
    state = control(sim, "state")
    assert state["counts"]["enrollments"] == 1
    assert state["enrollments"][0] == {"user_id": ann.lms_user_id, "course_id": "12",
                                       "role": "learner", "completion_status": "not_attempted"}
    assert lms.progress(ann, "12").status == "not_started"
    assert lms.progress(ann, "13").enrolled is False
    assert lms.find_learner(employee("nobody@example.com")) is None


def test_completion_reaches_the_poller_once_with_its_certificate(sim: RunningSimulator) -> None:
    seed(sim)
    lms = adapter(sim)
    learner = lms.find_learner(employee("u1@example.com"))
    assert learner is not None
    lms.enroll(learner, "12")
    lms.enroll(learner, "13")
    _, cursor, _ = lms.completions_since(None)
    control(sim, "complete", {"user_id": learner.lms_user_id, "course_id": 12, "passed": True,
                              "score": 91, "completed_at": 1_767_225_600})
    control(sim, "complete", {"user_id": learner.lms_user_id, "course_id": "13",
                              "passed": False, "score": 40, "completed_at": 1_767_225_700})
    events, cursor, overflowed = lms.completions_since(cursor)
    assert [(e.course_id, e.outcome, e.email) for e in events] == [
        ("12", Outcome.PASSED, "u1@example.com"), ("13", Outcome.FAILED, "u1@example.com")]
    assert events[0].event_id == f"{learner.lms_user_id}:12:1767225600"
    assert events[0].course_name == "Negotiation" and overflowed is False
    again, same, _ = lms.completions_since(cursor)
    assert again == [] and same == cursor
    progress = lms.progress(learner, "12")
    assert progress.status is Outcome.PASSED and progress.percent == 100.0
    assert progress.completed_at is not None and progress.completed_at.year == 2026
    assert progress.certificate_url and "downloadcertification" in progress.certificate_url
    assert progress.expires_at is not None and progress.expires_at.year == 2027
    assert lms.progress(learner, "13").status is Outcome.FAILED


def test_more_than_200_completions_between_polls_is_an_overflow(sim: RunningSimulator) -> None:
    control(sim, "users", [{"email": f"p{i}@example.com"} for i in range(210)])
    control(sim, "courses", {"id": 12, "name": "Negotiation"})
    lms = adapter(sim, api="v2")
    learners = [LearnerRef(lms_user_id=str(i)) for i in range(1, 211)]
    assert all(e is None for e in lms.enroll_many([(x, "12") for x in learners]).values())
    _, cursor, _ = lms.completions_since(None)
    control(sim, "complete", [{"user_id": i, "course_id": 12, "completed_at": 1_767_225_600 + i}
                              for i in range(1, 211)])
    events, new_cursor, overflowed = lms.completions_since(cursor)
    assert overflowed is True
    assert len(events) == 200  # the oldest 10 fell off the timeline
    assert TimelineCursor.parse(new_cursor).timestamp == 1_767_225_810


def test_server_errors_are_retried(sim: RunningSimulator) -> None:
    seed(sim)
    lms = adapter(sim, max_attempts=8)
    learner = LearnerRef(lms_user_id="1")
    lms.enroll(learner, "12")
    control(sim, "faults", {"error_rate": 0.5, "seed": 3})
    for _ in range(6):
        assert lms.progress(learner, "12").status == "not_started"
    assert sum(n for status, n in lms.v1.statuses.items() if status >= 500) >= 1
    assert lms.v1.statuses[200] == 7


def test_v2_batch_enrollments_map_each_pair(sim: RunningSimulator) -> None:
    seed(sim)
    lms = adapter(sim, api="v2", v2_api_key=KEY)
    first = LearnerRef(lms_user_id="1")
    lms.enroll(first, "12")
    result = lms.enroll_many([(first, "12"), (first, "13"), (LearnerRef(lms_user_id="99"), "12"),
                              (LearnerRef(lms_user_id="2"), "77")])
    assert result[("1", "12")] is None and result[("1", "13")] is None
    assert isinstance(result[("99", "12")], NotFoundError)
    assert "course does not exist" in str(result[("2", "77")])
    assert control(sim, "state")["counts"]["enrollments"] == 2


def test_create_learner_then_find_it(sim: RunningSimulator) -> None:
    seed(sim)
    lms = adapter(sim, create_learners=True)
    new = Employee(employee_id="E9", email="Zoe@example.com", first_name="Zoe", last_name="Z")
    created = lms.create_learner(new)
    assert lms.create_learner(new) == created  # the second signup finds the first
    assert lms.find_learner(new) == created


def test_wrong_key_is_an_authentication_error(sim: RunningSimulator) -> None:
    lms = TalentLMS(sim.url, "wrong-key-123", jitter=lambda: 0.0)
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        lms.list_courses()
    report = lms.check_online(["12"])
    assert report["key_ok"] is False and "wrong-key-123" not in repr(report)


def test_client_paces_to_the_hourly_limit_without_429s() -> None:
    fast = serve(create_app(api_key=KEY, hourly_limit=10, time_scale=36_000), "tlms-fast")
    try:
        lms = adapter(fast)
        started = time.monotonic()
        for _ in range(25):
            assert lms.check_online([])["key_ok"] is True
        elapsed = time.monotonic() - started
        state = requests.get(f"{fast.url}/_sandbox/state", timeout=5).json()
        assert state["counts"]["throttled"] == 0
        assert state["counts"]["calls"] == 26  # ratelimit 25 times, courses once
        assert elapsed >= 0.2  # two waits for the 0.1 s (one simulated hour) window
    finally:
        fast.stop()


def test_sandbox_speaks_talentlms_shapes(sim: RunningSimulator) -> None:
    seed(sim)
    auth = (KEY, "")
    user = requests.get(f"{sim.url}/api/v1/users/id:1", auth=auth, timeout=5)
    body = user.json()
    assert body["id"] == "1" and isinstance(body["points"], str)
    assert re.fullmatch(r"\d\d/\d\d/\d{4}, \d\d:\d\d:\d\d", body["created_on"])
    assert body["last_updated_timestamp"].isdigit()
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
        user.headers)
    missing = requests.get(f"{sim.url}/api/v1/users/email:x@y.z", auth=auth, timeout=5)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "The requested user does not exist"}}
    denied = requests.get(f"{sim.url}/api/v1/courses", auth=("nope", ""), timeout=5)
    assert denied.status_code == 401 and "error" in denied.json()
    limits = requests.get(f"{sim.url}/api/v1/ratelimit", auth=auth, timeout=5).json()
    assert isinstance(limits["limit"], str) and isinstance(limits["remaining"], int)
    v2 = requests.post(f"{sim.url}/api/v2/batch/enrollments", timeout=5,
                       headers={"X-API-Key": KEY, "Accept": "application/json"},
                       json={"enrollments": [{"course_id": 12, "user_id": 1}]})
    assert v2.status_code == 400 and set(v2.json()) == {"type", "message"}


def test_sandbox_answers_429_over_the_hourly_limit_and_counts_it() -> None:
    client = create_app(api_key=KEY, hourly_limit=2).test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}
    answers = [client.get("/api/v1/courses", headers=auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert float(answers[2].headers["Retry-After"]) > 3500
    assert answers[2].json == {
        "error": {"message": "API rate limit exceeded. Please try again later."}}
    counts = client.get("/_sandbox/state").json["counts"]
    assert counts["calls"] == 2 and counts["throttled"] == 1


@pytest.mark.parametrize("path", ["ratelimit", "ratelimit/", "users", "users/"])
def test_parameterless_calls_answer_with_or_without_a_trailing_slash(
        sim: RunningSimulator, path: str) -> None:
    """TalentLMS's PHP library always sends the slash; the real API answers both."""
    seed(sim)
    answer = requests.get(f"{sim.url}/api/v1/{path}", auth=(KEY, ""), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
