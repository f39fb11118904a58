"""The Moodle simulator against the facts it stands for (VENDORS-next.md § Moodle, citing
Moodle's source), call by call, and the real adapter against it: so the sandbox the demo and
the tests use cannot drift into a Moodle of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from connector.errors import AuthenticationError, FatalAPIError, NotFoundError, RetriableAPIError
from connector.models import Employee, LearnerRef
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.moodle import ENDPOINT, create_app, php_params
from connector.vendors.moodle.client import MoodleClient
from connector.vendors.moodle.lms import MoodleLMS

TOKEN = "sim-token-0123456789"


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    running = serve(create_app(token=TOKEN), "moodle")
    post(running, "users", {"users": [{"id": 7, "username": "ann", "email": "ann@example.com",
                                        "firstname": "Ann", "lastname": "Lee"}]})
    post(running, "courses", {"courses": [{"id": 12, "fullname": "Negotiation"},
                                          {"id": 13, "fullname": "No manual", "manual": False},
                                          {"id": 14, "fullname": "No criteria",
                                           "criteria": False}]})
    post(running, "competencies", {"competencies": [{"id": 4, "idnumber": "negotiation"}]})
    try:
        yield running
    finally:
        running.stop()


def post(sim: RunningSimulator, path: str, body: Any) -> None:
    requests.post(f"{sim.url}/_sandbox/{path}", json=body, timeout=5).raise_for_status()


def call(sim: RunningSimulator, function: str, form: list[tuple[str, str]] | None = None, *,
         token: str = TOKEN, fmt: str | None = "json") -> requests.Response:
    data = [("wstoken", token), ("wsfunction", function), *(form or [])]
    if fmt is not None:
        data.append(("moodlewsrestformat", fmt))
    return requests.post(f"{sim.url}{ENDPOINT}", data=data, timeout=5)


def adapter(sim: RunningSimulator, token: str = TOKEN, **kw: Any) -> MoodleLMS:
    return MoodleLMS(MoodleClient(sim.url, token, sleep=lambda _: None, max_attempts=2), **kw)


def test_bracket_parameters_parse_as_php_does() -> None:
    """Source: § Moodle 1 "Arrays and objects"."""
    assert php_params([("users[0][email]", "a@b"), ("users[1][email]", "c@d"),
                       ("options[ids][0]", "7"), ("field", "id")]) == {
        "users": {"0": {"email": "a@b"}, "1": {"email": "c@d"}},
        "options": {"ids": {"0": "7"}}, "field": "id"}


def test_the_default_format_is_xml_and_json_bodies_are_not_read(sim: RunningSimulator) -> None:
    """Source: § Moodle 1 "Format" (default xml) and "Arrays and objects" (no JSON body)."""
    answer = call(sim, "core_webservice_get_site_info", fmt=None)
    assert answer.status_code == 200 and answer.text.startswith("<?xml")
    body = requests.post(f"{sim.url}{ENDPOINT}", json={"wstoken": TOKEN}, timeout=5).json()
    assert body["errorcode"] == "invalidparameter"


@pytest.mark.parametrize(("function", "token", "code"), [
    ("core_webservice_get_site_info", "wrong", "invalidtoken"),
    ("core_no_such_function", TOKEN, "invalidrecord"),
])
def test_errors_are_http_200_with_an_exception_body(sim: RunningSimulator, function: str,
                                                    token: str, code: str) -> None:
    """Source: § Moodle 1 "HTTP status" and "Error body (JSON)"; invalidtoken from
    webservice/lib.php authenticate_user."""
    answer = call(sim, function, token=token)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"exception", "errorcode", "message"} and body["errorcode"] == code


def test_users_by_field_types_and_silent_misses(sim: RunningSimulator) -> None:
    """Source: § Moodle 3 core_user_get_users_by_field (ids are integers; a miss is [])."""
    found = call(sim, "core_user_get_users_by_field",
                 [("field", "email"), ("values[0]", "ANN@example.com")]).json()
    assert [u["id"] for u in found] == [7] and isinstance(found[0]["id"], int)
    assert call(sim, "core_user_get_users_by_field",
                [("field", "email"), ("values[0]", "nobody@example.com")]).json() == []


def test_create_users_requires_a_password_choice(sim: RunningSimulator) -> None:
    """Source: § Moodle 3 core_user_create_users (password or createpassword, else
    invalidparameter; unique username)."""
    base = [("users[0][username]", "bo"), ("users[0][firstname]", "Bo"),
            ("users[0][lastname]", "X"), ("users[0][email]", "bo@example.com")]
    assert call(sim, "core_user_create_users", base).json()["errorcode"] == "invalidparameter"
    made = call(sim, "core_user_create_users", [*base, ("users[0][createpassword]", "1")])
    assert made.json()[0]["username"] == "bo"
    again = call(sim, "core_user_create_users", [*base, ("users[0][createpassword]", "1")])
    assert "Username already exists" in again.json()["message"]


def test_enrol_returns_null_and_checks_role_and_instance(sim: RunningSimulator) -> None:
    """Source: § Moodle 5 enrol_manual_enrol_users (returns null; wsusercannotassign;
    wsnoinstance)."""
    row = [("enrolments[0][userid]", "7"), ("enrolments[0][courseid]", "12")]
    ok = call(sim, "enrol_manual_enrol_users", [("enrolments[0][roleid]", "5"), *row])
    assert ok.text == "null"
    wrong_role = call(sim, "enrol_manual_enrol_users", [("enrolments[0][roleid]", "3"), *row])
    assert wrong_role.json()["errorcode"] == "wsusercannotassign"
    no_instance = call(sim, "enrol_manual_enrol_users", [
        ("enrolments[0][roleid]", "5"), ("enrolments[0][userid]", "7"),
        ("enrolments[0][courseid]", "13")])
    assert no_instance.json()["errorcode"] == "wsnoinstance"


def test_users_courses_has_booleans_and_no_completion_time(sim: RunningSimulator) -> None:
    """Source: § Moodle 5 core_enrol_get_users_courses (`completed` bool, `progress` float,
    no completion time) and § Moodle 6 (nocriteriaset)."""
    call(sim, "enrol_manual_enrol_users", [("enrolments[0][roleid]", "5"),
                                           ("enrolments[0][userid]", "7"),
                                           ("enrolments[0][courseid]", "12")])
    courses = call(sim, "core_enrol_get_users_courses", [("userid", "7"),
                                                         ("returnusercount", "0")]).json()
    row = next(c for c in courses if c["id"] == 12)
    assert row["completed"] is False and isinstance(row["progress"], float)
    assert "timecompleted" not in row and "enrolledusercount" not in row
    call(sim, "enrol_manual_enrol_users", [("enrolments[0][roleid]", "5"),
                                           ("enrolments[0][userid]", "7"),
                                           ("enrolments[0][courseid]", "14")])
    body = call(sim, "core_completion_get_course_completion_status",
                [("courseid", "14"), ("userid", "7")]).json()
    assert body["errorcode"] == "nocriteriaset"


def test_the_adapter_reads_the_simulators_errors_as_their_kinds(sim: RunningSimulator) -> None:
    """The same classification as the contract tests, against the simulator's bodies."""
    with pytest.raises(AuthenticationError, match="invalidtoken"):
        adapter(sim, "wrong-token-xyz").find_learner(Employee(employee_id="E1",
                                                              email="ann@example.com"))
    with pytest.raises(FatalAPIError, match="wsnoinstance"):
        adapter(sim).enroll(LearnerRef(lms_user_id="7"), "13")
    with pytest.raises(NotFoundError):
        adapter(sim).enroll(LearnerRef(lms_user_id="7"), "999")
    post(sim, "switches", {"allowed": ["core_webservice_get_site_info"]})
    try:
        with pytest.raises(AuthenticationError, match="accessexception"):
            adapter(sim).list_courses()
    finally:
        post(sim, "switches", {"allowed": list(_all_functions())})
    post(sim, "switches", {"rest": False})
    try:
        with pytest.raises(AuthenticationError):
            adapter(sim).list_courses()
    finally:
        post(sim, "switches", {"rest": True})


def test_a_completion_read_after_the_enrolment_ended_and_within_grace(
        sim: RunningSimulator) -> None:
    """Source: § Moodle 5 (active enrolments only) and § Moodle 6 (usernotenroled): an
    enrolment past its end hides its completion, which is why the grace days exist."""
    lms = adapter(sim, enrolment_grace_days=3)
    learner = LearnerRef(lms_user_id="7")
    due = (datetime.now(UTC) - timedelta(days=1)).date()
    lms.enroll_until(learner, "12", due)  # ends in about 2 days
    post(sim, "complete", {"user_id": 7, "course_id": 12, "score": 90})
    events, cursor = lms.completions_of({"7": frozenset({"12"})}, None)
    assert [e.course_id for e in events] == ["12"] and events[0].score == 90.0
    post(sim, "switches", {"clock_offset": 5 * 86400})  # past the grace: Moodle hides it
    try:
        events, cursor = lms.completions_of({"7": frozenset({"12"})}, cursor)
        assert events == [] and "7:12" in str(cursor)
    finally:
        post(sim, "switches", {"clock_offset": 0})
    assert lms.progress(learner, "12").completed_at is not None


def _all_functions() -> tuple[str, ...]:
    from connector.sandbox.moodle_state import FUNCTIONS

    return FUNCTIONS


def test_a_site_in_maintenance_is_retried_and_a_5xx_on_a_write_is_not(
        sim: RunningSimulator) -> None:
    """Fault switches: `sitemaintenance` (HTTP 200 body) on a read is retried until it
    passes; a 502 on a write is not sent again (it may have been carried out)."""
    post(sim, "switches", {"fail": {"core_user_get_users_by_field": {
        "errorcode": "sitemaintenance", "message": "Site is under maintenance", "times": 1}}})
    found = adapter(sim).find_learner(Employee(employee_id="E1", email="ann@example.com"))
    assert found is not None and found.lms_user_id == "7"
    post(sim, "faults", {"error_rate": 1.0, "seed": 1})
    try:
        before = requests.get(f"{sim.url}/_sandbox/state", timeout=5).json()["calls"]
        lms = adapter(sim)
        with pytest.raises(RetriableAPIError):
            lms.client.call("enrol_manual_unenrol_users", {"enrolments": [
                {"userid": 7, "courseid": 12}]}, operation="unenroll", write=True)
    finally:
        post(sim, "faults", {"error_rate": 0.0})
    after = requests.get(f"{sim.url}/_sandbox/state", timeout=5).json()["calls"]
    assert lms.client.calls == 1  # sent once: a write whose answer failed is not repeated
    assert after == before  # and the simulated 5xx came before Moodle ran anything
