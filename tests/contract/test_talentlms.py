"""TalentLMS API v1 contract: request shapes (incl. the path encoding), parsing, every error."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
import responses
from pydantic import SecretStr

from connector.errors import (
    AuthenticationError,
    ConfigError,
    FatalAPIError,
    NotFoundError,
    RetriableAPIError,
)
from connector.models import Employee, LearnerRef, Outcome
from connector.ports import Unenrolls
from connector.settings import Settings
from connector.vendors.talentlms.lms import TalentLMS, v1_path

ROOT = "https://acme.talentlms.com"
API = f"{ROOT}/api/v1"
KEY = "tlms-KEY-0123456789abcdef"
ANN = Employee(employee_id="E1", email="Ann.Lee@Example.com", first_name="Ann", last_name="Lee")
LEARNER = LearnerRef(lms_user_id="7", email="ann.lee@example.com")


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def lms(**kw: object) -> TalentLMS:
    t = FakeTime()
    options: dict[str, object] = {"clock": t.clock, "sleep": t.sleep, "jitter": lambda: 0.0}
    options.update(kw)
    return TalentLMS(ROOT, SecretStr(KEY), **options)  # type: ignore[arg-type]


def user(uid: str = "7", email: str = "ann.lee@example.com", login: str = "ann", **extra: str
         ) -> dict[str, str]:
    return {"id": uid, "login": login, "first_name": "Ann", "last_name": "Lee", "email": email,
            "user_type": "Learner-Type", "status": "active", **extra}


def error(message: str) -> dict[str, dict[str, str]]:
    return {"error": {"message": message}}


def form_of(call_index: int = -1) -> dict[str, str]:
    body = responses.calls[call_index].request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


# --- path encoding and auth ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"email": "ann@example.com"}, "users/email:ann@example.com"),
        ({"email": "ann+x@example.com"}, "users/email:ann%2Bx@example.com"),
        ({"username": "a b/c,d:e"}, "users/username:a%20b%2Fc%2Cd%3Ae"),
        ({"course_id": 12, "user_id": "7"}, "users/course_id:12,user_id:7"),
        ({}, "users"),
    ],
)
def test_v1_path_encodes_values_but_keeps_at(params: dict[str, object], expected: str) -> None:
    assert v1_path("users", **params) == expected


@responses.activate
def test_find_by_email_sends_basic_auth_and_path_parameters() -> None:
    responses.get(f"{API}/users/email:ann.lee@example.com",
                  json=user(email=" Ann.Lee@example.COM "))
    found = lms().find_learner(ANN.model_copy(update={"email": " ann.lee@example.com "}))
    assert found == LearnerRef(lms_user_id="7", email="Ann.Lee@example.COM", login="ann")
    request = responses.calls[0].request
    assert request.url == f"{API}/users/email:ann.lee@example.com"
    expected = base64.b64encode(f"{KEY}:".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


@responses.activate
@pytest.mark.parametrize("status", [404, 400])
def test_user_that_does_not_exist_is_a_miss(status: int) -> None:
    responses.get(f"{API}/users/email:Ann.Lee@Example.com", status=status,
                  json=error("The requested user does not exist"))
    assert lms().find_learner(ANN) is None


@responses.activate
def test_user_with_another_email_is_a_miss() -> None:
    responses.get(f"{API}/users/email:Ann.Lee@Example.com", json=user(email="other@example.com"))
    assert lms().find_learner(ANN) is None


@responses.activate
@pytest.mark.parametrize("match_by", ["email", "login"])
def test_a_one_item_list_answer_is_the_learner(match_by: str) -> None:
    """The third-party `talentlms` client's fixtures answer `users/email:`/`users/username:`
    with a one-item list; that is the learner, not a miss."""
    path = "users/email:Ann.Lee@Example.com" if match_by == "email" else "users/username:E1"
    responses.get(f"{API}/{path}", json=[user(login="e1")])
    found = lms(match_by=match_by).find_learner(ANN)
    assert found is not None and found.lms_user_id == "7"


@responses.activate
def test_a_list_of_several_users_is_refused_not_guessed() -> None:
    responses.get(f"{API}/users/email:Ann.Lee@Example.com",
                  json=[user(), user("8", "ann.lee@example.com", "ann2")])
    with pytest.raises(FatalAPIError, match="not guessing"):
        lms().find_learner(ANN)


@responses.activate
def test_find_by_login_uses_username_path() -> None:
    responses.get(f"{API}/users/username:E1", json=user(login="e1"))
    assert lms(match_by="login").find_learner(ANN) == LearnerRef(
        lms_user_id="7", email="ann.lee@example.com", login="e1")


@responses.activate
def test_find_by_custom_field_lists_users_once_and_refuses_to_guess() -> None:
    responses.get(f"{API}/users", json=[
        user("7", custom_field_1="E1"), user("8", "bo@example.com", "bo", custom_field_1="E2"),
        user("9", "cy@example.com", "cy", custom_field_1="e2 ")])
    adapter = lms(match_by="custom_field", custom_field="custom_field_1")
    assert adapter.find_learner(ANN) == LearnerRef(
        lms_user_id="7", email="ann.lee@example.com", login="ann")
    assert adapter.find_learner(ANN.model_copy(update={"employee_id": "E404"})) is None
    with pytest.raises(FatalAPIError, match="2 TalentLMS users match"):
        adapter.find_learner(ANN.model_copy(update={"employee_id": "E2"}))
    assert len(responses.calls) == 1


def test_custom_field_matching_needs_the_field_name() -> None:
    with pytest.raises(ConfigError, match="CUSTOM_FIELD"):
        lms(match_by="custom_field")


@responses.activate
def test_prefetched_learners_answer_without_calls_and_misses_fall_back() -> None:
    responses.get(f"{API}/users", json=[user("7"), user("8", "bo@example.com", "bo")])
    responses.get(f"{API}/users/email:new@example.com", json=user("9", "new@example.com", "nu"))
    adapter = lms()
    assert adapter.prefetch_learners() == 2
    assert adapter.find_learner(ANN) == LearnerRef(
        lms_user_id="7", email="ann.lee@example.com", login="ann")
    assert adapter.find_learner(ANN.model_copy(update={"email": "BO@example.com"})) is not None
    newcomer = ANN.model_copy(update={"email": "new@example.com"})
    assert adapter.find_learner(newcomer) == LearnerRef(
        lms_user_id="9", email="new@example.com", login="nu")
    assert adapter.find_learner(newcomer) is not None  # now cached too
    assert adapter.calls == 2


# --- creating learners -------------------------------------------------------------------------

@responses.activate
def test_create_learner_refused_while_switched_off() -> None:
    with pytest.raises(FatalAPIError, match="switched off"):
        lms().create_learner(ANN)
    assert len(responses.calls) == 0


@responses.activate
def test_create_learner_posts_the_signup_form_once() -> None:
    responses.post(f"{API}/usersignup", json=user("12", login="Ann.Lee@Example.com"))
    ref = lms(create_learners=True).create_learner(ANN)
    assert ref.lms_user_id == "12"
    form = form_of()
    assert form["first_name"] == "Ann" and form["last_name"] == "Lee"
    assert form["email"] == "Ann.Lee@Example.com" and form["login"] == "Ann.Lee@Example.com"
    assert len(form["password"]) >= 16


@responses.activate
def test_create_learner_is_not_retried_after_a_server_error() -> None:
    responses.post(f"{API}/usersignup", status=503, json=error("Service unavailable"))
    adapter = lms(create_learners=True)
    with pytest.raises(RetriableAPIError):
        adapter.create_learner(ANN)
    assert adapter.calls == 1


@responses.activate
def test_create_learner_that_already_exists_is_found_instead() -> None:
    responses.post(f"{API}/usersignup", status=400,
                   json=error("A user with the same email address already exists"))
    responses.get(f"{API}/users/email:Ann.Lee@Example.com", json=user("7"))
    adapter = lms(create_learners=True, match_by="email")
    assert adapter.create_learner(ANN).lms_user_id == "7"


@responses.activate
def test_create_learner_with_custom_field_sends_it() -> None:
    responses.get(f"{API}/users", json=[])
    responses.post(f"{API}/usersignup", json=user("12", login="E1", custom_field_1="E1"))
    adapter = lms(create_learners=True, match_by="custom_field", custom_field="custom_field_1")
    assert adapter.find_learner(ANN) is None
    assert adapter.create_learner(ANN).lms_user_id == "12"
    assert form_of()["custom_field_1"] == "E1" and form_of()["login"] == "E1"
    assert adapter.find_learner(ANN) is not None  # the cache learned the new user
    assert adapter.calls == 2


# --- catalogue and enrollment -------------------------------------------------------------------

@responses.activate
def test_courses_read_once_per_adapter() -> None:
    responses.get(f"{API}/courses", json=[{"id": "12", "name": "Negotiation", "code": "NEG"},
                                          {"id": "13", "name": "Feedback", "code": ""}])
    adapter = lms()
    assert [c.course_id for c in adapter.list_courses()] == ["12", "13"]
    assert adapter.list_courses()[0].name == "Negotiation"
    assert len(responses.calls) == 1


@responses.activate
def test_enroll_posts_form_and_already_enrolled_is_success() -> None:
    responses.post(f"{API}/addusertocourse",
                   json=[{"user_id": "7", "course_id": "12", "role": "learner"}])
    responses.post(f"{API}/addusertocourse", status=400,
                   json=error("The requested user is already enrolled in this course"))
    adapter = lms()
    adapter.enroll(LEARNER, "12")
    adapter.enroll(LEARNER, "12")
    assert form_of(0) == {"user_id": "7", "course_id": "12", "role": "learner"}
    assert adapter.calls == 2


@responses.activate
def test_unenroll_is_removeuserfromcourse_and_not_enrolled_is_done() -> None:
    path = f"{API}/{v1_path('removeuserfromcourse', user_id='7', course_id='12')}"
    responses.get(path, json={"user_id": "7", "course_id": "12"})
    responses.get(path, status=400,
                  json=error("The requested user is not enrolled in this course"))
    adapter = lms()
    assert isinstance(adapter, Unenrolls)
    assert adapter.unenroll(LEARNER, "12") is True
    assert adapter.unenroll(LEARNER, "12") is False  # a repeat: already out
    assert adapter.calls == 2
    assert responses.calls[0].request.method == "GET"


@responses.activate
def test_enroll_retried_after_server_error_because_it_is_idempotent() -> None:
    responses.post(f"{API}/addusertocourse", status=502)
    responses.post(f"{API}/addusertocourse",
                   json=[{"user_id": "7", "course_id": "12", "role": "learner"}])
    adapter = lms()
    adapter.enroll(LEARNER, "12")
    assert adapter.calls == 2


@responses.activate
def test_enroll_many_with_v1_loops_and_reports_each_pair() -> None:
    responses.post(f"{API}/addusertocourse", json=[{}])
    responses.post(f"{API}/addusertocourse", status=404,
                   json=error("The requested course does not exist"))
    result = lms().enroll_many([(LEARNER, "12"), (LEARNER, "99"), (LEARNER, "12")])
    assert result[("7", "12")] is None
    assert isinstance(result[("7", "99")], NotFoundError)
    assert len(responses.calls) == 2


# --- every error message ----------------------------------------------------------------------

@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, error("Invalid API key"), AuthenticationError),
        (403, error("API is not enabled for this domain"), AuthenticationError),
        (404, error("The requested course does not exist"), NotFoundError),
        (404, error("The requested user does not exist"), NotFoundError),
        (400, error("Invalid arguments provided"), FatalAPIError),
        (429, error("API rate limit exceeded. Please try again later."), RetriableAPIError),
        (500, error("Internal server error"), RetriableAPIError),
        (422, {"type": "invalid_request_error", "message": "Malformed request"}, FatalAPIError),
    ],
)
def test_error_messages_map_to_errors(status: int, body: dict[str, object], cls: type) -> None:
    responses.post(f"{API}/addusertocourse", status=status, json=body)
    with pytest.raises(cls) as caught:
        lms(max_attempts=2).enroll(LEARNER, "12")
    assert type(caught.value) is cls
    message = body["message"] if "message" in body else body["error"]["message"]  # type: ignore[index]
    assert caught.value.message == message
    assert str(caught.value).startswith(f"talentlms enroll failed (HTTP {status})")
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


# --- progress --------------------------------------------------------------------------------

def status_body(status: str, percent: str = "0", completed: str | None = "",
                expired: str | None = "") -> dict[str, object]:
    return {"role": "learner", "enrolled_on": "25/12/2019, 03:58:50",
            "enrolled_on_timestamp": "1577246330", "completion_status": status,
            "completion_percentage": percent, "completed_on": "",
            "completed_on_timestamp": completed, "expired_on": "",
            "expired_on_timestamp": expired, "total_time": "", "units": []}


@responses.activate
@pytest.mark.parametrize(
    ("status", "percent", "expected"),
    [
        ("incomplete", "40", Outcome.IN_PROGRESS),
        ("Incomplete", "0", Outcome.IN_PROGRESS),
        ("not_attempted", "0", "not_started"),
        ("Not attempted", "0", "not_started"),
        ("failed", "100", Outcome.FAILED),
        ("Failed", "100", Outcome.FAILED),
        ("", "0", "not_started"),
        ("something new", "30", Outcome.IN_PROGRESS),
    ],
)
def test_progress_statuses(status: str, percent: str, expected: object) -> None:
    responses.get(f"{API}/getuserstatusincourse/course_id:12,user_id:7",
                  json=status_body(status, percent, completed=None))
    progress = lms().progress(LEARNER, "12")
    assert progress.status == expected
    assert progress.percent == float(percent)
    assert progress.completed_at is None and progress.certificate_url is None


@responses.activate
@pytest.mark.parametrize("status", ["Completed", "completed", "COMPLETED"])
def test_completed_progress_with_certificate_read_once(status: str) -> None:
    responses.get(f"{API}/getuserstatusincourse/course_id:12,user_id:7",
                  json=status_body(status, "100", completed="1577246330", expired=""))
    responses.get(f"{API}/getuserstatusincourse/course_id:13,user_id:7",
                  json=status_body(status, "100", completed="1577246400"))
    responses.get(f"{API}/users/id:7", json={**user(), "certifications": [
        {"course_id": "12", "unique_id": "ab12", "issued_date": "25/12/2019",
         "expiration_date": "25/12/2020", "download_url": "https://acme/dl/ab12",
         "public_url": "https://acme/pub/ab12"},
        {"course_id": "13", "unique_id": "cd34", "expiration_date": "",
         "download_url": "", "public_url": "https://acme/pub/cd34"}]})
    adapter = lms()
    first = adapter.progress(LEARNER, "12")
    assert first.status is Outcome.PASSED and first.percent == 100.0
    assert first.completed_at == datetime(2019, 12, 25, 3, 58, 50, tzinfo=UTC)
    assert first.certificate_url == "https://acme/dl/ab12"
    assert first.expires_at == datetime(2020, 12, 25, tzinfo=UTC)
    second = adapter.progress(LEARNER, "13")
    assert second.certificate_url == "https://acme/pub/cd34" and second.expires_at is None
    assert adapter.calls == 3  # two statuses, one user record


@responses.activate
def test_progress_when_not_enrolled_and_when_user_missing() -> None:
    responses.get(f"{API}/getuserstatusincourse/course_id:12,user_id:7", status=400,
                  json=error("The requested user is not enrolled in this course"))
    responses.get(f"{API}/getuserstatusincourse/course_id:12,user_id:8", status=404,
                  json=error("The requested user does not exist"))
    adapter = lms()
    progress = adapter.progress(LEARNER, "12")
    assert progress.enrolled is False and progress.status == "not_started"
    with pytest.raises(NotFoundError, match="does not exist"):
        adapter.progress(LearnerRef(lms_user_id="8"), "12")


# --- online check, settings, secrets ---------------------------------------------------------

@responses.activate
def test_check_online_reports_rate_and_missing_courses() -> None:
    responses.get(f"{API}/ratelimit", json={"limit": "10000", "remaining": 9986,
                                            "reset": "1598160603", "formatted_reset": "x"})
    responses.get(f"{API}/courses", json=[{"id": "12", "name": "A", "code": "NEG"}])
    report = lms().check_online(["12", "NEG", "99"])
    assert report["key_ok"] is True
    assert report["rate_limit"] == 10000 and report["rate_remaining"] == 9986
    assert report["rate_reset"] == datetime.fromtimestamp(1598160603, tz=UTC)
    assert report["missing_courses"] == ["99"]


@responses.activate
def test_check_online_with_a_bad_key() -> None:
    responses.get(f"{API}/ratelimit", status=401, json=error("Invalid API key"))
    report = lms().check_online(["12"])
    assert report["key_ok"] is False
    assert "Invalid API key" in report["error"]
    assert KEY not in repr(report)


def test_from_settings_and_no_key_in_repr() -> None:
    settings = Settings(_env_file=None, talentlms_base_url=ROOT,  # type: ignore[call-arg]
                        talentlms_api_key=SecretStr(KEY), talentlms_match_by="login",
                        talentlms_create_learners=True, http_burst=100)
    adapter = TalentLMS.from_settings(settings, max_attempts=2)
    assert adapter.match_by == "login" and adapter.creates_learners is True
    assert adapter.v1.base_url == f"{ROOT}/api/v1"
    assert KEY not in repr(adapter) and KEY not in repr(adapter.v1)
    with pytest.raises(ConfigError, match="TALENTLMS_API_KEY is not set"):
        TalentLMS.from_settings(Settings(_env_file=None,  # type: ignore[call-arg]
                                         talentlms_base_url=ROOT))
    with pytest.raises(ConfigError, match="TALENTLMS_BASE_URL is still a placeholder"):
        TalentLMS.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


@responses.activate
def test_learner_by_id_reads_the_user_and_a_missing_one_is_none() -> None:
    responses.get(f"{API}/users/id:7", json=user())
    responses.get(f"{API}/users/id:99999", status=404,
                  json=error("The requested user does not exist"))
    adapter = lms()
    assert adapter.learner("7") == LearnerRef(lms_user_id="7", email="ann.lee@example.com",
                                              login="ann")
    assert adapter.learner("99999") is None
    assert [c.request.url for c in responses.calls] == [f"{API}/users/id:7",
                                                        f"{API}/users/id:99999"]


@responses.activate
def test_learner_by_id_lets_other_errors_through() -> None:
    responses.get(f"{API}/users/id:7", status=401, json=error("Invalid API key"))
    with pytest.raises(AuthenticationError):
        lms().learner("7")
