"""A JSON review export: a list of `/webhooks/hr` bodies, one per review.

Each item has the shape the `/webhooks/hr` endpoint accepts with its default field map
(`{"type": "review.completed", "data": {"review_id", "cycle", "completed_at", "employee":
{"id", "email", ...}, "ratings": [{"skill", "value" | "label", ...}]}}`), so an export can be
replayed through the webhook or imported as a file unchanged. The file is a list of them,
`{"reviews": [...]}`, or one body. Items in the older `Review` shape (`employee.employee_id`,
`ratings[].skill_key`) are still read.

The file is parsed whole (JSON has no row boundary to stream on), then each item is read on
its own: a bad item is reported with its 1-based position and its problems, and the good ones
go on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from typing import Any

from pydantic import ValidationError

from connector.errors import InputError
from connector.models import Review
from connector.reviews.people import PersonError, person_key
from connector.reviews.report import FileReport, RowRejected
from connector.reviews.rows import RatingBounds, ReviewChecks, check_rating, drop_conflicts
from mappings.loader import format_location


def json_reviews(
    report: FileReport, *, source: str, bounds: RatingBounds | None = None
) -> Generator[Review, None, None]:
    """Stream the reviews of the JSON file at `report.path`; items without a source get
    `source`."""
    path = report.path
    report.layout = "json"
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if isinstance(data, dict) and isinstance(data.get("reviews"), list):
        data = data["reviews"]
    elif isinstance(data, dict) and "data" in data:
        data = [data]
    if not isinstance(data, list):
        raise InputError(
            f"{path}: expected a JSON list of reviews (each one a /webhooks/hr body)"
        )
    checks = ReviewChecks(report, None)
    for position, item in enumerate(data, start=1):
        try:
            review = _review(item, source)
            _check_ratings(review, bounds)
        except RowRejected as exc:
            report.reject(position, str(exc))
            continue
        checks.new_review_at(review.review_id, review.completed_at, position)
        ratings = drop_conflicts(list(review.ratings), _ratings_at(position), report,
                                 review.review_id)
        if len(ratings) != len(review.ratings):
            review = review.model_copy(update={"ratings": tuple(ratings)})
        yield review


def _ratings_at(position: int) -> Callable[[int], tuple[int, str]]:
    """Where an item's i-th rating is: the item's position, and ratings[i]."""
    return lambda i: (position, f"ratings[{i}]")


def _review(item: Any, source: str) -> Review:
    """One item as a `Review`: a /webhooks/hr body, or the older `Review` shape."""
    if isinstance(item, dict) and "data" in item:
        # The same parser as /webhooks/hr, loaded here only: a worker never imports it.
        from webhooks.decoding import PayloadError
        from webhooks.review_body import ReviewFieldMap, ThinReview, parse_review

        try:
            parsed = parse_review(item, ReviewFieldMap(), source=item.get("source") or source)
        except PayloadError as exc:
            more = f" (and {len(exc.errors) - 3} more)" if len(exc.errors) > 3 else ""
            raise RowRejected(
                "; ".join(f"{where}: {what}" for where, what in exc.errors[:3]) + more
            ) from None
        if isinstance(parsed, ThinReview):  # pragma: no cover - the default map is not thin
            raise RowRejected("a thin review hint, not a review")
        return parsed
    fields = item
    if isinstance(item, dict):
        fields = {"source": source, **item}
        employee = item.get("employee")
        if isinstance(employee, dict) and not employee.get("employee_id"):
            try:
                key, email = person_key(None, employee.get("email"))
            except PersonError as exc:
                raise RowRejected(f"employee: {exc}") from None
            fields["employee"] = {**employee, "employee_id": key, "email": email}
    try:
        return Review.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = format_location(tuple(first["loc"])) or "review"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RowRejected(f"{where}: {first['msg']}{more}") from None


def _check_ratings(review: Review, bounds: RatingBounds | None) -> None:
    """RowRejected naming each rating off its scale or with a label the mapping lacks."""
    problems = []
    for i, rating in enumerate(review.ratings):
        try:
            check_rating(rating.value, rating.label or "", rating.scale_min, rating.scale_max,
                         bounds)
        except RowRejected as exc:
            problems.append(f"ratings[{i}]: {exc}")
    if problems:
        raise RowRejected("; ".join(problems))
