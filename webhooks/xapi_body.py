"""xAPI statements (one or a list) → `CompletionEvent`s for the verbs that mean a result."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from connector.models import CompletionEvent, Outcome
from webhooks.decoding import PayloadError
from webhooks.fieldpaths import (
    MAX_ID,
    MAX_TEXT,
    FieldReader,
    Path,
    model_errors,
    render_path,
    resolve,
)

MAX_STATEMENTS = 1000

XAPI_VERBS = {
    "http://adlnet.gov/expapi/verbs/completed": None,  # outcome from result.success
    "http://adlnet.gov/expapi/verbs/passed": Outcome.PASSED,
    "http://adlnet.gov/expapi/verbs/failed": Outcome.FAILED,
}


@dataclass(frozen=True)
class XapiOptions:
    """Per-source xAPI settings: the activity IRI prefix to strip to get the LMS course id."""

    course_prefix: str = ""


@dataclass(frozen=True)
class XapiBatch:
    """The completions in one delivery, and how many statements were not about a result."""

    events: list[CompletionEvent]
    ignored: int  # statements with verbs we do not act on


def _statement_id(statement: dict[str, Any]) -> str:
    found = statement.get("id")
    if isinstance(found, str) and 0 < len(found) <= MAX_ID and found.isprintable():
        return found
    canonical = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def parse_xapi(doc: Any, *, source: str, options: XapiOptions | None = None) -> XapiBatch:
    """Completion events from one statement or a list; other verbs are counted as ignored.

    Score: `result.score.scaled` as a percentage (x100) when given, else `result.score.raw`.
    A `completed` verb with `result.success == false` is a failure. Time: `timestamp`, else
    `stored`. Event id: the statement id (or a hash of the statement when it has none).
    """
    options = options or XapiOptions()
    if isinstance(doc, list):
        if len(doc) > MAX_STATEMENTS:
            raise PayloadError([("$", f"must hold at most {MAX_STATEMENTS} statements")])
        bases: list[Path] = [(i,) for i in range(len(doc))]
    else:
        bases = [()]
    r = FieldReader()
    events: list[CompletionEvent] = []
    ignored = 0
    for base in bases:
        statement = resolve(doc, base)
        if not isinstance(statement, dict):
            r.fail(base, "must be an xAPI statement object")
            continue
        verb = r.text(doc, (*base, "verb", "id"), required=True, limit=MAX_TEXT)
        if verb is None:
            continue
        if verb not in XAPI_VERBS:
            ignored += 1
            continue
        event = _xapi_completion(doc, base, verb, source=source, options=options, r=r)
        if event is not None:
            events.append(event)
    r.raise_if_any()
    return XapiBatch(events=events, ignored=ignored)


def _xapi_completion(
    doc: Any, base: Path, verb: str, *, source: str, options: XapiOptions, r: FieldReader
) -> CompletionEvent | None:
    errors_before = len(r.errors)

    def at(*tokens: str) -> Path:
        return (*base, *tokens)

    email = None
    mbox = r.text(doc, at("actor", "mbox"), limit=MAX_ID)
    if mbox is not None:
        if mbox.lower().startswith("mailto:") and len(mbox) > 7:
            email = mbox[7:]
        else:
            r.fail(at("actor", "mbox"), "must be a mailto: IRI")
    account = r.text(doc, at("actor", "account", "name"), limit=MAX_ID)
    if mbox is None and account is None:
        r.fail(at("actor"), "needs mbox or account.name")
    course = r.text(doc, at("object", "id"), required=True, limit=MAX_TEXT)
    if course is not None and options.course_prefix and course.startswith(options.course_prefix):
        course = course[len(options.course_prefix) :] or None
        if course is None:
            r.fail(at("object", "id"), "is only the course prefix")
    when = r.time(doc, at("timestamp")) or r.time(doc, at("stored"))
    if when is None and len(r.errors) == errors_before:
        r.fail(at("timestamp"), "is required (or stored)")
    scaled = r.number(doc, at("result", "score", "scaled"))
    score = scaled * 100 if scaled is not None else r.number(doc, at("result", "score", "raw"))
    outcome = XAPI_VERBS[verb]
    if outcome is None:
        success = resolve(doc, at("result", "success"))
        outcome = Outcome.FAILED if success is False else Outcome.PASSED
    names = resolve(doc, at("object", "definition", "name"))
    name = None
    if isinstance(names, dict):
        first = names.get("en-US") or next(iter(names.values()), None)
        name = first[:MAX_TEXT] if isinstance(first, str) else None
    if len(r.errors) > errors_before:
        return None
    try:
        return CompletionEvent(
            source=source,
            event_id=_statement_id(resolve(doc, base)),
            course_id=course,
            lms_user_id=account,
            email=email,
            completed_at=when,
            outcome=outcome,
            score=score,
            course_name=name,
        )
    except ValidationError as exc:
        r.errors.extend(model_errors(exc, render_path(base)).errors)
        return None
