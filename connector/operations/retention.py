"""Retention: empty what is older than the settings keep, on demand and on a schedule.

Every inbound event, job and decision leaves a few kilobytes (about 3 KB an event), and
nothing else ever removes them. What goes is the bulk that no later step reads: the raw body
of an event long processed, the payload of a finished job, the free text of an old audit
row. What stays is what the connector needs to stay correct: every dedupe key (so a late
duplicate is still a duplicate), every row (counts and ids), the whole ledger, and every
audit row of an employee whose goal is still open (their story explains it). See
connector/store/retention.py for the exact rules and docs/production.md for the defaults.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connector.models import utcnow
from connector.settings import Settings
from connector.store import Store

log = logging.getLogger(__name__)

WHAT = {"inbox_raw_bodies": "inbox raw bodies", "finished_job_payloads": "finished job payloads",
        "audit_details": "audit row details"}


@dataclass
class PruneResult:
    dry_run: bool
    counts: dict[str, int]
    keep_days: dict[str, float]
    by: str
    vacuumed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def text(self) -> str:
        verb = "would empty" if self.dry_run else "emptied"
        lines = [f"{verb} {self.counts.get(name, 0)} {label} "
                 f"(kept {self.keep_days[name]:g} day(s))" if self.keep_days[name]
                 else f"{label}: kept for ever (0 days)" for name, label in WHAT.items()]
        if self.dry_run:
            lines.append("dry run: nothing changed (run without --dry-run to prune)")
        if self.vacuumed:
            lines.append("the database file was compacted (VACUUM)")
        return "\n".join(lines + self.notes)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _keep_days(settings: Settings) -> dict[str, float]:
    return {"inbox_raw_bodies": settings.retention_raw_body_days,
            "finished_job_payloads": settings.retention_job_days,
            "audit_details": settings.retention_audit_detail_days}


def _cutoffs(settings: Settings, now: datetime) -> dict[str, Any]:
    days = _keep_days(settings)

    def before(name: str) -> datetime | None:
        return now - timedelta(days=days[name]) if days[name] else None

    job = before("finished_job_payloads")
    return {"raw_before": before("inbox_raw_bodies"), "audit_before": before("audit_details"),
            "job_before": job.timestamp() if job else None}


def prune(store: Store, settings: Settings, *, dry_run: bool = False, by: str = "schedule",
          vacuum: bool = False, now: datetime | None = None) -> PruneResult:
    """Empty what is older than the retention settings keep (with `dry_run`, only count
    it); what was done is recorded as one audit row (a scheduled prune that found nothing
    records nothing). `vacuum` then gives the space back to the file system (SQLite: it
    appends new rows at a table's end, so the space inside emptied pages is not reused).
    `now` is when the retention periods are counted back from (tests move it on)."""
    cut = _cutoffs(settings, now or utcnow())
    keep = _keep_days(settings)
    if dry_run:
        return PruneResult(True, store.retention.prunable(**cut), keep, by)
    counts = store.retention.prune(**cut)
    result = PruneResult(False, counts, keep, by)
    if result.total or by != "schedule":
        store.audit(None, None, "retention.pruned",
                    f"pruned by {by}: " + ", ".join(f"{counts.get(n, 0)} {label}"
                                                    for n, label in WHAT.items()),
                    cause={"counts": counts, "keep_days": keep})
    if vacuum and (result.total or by != "schedule"):
        started = time.monotonic()
        result.vacuumed = store.retention.vacuum()
        if result.vacuumed:
            log.info("database compacted", extra={"seconds": round(time.monotonic() - started, 2)})
        if not result.vacuumed:
            result.notes.append("--vacuum: PostgreSQL reuses the space by itself (autovacuum)")
    return result


def scheduled_prune(store: Store, settings: Settings) -> PruneResult:
    """The `retention` chore of `serve` and `worker` (connector/chores.py), every
    CONNECTOR_RETENTION_PRUNE_HOURS. Several processes pruning at once is harmless: each
    batch only empties what is still full."""
    result = prune(store, settings, vacuum=settings.retention_vacuum)
    if result.total:
        log.info("pruned", extra={"counts": result.counts})
    return result
