"""Moodle REST contract for the LMS side: the request each call sends and how each answer and
error reads. Every test names the source of the facts it checks (VENDORS-next.md § Moodle …,
which cites Moodle's own source files)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from connector.errors import AuthenticationError, FatalAPIError, NotFoundError, RetriableAPIError
from connector.models import Employee, LearnerRef, Outcome
from connector.ports import (
    ChecksOnline,
    EnrollsUntil,
    PollsLearners,
    ReadsHistory,
    ResetsProgress,
    Unenrolls,
)
from connector.vendors.moodle.client import MoodleClient, encode
from connector.vendors.moodle.lms import MoodleLMS

ROOT = "https://learn.acme.test"
URL = f"{ROOT}/webservice/rest/server.php"
TOKEN = "moodle-TOKEN-0123456789abcdef"
ANN = Employee(employee_id="E1", email="Ann.Lee@Example.com", first_name="Ann", last_name="Lee")
ANN_USER = {"id": 7, "username": "ann", "email": "ann.lee@example.com", "fullname": "Ann Lee",
            "profileimageurl": "x", "profileimageurlsmall": "y"}
LEARNER = LearnerRef(lms_user_id="7", email="ann.lee@example.com")


class FakeMoodle:
    """Answers by `wsfunction`; records each call's decoded form."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.calls: list[dict[str, str]] = []
        self.urls: list[str] = []

    def on(self, function: str, answer: Any) -> None:
        self.answers[function] = answer

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        form = dict(parse_qsl(body, keep_blank_values=True))
        self.calls.append(form)
        self.urls.append(str(request.url))
        answer = self.answers[form["wsfunction"]]
        if callable(answer):
            answer = answer(form)
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def sent(self, function: str) -> list[dict[str, str]]:
        return [c for c in self.calls if c["wsfunction"] == function]


@pytest.fixture
def moodle() -> Iterator[FakeMoodle]:
    fake = FakeMoodle()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, URL, callback=fake)
        yield fake


def lms(**kw: Any) -> MoodleLMS:
    client = MoodleClient(ROOT, TOKEN, sleep=lambda _: None, jitter=lambda: 0.0,
                          max_attempts=3)
    return MoodleLMS(client, **kw)


def exception(code: str, message: str = "it failed", cls: str = "moodle_exception"
              ) -> dict[str, str]:
    return {"exception": cls, "errorcode": code, "message": message}


# --- protocol ---------------------------------------------------------------------------------


def test_every_call_is_a_form_post_with_token_function_and_json_format(
        moodle: FakeMoodle) -> None:
    """Source: § Moodle 1 (server.php reads wstoken and wsfunction from $_REQUEST; the format
    defaults to xml, so moodlewsrestformat=json must be sent)."""
    moodle.on("core_user_get_users_by_field", [ANN_USER])
    lms().find_learner(ANN)
    (form,) = moodle.calls
    assert form["wstoken"] == TOKEN and form["wsfunction"] == "core_user_get_users_by_field"
    assert form["moodlewsrestformat"] == "json"
    assert TOKEN not in moodle.urls[0]  # never in a URL a log line may print


def test_arrays_and_objects_use_phps_bracket_form() -> None:
    """Source: § Moodle 1 "Arrays and objects" (users[0][username]=…, options[ids][0]=7,
    values[0]=a@b.c; no JSON body)."""
    assert encode({"users": [{"username": "a", "email": "a@b.c"}], "options": {"ids": [7]},
                   "values": ["a@b.c"], "flag": True, "skip": None}) == [
        ("users[0][username]", "a"), ("users[0][email]", "a@b.c"), ("options[ids][0]", "7"),
        ("values[0]", "a@b.c"), ("flag", "1")]


@pytest.mark.parametrize(("body", "kind"), [
    (exception("invalidtoken", "Invalid token - token not found"), AuthenticationError),
    (exception("accessexception", "Access control exception", "webservice_access_exception"),
     AuthenticationError),
    (exception("nopermissions", "no", "required_capability_exception"), AuthenticationError),
    (exception("invalidparameter", "Invalid parameter value detected",
               "invalid_parameter_exception"), FatalAPIError),
    (exception("invalidrecord", "Can't find data record", "dml_missing_record_exception"),
     NotFoundError),
    (exception("sitemaintenance", "Site is under maintenance"), RetriableAPIError),
    (exception("somethingnew", "new code"), FatalAPIError),
])
def test_http_200_exception_bodies_are_classified(moodle: FakeMoodle, body: dict[str, str],
                                                  kind: type[Exception]) -> None:
    """Source: § Moodle 1 "HTTP status" (200 for every answer) and "Common errorcodes"
    (invalidtoken from authenticate_user, accessexception for setup/permission,
    invalidparameter from parameter validation, nopermissions from capability checks)."""
    moodle.on("core_user_get_users_by_field", body)
    with pytest.raises(kind) as caught:
        lms().find_learner(ANN)
    assert caught.type is kind
    assert str(body["errorcode"]) in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


def test_a_retriable_exception_is_retried_and_then_succeeds(moodle: FakeMoodle) -> None:
    """Source: § Moodle 1 (errors arrive as 200 bodies: the retry decision must read them)."""
    answers = iter([exception("dmlreadexception", "Error reading from database"), [ANN_USER]])
    moodle.on("core_user_get_users_by_field", lambda form: next(answers))
    assert lms().find_learner(ANN) == LearnerRef(lms_user_id="7", email="ann.lee@example.com",
                                                 login="ann")
    assert len(moodle.calls) == 2


def test_a_rest_protocol_switched_off_is_an_authentication_error() -> None:
    """Source: § Moodle 1 "Endpoint" (newer copies answer HTTP 403 when REST is off)."""
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=403, body="REST protocol disabled")
        with pytest.raises(AuthenticationError):
            lms().find_learner(ANN)


def test_an_xml_answer_is_refused_not_misread() -> None:
    """Source: § Moodle 1 "Format" (the default is XML)."""
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, body="<RESPONSE/>", content_type="application/xml")
        with pytest.raises(FatalAPIError, match="not JSON"):
            lms().find_learner(ANN)


# --- users ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("match_by", "field", "value"), [
    ("email", "email", "Ann.Lee@Example.com"), ("username", "username", "e1"),
    ("idnumber", "idnumber", "E1")])
def test_find_learner_asks_by_the_configured_field(moodle: FakeMoodle, match_by: str,
                                                   field: str, value: str) -> None:
    """Source: § Moodle 3 core_user_get_users_by_field (field one of id, idnumber, username,
    email; values[] list; a list of users back)."""
    moodle.on("core_user_get_users_by_field", [dict(ANN_USER, username="e1", idnumber="E1")])
    found = lms(match_by=match_by).find_learner(ANN)
    assert found is not None and found.lms_user_id == "7"
    assert moodle.calls[0]["field"] == field and moodle.calls[0]["values[0]"] == value


def test_no_user_and_two_users(moodle: FakeMoodle) -> None:
    """Source: § Moodle 3 ("a user is left out silently": [] is a miss, not an error)."""
    moodle.on("core_user_get_users_by_field", [])
    assert lms().find_learner(ANN) is None
    moodle.on("core_user_get_users_by_field", [ANN_USER, dict(ANN_USER, id=8)])
    with pytest.raises(FatalAPIError, match="2 Moodle users"):
        lms().find_learner(ANN)


def test_learner_by_id_and_a_non_numeric_id_names_nobody(moodle: FakeMoodle) -> None:
    """Source: § Moodle 3 (field `id`; values are cleaned by the field's type)."""
    moodle.on("core_user_get_users_by_field", [ANN_USER])
    assert lms().learner("7") == LearnerRef(lms_user_id="7", email="ann.lee@example.com",
                                            login="ann")
    assert lms().learner("ann") is None
    assert len(moodle.calls) == 1


def test_create_learner_sends_createpassword_and_the_hr_id(moodle: FakeMoodle) -> None:
    """Source: § Moodle 3 core_user_create_users (username, firstname, lastname, email
    required; password or createpassword; idnumber for the HR id; returns [{id, username}])."""
    moodle.on("core_user_create_users", [{"id": 41, "username": "ann.lee@example.com"}])
    ref = lms(create_learners=True).create_learner(ANN)
    assert ref.lms_user_id == "41"
    form = moodle.sent("core_user_create_users")[0]
    assert form["users[0][username]"] == "ann.lee@example.com"
    assert form["users[0][createpassword]"] == "1" and "users[0][password]" not in form
    assert form["users[0][idnumber]"] == "E1" and form["users[0][auth]"] == "manual"


def test_create_after_a_lost_answer_finds_the_account(moodle: FakeMoodle) -> None:
    """Source: § Moodle 3 (invalidparameter "Username already exists: …")."""
    moodle.on("core_user_create_users", exception(
        "invalidparameter", "Username already exists: ann.lee@example.com"))
    moodle.on("core_user_get_users_by_field", [ANN_USER])
    assert lms(create_learners=True).create_learner(ANN).lms_user_id == "7"


def test_create_is_refused_when_switched_off(moodle: FakeMoodle) -> None:
    with pytest.raises(FatalAPIError, match="CONNECTOR_MOODLE_CREATE_LEARNERS"):
        lms().create_learner(ANN)
    assert moodle.calls == []


# --- catalogue and enrolment ---------------------------------------------------------------


def test_catalogue_leaves_out_the_site_course(moodle: FakeMoodle) -> None:
    """Source: § Moodle 4 core_course_get_courses_by_field (field '' = all courses; answer
    {courses, warnings}; the site course, format `site`, comes back too)."""
    moodle.on("core_course_get_courses_by_field", {"courses": [
        {"id": 1, "fullname": "Acme", "format": "site"},
        {"id": 12, "fullname": "Negotiation", "format": "topics", "enablecompletion": 1}],
        "warnings": []})
    adapter = lms()
    assert [(c.course_id, c.name) for c in adapter.list_courses()] == [("12", "Negotiation")]
    adapter.list_courses()
    assert len(moodle.calls) == 1  # read once per instance


def test_enrol_sends_the_student_role_and_the_due_date_plus_grace(moodle: FakeMoodle) -> None:
    """Source: § Moodle 5 enrol_manual_enrol_users (enrolments[] {roleid, userid, courseid,
    timeend?} in unix seconds; returns null)."""
    moodle.on("enrol_manual_enrol_users", None)
    adapter = lms(student_role_id=9, enrolment_grace_days=2)
    assert isinstance(adapter, EnrollsUntil)
    adapter.enroll_until(LEARNER, "12", date(2027, 1, 30))
    form = moodle.sent("enrol_manual_enrol_users")[0]
    assert form["enrolments[0][roleid]"] == "9" and form["enrolments[0][courseid]"] == "12"
    assert int(form["enrolments[0][timeend]"]) == int(
        datetime(2027, 2, 1, 23, 59, 59, tzinfo=UTC).timestamp())
    lms(end_enrolments=False).enroll_until(LEARNER, "12", date(2027, 1, 30))
    assert "enrolments[0][timeend]" not in moodle.sent("enrol_manual_enrol_users")[1]


@pytest.mark.parametrize("code", ["wsnoinstance", "wscannotenrol", "wsusercannotassign"])
def test_enrol_refusals_surface(moodle: FakeMoodle, code: str) -> None:
    """Source: § Moodle 5 (wsnoinstance: no enabled manual instance; wscannotenrol;
    wsusercannotassign: the caller cannot assign the role)."""
    moodle.on("enrol_manual_enrol_users", exception(code))
    with pytest.raises(FatalAPIError, match=code):
        lms().enroll(LEARNER, "12")


def test_unenroll_reads_first_and_says_when_there_was_nothing(moodle: FakeMoodle) -> None:
    """Source: § Moodle 5 enrol_manual_unenrol_users (returns null either way; roleid is
    ignored) and core_enrol_get_users_courses (active enrolments)."""
    moodle.on("core_enrol_get_users_courses", [{"id": 12, "completed": False}])
    moodle.on("enrol_manual_unenrol_users", None)
    adapter = lms()
    assert isinstance(adapter, Unenrolls)
    assert adapter.unenroll(LEARNER, "13") is False
    assert adapter.unenroll(LEARNER, "12") is True
    (form,) = moodle.sent("enrol_manual_unenrol_users")
    assert form["enrolments[0][userid]"] == "7" and "enrolments[0][roleid]" not in form


def test_no_reset_ability_is_offered() -> None:
    """Core has no web service that clears a learner's course completion (none in
    lib/db/services.php@39c8e99e; § Moodle 5/6 list none), so recertification is refused."""
    assert not isinstance(lms(), ResetsProgress)


# --- completion, time and grade ------------------------------------------------------------


def status(completed: bool, *times: int | None) -> dict[str, Any]:
    return {"completionstatus": {"completed": completed, "aggregation": 1, "completions": [
        {"type": 4, "title": "x", "status": "Yes", "complete": t is not None,
         "timecompleted": t, "details": {}} for t in times]}, "warnings": []}


def grades(raw: float | None, low: float = 0, high: float = 100) -> dict[str, Any]:
    return {"usergrades": [{"courseid": 12, "userid": 7, "gradeitems": [
        {"id": 1, "itemtype": "mod", "graderaw": 5, "grademax": 10},
        {"id": 2, "itemtype": "course", "graderaw": raw, "grademin": low, "grademax": high}]}],
        "warnings": []}


def test_progress_takes_the_latest_criterion_time_and_the_course_grade(
        moodle: FakeMoodle) -> None:
    """Source: § Moodle 6 core_completion_get_course_completion_status (no course-level
    time: the largest criterion timecompleted) and gradereport_user_get_grade_items (the
    `course` item; *unconfirmed* convention)."""
    moodle.on("core_completion_get_course_completion_status",
              status(True, 1_800_000_000, 1_800_000_500, None))
    moodle.on("gradereport_user_get_grade_items", grades(42.5, 10, 60))
    found = lms().progress(LEARNER, "12")
    assert found.status is Outcome.PASSED
    assert found.completed_at == datetime.fromtimestamp(1_800_000_500, UTC)
    assert found.score == 65.0


@pytest.mark.parametrize(("code", "enrolled"), [("usernotenroled", False),
                                                ("nocriteriaset", True)])
def test_progress_when_not_tracked_or_without_criteria(moodle: FakeMoodle, code: str,
                                                       enrolled: bool) -> None:
    """Source: § Moodle 6 (throws usernotenroled when the user is not tracked, nocriteriaset
    when the course has no criteria) and § Moodle 5 get_users_courses (`progress` %)."""
    moodle.on("core_completion_get_course_completion_status", exception(code))
    moodle.on("core_enrol_get_users_courses",
              [{"id": 12, "progress": 40.0, "completed": False}] if enrolled else [])
    found = lms().progress(LEARNER, "12")
    assert found.enrolled is enrolled
    assert found.status == (Outcome.IN_PROGRESS if enrolled else "not_started")


def test_poll_reads_each_open_learner_once_and_reads_time_and_grade_per_completion(
        moodle: FakeMoodle) -> None:
    """Source: § Moodle 5 core_enrol_get_users_courses (per user: `completed` bool for every
    course, returnusercount false for speed) and § Moodle 6 (time and grade reads)."""
    moodle.on("core_enrol_get_users_courses", lambda form: {
        "7": [{"id": 12, "fullname": "Negotiation", "completed": True},
              {"id": 13, "completed": False}, {"id": 14, "completed": True}],
        "8": [{"id": 12, "completed": False}]}[form["userid"]])
    moodle.on("core_completion_get_course_completion_status", status(True, 1_800_000_000))
    moodle.on("gradereport_user_get_grade_items", grades(88))
    adapter = lms()
    assert isinstance(adapter, PollsLearners)
    events, cursor = adapter.completions_of(
        {"7": frozenset({"12", "13"}), "8": frozenset({"12"})}, None)
    assert [(e.lms_user_id, e.course_id, e.score) for e in events] == [("7", "12", 88.0)]
    assert events[0].event_id == "7:12:1800000000" and events[0].course_name == "Negotiation"
    users_courses = moodle.sent("core_enrol_get_users_courses")
    assert [c["userid"] for c in users_courses] == ["7", "8"]
    assert all(c["returnusercount"] == "0" for c in users_courses)
    assert len(moodle.sent("core_completion_get_course_completion_status")) == 1
    again, _ = adapter.completions_of({"7": frozenset({"12", "13"})}, cursor)
    assert [e.event_id for e in again] == [e.event_id for e in events]  # same id: deduped


def test_poll_is_bounded_and_resumes_after_the_last_learner(moodle: FakeMoodle) -> None:
    """At most `learners_per_poll` reads per poll; the next poll starts after the last one,
    so every learner is read within ceil(n / limit) polls."""
    moodle.on("core_enrol_get_users_courses", [{"id": 12, "completed": False}])
    adapter = lms(learners_per_poll=2)
    open_ = {str(u): frozenset({"12"}) for u in (3, 10, 7, 25, 4)}
    cursor = None
    for _ in range(3):
        before = len(moodle.calls)
        _, cursor = adapter.completions_of(open_, cursor)
        assert len(moodle.calls) - before <= 2
    seen: list[str] = [c["userid"] for c in moodle.sent("core_enrol_get_users_courses")]
    assert seen == ["3", "4", "7", "10", "25", "3"]


def test_a_course_gone_from_the_list_is_asked_once_then_remembered(moodle: FakeMoodle) -> None:
    """Source: § Moodle 5 (get_users_courses lists active enrolments only: an ended
    enrolment disappears) and § Moodle 6 (usernotenroled)."""
    moodle.on("core_enrol_get_users_courses", [])
    moodle.on("core_completion_get_course_completion_status", exception("usernotenroled"))
    adapter = lms()
    events, cursor = adapter.completions_of({"7": frozenset({"12"})}, None)
    assert events == [] and "7:12" in str(cursor)
    adapter.completions_of({"7": frozenset({"12"})}, cursor)
    assert len(moodle.sent("core_completion_get_course_completion_status")) == 1


def test_a_missing_completion_flag_names_the_capability(moodle: FakeMoodle) -> None:
    """Source: § Moodle 5 (`completed` and `progress` are null unless the caller may view
    completion data)."""
    moodle.on("core_enrol_get_users_courses", [{"id": 12, "completed": None}])
    with pytest.raises(FatalAPIError, match="report/completion:view"):
        lms().completions_of({"7": frozenset({"12"})}, None)


def test_completions_since_hands_over_to_reconciliation() -> None:
    """A poller without `PollsLearners` still misses nothing: "overflowed" makes it ask
    every open assignment."""
    assert lms().completions_since("c") == ([], "c", True)


# --- check --online ----------------------------------------------------------------------


def test_check_online_lists_missing_functions_and_courses(moodle: FakeMoodle) -> None:
    """Source: core_webservice_get_site_info_returns (sitename, functions[{name, version}];
    webservice/externallib.php, index id 35147597989) and
    § Moodle 4 get_courses_by_field with field `ids` (comma-separated)."""
    moodle.on("core_webservice_get_site_info", {"sitename": "Acme", "functions": [
        {"name": "core_user_get_users_by_field", "version": "1"}]})
    moodle.on("core_course_get_courses_by_field", {"courses": [{"id": 12}], "warnings": []})
    adapter = lms()
    assert isinstance(adapter, ChecksOnline)
    report = adapter.check_online(["12", "13"])
    assert report["key_ok"] and report["missing_courses"] == ["13"]
    assert "enrol_manual_enrol_users" in report["missing_functions"]
    assert moodle.sent("core_course_get_courses_by_field")[0]["value"] == "12,13"


def test_check_online_reports_a_bad_token(moodle: FakeMoodle) -> None:
    moodle.on("core_webservice_get_site_info", exception("invalidtoken"))
    report = lms().check_online(["12"])
    assert report["key_ok"] is False and "invalidtoken" in report["error"]
    assert TOKEN not in report["error"]



def test_history_lists_completed_courses_with_time_and_grade(moodle: FakeMoodle) -> None:
    """Source: § Moodle 5 get_users_courses (`completed`) and § Moodle 6 (time, grade)."""
    moodle.on("core_enrol_get_users_courses", [{"id": 12, "completed": True},
                                               {"id": 13, "completed": False}])
    moodle.on("core_completion_get_course_completion_status", status(True, 1_700_000_000))
    moodle.on("gradereport_user_get_grade_items", grades(None))
    adapter = lms()
    assert isinstance(adapter, ReadsHistory)
    (event,) = adapter.learner_history(LEARNER)
    assert (event.course_id, event.score) == ("12", None)
    assert event.completed_at == datetime.fromtimestamp(1_700_000_000, UTC)


def test_the_token_stays_out_of_debug_logs(moodle: FakeMoodle,
                                           caplog: pytest.LogCaptureFixture) -> None:
    moodle.on("core_user_get_users_by_field", exception("invalidparameter", "bad"))
    with caplog.at_level("DEBUG"), pytest.raises(FatalAPIError):
        lms().find_learner(ANN)
    assert caplog.records and TOKEN not in caplog.text
