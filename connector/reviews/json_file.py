"""A JSON review export: a list of reviews (or `{"reviews": [...]}`) in the `Review` shape.

The file is parsed whole (JSON has no row boundary to stream on), then each item is validated
on its own: a bad item is reported with its 1-based position and the first problem, and the
good ones go on.
"""

from __future__ import annotations

import json
from collections.abc import Generator

from pydantic import ValidationError

from connector.errors import InputError
from connector.models import Review
from connector.reviews.report import FileReport
from mappings.loader import format_location


def json_reviews(report: FileReport, *, source: str) -> Generator[Review, None, None]:
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
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of reviews")
    for position, item in enumerate(data, start=1):
        fields = item
        if isinstance(item, dict) and "source" not in item:
            fields = {**item, "source": source}
        try:
            yield Review.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = format_location(tuple(first["loc"])) or "review"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            report.reject(position, f"{where}: {first['msg']}{more}")
