"""What one CSV row of a review export says: header names, review-level cells, one rating.

`connector.reviewfiles` walks a file and groups rows into reviews; this module reads the cells
of a single row and says why a row is bad (`RowRejected`). Dates are ISO 8601; a date without a
time is midnight UTC; a time without a zone is refused, because guessing a zone would shift due
dates and cycles.

The long layout's hot path reads one rating per row. Exports repeat the same few ratings (a
skill, a level, a rater) endlessly, so a row's rating cells are remembered with the `Rating`
they make: equal cells give the very same (immutable) `Rating` object, which also lets the gap
finder remember what it worked out about it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from connector.models import Employee, Rating, Review
from mappings.schema import normalise_name, remember
from mappings.trusted import trusted_maker

#: Column names each field is known by in exports (matched ignoring case and punctuation).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "employee_id": (
        "employee_id", "employee id", "employee", "emp_id", "employee number", "staff id",
        "person id", "worker id",
    ),
    "email": ("email", "email address", "e-mail", "work email"),
    "first_name": ("first_name", "first name", "given name", "firstname"),
    "last_name": ("last_name", "last name", "surname", "family name"),
    "role": ("role", "job title", "position", "job role"),
    "manager_id": ("manager_id", "manager id", "manager"),
    "review_id": ("review_id", "review id", "review", "appraisal id", "evaluation id"),
    "cycle": ("cycle", "review cycle", "review period", "period"),
    "completed_at": (
        "completed_at", "completed", "completed on", "completion date", "review date",
        "date completed",
    ),
    "skill": ("skill", "kpi", "competency", "skill name", "competency name"),
    "rating": ("rating", "score", "rating value", "level"),
    "scale_min": ("scale_min", "scale min", "rating min", "min rating"),
    "scale_max": ("scale_max", "scale max", "rating max", "max rating"),
    "rater": ("rater", "rater type", "rated by", "reviewer type"),
    "comment": ("comment", "comments", "notes"),
}
_CANONICAL = {normalise_name(a): field for field, names in HEADER_ALIASES.items() for a in names}
REQUIRED_FIELDS = ("employee_id", "cycle", "completed_at")
HEAD_FIELDS = frozenset({
    "employee_id", "email", "first_name", "last_name", "role", "manager_id", "review_id",
    "cycle", "completed_at",
})
_employee = trusted_maker(Employee)
_review = trusted_maker(Review)
_rating = trusted_maker(Rating)
_RATING_FIELDS = ("skill", "rating", "scale_min", "scale_max", "rater", "comment")
UNREAD: Any = object()  # a memo miss (None is a remembered "not rated")


def canonical_header(name: str) -> str | None:
    """The field a column header stands for, or None when it is not a known header."""
    return _CANONICAL.get(normalise_name(name))


def detect_delimiter(header_line: str) -> str:
    """The most frequent of `,` `;` and tab in the header row (comma when none appears)."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class RowRejected(Exception):
    """This row is bad for the stated reason (recorded with its line; reading goes on)."""


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


class LongRatings:
    """Reads the rating of one long-layout row (the hot path: one call per row).

    `memo` maps a row's rating cells, as read, to the `Rating` they make (None: not rated);
    only rows that were read without a problem are remembered.
    """

    __slots__ = ("cells_of", "comment", "memo", "rater", "rating", "scale_max", "scale_min",
                 "skill")

    def __init__(self, columns: dict[str, int]) -> None:
        self.skill = columns["skill"]
        self.rating = columns["rating"]
        self.scale_min = columns.get("scale_min", -1)
        self.scale_max = columns.get("scale_max", -1)
        self.rater = columns.get("rater", -1)
        self.comment = columns.get("comment", -1)
        self.cells_of = operator.itemgetter(*[columns[f] for f in _RATING_FIELDS if f in columns])
        self.memo: dict[Any, Rating | None] = {}

    def __call__(self, row: list[str]) -> Rating | None:
        """The row's rating, None when its rating cell is blank; `row` is as wide as the
        header."""
        key = self.cells_of(row)
        rating = self.memo.get(key, UNREAD)
        if rating is UNREAD:
            rating = self.read(row)
            remember(self.memo, key, rating)
        return rating

    def read(self, row: list[str]) -> Rating | None:
        skill = row[self.skill].strip()
        if not skill:
            raise RowRejected("skill is empty")
        raw = row[self.rating].strip()
        if not raw:
            return None
        value = parse_number(raw)
        scale_min = _number_at(row, self.scale_min, "scale_min")
        scale_max = _number_at(row, self.scale_max, "scale_max")
        if scale_min is not None and scale_max is not None and scale_min >= scale_max:
            raise RowRejected(f"scale_min {scale_min:g} must be below scale_max {scale_max:g}")
        rater = row[self.rater].strip() if self.rater >= 0 else ""
        comment = row[self.comment].strip() if self.comment >= 0 else ""
        return _rating({
            "skill_key": skill, "skill_label": None, "value": value,
            "label": None if value is not None else raw, "scale_min": scale_min,
            "scale_max": scale_max, "rater": rater or "manager", "comment": comment or None,
        })


def _number_at(row: list[str], index: int, field: str) -> float | None:
    if index < 0:
        return None
    text = row[index].strip()
    if not text:
        return None
    value = parse_number(text)
    if value is None:
        raise RowRejected(f"{field} {text!r} is not a number")
    return value


def wide_rating(
    cells: list[str], columns: dict[str, int], skill: str, rating_index: int
) -> Rating | None:
    """The rating in a wide-layout row's skill column, None when the cell is blank."""
    if not skill:
        raise RowRejected("skill is empty")
    raw = cells[rating_index]
    if not raw:
        return None
    value = parse_number(raw)
    scale_min = _optional_number(cells, columns, "scale_min")
    scale_max = _optional_number(cells, columns, "scale_max")
    if scale_min is not None and scale_max is not None and scale_min >= scale_max:
        raise RowRejected(f"scale_min {scale_min:g} must be below scale_max {scale_max:g}")
    rater_index = columns.get("rater")
    return _rating({
        "skill_key": skill, "skill_label": None, "value": value,
        "label": None if value is not None else raw, "scale_min": scale_min,
        "scale_max": scale_max,
        "rater": (cells[rater_index] if rater_index is not None else "") or "manager",
        "comment": None,
    })


def _optional_number(cells: list[str], columns: dict[str, int], field: str) -> float | None:
    index = columns.get(field)
    if index is None or not cells[index]:
        return None
    value = parse_number(cells[index])
    if value is None:
        raise RowRejected(f"{field} {cells[index]!r} is not a number")
    return value


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
