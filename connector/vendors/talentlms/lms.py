"""TalentLMS as a `LearningPlatform`: learners, catalogue, enrollments, progress, completions.

API v1 (HTTP Basic with the key as user name) serves everything; API v2 (`X-API-Key`) is used
only for batch enrollments when the account has it (see `batches.py`). Completions come from
the v1 timeline (see `timeline.py`).

Calls are the scarce resource (2,000 an hour on the smaller plans), so the adapter caches per
instance — one instance per run: the catalogue is read once, all learners can be prefetched
with one `GET users`, and certificates are read once per learner.

v1 quirks handled here: parameters go in the path as `key:value` pairs joined by commas
(`users/email:ann@example.com`); numbers and ids arrive as strings; errors are English
messages in `{"error": {"message": …}}` ("The requested user does not exist" is a miss, not a
failure; "…already enrolled in this course" is success).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import requests
from pydantic import Field, SecretStr

from connector.errors import ConfigError, FatalAPIError, VendorError
from connector.http import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BODY,
    RateBudget,
    VendorHttp,
    json_object,
)
from connector.models import (
    CompletionEvent,
    Course,
    Employee,
    LearnerRef,
    Outcome,
    Progress,
    completion_event_id,
)
from connector.ports import LearnerEnrollments
from connector.settings import Settings, VendorSettings, vendor_config
from connector.text_safety import neutralise_formula
from connector.vendors.talentlms.batches import ALREADY_ENROLLED, BatchEnroller
from connector.vendors.talentlms.timeline import new_completions, number, text, unix_time

log = logging.getLogger(__name__)


class TalentLMSSettings(VendorSettings):
    """CONNECTOR_TALENTLMS_…: the LMS, its completion timeline and v2 batch enrollments."""

    model_config = vendor_config("TALENTLMS")
    REQUIRED = ("api_key",)

    base_url: str = "https://example.talentlms.com"
    api_key: SecretStr | None = None
    api: Literal["v1", "v2"] = "v1"
    v2_api_key: SecretStr | None = None
    v2_version: str = "2024-01-01"
    match_by: Literal["email", "login", "custom_field"] = "email"
    custom_field: str | None = None
    create_learners: bool = False
    hourly_limit: int = 2000
    poll_seconds: int = Field(default=300, ge=1)

TALENTLMS_BURST = 30  # calls per second: 30 + 5 s x 30/s stays under "200 calls per 5 seconds"
DOES_NOT_EXIST = "does not exist"
NOT_ENROLLED = "not enrolled"
CERTIFICATE_DATE_FORMATS = ("%d/%m/%Y, %H:%M:%S", "%d/%m/%Y")  # the portal's default format
MatchBy = Literal["email", "login", "custom_field"]

_STATUS = {
    "completed": Outcome.PASSED, "complete": Outcome.PASSED, "passed": Outcome.PASSED,
    "failed": Outcome.FAILED, "failure": Outcome.FAILED,
    "incomplete": Outcome.IN_PROGRESS, "in_progress": Outcome.IN_PROGRESS,
    "in progress": Outcome.IN_PROGRESS,
}
_NOT_STARTED = {"not_attempted", "not attempted", "not_started", "not started", ""}


def v1_path(resource: str, **params: object) -> str:
    """`resource/key:value,key:value` with values URL-encoded except `@`."""
    if not params:
        return resource
    pairs = ",".join(f"{key}:{quote(str(value), safe='@')}" for key, value in params.items())
    return f"{resource}/{pairs}"


def error_message(response: requests.Response) -> str | None:
    """The message from v1 `{"error":{"message"}}` and v2 `{"type","message"}` bodies."""
    body = json_object(response)
    if body is None:
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    for candidate in (error, body.get("message")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def _says(error: VendorError, phrase: str) -> bool:
    return phrase in error.message.lower()


class TalentLMS:
    """The TalentLMS adapter. One instance per run: its caches last as long as it does."""

    name = "talentlms"

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str,
        *,
        match_by: MatchBy = "email",
        custom_field: str | None = None,
        create_learners: bool = False,
        api: Literal["v1", "v2"] = "v1",
        v2_api_key: SecretStr | str | None = None,
        v2_version: str = "2024-01-01",
        budget: RateBudget | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] | None = None,
        observer: Callable[[str, int | None, float], None] | None = None,
        burst: int = TALENTLMS_BURST,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        deadline: float = DEFAULT_DEADLINE,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        v2_poll_interval: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        if match_by == "custom_field" and not custom_field:
            raise ConfigError("CONNECTOR_TALENTLMS_CUSTOM_FIELD is required to match by "
                              "custom field (for example custom_field_1)")
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        root = base_url.rstrip("/")
        knobs: dict[str, Any] = {
            "budget": budget, "observer": observer, "burst": burst, "session": session,
            "connect_timeout": connect_timeout, "read_timeout": read_timeout,
            "deadline": deadline, "max_body_bytes": max_body_bytes,
            "max_attempts": max_attempts, "max_wait": max_wait, "error_message": error_message,
        }
        knobs["base_url_variable"] = TalentLMSSettings.variable("base_url")
        injected = (("clock", clock), ("sleep", sleep), ("jitter", jitter))
        knobs.update({name: value for name, value in injected if value is not None})
        self.base_url = root
        self.match_by: MatchBy = match_by
        self.custom_field = custom_field
        self.creates_learners = create_learners
        self.api = api
        self.v1 = VendorHttp("talentlms", f"{root}/api/v1",
                             auth=(key.get_secret_value(), ""), **knobs)
        self.v2: VendorHttp | None = None
        self._batch: BatchEnroller | None = None
        if api == "v2":
            v2_key = v2_api_key or key
            v2_secret = v2_key if isinstance(v2_key, SecretStr) else SecretStr(v2_key)
            self.v2 = VendorHttp("talentlms", f"{root}/api/v2", headers={
                "X-API-Key": v2_secret.get_secret_value(), "Accept": "application/json",
                "X-API-Version": v2_version}, **knobs)
            self._batch = BatchEnroller(self.v2, sleep=time.sleep if sleep is None else sleep,
                                        poll_interval=v2_poll_interval,
                                        enrolled_courses=self._enrolled_courses)
        self._learners: dict[str, list[dict[str, Any]]] | None = None
        self._courses: list[Course] | None = None
        self._course_codes: set[str] = set()
        self._users: dict[str, Mapping[str, Any]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> TalentLMS:
        """The adapter as the operator configured it; `kw` overrides (clock, budget, …)."""
        own = settings.vendor(TalentLMSSettings)
        own.require_filled()  # a placeholder address or no key: say which, before any call
        if own.api_key is None:
            raise ConfigError(f"{own.variable('api_key')} is not set")
        http = settings.http_options()
        options: dict[str, Any] = {
            "match_by": own.match_by, "custom_field": own.custom_field,
            "create_learners": own.create_learners, "api": own.api,
            "v2_api_key": own.v2_api_key, "v2_version": own.v2_version,
            **http, "burst": min(http["burst"], TALENTLMS_BURST),
        }
        options.update(kw)
        return cls(own.base_url, own.api_key, **options)

    def __repr__(self) -> str:
        return f"TalentLMS(base_url={self.base_url!r}, api={self.api!r})"

    @property
    def calls(self) -> int:
        """Every HTTP attempt made by this adapter (both APIs)."""
        return self.v1.calls + (self.v2.calls if self.v2 else 0)

    # --- learners ---------------------------------------------------------------------------

    def prefetch_learners(self) -> int:
        """Read every user once (`GET users`) so `find_learner` costs no calls; the count."""
        users = self.v1.get_json("users", operation="list users") or []
        index: dict[str, list[dict[str, Any]]] = {}
        for user in users:
            if isinstance(user, dict):
                for key in self._keys_of(user):
                    index.setdefault(key, []).append(user)
        self._learners = index
        return len(users)

    def find_learner(self, employee: Employee) -> LearnerRef | None:
        wanted = self._wanted_key(employee)
        if wanted is None:
            return None
        if self.match_by == "custom_field" and self._learners is None:
            self.prefetch_learners()
        if self._learners is not None:
            found = self._learners.get(wanted, [])
            if len(found) > 1:
                raise FatalAPIError(
                    f"{len(found)} TalentLMS users match {self.match_by} {wanted!r}; "
                    "not guessing which one is the employee", vendor=self.name,
                    operation="find learner")
            if found:
                return _learner_ref(found[0])
            if self.match_by == "custom_field":
                return None  # only a list read can find a custom field value
        user = self._lookup(employee)
        if user is None or wanted not in self._keys_of(user):
            return None
        if self._learners is not None:
            self._learners.setdefault(wanted, []).append(user)
        return _learner_ref(user)

    def learner(self, lms_user_id: str) -> LearnerRef | None:
        """`GET users/id:N`; "does not exist" (404 or 400) is None."""
        try:
            user = self.v1.get_json(v1_path("users", id=lms_user_id.strip()),
                                    operation="read learner")
        except FatalAPIError as exc:
            if _says(exc, DOES_NOT_EXIST):
                return None
            raise
        return _learner_ref(user) if isinstance(user, dict) else None

    def create_learner(self, employee: Employee) -> LearnerRef:
        """Sign the employee up. Refused unless creating learners is switched on."""
        if not self.creates_learners:
            raise FatalAPIError("creating learners is switched off "
                                "(CONNECTOR_TALENTLMS_CREATE_LEARNERS)", vendor=self.name,
                                operation="create learner")
        if not employee.email:
            raise FatalAPIError(f"employee {employee.employee_id} has no email address",
                                vendor=self.name, operation="create learner")
        form = {  # names start fields of TalentLMS's user exports: never a formula there
            "first_name": neutralise_formula(employee.first_name or employee.email.split("@")[0]),
            "last_name": neutralise_formula(employee.last_name) if employee.last_name else "-",
            "email": employee.email,
            "login": employee.employee_id if self.match_by != "email" else employee.email,
            "password": secrets.token_urlsafe(18),  # learners reset it; never stored or logged
        }
        if self.match_by == "custom_field" and self.custom_field:
            form[self.custom_field] = employee.employee_id
        try:
            user = self.v1.post_json("usersignup", operation="create learner", data=form)
        except FatalAPIError as exc:
            # A signup that reached TalentLMS before a crash or lost answer: find it instead.
            if "already" in exc.message.lower():
                existing = self.find_learner(employee)
                if existing is not None:
                    return existing
            raise
        ref = _learner_ref(user)
        if self._learners is not None:
            for key in self._keys_of(user):
                self._learners.setdefault(key, []).append(user)
        return ref

    def _wanted_key(self, employee: Employee) -> str | None:
        if self.match_by == "email":
            return employee.email.strip().lower() if employee.email else None
        return employee.employee_id.strip().lower()

    def _keys_of(self, user: Mapping[str, Any]) -> set[str]:
        field = {"email": "email", "login": "login"}.get(self.match_by, self.custom_field or "")
        value = text(user.get(field))
        return {value.lower()} if value else set()

    def _lookup(self, employee: Employee) -> dict[str, Any] | None:
        if self.match_by == "email" and employee.email:
            path = v1_path("users", email=employee.email.strip())
        else:
            path = v1_path("users", username=employee.employee_id.strip())
        try:
            user = self.v1.get_json(path, operation="find learner")
        except FatalAPIError as exc:
            if _says(exc, DOES_NOT_EXIST):
                return None
            raise
        if isinstance(user, list):
            # Some TalentLMS portals (and third-party fixtures) answer a one-item list here.
            users = [u for u in user if isinstance(u, dict)]
            if len(users) > 1:
                raise FatalAPIError(
                    f"{len(users)} TalentLMS users answer one {self.match_by} lookup; not "
                    "guessing which one is the employee", vendor=self.name,
                    operation="find learner")
            return users[0] if users else None
        return user if isinstance(user, dict) else None

    # --- catalogue and enrollment -----------------------------------------------------------

    def list_courses(self) -> list[Course]:
        """The catalogue, read once per adapter instance."""
        if self._courses is None:
            raw = self.v1.get_json("courses", operation="list courses") or []
            rows = [c for c in raw if isinstance(c, dict) and text(c.get("id"))]
            self._courses = [Course(course_id=str(text(c["id"])), name=text(c.get("name")))
                             for c in rows]
            self._course_codes = {code for c in rows if (code := text(c.get("code")))}
        return list(self._courses)

    def enroll(self, learner: LearnerRef, course_id: str) -> None:
        """Enroll as a learner; "already enrolled" is success, so a retry is harmless."""
        try:
            self.v1.post_json("addusertocourse", operation="enroll", idempotent=True, data={
                "user_id": learner.lms_user_id, "course_id": course_id, "role": "learner"})
        except FatalAPIError as exc:
            if not _says(exc, ALREADY_ENROLLED):
                raise

    def reset_progress(self, learner: LearnerRef, course_id: str) -> None:
        """Make the learner take the course again: remove the enrollment (progress goes with
        it), then enroll again. *Unconfirmed*: API v1 documents no reset call; removal and
        re-enrollment is the documented way to start over. A missing enrollment is fine."""
        self._remove(learner, course_id, "reset progress")
        self.enroll(learner, course_id)

    def unenroll(self, learner: LearnerRef, course_id: str) -> bool:
        """Take the learner out of the course (`removeuserfromcourse`, a GET in API v1);
        False when they were not enrolled, so a repeat is harmless."""
        return self._remove(learner, course_id, "unenroll")

    def _remove(self, learner: LearnerRef, course_id: str, operation: str) -> bool:
        path = v1_path("removeuserfromcourse", user_id=learner.lms_user_id, course_id=course_id)
        try:
            self.v1.get_json(path, operation=operation)
        except FatalAPIError as exc:
            if not _says(exc, NOT_ENROLLED):
                raise
            return False
        return True

    def learner_history(self, learner: LearnerRef) -> list[CompletionEvent]:
        """Every course the learner has passed or failed, with its original date (backfill)."""
        fetched = self.v1.get_json(v1_path("users", id=learner.lms_user_id),
                                   operation="read learner history")
        user = fetched if isinstance(fetched, dict) else {}
        self._users[learner.lms_user_id] = user
        events = []
        for course in user.get("courses") or ():
            if not isinstance(course, dict):
                continue
            course_id = text(course.get("id"))
            percent = number(course.get("completion_percentage")) or 0.0
            status = _status(course.get("completion_status"), percent)
            when = unix_time(course.get("completed_on_timestamp"))
            if course_id is None or when is None or not isinstance(status, Outcome) \
                    or status is Outcome.IN_PROGRESS:
                continue
            url, expiry = self._certificate(learner.lms_user_id, course_id) \
                if status is Outcome.PASSED else (None, None)
            events.append(CompletionEvent(
                source=self.name, course_id=course_id, lms_user_id=learner.lms_user_id,
                event_id=completion_event_id(learner.lms_user_id, course_id,
                                             int(when.timestamp()), status),
                email=learner.email, completed_at=when, outcome=status,
                course_name=text(course.get("name")), certificate_url=url,
                expires_at=expiry))
        return events

    def enroll_many(
        self, pairs: Sequence[tuple[LearnerRef, str]]
    ) -> dict[tuple[str, str], Exception | None]:
        keys = [(learner.lms_user_id, course_id) for learner, course_id in pairs]
        if self._batch is not None:
            return self._batch.enroll(keys)
        result: dict[tuple[str, str], Exception | None] = {}
        for learner, course_id in pairs:
            key = (learner.lms_user_id, course_id)
            if key in result:
                continue
            try:
                self.enroll(learner, course_id)
                result[key] = None
            except VendorError as exc:
                result[key] = exc
        return result

    def _enrolled_courses(self, lms_user_id: str) -> set[str]:
        """The course ids a learner is enrolled in (one `users/id:` read)."""
        user = self.v1.get_json(v1_path("users", id=lms_user_id), operation="read enrollments")
        courses = user.get("courses") if isinstance(user, dict) else None
        return {str(text(c.get("id"))) for c in courses or () if isinstance(c, dict)}

    def enrollments(self, pairs: Sequence[tuple[str, str]]) -> dict[str, LearnerEnrollments]:
        """`ReadsEnrollments`: who is enrolled where, in the fewest calls (roster.py)."""
        from connector.vendors.talentlms.roster import read_enrollments

        return read_enrollments(self.v1, pairs, v1_path)

    # --- progress -----------------------------------------------------------------------------

    def progress(self, learner: LearnerRef, course_id: str) -> Progress:
        path = v1_path("getuserstatusincourse", course_id=course_id, user_id=learner.lms_user_id)
        try:
            raw = self.v1.get_json(path, operation="read progress") or {}
        except FatalAPIError as exc:
            if _says(exc, NOT_ENROLLED):
                return Progress(course_id=course_id, lms_user_id=learner.lms_user_id,
                                status="not_started", enrolled=False)
            raise
        percent = number(raw.get("completion_percentage")) or 0.0
        status = _status(raw.get("completion_status"), percent)
        certificate_url, cert_expiry = (None, None)
        if status is Outcome.PASSED:
            certificate_url, cert_expiry = self._certificate(learner.lms_user_id, course_id)
        return Progress(
            course_id=course_id,
            lms_user_id=learner.lms_user_id,
            status=status,
            percent=max(0.0, min(percent, 100.0)),
            completed_at=unix_time(raw.get("completed_on_timestamp"))
            if status in (Outcome.PASSED, Outcome.FAILED) else None,
            certificate_url=certificate_url,
            expires_at=cert_expiry or unix_time(raw.get("expired_on_timestamp")),
        )

    def _certificate(self, user_id: str, course_id: str) -> tuple[str | None, datetime | None]:
        """The learner's certificate for the course (link, expiry), read once per learner."""
        user = self._users.get(user_id)
        if user is None:
            fetched = self.v1.get_json(v1_path("users", id=user_id), operation="read learner")
            user = fetched if isinstance(fetched, dict) else {}
            self._users[user_id] = user
        for cert in user.get("certifications") or ():
            if isinstance(cert, dict) and text(cert.get("course_id")) == course_id:
                url = text(cert.get("download_url")) or text(cert.get("public_url"))
                expiry = unix_time(cert.get("expiration_date_timestamp")) or _portal_date(
                    cert.get("expiration_date"))
                return url, expiry
        return None, None

    # --- completions and checks ---------------------------------------------------------------

    def completions_since(
        self, cursor: str | None
    ) -> tuple[list[CompletionEvent], str | None, bool]:
        """Completions and failures from the timeline after `cursor` (see timeline.py)."""
        pages: dict[str, list[Any]] = {}
        for event_type in ("course_completion", "course_failure"):
            page = self.v1.get_json(v1_path("gettimeline", event_type=event_type),
                                    operation="read timeline")
            pages[event_type] = page if isinstance(page, list) else []
        return new_completions(pages, cursor)

    def check_online(self, course_ids: Sequence[str]) -> dict[str, Any]:
        """For `connector check --online`: the key works, calls left, courses that are missing."""
        report: dict[str, Any] = {"vendor": self.name, "key_ok": False}
        try:
            limits = self.v1.get_json("ratelimit", operation="read rate limit") or {}
            report["key_ok"] = True
            report["rate_limit"] = _int(limits.get("limit"))
            report["rate_remaining"] = _int(limits.get("remaining"))
            report["rate_reset"] = unix_time(limits.get("reset"))
            known = {c.course_id for c in self.list_courses()} | self._course_codes
        except VendorError as exc:
            report["error"] = str(exc)
            return report
        report["missing_courses"] = [c for c in course_ids if str(c) not in known]
        return report


def _learner_ref(user: Mapping[str, Any]) -> LearnerRef:
    user_id = text(user.get("id"))
    if user_id is None:
        raise FatalAPIError("TalentLMS answered a user without an id", vendor="talentlms",
                            operation="find learner")
    return LearnerRef(lms_user_id=user_id, email=text(user.get("email")),
                      login=text(user.get("login")))


def _status(raw: Any, percent: float) -> Outcome | Literal["not_started"]:
    value = (text(raw) or "").lower()
    if value in _STATUS:
        return _STATUS[value]
    if value in _NOT_STARTED:
        return "not_started" if percent <= 0 else Outcome.IN_PROGRESS
    log.warning("unknown TalentLMS completion status %r", value[:40])
    return Outcome.IN_PROGRESS if percent > 0 else "not_started"


def _portal_date(value: Any) -> datetime | None:
    """A date in the portal's default dd/mm/yyyy format, read as UTC."""
    raw = text(value)
    if raw is None:
        return None
    for fmt in CERTIFICATE_DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    log.warning("TalentLMS date %r is not in the dd/mm/yyyy format", raw[:40])
    return None


def _int(value: Any) -> int | None:
    found = number(value)
    return int(found) if found is not None else None
