"""The long CSV layout: one row per rating, rows of one review consecutive.

The hot path of a review import (bench/planner.py measures it): most rows are another rating of
the review on the row before, with the same review-level cells, so those rows skip the head
checks; and exports repeat the same few ratings (a skill, a level, a rater) endlessly, so a
row's rating cells are remembered with the `Rating` they make: equal cells give the very same
(immutable) `Rating` object, which also lets the gap finder remember what it worked out about
it. A review whose rows come back after another review's is reported, not merged, so that
memory stays flat.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

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
    head_getter,
    padded_cells,
    parse_number,
    trusted_rating,
)
from mappings.schema import remember

_RATING_FIELDS = ("skill", "rating", "scale_min", "scale_max", "rater", "comment")
UNREAD: Any = object()  # a memo miss (None is a remembered "not rated")


class LongRatings:
    """Reads the rating of one long-layout row (the hot path: one call per row).

    `memo` maps a row's rating cells, as read, to the `Rating` they make (None: not rated);
    only rows that were read without a problem are remembered.
    """

    __slots__ = ("bounds", "cells_of", "comment", "memo", "rater", "rating", "scale_max",
                 "scale_min", "skill")

    def __init__(self, columns: dict[str, int], bounds: RatingBounds | None = None) -> None:
        self.bounds = bounds
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
        check_rating(value, raw, scale_min, scale_max, self.bounds)
        rater = row[self.rater].strip() if self.rater >= 0 else ""
        comment = row[self.comment].strip() if self.comment >= 0 else ""
        return trusted_rating({
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


def long_reviews(
    rows: CsvRows, columns: dict[str, int], width: int, *, source: str, report: FileReport,
    bounds: RatingBounds | None = None, checks: ReviewChecks | None = None,
) -> Iterator[Review]:
    """The reviews of a long-layout file, its header already read; bad rows go to `report`."""
    finished: dict[str, int] = {}  # review id → its last line, to catch split reviews
    draft: ReviewDraft | None = None
    head_of = head_getter(columns)
    read_head = HeadReader(columns)
    rating_of = LongRatings(columns, bounds)
    checks = checks or ReviewChecks(report, None)
    cells_of, memo = rating_of.cells_of, rating_of.memo
    # The draft's state the hot path touches, kept in locals: the review-level cells of its
    # first row as read (None: no fast path), its ratings and the line of each, the line it
    # last grew on.
    raw_head: object = None
    ratings: list[Rating] = []
    lines: list[int] = []
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
                    lines.append(line)
                last_line = line
                continue
            cells = padded_cells(row, width)
            if cells is None:
                continue
            head = read_head(cells)
            if draft is not None and head.review_id != draft.head.review_id:
                finished[draft.head.review_id] = last_line
                yield _built(draft, ratings, lines, source, report)
                draft, raw_head = None, None
            if draft is None:
                if head.review_id in finished:
                    raise RowRejected(
                        f"review {head.review_id!r}: its rows must be consecutive "
                        f"(earlier rows end at line {finished[head.review_id]})"
                    )
                draft, ratings, lines = ReviewDraft(head.parsed(), line), [], []
                last_line = line
                checks.new_review(draft.head, line)
                if len(row) == width:
                    raw_head = head_of(row)
            else:
                draft.check_same(head)
            rating = rating_of(cells)
            if rating is not None:
                ratings.append(rating)
                lines.append(line)
            last_line = line
        except RowRejected as exc:
            report.reject(line, str(exc))
    if draft is not None:
        yield _built(draft, ratings, lines, source, report)


def _built(
    draft: ReviewDraft, ratings: list[Rating], lines: list[int], source: str, report: FileReport
) -> Review:
    """The finished review, without ratings that contradict each other (reported)."""
    if len(ratings) > 1:
        ratings = drop_conflicts(ratings, lambda i: (lines[i], f"line {lines[i]}"), report,
                                 draft.head.review_id)
    return draft.build(source, ratings)
