"""Read finished reviews from the files HR tools export: the entry point of the review files.

Files are streamed: a `ReviewFile` yields one `Review` at a time, so a file of any size is
planned in constant memory. A bad row never stops the file: it is recorded in `errors` with its
1-based line number and the reason, and the good rows go on; `warnings` holds what rejects
nothing (a completion date in the future, an id column holding emails). Only problems that make
the whole file unreadable (missing, not UTF-8, no usable header) raise `InputError`. Which format
module reads the file is chosen here: `json_file` for JSON, `csv_file` (long or wide) for CSV.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Literal

from connector.errors import InputError
from connector.models import Review
from connector.reviews.csv_file import csv_reviews
from connector.reviews.csv_wide import SkillMatcher
from connector.reviews.json_file import json_reviews
from connector.reviews.report import FileReport
from connector.reviews.rows import RatingBounds
from mappings.schema import Mapping

FileFormat = Literal["auto", "csv", "json"]


def read_reviews(
    path: str | Path,
    *,
    source: str = "csv",
    file_format: FileFormat = "auto",
    skill_matcher: SkillMatcher | None = None,
    bounds: RatingBounds | None = None,
) -> ReviewFile:
    """Stream the reviews in `path`. `source` is recorded on each review (the review source).

    `file_format="auto"` reads `.json` files as JSON and anything else as CSV. With `bounds`
    (`rating_bounds(mapping)`), a rating off the mapping's scale or a text rating it has no
    label for is a rejected row.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: review file not found")
    if file_format == "auto":
        file_format = "json" if path.suffix.lower() == ".json" else "csv"
    return ReviewFile(path, source=source, file_format=file_format, skill_matcher=skill_matcher,
                      bounds=bounds)


def rating_bounds(mapping: Mapping) -> RatingBounds:
    """What a rating may be under `mapping`: on its scale, or one of its labels."""
    return RatingBounds(mapping.scale.min, mapping.scale.max, mapping.label_value)


class ReviewFile(FileReport, Iterator[Review]):
    """An iterator over one file's reviews; `errors` fills up as rows are read."""

    def __init__(
        self,
        path: Path,
        *,
        source: str,
        file_format: FileFormat,
        skill_matcher: SkillMatcher | None,
        bounds: RatingBounds | None = None,
    ) -> None:
        super().__init__(path)
        if file_format == "json":
            self._reviews = json_reviews(self, source=source, bounds=bounds)
        else:
            self._reviews = csv_reviews(self, source=source, skill_matcher=skill_matcher,
                                        bounds=bounds)

    def __iter__(self) -> ReviewFile:
        return self

    def __next__(self) -> Review:
        return next(self._reviews)

    def close(self) -> None:
        """Stop early and release the file (also done when the iterator is exhausted)."""
        self._reviews.close()

    def __enter__(self) -> ReviewFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
