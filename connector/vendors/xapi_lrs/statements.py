"""Completions pulled from any xAPI learning record store (the Statements API, version 1.0.3).

Facts (shared/VENDORS-next.md, "xAPI Statements API", from xAPI-Communication.md 1.0.3):

- `GET /statements` filters by `verb`, `since` (stored time, exclusive), `ascending`,
  `limit`, `agent`, `activity`; it answers `{statements, more}` where `more` is a relative IRL
  (path and query) and an empty string at the end.
- Every answer carries `X-Experience-API-Consistent-Through`: statements stored before it are
  reliably there. Polling with `since` later than that misses statements that arrive late, so
  the cursor is never moved past the smallest value this poll saw.
- Every request carries `X-Experience-API-Version: 1.0.3`.
- Voided statements disappear from queries; only the voiding statement (verb `voided`) says a
  completion was taken back, so `voided` is always queried too.

One poll: each verb of interest and `voided`, ascending from the cursor, following `more` up to
`max_pages` pages per verb (a verb cut short holds the cursor just before its last statement,
so nothing is skipped); statements de-duplicated on their id; one parser (webhooks/xapi_body.py)
for these and for pushed statements. A course declared CompletedAndPassed that has only one
half in a statement is completed by asking the LRS for the other half (one read each).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from connector.errors import ConfigError, FatalAPIError
from connector.http import VendorHttp
from connector.models import CompletionEvent
from connector.settings import Settings, VendorSettings, url_problem, vendor_config
from webhooks.xapi_body import (
    COMPLETED,
    FAILED,
    PASSED,
    SATISFIED,
    VOIDED,
    XapiOptions,
    parse_move_on,
    parse_xapi,
    satisfied,
)

log = logging.getLogger(__name__)

VENDOR = "xapi_lrs"
VERSION = "1.0.3"
CONSISTENT = "X-Experience-API-Consistent-Through"
SHORT_VERBS = {"completed": COMPLETED, "passed": PASSED, "failed": FAILED,
               "satisfied": SATISFIED}


class XapiLrsSettings(VendorSettings):
    """CONNECTOR_XAPI_LRS_…: an LRS's statements as a completion source."""

    model_config = vendor_config("XAPI_LRS")
    REQUIRED = ("endpoint", "key", "secret")

    endpoint: str | None = None  # the LRS's xAPI endpoint, e.g. https://lrs.example/xapi
    key: SecretStr | None = None
    secret: SecretStr | None = None
    verbs: str = "completed,passed,failed"  # short ADL names or full verb IRIs
    course_prefix: str = ""  # the activity IRI prefix before the LMS course id
    move_on: str = ""  # cmi5 moveOn per course: "101=CompletedAndPassed,102=Passed"
    first_since_days: int = Field(default=30, ge=0)  # how far back the first poll reads
    page_limit: int = Field(default=500, ge=1)
    max_pages: int = Field(default=20, ge=1)  # per verb and poll
    hourly_limit: int = Field(default=3600, ge=1)
    poll_seconds: int = Field(default=300, ge=1)

    def unfilled(self) -> list[str]:
        problems = super().unfilled()
        if self.endpoint:
            problem = url_problem(self.variable("endpoint"), self.endpoint)
            if problem:
                problems.insert(0, problem)
        return problems

    def verb_iris(self) -> list[str]:
        found = [SHORT_VERBS.get(v.strip().lower(), v.strip())
                 for v in self.verbs.split(",") if v.strip()]
        if self.move_on and SATISFIED not in found:
            found.append(SATISFIED)  # a cmi5 LMS's own judgement, where moveOn is declared
        return list(dict.fromkeys(found))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class XapiLrs:
    """`CompletionSource` over an LRS's statements resource."""

    name = VENDOR

    def __init__(self, http: VendorHttp, *, verbs: list[str], options: XapiOptions,
                 first_since_days: int = 30, page_limit: int = 500, max_pages: int = 20,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.http = http
        self.verbs = verbs
        self.options = options
        self.first_since_days = first_since_days
        self.page_limit = page_limit
        self.max_pages = max_pages
        self._now = now
        parts = urlsplit(http.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def __repr__(self) -> str:
        return f"XapiLrs(endpoint={self.http.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, **http_kw: Any) -> XapiLrs:
        own = settings.vendor(XapiLrsSettings)
        own.require_filled()
        if own.endpoint is None or own.key is None or own.secret is None:
            raise ConfigError(f"{own.variable('endpoint')}, {own.variable('key')} and "
                              f"{own.variable('secret')} must be set")
        try:
            move_on = parse_move_on(own.move_on)
        except ValueError as exc:
            raise ConfigError(f"{own.variable('move_on')}: {exc}") from None
        http = VendorHttp(VENDOR, own.endpoint,
                          auth=(own.key.get_secret_value(), own.secret.get_secret_value()),
                          headers={"X-Experience-API-Version": VERSION,
                                   "Accept": "application/json"},
                          base_url_variable=own.variable("endpoint"),
                          **{**settings.http_options(), **http_kw})
        return cls(http, verbs=own.verb_iris(),
                   options=XapiOptions(course_prefix=own.course_prefix, move_on=move_on),
                   first_since_days=own.first_since_days, page_limit=own.page_limit,
                   max_pages=own.max_pages)

    # -- the poll --

    def completions_since(self, cursor: str | None
                          ) -> tuple[list[CompletionEvent], str | None, bool]:
        """New completion, failure and void events since `cursor` (a stored time); the new
        cursor is the smallest consistent-through time seen, never later. Never overflows:
        a verb cut short by `max_pages` holds the cursor before its last statement."""
        since = _parse_time(cursor) or (self._now() - timedelta(days=self.first_since_days))
        statements: dict[str, dict[str, Any]] = {}
        next_cursor: datetime | None = None
        for verb in [*self.verbs, VOIDED]:
            found, hold = self._read_verb(verb, since)
            for statement in found:
                key = str(statement.get("id") or json.dumps(statement, sort_keys=True))
                statements.setdefault(key, statement)
            next_cursor = hold if next_cursor is None else min(next_cursor, hold)
        batch = parse_xapi(list(statements.values()), source=self.name, options=self.options)
        events = list(batch.events)
        for half in batch.unsatisfied:
            other = self._other_half(half.actor, half.missing, half.activity)
            if other is not None:
                events[events.index(half.event)] = satisfied(half.event, other)
        # Queried verb by verb, queued in the order things happened (a failure an hour before
        # the pass is a note on the open goal, not news about a closed one).
        events.sort(key=lambda e: e.completed_at)
        cursor_out = _iso(max(next_cursor or since, since))
        log.info("xapi_lrs poll statements=%d events=%d cursor=%s", len(statements),
                 len(events), cursor_out)
        return events, cursor_out, False

    def _read_verb(self, verb: str, since: datetime) -> tuple[list[dict[str, Any]], datetime]:
        """Every statement of `verb` stored after `since`, and the time the cursor may move
        to for it: the answer's consistent-through (or, when cut short, just before the last
        statement read)."""
        params: Mapping[str, Any] | None = {"verb": verb, "since": _iso(since),
                                            "ascending": "true", "limit": self.page_limit}
        path = "/statements"
        found: list[dict[str, Any]] = []
        consistent: datetime | None = None
        for _page in range(self.max_pages):
            response = self.http.request("GET", path, operation="read statements",
                                         params=params)
            header = _parse_time(response.headers.get(CONSISTENT))
            if header is not None:
                consistent = header if consistent is None else min(consistent, header)
            body = self._json(response)
            page = body.get("statements")
            if not isinstance(page, list):
                raise FatalAPIError("statement result without `statements`", vendor=VENDOR,
                                    operation="read statements")
            found += [s for s in page if isinstance(s, dict)]
            more = body.get("more")
            if not more:
                break
            path, params = f"{self._origin}{more}", None
        else:  # cut short: read on from the last statement next time (same-time ones again)
            last = _parse_time(str(found[-1].get("stored") or "")) if found else None
            if last is not None:
                hold = last - timedelta(milliseconds=1)
                consistent = hold if consistent is None else min(consistent, hold)
        if consistent is None:
            # No header: the LRS breaks the spec; do not move past what was read.
            stored = [_parse_time(str(s.get("stored") or "")) for s in found]
            times = [t for t in stored if t is not None]
            consistent = min(times) - timedelta(milliseconds=1) if times else since
        return found, consistent

    def _json(self, response: Any) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise FatalAPIError("the LRS answered something other than a StatementResult",
                                vendor=VENDOR, operation="read statements",
                                status=response.status_code)
        return body

    def _other_half(self, actor: Mapping[str, Any], verb: str,
                    activity: str) -> CompletionEvent | None:
        """The same actor's statement with `verb` for `activity`, if the LRS holds one."""
        agent = {k: actor[k] for k in ("objectType", "mbox", "mbox_sha1sum", "openid",
                                       "account") if k in actor}
        response = self.http.request("GET", "/statements", operation="read statements",
                                     params={"agent": json.dumps(agent), "verb": verb,
                                             "activity": activity, "limit": 1})
        page = self._json(response).get("statements") or []
        if not page:
            return None
        events = parse_xapi(page[:1], source=self.name,
                            options=XapiOptions(course_prefix=self.options.course_prefix)).events
        return events[0] if events else None
