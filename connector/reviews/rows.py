"""What one row of a review export says about its review: who, which review, when; values.

The CSV layouts walk a file and group rows into reviews; this module reads the review-level
cells of a single row (`HeadReader` → `ReviewHead`), checks that later rows of a review agree
with its first (`ReviewDraft`), builds the `Review`, and parses the values every layout shares.
Dates are ISO 8601; a date without a time is midnight UTC; a time without a zone is refused,
because guessing a zone would shift due dates and cycles. The checks every layout makes of a
finished read are here too: ratings against the mapping's scale and labels (`RatingBounds`),
two different ratings of one skill by one rater (`drop_conflicts`), and what a new review's
head warns about (`ReviewChecks`).
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
from connector.reviews.people import PersonError, looks_like_not_an_id, person_key
from connector.reviews.report import FileReport, RowRejected
from mappings.schema import normalise_name, remember
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
        try:
            key, address = person_key(employee_id, email)
        except PersonError as exc:
            raise RowRejected(str(exc)) from None
        if not cycle:
            raise RowRejected("cycle is empty")
        return ReviewHead(
            employee_id=key,
            review_id=review_id or f"{key}/{cycle}",
            cycle=cycle,
            completed_at=completed_at,
            email=address,
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


@dataclass(frozen=True, slots=True)
class RatingBounds:
    """What a rating may be, as the mapping says: on its scale, or one of its text labels.

    Given to a reader so a rating the planner could never use is a rejected row with its line,
    not a quiet "unmapped" later. Without bounds only a row's own scale is checked.
    """

    scale_min: float
    scale_max: float
    label_value: Callable[[str], float | None]


def check_rating(
    value: float | None, raw: str, scale_min: float | None, scale_max: float | None,
    bounds: RatingBounds | None,
) -> None:
    """RowRejected when the rating is out of its scale, or text that is no known label."""
    if value is None:
        if bounds is not None and bounds.label_value(raw) is None:
            raise RowRejected(
                f"rating {raw!r} is not a number, nor a label in the mapping's [labels]"
            )
        return
    own = scale_min is not None or scale_max is not None
    lo = scale_min if scale_min is not None else (bounds.scale_min if bounds else None)
    hi = scale_max if scale_max is not None else (bounds.scale_max if bounds else None)
    if lo is not None and hi is not None and not lo <= value <= hi:
        whose = "its scale" if own else "the mapping's scale"
        raise RowRejected(
            f"rating {value:g} is outside {whose} {lo:g}-{hi:g}"
            + ("" if own else " (add Scale Min/Scale Max columns for an export on another scale)")
        )


def drop_conflicts(
    ratings: list[Rating], place: Callable[[int], tuple[int, str]], report: FileReport,
    review_id: str,
) -> list[Rating]:
    """The ratings without those that contradict another of the same skill and rater.

    Both of two different ratings go (neither can be trusted to be the one meant), and the
    conflict is rejected at the later one's place naming both; an identical repeat is dropped
    quietly. `place(i)` is (row number, where in words) of `ratings[i]`.
    """
    if len(ratings) < 2:
        return ratings
    # The usual case, once per review on the hot path: no skill twice. Exports repeat the same
    # skill list review after review, so the answer is remembered per list of names.
    names = tuple([r.skill_key for r in ratings])
    distinct = _DISTINCT_SKILLS.get(names)
    if distinct is None:
        distinct = len(set(map(normalise_name, names))) == len(names)
        remember(_DISTINCT_SKILLS, names, distinct)
    if distinct:
        return ratings
    keys = [_conflict_key(r.skill_key, r.rater) for r in ratings]
    if len(set(keys)) == len(keys):  # a skill rated by several raters
        return ratings
    first: dict[tuple[str, str], int] = {}
    dropped: set[int] = set()
    for i, key in enumerate(keys):
        j = first.setdefault(key, i)
        if j == i:
            continue
        earlier, later = ratings[j], ratings[i]
        dropped.add(i)
        if _said(earlier) == _said(later):
            continue
        dropped.add(j)
        (row, here), (_, there) = place(i), place(j)
        report.reject(row, (
            f"review {review_id!r}: {later.skill_key!r} rated by {later.rater} is "
            f"{_shown(later)} at {here} but {_shown(earlier)} at {there}; keep one of the two"
        ))
    return [r for i, r in enumerate(ratings) if i not in dropped]


#: A review's skill names, as read → whether they are distinct once normalised (bounded).
_DISTINCT_SKILLS: dict[tuple[str, ...], bool] = {}


@lru_cache(maxsize=4096)
def _conflict_key(skill_key: str, rater: str) -> tuple[str, str]:
    """Ratings of one skill by one rater, as the planner matches them (names normalised)."""
    return normalise_name(skill_key), normalise_name(rater)


def _said(rating: Rating) -> tuple[object, ...]:
    return rating.value, rating.label, rating.scale_min, rating.scale_max


def _shown(rating: Rating) -> str:
    return f"{rating.value:g}" if rating.value is not None else repr(rating.label)


class ReviewChecks:
    """What each new review's head warns about, once per file where once is enough.

    A completion date in the future is warned per review (HR sometimes exports drafts). An id
    column whose values look like emails or names is warned once, from the first reviews.
    """

    __slots__ = ("id_column", "now", "report", "samples")

    def __init__(self, report: FileReport, id_column: str | None) -> None:
        self.report = report
        self.id_column = id_column
        self.now = datetime.now(UTC)
        self.samples = 50 if id_column else 0

    def new_review(self, head: ReviewHead, line: int) -> None:
        if head.when is not None:
            self.new_review_at(head.review_id, head.when, line)
        if self.samples:
            self.samples -= 1
            looks = looks_like_not_an_id(head.employee_id)
            if looks:
                self.samples = 0
                self.report.warn(0, (
                    f"column {self.id_column!r} is read as the employee id but holds what look "
                    f"like {looks} (line {line}: {head.employee_id!r}); if it is not the HR "
                    "id, rename it (an email column is matched by Email, Work Email, ...)"
                ))


    def new_review_at(self, review_id: str, when: datetime, line: int) -> None:
        """Warn when the review is dated after now (a draft, or a wrong year)."""
        if when > self.now:
            self.report.warn(line, f"review {review_id!r}: completed_at {when:%Y-%m-%d %H:%M} "
                                   "UTC is in the future; check the date (the review is kept)")


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
