"""The database's clock: one notion of now for state that several processes share.

Lease expiry, heartbeats, job due times and the shared vendor rate budget are compared by
every worker on the database; taken from each process's own clock, a worker whose clock runs
90 s ahead sweeps live leases and refills the budget early. So these times come from the
database, per statement: on PostgreSQL `clock_timestamp()` (`now()` is the transaction's
start, which a long claim transaction would hold still), on SQLite its own `julianday('now')`
(fixed for the duration of one statement). Tests pin it with `pinned` (a callable of epoch
seconds) so leases and backoff stay exact without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Float, bindparam, cast, literal_column, select

from connector.store.engine import is_postgres, transaction

_POSTGRES_NOW = "extract(epoch from clock_timestamp())"
_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
#: How often `estimate` asks the database again for its offset from this process's clock.
OFFSET_SECONDS = 30.0
#: The step of each engine's now, with room for its rounding: SQLite's `'now'` is whole
#: milliseconds (cut, not rounded) and reaches us as a Julian day, a float good to about
#: 40 µs; PostgreSQL's `clock_timestamp()` is microseconds.
_SQLITE_STEP, _POSTGRES_STEP = 0.0011, 0.000001


class DatabaseClock:
    """Epoch seconds as the database sees them (or as a test pins them)."""

    def __init__(self, engine: Engine, pinned: Callable[[], float] | None = None, *,
                 local: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.pinned = pinned
        self.local = local  # this process's clock, for `estimate`
        raw = _POSTGRES_NOW if is_postgres(engine) else _SQLITE_NOW
        self.step = _POSTGRES_STEP if is_postgres(engine) else _SQLITE_STEP
        # Pinned: a bound value, so the statements below are built once either way.
        # An uncorrelated scalar subquery, so the database reads its clock once per statement
        # (an InitPlan on PostgreSQL) rather than once per row: `run_after <= now` then
        # compares against one value and can use the index. Bare, `clock_timestamp()` is
        # volatile and was evaluated for every row of the queue on every claim (4 workers
        # took 220 s for 5,000 jobs instead of a few).
        self.expr: Any = (bindparam("db_now", type_=Float) if pinned is not None
                          else cast(select(literal_column(raw)).scalar_subquery(), Float))
        self._offset: float | None = None
        self._offset_at = float("-inf")
        self._lock = threading.Lock()

    def params(self) -> dict[str, float]:
        """The parameters a statement using `expr` needs (none unless pinned)."""
        return {} if self.pinned is None else {"db_now": self.pinned()}

    def read(self, conn: Connection) -> float:
        """Now, on `conn` (one statement)."""
        if self.pinned is not None:
            return self.pinned()
        return float(conn.execute(select(self.expr)).scalar_one())

    def estimate(self) -> float:
        """Now as the database sees it, without a round trip: this process's clock plus the
        offset last measured (`refresh`). For the hot path that stamps new jobs inside a
        transaction already open, where a second's skew does not matter and 90 s would."""
        if self.pinned is not None:
            return self.pinned()
        return self.local() + (-self.step if self._offset is None else self._offset)

    def refresh(self, *, unless_fresh: bool = False) -> None:
        """Measure the offset of the database's clock from this process's, in a transaction
        of its own (so never call it inside one); `unless_fresh`: only when the last
        measurement is over OFFSET_SECONDS old.

        The offset is taken one step of the database's clock lower than it reads: its now is
        cut to that step, so otherwise a job stamped from the estimate could read as due up
        to a millisecond (on SQLite) after it was queued, and a drain that looked within
        that millisecond found nothing to run and stopped with the job pending."""
        if self.pinned is not None:
            return
        with self._lock:
            if unless_fresh and self.local() - self._offset_at < OFFSET_SECONDS:
                return
            with transaction(self.engine) as conn:
                self._offset = self.read(conn) - self.local() - self.step
            self._offset_at = self.local()
