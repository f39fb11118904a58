"""`connector import`: a review file (CSV or JSON) into the inbox, all or nothing.

The whole file is read and planned (a dry run against the ledger) before anything is queued:
a file with rejected rows queues nothing unless `--allow-partial`, and a run that breaks a
safety limit (too many assignments, too large a share of employees) queues nothing until a
person runs it again with `--confirm`. Importing the same file twice queues nothing new: each
review is keyed by its id and the fingerprint of its ratings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from connector.errors import InputError, SafetyStop
from connector.models import Review
from connector.planner import LedgerView, Planner
from connector.reviews.file import read_reviews
from connector.reviews.report import RowError
from connector.runtime import resolve_mapping_path
from connector.settings import Settings
from connector.store import Store
from mappings.loader import load_mapping
from mappings.schema import Mapping


@dataclass
class ImportResult:
    path: Path
    reviews: int = 0
    queued: int = 0
    duplicates: int = 0
    assignments_planned: int = 0
    rejected: list[RowError] = field(default_factory=list)
    exit_code: int = 0

    def summary(self) -> str:
        lines = [f"{self.path}: {self.reviews} review(s) read, {self.queued} queued, "
                 f"{self.duplicates} already imported; {self.assignments_planned} new course "
                 "assignment(s) planned"]
        lines += [f"  rejected: {err}" for err in self.rejected]
        if self.queued:
            lines.append("run `connector worker --drain` (or `connector serve`) to carry them out")
        return "\n".join(lines)


def check_bulk_limits(store: Store, settings: Settings, mapping: Mapping,
                      reviews: list[Review], *, confirm: bool, what: str,
                      result: ImportResult | None = None) -> int:
    """Plan a batch as a dry run; stop before any effect when it breaks a safety limit.

    Returns the number of new assignments planned. Limits: the mapping's
    `max_assignments_per_run` / `max_assignment_share`, and the operator's
    CONNECTOR_MAX_ASSIGNMENTS_PER_RUN / CONNECTOR_MAX_ASSIGNMENT_SHARE (the share only from 20
    employees up, so a small team's first cycle is not stopped).
    """
    employee_ids = sorted({r.employee.employee_id for r in reviews})
    planner = Planner(mapping, LedgerView(done_keys=frozenset(store.done_keys(employee_ids)),
                                          open_courses=store.open_courses(employee_ids)))
    for review in reviews:
        planner.plan_review(review)
    if result is not None:
        result.assignments_planned = planner.enrollments_planned
    headcount = len({row.employee_id for row in store.all_identities()} | set(employee_ids))
    problems = planner.bulk_limit_problems(headcount)
    if planner.enrollments_planned > settings.max_assignments_per_run:
        problems.append(f"{planner.enrollments_planned} new course assignments exceed "
                        f"CONNECTOR_MAX_ASSIGNMENTS_PER_RUN = {settings.max_assignments_per_run}")
    share = planner.employees_enrolled / max(1, headcount)
    if headcount >= 20 and share > settings.max_assignment_share:
        problems.append(f"{planner.employees_enrolled} of {headcount} employees ({share:.0%}) "
                        "would get new courses, over CONNECTOR_MAX_ASSIGNMENT_SHARE = "
                        f"{settings.max_assignment_share:g}")
    if problems and not confirm:
        store.audit(None, None, "safety.assignments",
                    f"{what} stopped before any effect: " + "; ".join(problems))
        raise SafetyStop(
            f"{what} stopped before any change — " + "; ".join(problems)
            + f". Plan: {len(reviews)} review(s), {planner.enrollments_planned} assignment(s) "
            f"for {planner.employees_enrolled} employee(s). Check it with `connector plan`, "
            "then run again with --confirm")
    if problems:
        store.audit(None, None, "safety.confirmed",
                    f"{what} confirmed by a person despite: " + "; ".join(problems))
    return planner.enrollments_planned


def import_reviews(store: Store, settings: Settings, path: Path, *, allow_partial: bool = False,
                   confirm: bool = False) -> ImportResult:
    mapping = load_mapping(resolve_mapping_path(settings))
    result = ImportResult(path=path)
    with read_reviews(path, source="csv") as reviews_file:
        reviews: list[Review] = list(reviews_file)
        result.rejected = list(reviews_file.errors)
    result.reviews = len(reviews)
    if result.rejected and not allow_partial:
        listed = "\n  ".join(str(e) for e in result.rejected[:20])
        more = "" if len(result.rejected) <= 20 else f"\n  … and {len(result.rejected) - 20} more"
        raise InputError(f"{len(result.rejected)} row(s) rejected, nothing was queued "
                         f"(use --allow-partial to queue the good rows):\n  {listed}{more}")

    check_bulk_limits(store, settings, mapping, reviews, confirm=confirm,
                      what=f"import of {path.name}", result=result)

    for review in reviews:
        new = store.ingest(review.source, f"{review.review_id}:{review.fingerprint()}", "review",
                           {"review": review.model_dump(mode="json")},
                           employee_id=review.employee.employee_id)
        result.queued += new
        result.duplicates += not new
    result.exit_code = 2 if result.rejected and not allow_partial else 0
    return result
