"""Turn verified webhook bodies into domain objects, with errors that name the bad field.

Only bodies whose signature was already checked reach this module. Parsing is strict about
shape (a 422 names each bad field by its JSON path so the sender can fix it) and defensive about
size: nesting and list lengths are capped so a hostile but correctly signed body cannot exhaust
the receiver. Four shapes are understood: a generic HR review (with a per-source field mapping),
an LMS completion in Standard Webhooks form, xAPI statements, and BambooHR employee changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from connector.models import CompletionEvent, Employee, Outcome, Rating, Review

MAX_DEPTH = 32
MAX_RATINGS = 500
MAX_STATEMENTS = 1000
MAX_EMPLOYEES = 1000
MAX_TEXT = 4000
MAX_ID = 255

_MISSING: Any = object()
Path = tuple[str | int, ...]


class MalformedJson(ValueError):
    """The body is not UTF-8 JSON at all (answered 400)."""


class PayloadError(ValueError):
    """The body is JSON but not the expected shape; `errors` are (field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors[:5]))


# --- JSON decoding with limits -------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not valid JSON")


def decode_json(raw: bytes) -> Any:
    """Parse `raw` as JSON, refusing NaN/Infinity and anything nested deeper than MAX_DEPTH."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise PayloadError([("$", f"nested deeper than {MAX_DEPTH} levels")]) from None
    except ValueError:
        raise MalformedJson("body is not valid JSON") from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError([("$", f"nested deeper than {MAX_DEPTH} levels")])
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


# --- dotted paths ----------------------------------------------------------------------------

_SEGMENT = re.compile(r"^([^.\[\]]*)((?:\[\d+\])*)$")


def parse_path(path: str) -> Path:
    """`data.ratings[0].skill` → ("data", "ratings", 0, "skill"). ValueError when malformed."""
    tokens: list[str | int] = []
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        if not match or (not match.group(1) and not match.group(2)):
            raise ValueError(f"malformed field path {path!r}")
        if match.group(1):
            tokens.append(match.group(1))
        tokens.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(tokens)


def render_path(tokens: Path) -> str:
    out = ""
    for token in tokens:
        if isinstance(token, int):
            out += f"[{token}]"
        else:
            out += f".{token}" if out else token
    return out or "$"


def resolve(doc: Any, tokens: Path) -> Any:
    node = doc
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                return _MISSING
            node = node[token]
        else:
            if not isinstance(node, dict) or token not in node:
                return _MISSING
            node = node[token]
    return node


# --- scalar readers that collect errors instead of raising ----------------------------------


class _Reader:
    """Reads typed values out of a document, collecting every problem with its path."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, tokens: Path, message: str) -> None:
        self.errors.append((render_path(tokens), message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise PayloadError(self.errors)

    def value(self, doc: Any, tokens: Path, required: bool) -> Any:
        found = resolve(doc, tokens)
        if (found is _MISSING or found is None) and required:
            self.fail(tokens, "is required")
        return None if found is _MISSING else found

    def text(self, doc: Any, tokens: Path | None, required: bool = False, limit: int = MAX_TEXT):
        if tokens is None:
            return None
        found = self.value(doc, tokens, required)
        if found is None:
            return None
        if isinstance(found, int) and not isinstance(found, bool):
            found = str(found)
        if not isinstance(found, str):
            self.fail(tokens, "must be a string")
            return None
        found = found.strip()
        if len(found) > limit:
            self.fail(tokens, f"must be at most {limit} characters")
            return None
        if not found:
            if required:
                self.fail(tokens, "must not be empty")
            return None
        return found

    def number(self, doc: Any, tokens: Path | None, required: bool = False) -> float | None:
        if tokens is None:
            return None
        found = self.value(doc, tokens, required)
        if found is None:
            return None
        if isinstance(found, str):
            with contextlib.suppress(ValueError):
                found = float(found)
        if isinstance(found, bool) or not isinstance(found, int | float):
            self.fail(tokens, "must be a number")
            return None
        number = float(found)
        if not math.isfinite(number):
            self.fail(tokens, "must be a finite number")
            return None
        return number

    def time(self, doc: Any, tokens: Path | None, required: bool = False) -> datetime | None:
        if tokens is None:
            return None
        found = self.value(doc, tokens, required)
        if found is None:
            return None
        if isinstance(found, int | float) and not isinstance(found, bool):
            if not 0 <= found < 10**11:
                self.fail(tokens, "must be Unix seconds or an ISO 8601 time")
                return None
            return datetime.fromtimestamp(found, UTC)
        if not isinstance(found, str) or len(found) > 64:
            self.fail(tokens, "must be an ISO 8601 time")
            return None
        try:
            parsed = datetime.fromisoformat(found.strip())
        except ValueError:
            self.fail(tokens, "must be an ISO 8601 time")
            return None
        if parsed.tzinfo is None:
            self.fail(tokens, "needs a time zone (for example 2026-03-01T10:00:00Z)")
            return None
        return parsed.astimezone(UTC)

    def items(self, doc: Any, tokens: Path, limit: int, required: bool = True) -> list[Any]:
        found = self.value(doc, tokens, required)
        if found is None:
            return []
        if not isinstance(found, list):
            self.fail(tokens, "must be a list")
            return []
        if len(found) > limit:
            self.fail(tokens, f"must hold at most {limit} items")
            return []
        return found


def _model_errors(exc: ValidationError, prefix: str) -> PayloadError:
    errors = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        errors.append((f"{prefix}.{where}" if where else prefix, err["msg"]))
    return PayloadError(errors)


# --- generic HR review ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewFieldMap:
    """Where one HR source puts each review field: dotted JSON paths with [N] indexes.

    Rating paths are relative to one item of the `ratings` list. A path of None means the
    source does not send that field. In `thin` mode the body only names a review (id and
    employee) and the full review must arrive by another path (poll or CSV).
    """

    employee_id: str = "data.employee.id"
    email: str | None = "data.employee.email"
    first_name: str | None = "data.employee.first_name"
    last_name: str | None = "data.employee.last_name"
    role: str | None = "data.employee.role"
    review_id: str = "data.review_id"
    cycle: str | None = "data.cycle"
    completed_at: str | None = "data.completed_at"
    ratings: str = "data.ratings"
    rating_skill: str = "skill"
    rating_value: str | None = "value"
    rating_label: str | None = "label"
    rating_scale_min: str | None = "scale_min"
    rating_scale_max: str | None = "scale_max"
    rating_rater: str | None = "rater"
    rating_comment: str | None = "comment"
    thin: bool = False
    _parsed: dict[str, Path | None] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.startswith("_") or f.name == "thin":
                continue
            raw = getattr(self, f.name)
            self._parsed[f.name] = None if raw is None else parse_path(raw)

    def path(self, name: str) -> Path | None:
        return self._parsed[name]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReviewFieldMap:
        """From config JSON; unknown keys are an error so a typo is not silently ignored."""
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown review field mapping keys: {', '.join(unknown)}")
        return cls(**values)


@dataclass(frozen=True)
class ThinReview:
    """A hint that a review finished; queued until the full review arrives by another path."""

    review_id: str
    employee_id: str

    def to_payload(self) -> dict[str, Any]:
        return {"review_id": self.review_id, "employee_id": self.employee_id}


def parse_review(doc: Any, field_map: ReviewFieldMap, *, source: str) -> Review | ThinReview:
    """A full `Review` (or a `ThinReview` hint in thin mode) from one HR webhook body."""
    r = _Reader()
    p = field_map.path
    if not isinstance(doc, dict):
        raise PayloadError([("$", "must be a JSON object")])
    review_id = r.text(doc, p("review_id"), required=True, limit=MAX_ID)
    employee_id = r.text(doc, p("employee_id"), required=True, limit=MAX_ID)
    if field_map.thin:
        r.raise_if_any()
        assert review_id is not None and employee_id is not None  # noqa: S101 - ensured above
        return ThinReview(review_id=review_id, employee_id=employee_id)

    employee = {
        "employee_id": employee_id,
        "email": r.text(doc, p("email"), limit=MAX_ID),
        "first_name": r.text(doc, p("first_name"), limit=MAX_ID),
        "last_name": r.text(doc, p("last_name"), limit=MAX_ID),
        "role": r.text(doc, p("role"), limit=MAX_ID),
    }
    cycle = r.text(doc, p("cycle"), required=True, limit=MAX_ID)
    completed_at = r.time(doc, p("completed_at"), required=True)
    ratings_path = p("ratings") or ()
    ratings = []
    for index, item in enumerate(r.items(doc, ratings_path, MAX_RATINGS)):
        base = (*ratings_path, index)

        def at(name: str, base: Path = base) -> Path | None:
            rel = p(name)
            return None if rel is None else (*base, *rel)

        if not isinstance(item, dict):
            r.fail(base, "must be an object")
            continue
        rating = {
            "skill_key": r.text(doc, at("rating_skill"), required=True, limit=MAX_ID),
            "value": r.number(doc, at("rating_value")),
            "label": r.text(doc, at("rating_label"), limit=MAX_ID),
            "scale_min": r.number(doc, at("rating_scale_min")),
            "scale_max": r.number(doc, at("rating_scale_max")),
            "rater": r.text(doc, at("rating_rater"), limit=64) or "manager",
            "comment": r.text(doc, at("rating_comment")),
        }
        given = [resolve(doc, t) for t in (at("rating_value"), at("rating_label")) if t]
        if all(v is _MISSING or v is None for v in given):
            r.fail(base, "needs a value or a label")
        ratings.append(rating)
    r.raise_if_any()
    try:
        return Review(
            review_id=review_id,
            source=source,
            cycle=cycle,
            employee=Employee.model_validate(employee),
            completed_at=completed_at,
            ratings=tuple(Rating.model_validate(x) for x in ratings),
        )
    except ValidationError as exc:
        raise _model_errors(exc, render_path(ratings_path)) from None


# --- LMS completion (Standard Webhooks body) -------------------------------------------------

LMS_EVENT_OUTCOMES = {"course.completed": Outcome.PASSED, "course.failed": Outcome.FAILED}


def parse_lms_completion(doc: Any, *, source: str, event_id: str) -> CompletionEvent | None:
    """A `CompletionEvent` from `{"type", "timestamp", "data": {...}}`; None for other types.

    Other event types are acknowledged and dropped so a sender subscribed to more events than
    we use does not retry them forever.
    """
    r = _Reader()
    if not isinstance(doc, dict):
        raise PayloadError([("$", "must be a JSON object")])
    kind = r.text(doc, ("type",), required=True, limit=MAX_ID)
    r.raise_if_any()
    if kind not in LMS_EVENT_OUTCOMES:
        return None
    data = resolve(doc, ("data",))
    if not isinstance(data, dict):
        raise PayloadError([("data", "must be an object")])
    d = ("data",)
    values = {
        "lms_user_id": r.text(doc, (*d, "user_id"), limit=MAX_ID),
        "email": r.text(doc, (*d, "email"), limit=MAX_ID),
        "employee_id": r.text(doc, (*d, "employee_id"), limit=MAX_ID),
        "course_id": r.text(doc, (*d, "course_id"), required=True, limit=MAX_ID),
        "completed_at": r.time(doc, (*d, "completed_at"), required=True),
        "score": r.number(doc, (*d, "score")),
        "certificate_url": r.text(doc, (*d, "certificate_url")),
        "expires_at": r.time(doc, (*d, "expires_at")),
        "course_name": r.text(doc, (*d, "course_name")),
    }
    if not (values["lms_user_id"] or values["email"] or values["employee_id"]):
        r.fail(d, "needs user_id, email or employee_id")
    r.raise_if_any()
    try:
        return CompletionEvent(
            source=source, event_id=event_id, outcome=LMS_EVENT_OUTCOMES[kind], **values
        )
    except ValidationError as exc:
        raise _model_errors(exc, "data") from None


# --- xAPI statements -------------------------------------------------------------------------

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
    r = _Reader()
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
    doc: Any, base: Path, verb: str, *, source: str, options: XapiOptions, r: _Reader
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
        r.errors.extend(_model_errors(exc, render_path(base)).errors)
        return None


# --- BambooHR employee changes ---------------------------------------------------------------


@dataclass(frozen=True)
class EmployeeChange:
    """One employee created, updated or deleted in BambooHR, with the fields it sent."""

    employee_id: str
    action: Literal["created", "updated", "deleted"]
    fields: dict[str, Any]
    changed_fields: tuple[str, ...] = ()
    timestamp: str | None = None

    def event_id(self) -> str:
        """A content dedupe key: the same change delivered twice gets the same id."""
        text = f"{self.employee_id}|{self.action}|{self.timestamp or ''}|"
        text += ",".join(self.changed_fields)
        return "bamboohr:" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def to_payload(self) -> dict[str, Any]:
        return {
            "employee_id": self.employee_id,
            "action": self.action,
            "fields": self.fields,
            "changed_fields": list(self.changed_fields),
            "timestamp": self.timestamp,
        }


_ACTIONS: dict[str, Literal["created", "updated", "deleted"]] = {
    "created": "created",
    "updated": "updated",
    "deleted": "deleted",
}


def parse_bamboohr_employees(doc: Any) -> list[EmployeeChange]:
    """Employee changes from either documented BambooHR shape:

    - the batch `{"employees": [{"id", "action"|"type", "timestamp", "fields",
      "changedFields"}]}` (vendor web docs);
    - one event `{"type": "employee.updated", "timestamp", "data": {"employeeId",
      "changedFields"}}` (the `webhooks:` section of the OpenAPI file).
    """
    if not isinstance(doc, dict):
        raise PayloadError([("$", "must be a JSON object")])
    r = _Reader()
    if "employees" not in doc and "data" in doc:
        employee_id = r.text(doc, ("data", "employeeId"), required=True, limit=MAX_ID)
        kind = r.text(doc, ("type",), required=True, limit=64)
        action = _ACTIONS.get((kind or "").lower().removeprefix("employee."))
        if kind is not None and action is None:
            r.fail(("type",), "must be employee.created, employee.updated or employee.deleted")
        changed = resolve(doc, ("data", "changedFields"))
        changed = [] if changed is _MISSING or changed is None else changed
        if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
            r.fail(("data", "changedFields"), "must be a list of strings")
        timestamp = r.text(doc, ("timestamp",), limit=64)
        r.raise_if_any()
        assert employee_id is not None and action is not None  # noqa: S101 - checked above
        return [EmployeeChange(employee_id, action, {}, tuple(changed), timestamp)]
    changes = []
    for index, item in enumerate(r.items(doc, ("employees",), MAX_EMPLOYEES)):
        base: Path = ("employees", index)
        if not isinstance(item, dict):
            r.fail(base, "must be an object")
            continue
        employee_id = r.text(doc, (*base, "id"), required=True, limit=MAX_ID)
        key = "action" if "action" in item else "type"
        raw_action = r.text(doc, (*base, key), required=True, limit=64)
        action = None
        if raw_action is not None:
            action = _ACTIONS.get(raw_action.lower().removeprefix("employee."))
            if action is None:
                r.fail((*base, key), "must be created, updated or deleted")
        fields_value = resolve(item, ("fields",))
        if fields_value is _MISSING or fields_value is None:
            fields_value = {}
        if not isinstance(fields_value, dict):
            r.fail((*base, "fields"), "must be an object")
        changed = resolve(item, ("changedFields",))
        if changed is _MISSING or changed is None:
            changed = []
        if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
            r.fail((*base, "changedFields"), "must be a list of strings")
        timestamp = r.text(doc, (*base, "timestamp"), limit=64)
        if employee_id and action and isinstance(fields_value, dict) and isinstance(changed, list):
            changes.append(
                EmployeeChange(employee_id, action, fields_value, tuple(changed), timestamp)
            )
    r.raise_if_any()
    return changes
