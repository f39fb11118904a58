"""The store facade: inbox, cursors, audit trail, shared rate budget, and the job queue.

The ledger (identities, actions, goals, assignments, completions, evidence) lives in
`ledger.py` and is mixed in here, so callers hold one `Store`. This is the store's public
boundary: named operations that return typed rows (`rows.py`) and take states as enums
(`states.py`); several writes commit together in one unit of work,
`with store.transaction() as tx:`, passing `tx` to each operation.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, make_url, select, update
from sqlalchemy.exc import SQLAlchemyError

from connector.errors import StoreError
from connector.models import utcnow
from connector.store import migrations
from connector.store.catalogue import CourseTitles
from connector.store.drift import DriftFlags
from connector.store.engine import Transaction, make_engine, transaction, using
from connector.store.erasure import ErasureRows
from connector.store.intake import EventIntake
from connector.store.jobs import JobQueue
from connector.store.kept import KeptRows
from connector.store.ledger import LedgerMixin
from connector.store.logins import LoginAttempts
from connector.store.notices import SentNotices
from connector.store.reports import ReportQueries
from connector.store.retention import RetentionRows
from connector.store.rows import AuditEntry, PollerStatus, RateBudget
from connector.store.schema import actions, audit, cursors, inbox, rate_budget
from connector.store.sql import dumps, insert_ignore
from connector.store.staging import StagingMixin
from connector.store.states import ActionState
from connector.store.voids import VoidsMixin

READY_PROBE_SECONDS = 2.0  # at most one heartbeat write per process this often
HEARTBEAT = "_ready.heartbeat"  # a cursor row; names starting with _ are not pollers
#: The cursor row that holds the adoption window's reason while it is open.
ADOPTION = "_adoption"


class Store(LedgerMixin, StagingMixin, VoidsMixin):
    """Everything the connector keeps, over SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time,
                 db_clock: Callable[[], float] | None = None,
                 jitter: Callable[[], float] | None = None, backoff_base: float = 2.0,
                 max_attempts: int = 8) -> None:
        """`clock` is this process's; state shared with other processes (leases, due times,
        the rate budget) takes the database's now instead, unless a test pins it with
        `db_clock`."""
        self.engine = engine
        self.clock = clock
        # Called after an event and its job commit, so an idle worker in this process wakes.
        self.on_new_job: Callable[[], None] | None = None
        kw: dict[str, Any] = {"clock": clock, "db_clock": db_clock, "backoff_base": backoff_base,
                              "max_attempts": max_attempts}
        if jitter is not None:
            kw["jitter"] = jitter
        self.jobs = JobQueue(engine, **kw)
        self.intake = EventIntake(engine, self.jobs)
        self.db_now = self.jobs.db_now  # the database's clock (dbclock.py)
        self.kept = KeptRows(engine, self.db_now)  # kept secrets and their refresh leases
        self._probe_lock = threading.Lock()
        self._probed_at = -math.inf
        self._probe: tuple[bool, str] = (False, "not probed yet")
        self.ready_probe_seconds = READY_PROBE_SECONDS
        self._write_failed: str | None = None  # the last intake write's error, until one works
        self.logins = LoginAttempts(engine, clock=clock)  # the console's sign-in limit
        self.notices = SentNotices(engine, clock=clock)  # notifications sent, once each
        self.reports = ReportQueries(engine)  # the console's and `connector report`'s
        self.drift = DriftFlags(engine)  # what `connector reconcile` found
        self.retention = RetentionRows(engine)  # `connector prune`
        self.erasures = ErasureRows(engine)  # `connector erase` and its tombstones
        self.course_titles = CourseTitles(engine)  # the LMS catalogue's titles, as last read

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, **kw: Any) -> Store:
        """Connect and (by default) apply pending migrations, as every process does at start."""
        store = cls(make_engine(url), **kw)
        if upgrade and migrations.FIRST in migrations.upgrade(store.engine):
            # Made just now: it cannot know what earlier databases did in the vendors.
            store.open_adoption("a new database")
        store.db_now.refresh()  # new jobs are stamped on the database's clock
        return store

    @classmethod
    def open_existing(cls, url: str) -> Store | None:
        """The database at `url` if it exists, is reachable and is migrated to the current
        revision; else None. Never creates or migrates anything (for `connector check`)."""
        if url.startswith("sqlite"):
            path = make_url(url).database
            if not path or path == ":memory:" or not Path(path).exists():
                return None
        try:
            store = cls(make_engine(url))
            if migrations.pending(store.engine):
                store.close()
                return None
        except (StoreError, SQLAlchemyError):
            return None
        return store

    def close(self) -> None:
        """Release the pool's connections. Whoever opened a store closes it (the CLI once per
        run, a service when it stops): there is no process-wide list of open stores."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One unit of work: the operations given the yielded `tx` commit together when the
        block ends, or none of them does if it raises (driver errors arrive translated, as
        `StoreError` / `RetriableStoreError`)."""
        with transaction(self.engine) as conn:
            yield Transaction(conn)

    def ready(self) -> tuple[bool, str]:
        """For /readyz: the database answers, no migration is pending, and it takes writes.

        Reading is not enough: a full disk answers reads and refuses every write (an SQLite
        transaction that rolls back never touches the disk). So a heartbeat row is committed,
        at most once every READY_PROBE_SECONDS per process; the answer recovers by itself on
        the next probe once writes succeed again."""
        try:
            missing = migrations.pending(self.engine)
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            return False, f"database unreachable: {type(exc).__name__}"
        if missing:
            return False, f"migrations pending: {', '.join(missing)}"
        return self._write_probe()

    @staticmethod
    def sqlite_file_has_event(path: Path, event: str) -> bool:
        """Whether an SQLite file holds an audit row of `event`, read without writing a byte:
        opened read-only (no migration, no WAL switch), so a foreign file is left untouched."""
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error:
            return False
        try:
            found = conn.execute("SELECT 1 FROM audit WHERE event = ? LIMIT 1", (event,)).fetchone()
            return found is not None
        except sqlite3.Error:  # not our schema (no audit table), or not a database at all
            return False
        finally:
            conn.close()

    def _write_probe(self) -> tuple[bool, str]:
        with self._probe_lock:
            now = time.monotonic()
            if self._write_failed is not None:
                self._probed_at = -math.inf  # probe again as soon as intake stops failing
                return False, f"the database refuses writes ({self._write_failed})"
            if now - self._probed_at < self.ready_probe_seconds:
                return self._probe
            try:
                self.save_cursor(HEARTBEAT, utcnow().isoformat())
                self._probe = (True, "ok")
            except StoreError as exc:
                self._probe = (False, f"the database refuses writes ({exc})")
            self._probed_at = now
            return self._probe

    # -- inbox ---------------------------------------------------------------------------
    def ingest(self, source: str, event_id: str, kind: str, payload: dict[str, Any],
               raw: bytes | None = None, employee_id: str | None = None, *,
               job_kind: str | None = None, learner: tuple[str | None, str | None] | None = None,
               tx: Transaction | None = None) -> bool:
        """Store an inbound event and its job, atomically; False for a duplicate.

        Once this returns, the event is durable and will be processed: a caller may
        acknowledge it. `learner` = (LMS user id, email) finds the employee in the same
        statement when the sender did not name one (the receiver's hot path: intake.py).
        With `tx` the event and its job commit with the caller's other writes (a confirmed
        batch and its cursor).
        """
        if tx is not None:
            return self.intake.ingest_in(tx, source=source, event_id=event_id, kind=kind,
                                         payload=payload, raw=raw, employee_id=employee_id,
                                         job_kind=job_kind or kind, learner=learner)
        try:
            stored = self.intake.ingest(source=source, event_id=event_id, kind=kind,
                                        payload=payload, raw=raw, employee_id=employee_id,
                                        job_kind=job_kind or kind, learner=learner)
        except StoreError as exc:
            self._write_failed = str(exc)  # /readyz says so until a write works again
            raise
        self._write_failed = None
        if not stored:
            return False
        if self.on_new_job is not None:
            self.on_new_job()
        return True

    def inbox_count(self, source: str | None = None) -> int:
        query = select(func.count()).select_from(inbox)
        if source:
            query = query.where(inbox.c.source == source)
        with transaction(self.engine) as conn:
            return int(conn.execute(query).scalar_one())

    # -- cursors -------------------------------------------------------------------------
    def cursor(self, name: str) -> str | None:
        with transaction(self.engine) as conn:
            return conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar()

    def save_cursor(self, name: str, value: str | None, tx: Transaction | None = None) -> None:
        with using(self.engine, tx) as c:
            now = utcnow()
            if not insert_ignore(c, cursors, dict(name=name, value=value, last_success_at=now,
                                                  updated_at=now), ["name"]):
                c.execute(update(cursors).where(cursors.c.name == name)
                          .values(value=value, last_success_at=now, last_error=None,
                                  updated_at=now))

    def cursor_failed(self, name: str, error: str) -> None:
        with transaction(self.engine) as conn:
            now = utcnow()
            if not insert_ignore(conn, cursors, dict(name=name, value=None, last_error=error[:500],
                                                     updated_at=now), ["name"]):
                conn.execute(update(cursors).where(cursors.c.name == name)
                             .values(last_error=error[:500], updated_at=now))

    def pollers(self) -> list[PollerStatus]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(cursors.c.name, cursors.c.last_success_at,
                                       cursors.c.last_error)
                                .where(~cursors.c.name.startswith("_", autoescape=True))
                                .order_by(cursors.c.name))
            return [PollerStatus(**r._mapping) for r in rows]

    # -- the adoption window --------------------------------------------------------------
    # A database that may not know what was done in the vendors (new, or restored from a
    # backup) asks the vendors before each employee's first goal and evidence, and adopts what
    # it finds instead of making it twice. Kept beside the cursors (names starting with "_"
    # are not pollers); see docs/production.md.

    def adoption_reason(self, tx: Transaction | None = None) -> str | None:
        """Why the adoption window is open ("a new database", "restored from a backup"), or
        None when it is closed."""
        with using(self.engine, tx) as c:
            return c.execute(select(cursors.c.value).where(cursors.c.name == ADOPTION)).scalar()

    def open_adoption(self, reason: str, tx: Transaction | None = None) -> None:
        self.save_cursor(ADOPTION, reason, tx)

    def opened_in_window(self, goal_key: str, employee_id: str) -> bool:
        """True when this database itself opened the goal (a call, not an adoption) while the
        adoption window was open: everything done on that goal since is in this database, so
        its later effects need not ask the vendor first. False outside the window, for goals
        opened before it (a restored backup may have lost what was done on them since), and
        for goals the window adopted."""
        key = f"goal:{goal_key}"
        with transaction(self.engine) as conn:
            opened = conn.execute(select(cursors.c.updated_at)
                                  .where(cursors.c.name == ADOPTION)).scalar()
            if opened is None:
                return False
            made = conn.execute(select(actions.c.updated_at).where(
                actions.c.key == key, actions.c.state == ActionState.DONE.value)).scalar()
            if made is None or made < opened:
                return False
            adopted = conn.execute(select(audit.c.id).where(
                audit.c.employee_id == employee_id, audit.c.ref == key,
                audit.c.event == "goal.open.adopted").limit(1)).first()
            return adopted is None

    def close_adoption(self, tx: Transaction | None = None) -> bool:
        """Close the window after a full cycle; True when it was open."""
        with using(self.engine, tx) as c:
            return bool(c.execute(delete(cursors).where(cursors.c.name == ADOPTION)).rowcount)

    # -- audit ---------------------------------------------------------------------------
    def audit(self, tx: Transaction | None, employee_id: str | None, event: str, message: str,
              cause: Any = None, ref: str | None = None) -> None:
        """One row per decision or effect. `cause` is the JSON-able cause chain.

        The row goes to `execute` as parameters (not `.values()`), so the statement is the
        same each time and SQLAlchemy reuses its compiled form without coercing and keying
        every value (the audit is written several times per assignment)."""
        values = dict(at=utcnow(), employee_id=employee_id, event=event, message=message,
                      cause=None if cause is None else dumps(cause), ref=ref)
        with using(self.engine, tx) as c:
            c.execute(audit.insert(), values)

    def audit_trail(self, employee_id: str) -> list[AuditEntry]:
        with transaction(self.engine) as conn:
            rows = conn.execute(
                select(audit).where(audit.c.employee_id == employee_id).order_by(audit.c.id)
            ).mappings()
            return [AuditEntry.from_row(r) for r in rows]

    def audit_events(self, event: str) -> list[AuditEntry]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(audit).where(audit.c.event == event)
                                .order_by(audit.c.id)).mappings()
            return [AuditEntry.from_row(r) for r in rows]

    # -- shared rate budget --------------------------------------------------------------
    def configure_budget(self, vendor: str, per_hour: float, burst: float | None = None) -> None:
        """A token bucket for `vendor`, shared by every worker on this database."""
        refill = per_hour / 3600.0
        capacity = burst if burst is not None else max(1.0, min(per_hour / 20.0, 200.0))
        with transaction(self.engine) as conn:
            if not insert_ignore(conn, rate_budget,
                                 dict(vendor=vendor, tokens=capacity, capacity=capacity,
                                      refill_per_second=refill,
                                      updated_at=self.db_now.read(conn)),
                                 ["vendor"]):
                conn.execute(update(rate_budget).where(rate_budget.c.vendor == vendor)
                             .values(capacity=capacity, refill_per_second=refill))

    def rate_budgets(self) -> list[RateBudget]:
        """Every vendor's budget as it stands now (for a run's ETA: calls allowed per hour
        and the calls available at once)."""
        with transaction(self.engine) as conn:
            now = self.db_now.read(conn)
            rows = conn.execute(select(rate_budget).order_by(rate_budget.c.vendor)).mappings()
            return [RateBudget(vendor=r["vendor"], per_hour=r["refill_per_second"] * 3600.0,
                               available=min(r["capacity"], r["tokens"]
                                             + (now - r["updated_at"]) * r["refill_per_second"]))
                    for r in rows]

    def acquire(self, vendor: str) -> float:
        """Take one call from `vendor`'s bucket; seconds to wait first (0.0 = go now).

        A caller that must wait has still reserved its token (the bucket goes negative), so
        many workers waiting together never overshoot the limit. The refill is measured on
        the database's clock, so a worker whose own clock runs ahead cannot refill early.
        The clock is read in the statement that reads the bucket (it runs once per vendor
        call, so a statement of its own was a sixth of this call's cost).
        """
        with transaction(self.engine) as conn:
            query = (select(rate_budget, self.db_now.expr.label("db_now"))
                     .where(rate_budget.c.vendor == vendor))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(of=rate_budget)
            row = conn.execute(query, self.db_now.params()).mappings().first()
            if row is None:
                return 0.0
            now = float(row["db_now"])
            rate = row["refill_per_second"]
            tokens = min(row["capacity"], row["tokens"] + (now - row["updated_at"]) * rate)
            tokens -= 1.0
            conn.execute(update(rate_budget).where(rate_budget.c.vendor == vendor)
                         .values(tokens=tokens, updated_at=now))
        return 0.0 if tokens >= 0 or rate <= 0 else -tokens / rate

