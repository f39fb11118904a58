"""The LMS completion body (Standard Webhooks form) → a `CompletionEvent`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from connector.models import CompletionEvent, Outcome
from webhooks.decoding import PayloadError
from webhooks.fieldpaths import MAX_ID, FieldReader, model_errors, resolve

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
        raise model_errors(exc, "data") from None
