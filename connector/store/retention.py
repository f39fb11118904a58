"""Pruning what grows with every event: the SQL behind `connector prune`.

Rows are never deleted, only emptied: an inbox row keeps its dedupe key (`source`,
`event_id`), so a late duplicate is still answered "duplicate"; a finished job keeps its
state, times and attempts; an audit row keeps its time, event, employee and ref (the counts
`status` and the reports show), losing only its free text and cause chain. Audit rows of
an employee with an open or pending goal are not touched at all: the people story and the
reports explain an open goal from them. Each table is emptied in small batches of ids, one
short transaction each, so a prune never holds the write lock long enough to delay a
webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select, update

from connector.store.engine import transaction, translate_errors
from connector.store.schema import audit, goals, inbox, jobs

BATCH = 1000
EMPTY_PAYLOAD = "{}"
PRUNED_MESSAGE = "(detail pruned)"
_LIVE_JOB_STATES = ("pending", "running")
_OPEN_GOAL_STATES = ("open", "pending")


@dataclass(frozen=True)
class Cutoffs:
    """What is older than these is pruned: inbox rows received, jobs finished (epoch
    seconds, as the queue keeps time) and audit rows written before them."""

    raw_before: datetime | None  # None: kept for ever
    job_before: float | None
    audit_before: datetime | None


class RetentionRows:
    """Named operations: how many rows each prune would empty, and emptying them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _targets(self, cut: Cutoffs) -> dict[str, tuple[Any, Any, dict[str, Any]]]:
        """Per prune that is switched on: (table, which rows, the values they get)."""
        targets: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
        if cut.raw_before is not None:
            live_job = select(jobs.c.id).where(jobs.c.inbox_id == inbox.c.id,
                                               jobs.c.state.in_(_LIVE_JOB_STATES)).exists()
            targets["inbox_raw_bodies"] = (
                inbox, (inbox.c.received_at < cut.raw_before)
                & or_(inbox.c.raw.is_not(None), inbox.c.payload != EMPTY_PAYLOAD) & ~live_job,
                {"raw": None, "payload": EMPTY_PAYLOAD})
        if cut.job_before is not None:
            targets["finished_job_payloads"] = (
                jobs, (jobs.c.state == "done") & (jobs.c.finished_at < cut.job_before)
                & (jobs.c.payload != EMPTY_PAYLOAD),
                {"payload": EMPTY_PAYLOAD})
        if cut.audit_before is not None:
            open_goal = select(goals.c.goal_key).where(
                goals.c.employee_id == audit.c.employee_id,
                goals.c.state.in_(_OPEN_GOAL_STATES)).exists()
            targets["audit_details"] = (
                audit, (audit.c.at < cut.audit_before)
                & or_(audit.c.message != PRUNED_MESSAGE, audit.c.cause.is_not(None))
                & or_(audit.c.employee_id.is_(None), ~open_goal),
                {"message": PRUNED_MESSAGE, "cause": None})
        return targets

    def prunable(self, *, raw_before: datetime | None, job_before: float | None,
                 audit_before: datetime | None) -> dict[str, int]:
        """How many rows each prune would empty now (a dry run: nothing is written)."""
        cut = Cutoffs(raw_before, job_before, audit_before)
        counts: dict[str, int] = {}
        with transaction(self.engine) as conn:
            for name, (table, where, _) in self._targets(cut).items():
                counts[name] = int(conn.execute(
                    select(func.count()).select_from(table).where(where)).scalar_one())
        return counts

    def prune(self, *, raw_before: datetime | None, job_before: float | None,
              audit_before: datetime | None) -> dict[str, int]:
        """Empty every prunable row, a batch of ids per transaction; rows emptied per prune."""
        cut = Cutoffs(raw_before, job_before, audit_before)
        counts: dict[str, int] = {}
        for name, (table, where, values) in self._targets(cut).items():
            done = 0
            while True:
                with transaction(self.engine) as conn:
                    ids = list(conn.execute(select(table.c.id).where(where)
                                            .order_by(table.c.id).limit(BATCH)).scalars())
                    if ids:
                        conn.execute(update(table).where(table.c.id.in_(ids)).values(**values))
                done += len(ids)
                if len(ids) < BATCH:
                    break
            counts[name] = done
        return counts

    def vacuum(self) -> bool:
        """Give the emptied pages back to the file system (SQLite only; PostgreSQL's
        autovacuum reuses them). True when it ran."""
        if self.engine.dialect.name != "sqlite":
            return False
        # On the driver's connection (autocommit, as the engine sets it): SQLAlchemy's
        # begin hook would open the `BEGIN IMMEDIATE` that VACUUM refuses to run inside.
        with translate_errors():
            raw = self.engine.raw_connection()
            try:
                raw.cursor().execute("VACUUM")
            finally:
                raw.close()
        return True
