"""The LMS completion body (Standard Webhooks form) → a `CompletionEvent`.

The learner is named by the LMS user id, the email, or the HR employee id; the email may also
come as `user_email`, TalentLMS's own field name, so its webhooks need no rewriting.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from connector.models import CompletionEvent, Outcome
from connector.reviews.people import PersonError, normalise_email
from webhooks.decoding import PayloadError
from webhooks.fieldpaths import (
    MAX_ID,
    FieldReader,
    Path,
    model_errors,
    render_path,
    resolve,
)

LMS_EVENT_OUTCOMES = {"course.completed": Outcome.PASSED, "course.failed": Outcome.FAILED}


def parse_lms_completion(doc: Any, *, source: str, event_id: str) -> CompletionEvent | None:
    """A `CompletionEvent` from `{"type", "timestamp", "data": {...}}`; None for other types.

    Other event types are acknowledged and dropped so a sender subscribed to more events than
    we use does not retry them forever.
    """
    r = FieldReader()
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
        "email": _email(r, doc, (("data", "email"), ("data", "user_email"))),
        "employee_id": r.text(doc, (*d, "employee_id"), limit=MAX_ID),
        "course_id": r.text(doc, (*d, "course_id"), required=True, limit=MAX_ID),
        "completed_at": r.time(doc, (*d, "completed_at"), required=True),
        "score": r.number(doc, (*d, "score")),
        "certificate_url": r.text(doc, (*d, "certificate_url")),
        "expires_at": r.time(doc, (*d, "expires_at")),
        "course_name": r.text(doc, (*d, "course_name")),
    }
    named = values["lms_user_id"] or values["email"] or values["employee_id"]
    bad_email = any(where in ("data.email", "data.user_email") for where, _ in r.errors)
    if not named and not bad_email:
        r.fail(d, "needs user_id, email (or user_email) or employee_id")
    r.raise_if_any()
    try:
        return CompletionEvent(
            source=source, event_id=event_id, outcome=LMS_EVENT_OUTCOMES[kind], **values
        )
    except ValidationError as exc:
        raise model_errors(exc, "data") from None


def _email(r: FieldReader, doc: Any, paths: tuple[Path, ...]) -> str | None:
    """The learner's email from the first of `paths` given (trimmed, lowercased, checked);
    the others, when given too, must name the same address."""
    given = [(path, r.text(doc, path, limit=MAX_ID)) for path in paths]
    found = [(path, email) for path, email in given if email]
    if not found:
        return None
    path, text = found[0]
    try:
        email = normalise_email(text)
    except PersonError as exc:
        r.fail(path, str(exc))
        return None
    for other_path, other in found[1:]:
        if other.lower() != email:
            r.fail(other_path, f"differs from {render_path(path)} ({text!r}); send one email")
    return email
