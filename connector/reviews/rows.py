"""What one row of a review export says about its review: who, which review, when; values.

The CSV layouts walk a file and group rows into reviews; this module reads the review-level
cells of a single row (`HeadReader` → `ReviewHead`), checks that later rows of a review agree
with its first (`ReviewDraft`), builds the `Review`, and parses the values every layout shares.
Dates are ISO 8601; a date without a time is midnight UTC; a time without a zone is refused,
because guessing a zone would shift due dates and cycles.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Protocol

from connector.models import Employee, Rating, Review
from connector.reviews.report import RowRejected
from mappings.trusted import trusted_maker

HEAD_FIELDS = frozenset({
    "employee_id", "email", "first_name", "last_name", "role", "manager_id", "review_id",
    "cycle", "completed_at",
})
_employee = trusted_maker(Employee)
_review = trusted_maker(Review)
#: Builds a `Rating` from a dict of every field, checked by the caller (see mappings.trusted).
trusted_rating = trusted_maker(Rating)


class CsvRows(Protocol):
    """A `csv.reader`: rows, and the line the last one ended on."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...


def padded_cells(row: list[str], width: int) -> list[str] | None:
    """Stripped cells padded to the header's width; None for a blank line."""
    if len(row) > width:
        if any(cell.strip() for cell in row[width:]):
            raise RowRejected(f"{len(row)} cells but the header has {width} columns")
        row = row[:width]
    cells = [cell.strip() for cell in row]
    if not any(cells):
        return None
    if len(cells) < width:
        cells.extend([""] * (width - len(cells)))
    return cells


def head_getter(columns: dict[str, int]) -> Callable[[list[str]], object]:
    """The review-level cells of a row, as read: rows of one review repeat them."""
    return operator.itemgetter(*[i for f, i in columns.items() if f in HEAD_FIELDS])


@dataclass(slots=True)
class ReviewHead:
    """The review-level cells of a row (who, which review, when), as written."""

    employee_id: str
    review_id: str
    cycle: str
    completed_at: str
    email: str | None
    first_name: str | None
    last_name: str | None
    role: str | None
    manager_id: str | None
    when: datetime | None = None

    def parsed(self) -> ReviewHead:
        try:
            self.when = parse_when(self.completed_at)
        except ValueError as exc:
            raise RowRejected(f"completed_at {self.completed_at!r}: {exc}") from None
        return self


class HeadReader:
    """Reads the review-level cells of a stripped, padded row into a `ReviewHead`."""

    __slots__ = ("columns",)

    def __init__(self, columns: dict[str, int]) -> None:
        # -1: the file has no such column, and the field reads as empty.
        self.columns = tuple(
            columns.get(field, -1) for field in (
                "employee_id", "review_id", "cycle", "completed_at", "email", "first_name",
                "last_name", "role", "manager_id",
            )
        )

    def __call__(self, cells: list[str]) -> ReviewHead:
        at = [cells[index] if index >= 0 else "" for index in self.columns]
        employee_id, review_id, cycle, completed_at, email, first, last, role, manager = at
        if not employee_id:
            raise RowRejected("employee_id is empty")
        if not cycle:
            raise RowRejected("cycle is empty")
        return ReviewHead(
            employee_id=employee_id,
            review_id=review_id or f"{employee_id}/{cycle}",
            cycle=cycle,
            completed_at=completed_at,
            email=email or None,
            first_name=first or None,
            last_name=last or None,
            role=role or None,
            manager_id=manager or None,
        )


@dataclass(slots=True)
class ReviewDraft:
    """A review being read: its head (filled in by later rows) and the line it starts on."""

    head: ReviewHead
    first_line: int

    def check_same(self, other: ReviewHead) -> None:
        """A later row of the same review must agree on who and when."""
        mine = self.head
        for field in ("employee_id", "cycle"):
            if getattr(other, field) != getattr(mine, field):
                raise RowRejected(
                    f"review {mine.review_id!r}: {field} {getattr(other, field)!r} differs from "
                    f"{getattr(mine, field)!r} on line {self.first_line}"
                )
        if other.completed_at != mine.completed_at and other.parsed().when != mine.when:
            raise RowRejected(
                f"review {mine.review_id!r}: completed_at {other.completed_at!r} differs from "
                f"{mine.completed_at!r} on line {self.first_line}"
            )
        for field in ("email", "first_name", "last_name", "role", "manager_id"):
            if getattr(mine, field) is None and getattr(other, field) is not None:
                setattr(mine, field, getattr(other, field))

    def build(self, source: str, ratings: list[Rating]) -> Review:
        head = self.head
        if head.when is None:  # parsed() ran when the draft was made
            raise AssertionError("review head was not parsed")
        # Every part was checked as it was read; skip a second validation pass.
        employee = _employee({
            "employee_id": head.employee_id, "email": head.email,
            "first_name": head.first_name, "last_name": head.last_name, "role": head.role,
            "manager_id": head.manager_id, "active": True,
        })
        return _review({
            "review_id": head.review_id, "source": source, "cycle": head.cycle,
            "employee": employee, "completed_at": head.when, "ratings": tuple(ratings),
        })


@lru_cache(maxsize=1024)
def parse_number(text: str) -> float | None:
    """'3', '3.5' or '3,5' → a float; anything else (a text label) → None."""
    try:
        value = float(text)
    except ValueError:
        if "," not in text or "." in text:
            return None
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            return None
    return value if math.isfinite(value) else None


@lru_cache(maxsize=4096)
def parse_when(text: str) -> datetime:
    """ISO 8601 → an aware UTC datetime; a date alone is midnight UTC."""
    if not text:
        raise ValueError("empty; expected a date like 2026-03-01")
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError("expected an ISO 8601 date like 2026-03-01") from None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected ISO 8601, like 2026-03-01 or 2026-03-01T10:00:00Z") from None
    if when.tzinfo is None:
        raise ValueError("a time needs a zone (2026-03-01T10:00:00Z); or give the date only")
    return when.astimezone(UTC)
