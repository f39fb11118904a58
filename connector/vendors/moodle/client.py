"""Moodle's settings, its REST web-service client, and how its errors read.

Moodle core's REST protocol (webservice/rest/server.php) is one URL for every function:
`wstoken` names the caller, `wsfunction` the function, `moodlewsrestformat=json` the answer
format (the default is XML), and every other request parameter is an argument, in PHP's
bracket form (`users[0][email]=…`, `options[ids][0]=7`); a JSON body is not accepted.

Errors come back with **HTTP 200** and `{"exception", "errorcode", "message"}` (plus
`debuginfo` with debugging on), so this module gives `VendorHttp` an `ErrorRule` table that
reads the body of a 200. Every call is a form POST, reads included: the token stays out of
URLs (and so out of any proxy or debug log line that prints one); reads are marked idempotent
so they are retried like GETs.

Facts and their sources: ../shared/VENDORS-next.md § Moodle 1 (protocol, error body, codes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import requests
from pydantic import Field, SecretStr

from connector.errors import ConfigError, VendorError
from connector.http import ErrorKind, ErrorRule, VendorHttp, json_object
from connector.settings import Settings, VendorSettings, vendor_config

VENDOR = "moodle"
ENDPOINT = "webservice/rest/server.php"
MOODLE_BURST = 10  # calls per second: Moodle has no published limit; a site's PHP workers do

MatchBy = Literal["email", "username", "idnumber"]


class MoodleSettings(VendorSettings):
    """CONNECTOR_MOODLE_…: Moodle as the LMS and as the goal tracker (learning plans)."""

    model_config = vendor_config("MOODLE")
    REQUIRED = ("token",)

    base_url: str = "https://moodle.example.com"
    token: SecretStr | None = None
    match_by: MatchBy = "email"
    create_learners: bool = False
    create_auth: str = "manual"  # the auth plugin of learners the connector creates
    student_role_id: int = Field(default=5, ge=1)  # "student" on a default install
    # Enrolments end after the assignment's due date plus the grace days (false: never end).
    # Moodle lists active enrolments only, so the grace keeps a late poll able to read a
    # completion made just before the due date.
    end_enrolments: bool = True
    enrolment_grace_days: int = Field(default=14, ge=0)
    learners_per_poll: int = Field(default=500, ge=1)  # completion reads per poll at most
    calls_per_second: int = Field(default=MOODLE_BURST, ge=1)
    poll_seconds: int = Field(default=300, ge=1)
    # Goal tracker: the framework whose competency `idnumber` equals a skill id, for skills
    # whose mapping entry names no `competency`; empty: only the mapping's ids are used.
    competency_framework: int | None = Field(default=None, ge=1)
    # The scale value rated when every course of the goal is done (empty: the competency's
    # first proficient value, read from its scale configuration).
    proficient_grade: int | None = Field(default=None, ge=1)
    close_goals: bool = True  # complete the learning plan when every course is done


# errorcode → what the caller does next. Sources: VENDORS-next.md § Moodle 1 "Common
# errorcodes"; `sitemaintenance` and the dml codes are Moodle's own strings for a site in
# maintenance mode and a database failure (both pass; a retry later succeeds).
ERROR_KINDS: Mapping[str, ErrorKind] = {
    "invalidtoken": ErrorKind.AUTH,
    "accessexception": ErrorKind.AUTH,
    "nopermissions": ErrorKind.AUTH,
    "wsusercannotassign": ErrorKind.AUTH,
    "cannotviewreport": ErrorKind.AUTH,
    "accessdenied": ErrorKind.AUTH,
    "servicerequireslogin": ErrorKind.AUTH,
    "invalidrecord": ErrorKind.NOT_FOUND,
    "invalidrecordunknown": ErrorKind.NOT_FOUND,
    "sitemaintenance": ErrorKind.RETRY,
    "dmlreadexception": ErrorKind.RETRY,
    "dmlwriteexception": ErrorKind.RETRY,
    "dbsessionfailed": ErrorKind.RETRY,
}


def moodle_error(response: requests.Response) -> dict[str, Any] | None:
    """The `{"exception", "errorcode", "message"}` body of a failed call, else None."""
    body = json_object(response)
    if body is None or not isinstance(body.get("exception"), str):
        return None
    return body


def _is_kind(kind: ErrorKind) -> Callable[[requests.Response], bool]:
    def test(response: requests.Response) -> bool:
        error = moodle_error(response)
        if error is None:
            return False
        return ERROR_KINDS.get(str(error.get("errorcode") or ""), ErrorKind.FATAL) is kind
    return test


# Every kind an `exception` body can be, for any status (Moodle answers them with 200; a
# proxy in front may not); `invalidparameter` and every code not listed is fatal.
ERROR_RULES: tuple[ErrorRule, ...] = tuple(
    ErrorRule(kind, body=_is_kind(kind)) for kind in
    (ErrorKind.AUTH, ErrorKind.NOT_FOUND, ErrorKind.RETRY, ErrorKind.FATAL))


def error_message(response: requests.Response) -> str | None:
    """`errorcode: message` from Moodle's error body (the code is what the docs index)."""
    error = moodle_error(response)
    if error is None:
        return None
    code = str(error.get("errorcode") or error.get("exception"))
    message = str(error.get("message") or "").strip()
    return f"{code}: {message}" if message else code


def error_code(exc: VendorError) -> str:
    """The Moodle errorcode an error carries ("" when it is not a Moodle error body)."""
    head, sep, _ = exc.message.partition(":")
    return head.strip() if sep else exc.message.strip()


def encode(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Arguments in PHP's bracket form, the only form core REST reads:
    `{"users": [{"email": "a@b"}]}` → `users[0][email]=a@b`. Booleans are 1/0; None is left
    out (Moodle then applies the parameter's default)."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), item)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        elif isinstance(value, bool):
            pairs.append((prefix, "1" if value else "0"))
        else:
            pairs.append((prefix, str(value)))

    walk("", params)
    return pairs


class MoodleClient:
    """Calls web-service functions by name. One per connected vendor; the LMS and the goal
    tracker share it, so they share its pacing."""

    def __init__(self, base_url: str, token: SecretStr | str, *,
                 base_url_variable: str | None = None, **http_kw: Any) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        self._token = secret.get_secret_value()
        self.base_url = base_url.rstrip("/")
        self.http = VendorHttp(VENDOR, self.base_url, error_message=error_message,
                               error_rules=ERROR_RULES, base_url_variable=base_url_variable,
                               headers={"Accept": "application/json"}, **http_kw)
        self.counts: dict[str, int] = {}  # calls per function, for the bench and the report

    def __repr__(self) -> str:
        return f"MoodleClient(base_url={self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, **http_kw: Any) -> MoodleClient:
        own = settings.vendor(MoodleSettings)
        own.require_filled()  # a placeholder address or no token: say which, before any call
        if own.token is None:
            raise ConfigError(f"{own.variable('token')} is not set")
        http = settings.http_options()
        options = {**http, "burst": min(http["burst"], own.calls_per_second), **http_kw}
        return cls(own.base_url, own.token, base_url_variable=own.variable("base_url"),
                   **options)

    @property
    def calls(self) -> int:
        return self.http.calls

    def call(self, function: str, params: Mapping[str, Any] | None = None, *,
             operation: str, write: bool = False) -> Any:
        """The function's decoded answer (`None` for functions that return nothing).
        A write is retried only when it never left (`VendorHttp`'s rule for POSTs)."""
        form = [("wstoken", self._token), ("wsfunction", function),
                ("moodlewsrestformat", "json"), *encode(params or {})]
        self.counts[function] = self.counts.get(function, 0) + 1
        try:
            return self.http.post_json(ENDPOINT, operation=operation, data=form,
                                       idempotent=not write)
        except VendorError as exc:
            raise self._redacted(exc) from None

    def _redacted(self, error: VendorError) -> VendorError:
        """Moodle never echoes the token, but a proxy's error page might: blank it out."""
        if self._token and len(self._token) >= 4:
            error.message = error.message.replace(self._token, "***")
            if error.body_excerpt:
                error.body_excerpt = error.body_excerpt.replace(self._token, "***")
            error.args = (str(error),)
        return error


def warnings_of(answer: Any) -> Sequence[Mapping[str, Any]]:
    """The `warnings` list (`external_warnings`) of an answer, [] when there is none."""
    found = answer.get("warnings") if isinstance(answer, dict) else None
    return [w for w in found or () if isinstance(w, dict)]
