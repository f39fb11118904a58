"""Read finished reviews from the files HR tools export: CSV (long or wide) and JSON.

Files are streamed: a `ReviewFile` yields one `Review` at a time, so a file of any size is
planned in constant memory. A bad row never stops the file: it is recorded in `errors` with its
1-based line number and the reason, and the good rows go on. Only problems that make the whole
file unreadable (missing, not UTF-8, no usable header) raise `InputError`.

CSV layouts, told apart by the header:
- long: one row per rating, with a skill column ("Skill", "KPI", "Competency") and a rating
  column ("Rating", "Score"). Rows of one review must be consecutive (as every export we know
  writes them); a review whose rows come back after another review's is reported, not merged,
  so that memory stays flat.
- wide: one row per review, one column per skill. A column that is not a known header is a
  skill column; given a `skill_matcher`, columns it does not recognise are ignored instead
  (and listed in `ignored_columns`) so "Department" or "Location" do not show up as skills.

Delimiter (`,`, `;` or tab) is detected from the header; a UTF-8 byte-order mark is accepted.
Dates are ISO 8601; a date without a time is midnight UTC; a time without a zone is refused,
because guessing a zone would shift due dates and cycles.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import operator
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Literal

from pydantic import ValidationError

from connector.errors import InputError
from connector.models import Employee, Rating, Review
from mappings.loader import format_location
from mappings.schema import normalise_name, trusted

FileFormat = Literal["auto", "csv", "json"]
SkillMatcher = Callable[[str], bool]

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
_REQUIRED = ("employee_id", "cycle", "completed_at")
_HEAD_FIELDS = frozenset({
    "employee_id", "email", "first_name", "last_name", "role", "manager_id", "review_id",
    "cycle", "completed_at",
})


def canonical_header(name: str) -> str | None:
    """The field a column header stands for, or None when it is not a known header."""
    return _CANONICAL.get(normalise_name(name))


@dataclass(frozen=True)
class RowError:
    """A rejected row: `row_number` is the 1-based line in a CSV, the item position in JSON."""

    path: str
    row_number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.row_number}: {self.reason}"


class _RowRejected(Exception):
    """Internal: this row is bad for the stated reason."""


def read_reviews(
    path: str | Path,
    *,
    source: str = "csv",
    file_format: FileFormat = "auto",
    skill_matcher: SkillMatcher | None = None,
) -> ReviewFile:
    """Stream the reviews in `path`. `source` is recorded on each review (the review source).

    `file_format="auto"` reads `.json` files as JSON and anything else as CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: review file not found")
    if file_format == "auto":
        file_format = "json" if path.suffix.lower() == ".json" else "csv"
    return ReviewFile(path, source=source, file_format=file_format, skill_matcher=skill_matcher)


class ReviewFile(Iterator[Review]):
    """An iterator over one file's reviews; `errors` fills up as rows are read."""

    def __init__(
        self,
        path: Path,
        *,
        source: str,
        file_format: FileFormat,
        skill_matcher: SkillMatcher | None,
    ) -> None:
        self.path = path
        self.source = source
        self.skill_matcher = skill_matcher
        self.errors: list[RowError] = []
        self.ignored_columns: list[str] = []
        self.layout: str | None = None  # "long", "wide" or "json" once reading has begun
        self.reviews_read = 0
        reader = self._json_reviews() if file_format == "json" else self._csv_reviews()
        self._reviews = reader

    def __iter__(self) -> ReviewFile:
        return self

    def __next__(self) -> Review:
        review = next(self._reviews)
        self.reviews_read += 1
        return review

    def close(self) -> None:
        """Stop early and release the file (also done when the iterator is exhausted)."""
        self._reviews.close()

    def __enter__(self) -> ReviewFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _reject(self, row_number: int, reason: str) -> None:
        self.errors.append(RowError(str(self.path), row_number, reason))

    # JSON

    def _json_reviews(self) -> Generator[Review, None, None]:
        self.layout = "json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}: not UTF-8 text (byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
            ) from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror}") from None
        if isinstance(data, dict) and isinstance(data.get("reviews"), list):
            data = data["reviews"]
        if not isinstance(data, list):
            raise InputError(f"{self.path}: expected a JSON list of reviews")
        for position, item in enumerate(data, start=1):
            fields = item
            if isinstance(item, dict) and "source" not in item:
                fields = {**item, "source": self.source}
            try:
                yield Review.model_validate(fields)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = format_location(tuple(first["loc"])) or "review"
                more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
                self._reject(position, f"{where}: {first['msg']}{more}")

    # CSV

    def _csv_reviews(self) -> Generator[Review, None, None]:
        reader = None
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as fh:
                header_line = fh.readline()
                if not header_line.strip():
                    raise InputError(f"{self.path}: the file is empty (a header row is needed)")
                delimiter = detect_delimiter(header_line)
                reader = csv.reader(itertools.chain([header_line], fh), delimiter=delimiter)
                header = [cell.strip() for cell in next(reader)]
                columns = self._columns(header)
                rows = ((reader.line_num, row) for row in reader)
                if "skill" in columns and "rating" in columns:
                    self.layout = "long"
                    yield from self._long(rows, columns, len(header))
                else:
                    self.layout = "wide"
                    skills = self._skill_columns(header, columns)
                    yield from self._wide(rows, columns, skills, len(header))
        except UnicodeDecodeError:
            line = reader.line_num if reader is not None else 0
            raise InputError(
                f"{self.path}: not UTF-8 text after line {line}; save the file as UTF-8"
            ) from None
        except csv.Error as exc:
            line = reader.line_num if reader is not None else 0
            raise InputError(f"{self.path}: unreadable CSV after line {line}: {exc}") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror}") from None

    def _columns(self, header: list[str]) -> dict[str, int]:
        columns: dict[str, int] = {}
        for index, name in enumerate(header):
            field = canonical_header(name)
            if field is None:
                continue
            if field in columns:
                raise InputError(
                    f"{self.path}: columns {header[columns[field]]!r} and {name!r} both mean "
                    f"{field}; keep one"
                )
            columns[field] = index
        missing = [f for f in _REQUIRED if f not in columns]
        if missing:
            raise InputError(
                f"{self.path}: missing column(s) {', '.join(missing)} "
                f"(header found: {', '.join(header)})"
            )
        return columns

    def _skill_columns(self, header: list[str], columns: dict[str, int]) -> list[tuple[int, str]]:
        known = set(columns.values())
        skills: list[tuple[int, str]] = []
        for index, name in enumerate(header):
            if index in known or not name:
                continue
            if self.skill_matcher is None or self.skill_matcher(name):
                skills.append((index, name))
            else:
                self.ignored_columns.append(name)
        if not skills:
            raise InputError(
                f"{self.path}: no skill columns: give one column per skill (wide layout) or "
                "a Skill and a Rating column (long layout)"
            )
        return skills

    def _long(
        self, rows: Iterator[tuple[int, list[str]]], columns: dict[str, int], width: int
    ) -> Iterator[Review]:
        finished: dict[str, int] = {}  # review id → its last line, to catch split reviews
        draft: _Draft | None = None
        head_of = operator.itemgetter(*[i for f, i in columns.items() if f in _HEAD_FIELDS])
        rating_of = _LongRating(columns)
        line = 0
        for line, row in rows:
            try:
                if draft is not None and len(row) == width and head_of(row) == draft.raw_head:
                    # Fast path: another rating of the review on the row before, same cells.
                    rating = rating_of(row)
                    if rating is not None:
                        draft.ratings.append(rating)
                    draft.last_line = line
                    continue
                cells = _cells(row, width)
                if cells is None:
                    continue
                head = _ReviewHead.from_row(cells, columns)
                if draft is not None and head.review_id != draft.head.review_id:
                    finished[draft.head.review_id] = draft.last_line
                    yield draft.build(self.source)
                    draft = None
                if draft is None:
                    if head.review_id in finished:
                        raise _RowRejected(
                            f"review {head.review_id!r}: its rows must be consecutive "
                            f"(earlier rows end at line {finished[head.review_id]})"
                        )
                    draft = _Draft(head.parsed(), line)
                    if len(row) == width:
                        draft.raw_head = head_of(row)
                else:
                    draft.check_same(head)
                rating = rating_of(cells)
                if rating is not None:
                    draft.ratings.append(rating)
                draft.last_line = line
            except _RowRejected as exc:
                self._reject(line, str(exc))
        if draft is not None:
            yield draft.build(self.source)

    def _wide(
        self,
        rows: Iterator[tuple[int, list[str]]],
        columns: dict[str, int],
        skills: list[tuple[int, str]],
        width: int,
    ) -> Iterator[Review]:
        seen: dict[str, int] = {}
        for line, row in rows:
            try:
                cells = _cells(row, width)
                if cells is None:
                    continue
                head = _ReviewHead.from_row(cells, columns)
                if head.review_id in seen:
                    raise _RowRejected(
                        f"review {head.review_id!r} already appeared on line {seen[head.review_id]}"
                    )
                draft = _Draft(head.parsed(), line)
                for index, name in skills:
                    rating = _rating(cells, columns, name, rating_index=index)
                    if rating is not None:
                        draft.ratings.append(rating)
                seen[head.review_id] = line
                yield draft.build(self.source)
            except _RowRejected as exc:
                self._reject(line, str(exc))


def detect_delimiter(header_line: str) -> str:
    """The most frequent of `,` `;` and tab in the header row (comma when none appears)."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _cells(row: list[str], width: int) -> list[str] | None:
    """Stripped cells padded to the header's width; None for a blank line."""
    if len(row) > width:
        if any(cell.strip() for cell in row[width:]):
            raise _RowRejected(f"{len(row)} cells but the header has {width} columns")
        row = row[:width]
    cells = [cell.strip() for cell in row]
    if not any(cells):
        return None
    if len(cells) < width:
        cells.extend([""] * (width - len(cells)))
    return cells


@dataclass
class _ReviewHead:
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

    @classmethod
    def from_row(cls, cells: list[str], columns: dict[str, int]) -> _ReviewHead:
        def cell(field: str) -> str:
            index = columns.get(field)
            return cells[index] if index is not None else ""

        employee_id, cycle = cell("employee_id"), cell("cycle")
        if not employee_id:
            raise _RowRejected("employee_id is empty")
        if not cycle:
            raise _RowRejected("cycle is empty")
        return cls(
            employee_id=employee_id,
            review_id=cell("review_id") or f"{employee_id}/{cycle}",
            cycle=cycle,
            completed_at=cell("completed_at"),
            email=cell("email") or None,
            first_name=cell("first_name") or None,
            last_name=cell("last_name") or None,
            role=cell("role") or None,
            manager_id=cell("manager_id") or None,
        )

    def parsed(self) -> _ReviewHead:
        try:
            self.when = parse_when(self.completed_at)
        except ValueError as exc:
            raise _RowRejected(f"completed_at {self.completed_at!r}: {exc}") from None
        return self


@dataclass
class _Draft:
    head: _ReviewHead
    first_line: int
    last_line: int = 0
    ratings: list[Rating] = dataclass_field(default_factory=list)
    raw_head: object = None  # the review-level cells of its first row, as read

    def __post_init__(self) -> None:
        self.last_line = self.first_line

    def check_same(self, other: _ReviewHead) -> None:
        """A later row of the same review must agree on who and when."""
        mine = self.head
        for field in ("employee_id", "cycle"):
            if getattr(other, field) != getattr(mine, field):
                raise _RowRejected(
                    f"review {mine.review_id!r}: {field} {getattr(other, field)!r} differs from "
                    f"{getattr(mine, field)!r} on line {self.first_line}"
                )
        if other.completed_at != mine.completed_at and other.parsed().when != mine.when:
            raise _RowRejected(
                f"review {mine.review_id!r}: completed_at {other.completed_at!r} differs from "
                f"{mine.completed_at!r} on line {self.first_line}"
            )
        for field in ("email", "first_name", "last_name", "role", "manager_id"):
            if getattr(mine, field) is None and getattr(other, field) is not None:
                setattr(mine, field, getattr(other, field))

    def build(self, source: str) -> Review:
        head = self.head
        if head.when is None:  # parsed() ran when the draft was made
            raise AssertionError("review head was not parsed")
        # Every part was checked as it was read; skip a second validation pass.
        employee = trusted(
            Employee, employee_id=head.employee_id, email=head.email, first_name=head.first_name,
            last_name=head.last_name, role=head.role, manager_id=head.manager_id, active=True,
        )
        return trusted(
            Review,
            review_id=head.review_id, source=source, cycle=head.cycle, employee=employee,
            completed_at=head.when, ratings=tuple(self.ratings),
        )


class _LongRating:
    """Reads the rating of one long-layout row (the hot path: one call per row)."""

    def __init__(self, columns: dict[str, int]) -> None:
        self.skill = columns["skill"]
        self.rating = columns["rating"]
        self.scale_min = columns.get("scale_min", -1)
        self.scale_max = columns.get("scale_max", -1)
        self.rater = columns.get("rater", -1)
        self.comment = columns.get("comment", -1)

    def __call__(self, row: list[str]) -> Rating | None:
        skill = row[self.skill].strip()
        if not skill:
            raise _RowRejected("skill is empty")
        raw = row[self.rating].strip()
        if not raw:
            return None
        value = parse_number(raw)
        scale_min = _number_at(row, self.scale_min, "scale_min")
        scale_max = _number_at(row, self.scale_max, "scale_max")
        if scale_min is not None and scale_max is not None and scale_min >= scale_max:
            raise _RowRejected(f"scale_min {scale_min:g} must be below scale_max {scale_max:g}")
        rater = row[self.rater].strip() if self.rater >= 0 else ""
        comment = row[self.comment].strip() if self.comment >= 0 else ""
        return trusted(
            Rating, skill_key=skill, skill_label=None, value=value,
            label=None if value is not None else raw, scale_min=scale_min,
            scale_max=scale_max, rater=rater or "manager", comment=comment or None,
        )


def _number_at(row: list[str], index: int, field: str) -> float | None:
    if index < 0:
        return None
    text = row[index].strip()
    if not text:
        return None
    value = parse_number(text)
    if value is None:
        raise _RowRejected(f"{field} {text!r} is not a number")
    return value


def _rating(
    cells: list[str], columns: dict[str, int], skill: str, *, rating_index: int | None = None
) -> Rating | None:
    """The rating in a row, None when the cell is blank (not rated)."""
    if not skill:
        raise _RowRejected("skill is empty")
    raw = cells[rating_index if rating_index is not None else columns["rating"]]
    if not raw:
        return None
    value = parse_number(raw)
    scale_min = _optional_number(cells, columns, "scale_min")
    scale_max = _optional_number(cells, columns, "scale_max")
    if scale_min is not None and scale_max is not None and scale_min >= scale_max:
        raise _RowRejected(f"scale_min {scale_min:g} must be below scale_max {scale_max:g}")
    rater_index = columns.get("rater")
    comment_index = columns.get("comment") if rating_index is None else None
    return trusted(
        Rating,
        skill_key=skill,
        skill_label=None,
        value=value,
        label=None if value is not None else raw,
        scale_min=scale_min,
        scale_max=scale_max,
        rater=(cells[rater_index] if rater_index is not None else "") or "manager",
        comment=(cells[comment_index] or None) if comment_index is not None else None,
    )


def _optional_number(cells: list[str], columns: dict[str, int], field: str) -> float | None:
    index = columns.get(field)
    if index is None or not cells[index]:
        return None
    value = parse_number(cells[index])
    if value is None:
        raise _RowRejected(f"{field} {cells[index]!r} is not a number")
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


def describe(errors: list[RowError], limit: int = 20) -> list[str]:
    """Error lines for people: the first `limit`, then how many more."""
    lines = [str(e) for e in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more rejected rows")
    return lines
