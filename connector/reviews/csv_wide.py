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
    ReviewDraft,
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
) -> Iterator[Review]:
    """The reviews of a wide-layout file, its header already read; bad rows go to `report`."""
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
            ratings: list[Rating] = []
            for index, name in skills:
                rating = wide_rating(cells, columns, name, index)
                if rating is not None:
                    ratings.append(rating)
            seen[head.review_id] = line
            yield draft.build(source, ratings)
        except RowRejected as exc:
            report.reject(line, str(exc))


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
