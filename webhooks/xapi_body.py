"""xAPI statements (one or a list) → `CompletionEvent`s: the one parser for every xAPI path.

Both the push path (`/webhooks/xapi`) and the pull path (an LRS's statements resource,
connector/vendors/xapi_lrs/) read statements here, so a statement means the same thing
however it arrives. Facts (shared/VENDORS-next.md, "xAPI Statements API"):

- ADL verbs: completed, passed, failed (`http://adlnet.gov/expapi/verbs/…`); cmi5's LMS
  records a satisfied AU or course with `https://w3id.org/xapi/adl/verbs/satisfied`.
- A voiding statement has verb `…/verbs/voided` and a `StatementRef` object naming the
  voided statement's id; voided statements are never returned by queries again, so the
  voiding statement is the only news that a completion was taken back.
- cmi5 moveOn (§13.1.4): which statements satisfy an AU. Declared per course
  (`XapiOptions.move_on`); a course without one keeps the plain reading below.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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

ADL = "http://adlnet.gov/expapi/verbs/"
COMPLETED = ADL + "completed"
PASSED = ADL + "passed"
FAILED = ADL + "failed"
VOIDED = ADL + "voided"
SATISFIED = "https://w3id.org/xapi/adl/verbs/satisfied"
RESULT_VERBS = (COMPLETED, PASSED, FAILED, SATISFIED)

MoveOn = Literal["Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed",
                 "NotApplicable"]
MOVE_ON_VALUES: tuple[str, ...] = ("Passed", "Completed", "CompletedAndPassed",
                                   "CompletedOrPassed", "NotApplicable")

# Without a declared moveOn: completed (unless `result.success` is false) and passed are a
# pass, failed a failure, satisfied is not read (an LMS's own judgement, only under cmi5).
_PLAIN: dict[str, Outcome | None] = {COMPLETED: None, PASSED: Outcome.PASSED,
                                     FAILED: Outcome.FAILED}


def parse_move_on(text: str) -> dict[str, MoveOn]:
    """`"101=CompletedAndPassed, 102=Passed"` → {course id: moveOn}; a wrong value is a
    ValueError naming it and the choices."""
    found: dict[str, MoveOn] = {}
    problems = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        course, sep, value = (x.strip() for x in part.partition("="))
        if not sep or not course or value not in MOVE_ON_VALUES:
            problems.append(f"{part!r} (expected COURSE=one of {', '.join(MOVE_ON_VALUES)})")
            continue
        found[course] = value  # type: ignore[assignment]  # checked just above
    if problems:
        raise ValueError("; ".join(problems))
    return found


@dataclass(frozen=True)
class XapiOptions:
    """Per-source xAPI settings: the activity IRI prefix to strip to get the LMS course id,
    and the cmi5 moveOn declared per course id."""

    course_prefix: str = ""
    move_on: Mapping[str, MoveOn] = field(default_factory=dict)


@dataclass(frozen=True)
class Unsatisfied:
    """A statement that is half of CompletedAndPassed: `event` (in progress) becomes a pass
    once the same actor has a statement with `missing` verb for `activity` (an LRS can say)."""

    event: CompletionEvent
    missing: str  # the verb IRI still needed
    activity: str  # the object IRI as sent
    actor: Mapping[str, Any]


@dataclass(frozen=True)
class XapiBatch:
    """The completions (and voids) in one delivery, and how many statements were not about a
    result."""

    events: list[CompletionEvent]
    ignored: int  # statements with verbs we do not act on
    unsatisfied: list[Unsatisfied] = field(default_factory=list)


def satisfied(event: CompletionEvent, other: CompletionEvent) -> CompletionEvent:
    """The half of CompletedAndPassed, now satisfied by `other`: a pass at the later time."""
    when = max(event.completed_at, other.completed_at)
    score = event.score if event.score is not None else other.score
    return event.model_copy(update={"outcome": Outcome.PASSED, "completed_at": when,
                                    "score": score})


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
    `stored`. Event id: the statement id (or a hash of the statement when it has none). A
    voiding statement is an event with outcome `voided` and `voids` = the target's id.
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
    unsatisfied: list[Unsatisfied] = []
    ignored = 0
    for base in bases:
        statement = resolve(doc, base)
        if not isinstance(statement, dict):
            r.fail(base, "must be an xAPI statement object")
            continue
        verb = r.text(doc, (*base, "verb", "id"), required=True, limit=MAX_TEXT)
        if verb is None:
            continue
        if verb == VOIDED:
            void = _void(doc, base, source=source, r=r)
            if void is not None:
                events.append(void)
            continue
        if verb not in RESULT_VERBS:
            ignored += 1
            continue
        event = _xapi_completion(doc, base, verb, source=source, options=options, r=r)
        if event is None:
            continue
        reading = _reading(event, verb, statement, options)
        if reading is None:
            ignored += 1
            continue
        outcome, missing = reading
        event = event.model_copy(update={"outcome": outcome})
        events.append(event)
        if missing is not None:
            unsatisfied.append(Unsatisfied(event, missing, str(statement["object"]["id"]),
                                           statement.get("actor") or {}))
    r.raise_if_any()
    return XapiBatch(events=events, ignored=ignored, unsatisfied=unsatisfied)


def _reading(event: CompletionEvent, verb: str, statement: dict[str, Any],
             options: XapiOptions) -> tuple[Outcome, str | None] | None:
    """What one statement means for its course: (outcome, the verb still missing for
    CompletedAndPassed), or None when the statement is not read at all."""
    found = statement.get("result")
    result: dict[str, Any] = found if isinstance(found, dict) else {}
    success, completion = result.get("success"), result.get("completion")
    move_on = options.move_on.get(event.course_id)
    if move_on is None:
        if verb not in _PLAIN:
            return None
        plain = _PLAIN[verb]
        if plain is None:
            plain = Outcome.FAILED if success is False else Outcome.PASSED
        return plain, None
    if verb == FAILED:
        return Outcome.FAILED, None  # never satisfies; noted as a failed attempt
    if verb == SATISFIED:
        return Outcome.PASSED, None  # the LMS's own moveOn judgement
    if move_on == "NotApplicable":
        return Outcome.IN_PROGRESS, None  # satisfied at enrolment: no statement is evidence
    if move_on == "CompletedOrPassed":
        return Outcome.PASSED, None
    if move_on == "Passed":
        return (Outcome.PASSED if verb == PASSED else Outcome.IN_PROGRESS), None
    if move_on == "Completed":
        return (Outcome.PASSED if verb == COMPLETED else Outcome.IN_PROGRESS), None
    # CompletedAndPassed: both, in any order; one statement may carry both flags.
    if (verb == COMPLETED and success is True) or (verb == PASSED and completion is True):
        return Outcome.PASSED, None
    return Outcome.IN_PROGRESS, (PASSED if verb == COMPLETED else COMPLETED)


def _void(doc: Any, base: Path, *, source: str, r: FieldReader) -> CompletionEvent | None:
    """A voiding statement → an event that takes back the statement it names."""
    errors_before = len(r.errors)
    kind = r.text(doc, (*base, "object", "objectType"), required=True, limit=MAX_TEXT)
    if kind is not None and kind != "StatementRef":
        r.fail((*base, "object", "objectType"), "must be StatementRef for a voiding statement")
    target = r.text(doc, (*base, "object", "id"), required=True, limit=MAX_ID)
    when = r.time(doc, (*base, "timestamp")) or r.time(doc, (*base, "stored"))
    if when is None and len(r.errors) == errors_before:
        r.fail((*base, "timestamp"), "is required (or stored)")
    if len(r.errors) > errors_before or target is None or when is None:
        return None
    # The voiding actor is whoever voided (often the LRS's admin), never the learner: the
    # learner is the voided completion's, found in the ledger.
    return CompletionEvent(
        source=source, event_id=_statement_id(resolve(doc, base)), course_id="",
        completed_at=when, outcome=Outcome.VOIDED, voids=target)


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
            outcome=Outcome.PASSED,  # the reading (`_reading`) decides
            score=score,
            course_name=name,
        )
    except ValidationError as exc:
        r.errors.extend(model_errors(exc, render_path(base)).errors)
        return None
