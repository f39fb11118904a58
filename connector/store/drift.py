"""Drift flags: the rows behind `connector reconcile`, `status` and `trace`.

A finding is one row, unique on (kind, subject): `flag` inserts it once and only refreshes
`last_seen_at` after that, so a finding seen on every run is flagged (and audited by the
caller) once. A finding the vendor no longer shows is `resolve`d; a repair is recorded with
`repairs`, which is how a re-enrollment is kept to one per assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from connector.models import utcnow
from connector.store.engine import Transaction, transaction, using
from connector.store.schema import drift_flags
from connector.store.sql import insert_ignore

OPEN = "open"
REPAIRED = "repaired"
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class DriftFlag:
    """One difference between the ledger and a vendor, and what became of it."""

    id: int
    kind: str
    subject: str
    employee_id: str | None
    goal_key: str | None
    course_id: str | None
    state: str  # open | repaired | resolved
    repairs: int
    message: str
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> DriftFlag:
        return cls(**row)


class DriftFlags:
    """Named operations on `drift_flags`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, kind: str, subject: str, tx: Transaction | None = None) -> DriftFlag | None:
        with using(self.engine, tx) as conn:
            row = conn.execute(select(drift_flags).where(
                drift_flags.c.kind == kind, drift_flags.c.subject == subject)).mappings().first()
            return DriftFlag.from_row(row) if row else None

    def flag(self, kind: str, subject: str, message: str, *, employee_id: str | None,
             goal_key: str | None = None, course_id: str | None = None,
             state: str = OPEN, repairs: int = 0, tx: Transaction | None = None) -> bool:
        """Record a finding in `state`; True when it is new or changes state (resolved and
        back, repaired and removed again), False when it was already in `state` (then only
        `last_seen_at` moves)."""
        now = utcnow()
        with using(self.engine, tx) as conn:
            if insert_ignore(conn, drift_flags, dict(
                    kind=kind, subject=subject, employee_id=employee_id, goal_key=goal_key,
                    course_id=course_id, state=state, repairs=repairs, message=message,
                    first_seen_at=now, last_seen_at=now), ["kind", "subject"]):
                return True
            back = conn.execute(
                update(drift_flags)
                .where(drift_flags.c.kind == kind, drift_flags.c.subject == subject,
                       drift_flags.c.state != state)
                .values(state=state, message=message, last_seen_at=now, resolved_at=None,
                        repairs=drift_flags.c.repairs + repairs)
                .execution_options(preserve_rowcount=True))
            if back.rowcount == 1:
                return True
            conn.execute(update(drift_flags)
                         .where(drift_flags.c.kind == kind, drift_flags.c.subject == subject)
                         .values(last_seen_at=now))
            return False

    def resolve(self, kind: str, subject: str, tx: Transaction | None = None) -> bool:
        """The vendor shows it as the ledger expects again; True when a flag was open."""
        now = utcnow()
        with using(self.engine, tx) as conn:
            done = conn.execute(
                update(drift_flags)
                .where(drift_flags.c.kind == kind, drift_flags.c.subject == subject,
                       drift_flags.c.state == OPEN)
                .values(state=RESOLVED, resolved_at=now, last_seen_at=now)
                .execution_options(preserve_rowcount=True))
            return bool(done.rowcount == 1)

    def listed(self, *, employee_id: str | None = None,
               states: tuple[str, ...] = (OPEN,)) -> list[DriftFlag]:
        query = select(drift_flags).where(drift_flags.c.state.in_(states))
        if employee_id is not None:
            query = query.where(drift_flags.c.employee_id == employee_id)
        with transaction(self.engine) as conn:
            rows = conn.execute(query.order_by(drift_flags.c.id)).mappings()
            return [DriftFlag.from_row(r) for r in rows]

    def all_for(self, employee_id: str) -> list[DriftFlag]:
        """Every finding about one person, whatever became of it (`connector trace`)."""
        return self.listed(employee_id=employee_id, states=(OPEN, REPAIRED, RESOLVED))
