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
What a single row means (header names, dates, numbers, one rating) is `connector.reviewrows`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

from pydantic import ValidationError

from connector.errors import InputError
from connector.models import Rating, Review
from connector.reviewrows import (
    HEADER_ALIASES,
    REQUIRED_FIELDS,
    UNREAD,
    HeadReader,
    LongRatings,
    ReviewDraft,
    RowRejected,
    canonical_header,
    detect_delimiter,
    head_getter,
    padded_cells,
    parse_number,
    parse_when,
    wide_rating,
)
from mappings.loader import format_location
from mappings.schema import remember

__all__ = [
    "HEADER_ALIASES", "FileFormat", "ReviewFile", "RowError", "SkillMatcher", "canonical_header",
    "describe", "detect_delimiter", "parse_number", "parse_when", "read_reviews",
]

FileFormat = Literal["auto", "csv", "json"]
SkillMatcher = Callable[[str], bool]


@dataclass(frozen=True)
class RowError:
    """A rejected row: `row_number` is the 1-based line in a CSV, the item position in JSON."""

    path: str
    row_number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.row_number}: {self.reason}"


class _CsvRows(Protocol):
    """A `csv.reader`: rows, and the line the last one ended on."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...


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
                fh.seek(0)  # the reader reads the header again: its lines then count from 1
                reader = csv.reader(fh, delimiter=delimiter)
                header = [cell.strip() for cell in next(reader)]
                columns = self._columns(header)
                if "skill" in columns and "rating" in columns:
                    self.layout = "long"
                    yield from self._long(reader, columns, len(header))
                else:
                    self.layout = "wide"
                    skills = self._skill_columns(header, columns)
                    yield from self._wide(reader, columns, skills, len(header))
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
        missing = [f for f in REQUIRED_FIELDS if f not in columns]
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

    def _long(self, rows: _CsvRows, columns: dict[str, int], width: int) -> Iterator[Review]:
        finished: dict[str, int] = {}  # review id → its last line, to catch split reviews
        draft: ReviewDraft | None = None
        head_of = head_getter(columns)
        read_head = HeadReader(columns)
        rating_of = LongRatings(columns)
        cells_of, memo = rating_of.cells_of, rating_of.memo
        # The draft's state the hot path touches, kept in locals: the review-level cells of its
        # first row as read (None: no fast path), its ratings, the line it last grew on.
        raw_head: object = None
        ratings: list[Rating] = []
        last_line = line = 0
        for row in rows:
            line = rows.line_num
            try:
                if len(row) == width and head_of(row) == raw_head:
                    # Fast path: another rating of the review on the row before, same cells.
                    key = cells_of(row)
                    rating = memo.get(key, UNREAD)
                    if rating is UNREAD:
                        rating = rating_of.read(row)
                        remember(memo, key, rating)
                    if rating is not None:
                        ratings.append(rating)
                    last_line = line
                    continue
                cells = padded_cells(row, width)
                if cells is None:
                    continue
                head = read_head(cells)
                if draft is not None and head.review_id != draft.head.review_id:
                    finished[draft.head.review_id] = last_line
                    yield draft.build(self.source, ratings)
                    draft, raw_head = None, None
                if draft is None:
                    if head.review_id in finished:
                        raise RowRejected(
                            f"review {head.review_id!r}: its rows must be consecutive "
                            f"(earlier rows end at line {finished[head.review_id]})"
                        )
                    draft, ratings, last_line = ReviewDraft(head.parsed(), line), [], line
                    if len(row) == width:
                        raw_head = head_of(row)
                else:
                    draft.check_same(head)
                rating = rating_of(cells)
                if rating is not None:
                    ratings.append(rating)
                last_line = line
            except RowRejected as exc:
                self._reject(line, str(exc))
        if draft is not None:
            yield draft.build(self.source, ratings)

    def _wide(
        self,
        rows: _CsvRows,
        columns: dict[str, int],
        skills: list[tuple[int, str]],
        width: int,
    ) -> Iterator[Review]:
        seen: dict[str, int] = {}
        read_head = HeadReader(columns)
        for row in rows:
            line = rows.line_num
            try:
                cells = padded_cells(row, width)
                if cells is None:
                    continue
                head = read_head(cells)
                if head.review_id in seen:
                    raise RowRejected(
                        f"review {head.review_id!r} already appeared on line {seen[head.review_id]}"
                    )
                draft = ReviewDraft(head.parsed(), line)
                ratings = []
                for index, name in skills:
                    rating = wide_rating(cells, columns, name, index)
                    if rating is not None:
                        ratings.append(rating)
                seen[head.review_id] = line
                yield draft.build(self.source, ratings)
            except RowRejected as exc:
                self._reject(line, str(exc))


def describe(errors: list[RowError], limit: int = 20) -> list[str]:
    """Error lines for people: the first `limit`, then how many more."""
    lines = [str(e) for e in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more rejected rows")
    return lines
