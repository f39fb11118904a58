"""A CSV review export: its header, its delimiter, its layout (long or wide), its read errors.

The layout is told apart by the header: a skill column ("Skill", "KPI", "Competency") and a
rating column ("Rating", "Score") make it long (`csv_long`), anything else is wide
(`csv_wide`). The delimiter (`,`, `;` or tab) is detected from the header; a UTF-8 byte-order
mark is accepted. Problems that make the whole file unreadable (not UTF-8, no usable header)
raise `InputError`; bad rows are only reported. A person is named by an employee id column, an
email column, or both (see `connector.reviews.people`); a column the long layout does not know
is listed in the report's `ignored_columns`, so the plan can warn about it.
"""

from __future__ import annotations

import csv
from collections.abc import Generator

from connector.errors import InputError
from connector.models import Review
from connector.reviews.csv_long import long_reviews
from connector.reviews.csv_wide import SkillMatcher, skill_columns, wide_reviews
from connector.reviews.report import FileReport
from connector.reviews.rows import RatingBounds, ReviewChecks
from mappings.schema import normalise_name

#: Column names each field is known by in exports (matched ignoring case and punctuation).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "employee_id": (
        "employee_id", "employee id", "employee", "emp_id", "employee number", "staff id",
        "person id", "worker id",
    ),
    "email": (
        "email", "email address", "e-mail", "work email", "employee email", "work email address",
        "business email", "user email", "staff email", "person email", "primary email",
        "email id", "mail",
    ),
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
REQUIRED_FIELDS = ("cycle", "completed_at")
#: A person is named by either column (or both).
PERSON_FIELDS = ("employee_id", "email")


def canonical_header(name: str) -> str | None:
    """The field a column header stands for, or None when it is not a known header."""
    return _CANONICAL.get(normalise_name(name))


def detect_delimiter(header_line: str) -> str:
    """The most frequent of `,` `;` and tab in the header row (comma when none appears)."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_columns(header: list[str], report: FileReport) -> dict[str, int]:
    """Known field → column index; InputError for a required field missing or named twice."""
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        field = canonical_header(name)
        if field is None:
            continue
        if field in columns:
            raise InputError(
                f"{report.path}: columns {header[columns[field]]!r} and {name!r} both mean "
                f"{field}; keep one"
            )
        columns[field] = index
    missing = [f for f in REQUIRED_FIELDS if f not in columns]
    if not any(f in columns for f in PERSON_FIELDS):
        missing.insert(0, " or ".join(PERSON_FIELDS))
    if missing:
        raise InputError(
            f"{report.path}: missing column(s) {', '.join(missing)} "
            f"(header found: {', '.join(header)})"
        )
    return columns


def csv_reviews(
    report: FileReport, *, source: str, skill_matcher: SkillMatcher | None,
    bounds: RatingBounds | None = None,
) -> Generator[Review, None, None]:
    """Stream the reviews of the CSV file at `report.path`, recording what the read finds."""
    path = report.path
    reader = None
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header_line = fh.readline()
            if not header_line.strip():
                raise InputError(f"{path}: the file is empty (a header row is needed)")
            delimiter = detect_delimiter(header_line)
            fh.seek(0)  # the reader reads the header again: its lines then count from 1
            reader = csv.reader(fh, delimiter=delimiter)
            header = [cell.strip() for cell in next(reader)]
            columns = header_columns(header, report)
            id_column = header[columns["employee_id"]] if "employee_id" in columns else None
            checks = ReviewChecks(report, id_column)
            if "skill" in columns and "rating" in columns:
                report.layout = "long"
                known = set(columns.values())
                report.ignored_columns.extend(
                    name for i, name in enumerate(header) if i not in known and name
                )
                yield from long_reviews(reader, columns, len(header), source=source,
                                        report=report, bounds=bounds, checks=checks)
            else:
                report.layout = "wide"
                skills = skill_columns(header, columns, skill_matcher, report)
                yield from wide_reviews(reader, columns, skills, len(header), source=source,
                                        report=report, bounds=bounds, checks=checks)
    except UnicodeDecodeError:
        line = reader.line_num if reader is not None else 0
        raise InputError(
            f"{path}: not UTF-8 text after line {line}; save the file as UTF-8"
        ) from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 0
        raise InputError(f"{path}: unreadable CSV after line {line}: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
