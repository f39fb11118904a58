"""The one HTTP client every vendor adapter uses: errors, retries and pacing in one place.

Why one client: the status → error mapping, the rule for what may be retried, the handling of
`Retry-After` and of rate-limit headers are the places where connectors most often go wrong,
and each vendor module would otherwise grow its own slightly different copy.

- `classify` is the only answer → error mapping: a vendor's own `ErrorRule` table first
  (status and body shape, so a `200` with an error body is one rule), then HTTP's (401/403
  auth, 404 not found, 408, 425, 429 and 5xx retriable, other 4xx fatal);
  `error_for_response` turns the kind into the error the caller acts on.
- Retries use tenacity with a pure `retry=` predicate (`should_retry`) and a separate `wait=`
  (`retry_wait`) that honours `Retry-After` before capped exponential backoff with full jitter.
  A non-idempotent request is retried only when the connection failed before it was sent.
- Pacing before every attempt: the shared `RateBudget`, a per-second burst cap (token bucket
  on the injected clock), and a pause when `X-RateLimit-Remaining` says the window is spent.
- Nothing secret leaves this module: errors never carry URLs, headers or auth, and any
  credential the client knows is redacted from vendor messages and body excerpts.
"""

from __future__ import annotations

import collections
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import requests.auth
from tenacity import RetryCallState, Retrying, stop_after_attempt
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from connector.deadlines import BodyTooLarge, Deadline, read_capped, tracking_session
from connector.errors import (
    AuthenticationError,
    FatalAPIError,
    NotFoundError,
    RetriableAPIError,
    VendorError,
)

log = logging.getLogger(__name__)

BODY_EXCERPT_CHARS = 300
REQUEST_ID_HEADERS = ("X-Request-Id", "Request-Id")  # header lookup is case-insensitive
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RATE_LIMIT_RESERVE = 2  # calls left in the vendor's window that we never spend without pausing
SHORT_PAUSE = 1.0  # seconds to pause when the window is nearly spent and no reset is given
BACKOFF_BASE = 0.5  # first backoff cap in seconds; doubles per attempt up to max_wait
DEFAULT_DEADLINE = 120.0  # seconds for a whole call: connect, headers and body
DEFAULT_MAX_BODY = 64 * 1024 * 1024  # bytes; no vendor answer we read is near this
UNCERTAIN_WRITE_FACTOR = 2.0  # x read timeout before a lost write is asked about again
_EPOCH_THRESHOLD = 1_000_000_000  # a reset value above this is a Unix time, below a delay
_SECRET_HEADER = re.compile(r"key|token|auth|secret|signature|cookie|password", re.IGNORECASE)


class RateBudget(Protocol):
    """A per-vendor call budget shared by every worker (kept in the store)."""

    def acquire(self, vendor: str) -> float:
        """Take one call from the vendor's shared budget; return seconds to wait before calling (0.0 = go now)."""  # noqa: E501
        ...


class VendorConnectionError(RetriableAPIError):
    """No HTTP answer: a dropped connection, a refused connect or a timeout.

    `request_sent` is False only when the connection failed before the request left (a refused
    connect or a connect timeout); only then may a non-idempotent request be sent again.
    """

    def __init__(self, message: str, *, vendor: str, operation: str, request_sent: bool) -> None:
        super().__init__(message, vendor=vendor, operation=operation)
        self.request_sent = request_sent


# --- the status → error mapping -------------------------------------------------------------


class ErrorKind(StrEnum):
    """What the caller does next with a failed answer."""

    RETRY = "retry"  # try again later (5xx, 408, 425, "try later" bodies)
    RATE_LIMITED = "rate_limited"  # over the vendor's limit: wait, then retry
    FATAL = "fatal"  # retrying will not help: a dead letter
    AUTH = "auth"  # the credential is wrong or lacks a right
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ErrorRule:
    """One line of a vendor's error table: answers with one of `statuses` (any status when
    empty) whose body matches `body` (any body when None) are of `kind`. A vendor that
    answers `200` with an error body (Moodle's `exception`) declares a rule for status 200
    with a `body` test; a rule must name statuses or a body, or it would match success."""

    def __post_init__(self) -> None:
        if not self.statuses and self.body is None:
            raise ValueError("an error rule names statuses, a body test, or both")

    kind: ErrorKind
    statuses: frozenset[int] = frozenset()
    body: Callable[[requests.Response], bool] | None = None

    def matches(self, response: requests.Response) -> bool:
        if self.statuses and response.status_code not in self.statuses:
            return False
        return self.body is None or self.body(response)


# The shared table, after any vendor's own rules: what HTTP says by itself.
DEFAULT_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(ErrorKind.AUTH, frozenset({401, 403})),
    ErrorRule(ErrorKind.NOT_FOUND, frozenset({404})),
    ErrorRule(ErrorKind.RATE_LIMITED, frozenset({429})),
    ErrorRule(ErrorKind.RETRY, frozenset({408, 425})),
)
_ERROR_CLASSES: dict[ErrorKind, type[VendorError]] = {
    ErrorKind.RETRY: RetriableAPIError, ErrorKind.RATE_LIMITED: RetriableAPIError,
    ErrorKind.FATAL: FatalAPIError, ErrorKind.AUTH: AuthenticationError,
    ErrorKind.NOT_FOUND: NotFoundError,
}


def classify(response: requests.Response,
             rules: Sequence[ErrorRule] = ()) -> ErrorKind | None:
    """The kind of a failed answer, or None for a success: the vendor's own rules first
    (they may also turn a 2xx into an error), then HTTP's (5xx retriable, other 4xx fatal)."""
    for rule in rules:
        if rule.matches(response):
            return rule.kind
    if response.status_code < 400:
        return None
    for rule in DEFAULT_ERROR_RULES:
        if rule.matches(response):
            return rule.kind
    return ErrorKind.RETRY if response.status_code >= 500 else ErrorKind.FATAL


def error_for_response(
    vendor: str, operation: str, response: requests.Response, message: str | None = None,
    kind: ErrorKind | None = None,
) -> VendorError:
    """The error for a failed vendor answer, grouped by what the caller should do next."""
    status = response.status_code
    text = _safe_text(response)
    excerpt = text[:BODY_EXCERPT_CHARS] if text else None
    msg = message or _generic_message(response) or response.reason or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "vendor": vendor,
        "operation": operation,
        "status": status,
        "body_excerpt": excerpt,
        "request_id": _request_id(response),
        "retry_after": parse_retry_after(response.headers.get("Retry-After"), response),
    }
    found = kind or classify(response) or ErrorKind.FATAL
    return _ERROR_CLASSES[found](msg, **kwargs)


def parse_retry_after(value: str | None, response: requests.Response | None = None,
                      *, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` value: delta seconds or an HTTP date (never negative).

    An HTTP date is measured against the response's own `Date` header when present (the
    server's clock, so local clock skew does not matter), else against `now` / the wall clock.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = _http_date(value)
    if when is None:
        return None
    reference = _server_time(response) if response is not None else None
    if reference is None:
        reference = time.time() if now is None else now
    return max(0.0, when - reference)


def _http_date(value: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.timestamp()


def _server_time(response: requests.Response) -> float | None:
    date = response.headers.get("Date")
    return _http_date(date) if date else None


def _safe_text(response: requests.Response) -> str:
    try:
        return response.text.strip()
    except (requests.RequestException, UnicodeDecodeError, RuntimeError):
        return ""


def json_object(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not JSON or not an object: for reading
    vendors' error bodies, which come in every shape (or none)."""
    try:
        body = response.json()
    except (ValueError, RuntimeError, requests.RequestException):
        return None
    return body if isinstance(body, dict) else None


def _generic_message(response: requests.Response) -> str | None:
    """A message from the common JSON error shapes, when the vendor module gave none."""
    body = json_object(response)
    if body is None:
        return None
    for found in (body.get("error"), body.get("message"), body.get("detail")):
        candidate = found.get("message") if isinstance(found, dict) else found
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def _request_id(response: requests.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return value
    return None


# --- the retry decision and the wait ----------------------------------------------------------


def should_retry(attempt: int, error: BaseException | None, *, idempotent: bool,
                 max_attempts: int) -> bool:
    """Whether attempt number `attempt` that ended with `error` deserves another try.

    Pure: it looks only at the attempt number and the outcome. A success (`error` None) and a
    fatal error are final; a retriable error is retried while attempts remain, except that a
    non-idempotent request is retried only if the connection failed before it was sent.
    """
    if error is None or attempt >= max_attempts:
        return False
    if not isinstance(error, RetriableAPIError):
        return False
    if idempotent:
        return True
    return isinstance(error, VendorConnectionError) and not error.request_sent


def retry_wait(attempt: int, error: BaseException | None, *, max_wait: float,
               jitter: Callable[[], float]) -> float:
    """Seconds to wait after attempt number `attempt` failed with `error`.

    The vendor's `Retry-After` wins (clamped to [0, max_wait]); otherwise capped exponential
    backoff with full jitter: uniform in [0, min(max_wait, BACKOFF_BASE * 2**(attempt-1))).
    """
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        return min(max(float(retry_after), 0.0), max_wait)
    cap = min(max_wait, BACKOFF_BASE * 2 ** max(attempt - 1, 0))
    return cap * min(max(jitter(), 0.0), 1.0)


# --- pacing -------------------------------------------------------------------------------------


class _BurstCap:
    """A token bucket of `burst` calls per second on the injected clock.

    A caller that finds it empty reserves the next token (the count goes negative), so several
    threads sharing one client queue up instead of all waking at once.
    """

    def __init__(self, burst: int, clock: Callable[[], float]) -> None:
        self.rate = float(max(burst, 1))
        self.tokens = self.rate
        self.clock = clock
        self.updated = clock()

    def take(self) -> float:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


def _rate_limit_pause(response: requests.Response, *, reserve: int, max_wait: float,
                      wall_clock: Callable[[], float]) -> float:
    """Seconds to hold off because the vendor's window is (nearly) spent; 0 if not.

    `X-RateLimit-Reset` is *unconfirmed* for TalentLMS: both a Unix time and a delay in seconds
    are accepted (a value above 10**9 is a Unix time). Without it, a short pause.
    """
    remaining_raw = response.headers.get("X-RateLimit-Remaining")
    if remaining_raw is None:
        return 0.0
    try:
        remaining = float(remaining_raw)
    except ValueError:
        return 0.0
    if remaining > reserve:
        return 0.0
    reset_raw = response.headers.get("X-RateLimit-Reset")
    try:
        reset = float(reset_raw) if reset_raw else None
    except ValueError:
        reset = None
    if reset is None:
        return SHORT_PAUSE
    if reset > _EPOCH_THRESHOLD:
        now = wall_clock()
        server = _server_time(response)
        # Trust the local clock unless it disagrees with the server's by more than a few
        # seconds (the Date header only has whole seconds, too coarse for short windows).
        if server is not None and abs(server - now) > 5:
            now = server
        reset -= now
    return min(max(reset, 0.0), max_wait)


# --- the client ---------------------------------------------------------------------------------


class VendorHttp:
    """A requests session for one vendor with its errors, retries and pacing built in."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        auth: tuple[str, str] | requests.auth.AuthBase | None = None,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        burst: int = 50,
        budget: RateBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        error_message: Callable[[requests.Response], str | None] | None = None,
        error_rules: Sequence[ErrorRule] = (),
        observer: Callable[[str, int | None, float], None] | None = None,
        session: requests.Session | None = None,
        wall_clock: Callable[[], float] = time.time,
        rate_reserve: int = RATE_LIMIT_RESERVE,
        deadline: float = DEFAULT_DEADLINE,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        base_url_variable: str | None = None,
    ) -> None:
        self.vendor = vendor
        self.base_url_variable = base_url_variable  # the setting a connection error names
        self.base_url = base_url.rstrip("/")
        self._auth: requests.auth.AuthBase | None = (
            requests.auth.HTTPBasicAuth(*auth) if isinstance(auth, tuple) else auth
        )
        self._headers = dict(headers or {})
        self._timeout = (connect_timeout, read_timeout)
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self._budget = budget
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._wall_clock = wall_clock
        self._error_message = error_message
        self._error_rules = tuple(error_rules)
        self._observer = observer
        self._session = session or tracking_session()
        self._deadline = deadline
        self._max_body = max_body_bytes
        self.host = urlsplit(self.base_url).hostname or "the vendor"
        self._reserve = rate_reserve
        self._secrets = _secrets_of(auth, self._headers)
        self._lock = threading.Lock()
        self._burst = _BurstCap(burst, clock)
        self._paused_until = 0.0
        self.calls = 0
        self.statuses: collections.Counter[int] = collections.Counter()

    def __repr__(self) -> str:
        return f"VendorHttp(vendor={self.vendor!r}, base_url={self.base_url!r})"

    # -- public calls --

    def request(self, method: str, path: str, *, operation: str, idempotent: bool | None = None,
                params: Any = None, data: Any = None, json: Any = None,
                headers: dict[str, str] | None = None) -> requests.Response:
        """Send with pacing and retries; a 2xx/3xx response, or the mapped `VendorError`."""
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = path if path.startswith(("http://", "https://")) else (
            f"{self.base_url}/{path.lstrip('/')}"
        )
        merged = {**self._headers, **(headers or {})}

        def attempt() -> requests.Response:
            return self._attempt(method, url, operation, params=params, data=data, json=json,
                                 headers=merged)

        retrying = Retrying(
            sleep=self._sleep,
            stop=stop_after_attempt(self.max_attempts),
            retry=lambda state: should_retry(state.attempt_number, _error_of(state),
                                             idempotent=safe, max_attempts=self.max_attempts),
            wait=lambda state: retry_wait(state.attempt_number, _error_of(state),
                                          max_wait=self.max_wait, jitter=self._jitter),
            before_sleep=lambda state: log.debug(
                "retrying vendor=%s operation=%s attempt=%d wait=%.2fs error=%s",
                self.vendor, operation, state.attempt_number,
                state.next_action.sleep if state.next_action else 0.0,
                type(_error_of(state)).__name__,
            ),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except VendorConnectionError as exc:
            if exc.request_sent and not safe and exc.retry_after is None:
                # A write whose answer was lost may still be carried out by the vendor after we
                # stopped waiting. The caller's retry first asks "already done?", so it must
                # not ask before the vendor has had time to finish: twice the read timeout.
                exc.retry_after = UNCERTAIN_WRITE_FACTOR * self._timeout[1]
            raise

    def get_json(self, path: str, *, operation: str, params: Any = None) -> Any:
        return self._json(self.request("GET", path, operation=operation, params=params),
                          operation)

    def post_json(self, path: str, *, operation: str, json: Any = None, data: Any = None,
                  idempotent: bool = False) -> Any:
        response = self.request("POST", path, operation=operation, json=json, data=data,
                                idempotent=idempotent)
        return self._json(response, operation)

    # -- one attempt --

    def _attempt(self, method: str, url: str, operation: str, **kwargs: Any) -> requests.Response:
        self._pace()
        started = self._clock()
        with self._lock:
            self.calls += 1
        guard = Deadline(self._deadline)
        try:
            with guard.running():
                response = self._session.request(method, url, auth=self._auth,
                                                 timeout=self._timeout, stream=True, **kwargs)
                read_capped(response, self._max_body)
                if guard.expired:  # cut short by the watchdog, however it read
                    raise requests.ConnectionError("deadline passed")
        except BodyTooLarge as exc:
            self._observe(None, self._clock() - started)
            raise FatalAPIError(f"{exc} from {self.host}", vendor=self.vendor,
                                operation=operation) from None
        except requests.RequestException as exc:
            elapsed = self._clock() - started
            self._observe(None, elapsed)
            log.debug("vendor=%s operation=%s status=none elapsed=%.3fs error=%s",
                      self.vendor, operation, elapsed, type(exc).__name__)
            if guard.expired:
                raise VendorConnectionError(
                    f"no complete answer from {self.host} within the {self._deadline:g} s "
                    "deadline (CONNECTOR_HTTP_DEADLINE_SECONDS)", vendor=self.vendor,
                    operation=operation, request_sent=True) from None
            raise self._connection_error(exc, operation, url) from None
        elapsed = self._clock() - started
        with self._lock:
            self.statuses[response.status_code] += 1
        self._observe(response.status_code, elapsed)
        log.debug("vendor=%s operation=%s status=%d elapsed=%.3fs",
                  self.vendor, operation, response.status_code, elapsed)
        self._note_rate_limit(response)
        kind = classify(response, self._error_rules)
        if kind is not None:
            message = self._error_message(response) if self._error_message else None
            raise self._redacted(error_for_response(self.vendor, operation, response, message,
                                                    kind))
        return response

    def _pace(self) -> None:
        """Wait for the shared budget, the burst cap and any vendor-announced pause."""
        if self._budget is not None:
            wait = self._budget.acquire(self.vendor)
            if wait > 0:
                self._sleep(wait)
        with self._lock:
            wait = self._burst.take()
        if wait > 0:
            self._sleep(wait)
        with self._lock:
            wait = self._paused_until - self._clock()
        if wait > 0:
            log.debug("vendor=%s pausing %.2fs for its rate limit", self.vendor, wait)
            self._sleep(wait)

    def _note_rate_limit(self, response: requests.Response) -> None:
        pause = _rate_limit_pause(response, reserve=self._reserve, max_wait=self.max_wait,
                                  wall_clock=self._wall_clock)
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), response)
            pause = max(pause, min(retry_after or 0.0, self.max_wait))
        if pause > 0:
            with self._lock:
                self._paused_until = max(self._paused_until, self._clock() + pause)

    def _observe(self, status: int | None, elapsed: float) -> None:
        if self._observer is not None:
            self._observer(self.vendor, status, elapsed)

    def _connection_error(self, exc: requests.RequestException, operation: str,
                          url: str) -> VendorError:
        """An error that names the host it could not reach and the setting that chose it,
        never the URL's path or query (they may hold personal data or a token)."""
        kind = type(exc).__name__
        setting = self.base_url_variable or "the vendor's base URL setting"
        if isinstance(exc, requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema
                      | requests.exceptions.InvalidURL):
            return FatalAPIError(f"{setting} is not a URL (it needs https:// and a host name)",
                                 vendor=self.vendor, operation=operation)
        where = f"{_host_of(url)}; check {setting} and the network"
        if _failed_before_sending(exc):
            return VendorConnectionError(
                f"could not connect to {where} ({kind})", vendor=self.vendor,
                operation=operation, request_sent=False)
        if isinstance(exc, requests.Timeout | requests.ConnectionError
                      | requests.exceptions.ChunkedEncodingError
                      | requests.exceptions.ContentDecodingError):
            return VendorConnectionError(
                f"no complete answer from {where} ({kind})", vendor=self.vendor,
                operation=operation, request_sent=True)
        return FatalAPIError(f"request to {_host_of(url)} could not be made ({kind})",
                             vendor=self.vendor, operation=operation)

    def _json(self, response: requests.Response, operation: str) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._redacted(FatalAPIError(
                "the answer was not JSON", vendor=self.vendor, operation=operation,
                status=response.status_code, body_excerpt=_safe_text(response)[:BODY_EXCERPT_CHARS],
                request_id=_request_id(response))) from None

    def _redacted(self, error: VendorError) -> VendorError:
        """Blank out any credential a vendor echoed back in its message or body."""
        for secret in self._secrets:
            error.message = error.message.replace(secret, "***")
            if error.body_excerpt:
                error.body_excerpt = error.body_excerpt.replace(secret, "***")
        error.args = (str(error),)
        return error


def _host_of(url: str) -> str:
    """`host[:port]` of a URL: what a message may say about where a call went."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "?"


def _error_of(state: RetryCallState) -> BaseException | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    return state.outcome.exception()


def _failed_before_sending(exc: BaseException) -> bool:
    """True for a refused connect or a connect timeout: the request never left."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    seen: list[BaseException] = []
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        if isinstance(item, NewConnectionError | ConnectTimeoutError):
            return True
        stack.extend(item.args)
        stack.extend([getattr(item, "reason", None), item.__cause__, item.__context__])
    return False


def _secrets_of(auth: object, headers: dict[str, str]) -> list[str]:
    values: Iterable[object] = ()
    if isinstance(auth, tuple):
        values = auth
    elif isinstance(auth, requests.auth.HTTPBasicAuth):
        values = (auth.username, auth.password)
    found = [str(v) for v in values if v and len(str(v)) >= 4]
    found += [v for k, v in headers.items() if _SECRET_HEADER.search(k) and len(v) >= 4]
    return sorted(set(found), key=len, reverse=True)
