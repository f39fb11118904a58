"""The generic HR review body: a per-source field map, and the `Review` (or hint) it reads.

HR tools put review fields in different places, so each source configures a `ReviewFieldMap`
of field paths; `parse_review` reads a body through that map into a `Review`, or a
`ThinReview` hint when the source only announces that a review finished. The person is named by
the employee id, the email, or both (`connector.reviews.people`); a JSON review file holds a
list of these same bodies (`connector.reviews.json_file`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from pydantic import ValidationError

from connector.models import Employee, Rating, Review
from connector.reviews.people import PersonError, person_key
from webhooks.decoding import PayloadError
from webhooks.fieldpaths import (
    MAX_ID,
    MISSING,
    FieldReader,
    Path,
    model_errors,
    parse_path,
    render_path,
    resolve,
)

MAX_RATINGS = 500


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


def _person(
    r: FieldReader, doc: Any, field_map: ReviewFieldMap
) -> tuple[str | None, str | None]:
    """(key, normalised email) of the body's person: by id, by email, or both."""
    id_path, email_path = field_map.path("employee_id"), field_map.path("email")
    employee_id = r.text(doc, id_path, limit=MAX_ID)
    raw_email = r.text(doc, email_path, limit=MAX_ID)
    if r.errors:
        return None, None
    try:
        return person_key(employee_id, raw_email)
    except PersonError as exc:
        if raw_email and email_path is not None:
            r.fail(email_path, str(exc))
        else:
            either = f" (or {render_path(email_path)})" if email_path is not None else ""
            r.fail(id_path or (), f"is required{either}")
        return None, None


def parse_review(doc: Any, field_map: ReviewFieldMap, *, source: str) -> Review | ThinReview:
    """A full `Review` (or a `ThinReview` hint in thin mode) from one HR webhook body."""
    r = FieldReader()
    p = field_map.path
    if not isinstance(doc, dict):
        raise PayloadError([("$", "must be a JSON object")])
    review_id = r.text(doc, p("review_id"), required=True, limit=MAX_ID)
    employee_id, email = _person(r, doc, field_map)
    if field_map.thin:
        r.raise_if_any()
        assert review_id is not None and employee_id is not None  # noqa: S101 - ensured above
        return ThinReview(review_id=review_id, employee_id=employee_id)

    employee = {
        "employee_id": employee_id,
        "email": email,
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
        if all(v is MISSING or v is None for v in given):
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
        raise model_errors(exc, render_path(ratings_path)) from None
