"""`connector import`: a review file (CSV or JSON) into the inbox, all or nothing.

The whole file is read and planned (a dry run against the ledger) before anything is queued:
a file with rejected rows queues nothing unless `--allow-partial`, and a run that breaks a
safety limit (too many assignments, too large a share of employees) queues nothing: it is
staged as read until a person confirms it (`connector stops confirm ID`, or the import run
again with `--confirm`). Importing the same file twice queues nothing new: each
review is keyed by its id and the fingerprint of its ratings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from connector.errors import InputError
from connector.inbound import IMPORT_STREAM, queue_review, stop_over_limits
from connector.models import Review
from connector.progress import Progress
from connector.reviews.file import rating_bounds, read_reviews
from connector.reviews.report import RowError
from connector.runtime import resolve_mapping_path
from connector.settings import Settings
from connector.store import Store
from mappings.loader import load_mapping


@dataclass
class ImportResult:
    path: Path
    reviews: int = 0
    queued: int = 0
    duplicates: int = 0
    assignments_planned: int = 0
    rejected: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 0

    def summary(self) -> str:
        lines = [f"{self.path}: {self.reviews} review(s) read, {self.queued} queued, "
                 f"{self.duplicates} already imported; {self.assignments_planned} new course "
                 "assignment(s) planned"]
        lines += [f"  rejected: {err}" for err in self.rejected]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        if self.queued:
            lines.append("run `connector worker --drain` (or `connector serve`) to carry them out")
        return "\n".join(lines)


def import_reviews(store: Store, settings: Settings, path: Path, *, allow_partial: bool = False,
                   confirm: bool = False, progress: Progress | None = None) -> ImportResult:
    mapping = load_mapping(resolve_mapping_path(settings))
    result = ImportResult(path=path)
    with read_reviews(path, source="csv", skill_matcher=mapping.is_known_skill,
                      bounds=rating_bounds(mapping)) as reviews_file:
        reviews: list[Review] = list(reviews_file)
        result.rejected = list(reviews_file.errors)
    if reviews_file.ignored_columns:
        result.warnings.append("ignored columns (not known headers or skills): "
                               + ", ".join(reviews_file.ignored_columns))
    result.warnings += [str(w) for w in reviews_file.warnings]
    result.reviews = len(reviews)
    if result.rejected and not allow_partial:
        listed = "\n  ".join(str(e) for e in result.rejected[:20])
        more = "" if len(result.rejected) <= 20 else f"\n  … and {len(result.rejected) - 20} more"
        raise InputError(f"{len(result.rejected)} row(s) rejected, nothing was queued "
                         f"(use --allow-partial to queue the good rows):\n  {listed}{more}")

    result.assignments_planned = stop_over_limits(store, settings, mapping, reviews,
                                                  confirm=confirm, what=f"import of {path.name}",
                                                  stream=f"{IMPORT_STREAM}{path.name}")
    if progress is not None:
        progress.set_total(len(reviews))
    for review in reviews:
        new = queue_review(store, review)
        result.queued += new
        result.duplicates += not new
        if progress is not None:
            progress.advance()
    result.exit_code = 2 if result.rejected and not allow_partial else 0
    return result
