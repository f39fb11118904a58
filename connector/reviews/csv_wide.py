"""The wide CSV layout: one row per review, one column per skill.

A column that is not a known header is a skill column; given a `skill_matcher`, columns it does
not recognise are ignored instead (and listed in the report's `ignored_columns`) so
"Department" or "Location" do not show up as skills.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from connector.errors import InputError
from connector.models import Rating, Review
from connector.reviews.report import FileReport, RowRejected
from connector.reviews.rows import (
    CsvRows,
    HeadReader,
    RatingBounds,
    ReviewChecks,
    ReviewDraft,
    check_rating,
    drop_conflicts,
    padded_cells,
    parse_number,
    trusted_rating,
)

SkillMatcher = Callable[[str], bool]


def skill_columns(
    header: list[str], columns: dict[str, int], skill_matcher: SkillMatcher | None,
    report: FileReport,
) -> list[tuple[int, str]]:
    """(index, name) of each skill column; InputError when there is none."""
    known = set(columns.values())
    skills: list[tuple[int, str]] = []
    for index, name in enumerate(header):
        if index in known or not name:
            continue
        if skill_matcher is None or skill_matcher(name):
            skills.append((index, name))
        else:
            report.ignored_columns.append(name)
    if not skills:
        raise InputError(
            f"{report.path}: no skill columns: give one column per skill (wide layout) or "
            "a Skill and a Rating column (long layout)"
        )
    return skills


def wide_reviews(
    rows: CsvRows,
    columns: dict[str, int],
    skills: list[tuple[int, str]],
    width: int,
    *,
    source: str,
    report: FileReport,
    bounds: RatingBounds | None = None,
    checks: ReviewChecks | None = None,
) -> Iterator[Review]:
    """The reviews of a wide-layout file, its header already read; bad rows go to `report`."""
    seen: dict[str, int] = {}
    read_head = HeadReader(columns)
    checks = checks or ReviewChecks(report, None)
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
            checks.new_review(draft.head, line)
            ratings: list[Rating] = []
            names: list[str] = []
            for index, name in skills:
                rating = wide_rating(cells, columns, name, index, bounds)
                if rating is not None:
                    ratings.append(rating)
                    names.append(name)
            seen[head.review_id] = line
            if len(ratings) > 1:
                ratings = drop_conflicts(ratings, _columns_at(line, names), report,
                                         head.review_id)
            yield draft.build(source, ratings)
        except RowRejected as exc:
            report.reject(line, str(exc))


def _columns_at(line: int, names: list[str]) -> Callable[[int], tuple[int, str]]:
    """Where a wide row's i-th rating is: its line, and its column by name."""
    return lambda i: (line, f"column {names[i]!r}")


def wide_rating(
    cells: list[str], columns: dict[str, int], skill: str, rating_index: int,
    bounds: RatingBounds | None = None,
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
    try:
        check_rating(value, raw, scale_min, scale_max, bounds)
    except RowRejected as exc:
        raise RowRejected(f"{skill}: {exc}") from None
    rater_index = columns.get("rater")
    return trusted_rating({
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
