"""The durable job queue: leases, heartbeats, retries with backoff, dead letters.

A job is claimed under a lease; a worker that dies simply lets the lease expire and another
worker re-claims the job. Jobs of one employee run one at a time and in the order they were
queued: a job is claimable only when no earlier job of the same employee is still pending or
running. On PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`; on SQLite the claim runs in a
`BEGIN IMMEDIATE` write transaction.

Every time the queue compares or stores (lease expiry, heartbeats, due times, finish times)
is the database's now (`dbclock.py`), taken inside the statement: workers on hosts whose
clocks disagree still agree on whose lease has run out.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from connector.store.dbclock import DatabaseClock
from connector.store.engine import Transaction, is_postgres, transaction
from connector.store.rows import DeadLetter
from connector.store.schema import jobs
from connector.store.states import JobState

# Plain strings in the statements below: they are compiled once and bound as literals.
PENDING, RUNNING, DONE, DEAD = (JobState.PENDING.value, JobState.RUNNING.value,
                                JobState.DONE.value, JobState.DEAD.value)
LOST: Literal["lost"] = "lost"  # returned by `fail` when the job is no longer ours; never stored


@dataclass(frozen=True)
class Job:
    """A job as its worker holds it: claimed under `lease_owner`'s lease."""

    id: int
    kind: str
    payload: dict[str, Any]
    employee_id: str | None
    attempts: int
    max_attempts: int
    lease_owner: str


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 600.0,
                    jitter: Callable[[], float] = random.random) -> float:
    """Capped exponential backoff with full jitter (attempt 1 → up to `base` seconds)."""
    return jitter() * min(cap, base * (2 ** (attempt - 1)))


_INSERT_JOB = jobs.insert()  # built once; values go as parameters (hot path)


def _claim_statement(postgres: bool, now: Any) -> Any:
    """Pick the first runnable job and lease it, returning the leased row.

    Runnable: pending, due, and no earlier job of the same employee still pending or running.
    """
    candidate = aliased(jobs, name="candidate")
    earlier = aliased(jobs, name="earlier")
    blocked = exists().where(
        earlier.c.employee_id == candidate.c.employee_id,
        earlier.c.id < candidate.c.id,
        earlier.c.state.in_((PENDING, RUNNING)),
    )
    pick = (
        select(candidate.c.id)
        .where(candidate.c.state == PENDING, candidate.c.run_after <= now,
               or_(candidate.c.employee_id.is_(None), ~blocked))
        .order_by(candidate.c.run_after, candidate.c.id)
        .limit(1)
    )
    if postgres:
        pick = pick.with_for_update(skip_locked=True, of=candidate)
    return (
        update(jobs)
        .where(jobs.c.id == pick.scalar_subquery(), jobs.c.state == PENDING)
        .values(state=RUNNING, lease_owner=bindparam("owner"),
                lease_expires=now + bindparam("lease"), attempts=jobs.c.attempts + 1)
        .returning(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.employee_id,
                   jobs.c.attempts, jobs.c.max_attempts)
    )


def _sweep_statement(now: Any) -> Any:
    return (
        update(jobs)
        .where(jobs.c.state == RUNNING, jobs.c.lease_expires < now)
        .values(state=PENDING, lease_owner=None, lease_expires=None,
                last_error="lease expired (worker stopped or stalled)")
    )


def _complete_statement(now: Any) -> Any:
    return (
        update(jobs)
        .where(jobs.c.id == bindparam("job_id"), jobs.c.lease_owner == bindparam("owner"))
        .values(state=DONE, lease_owner=None, lease_expires=None, finished_at=now,
                last_error=None)
    )


class JobQueue:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time,
                 db_clock: Callable[[], float] | None = None,
                 jitter: Callable[[], float] = random.random, backoff_base: float = 2.0,
                 max_attempts: int = 8) -> None:
        self.engine = engine
        self.max_attempts = max_attempts  # CONNECTOR_JOB_MAX_ATTEMPTS
        self.clock = clock  # this process's: only for how often it sweeps
        self.db_now = DatabaseClock(engine, db_clock, local=clock)  # for everything shared
        now = self.db_now.expr
        self.jitter = jitter
        self.backoff_base = backoff_base
        # Built once: constructing these Core statements per call cost more CPU than the
        # database spent running them (bench/pipeline.py).
        self._claim_stmt = _claim_statement(is_postgres(engine), now)
        self._sweep_stmt = _sweep_statement(now)
        self._complete_stmt = _complete_statement(now)
        self._heartbeat_stmt = (
            update(jobs)
            .where(jobs.c.id == bindparam("job_id"), jobs.c.state == RUNNING,
                   jobs.c.lease_owner == bindparam("owner"))
            .values(lease_expires=now + bindparam("lease")))
        self._last_sweep = float("-inf")

    # -- producing -----------------------------------------------------------------------
    def enqueue(self, tx: Transaction, kind: str, payload: dict[str, Any], *,
                employee_id: str | None = None, inbox_id: int | None = None,
                max_attempts: int | None = None, delay: float = 0.0) -> int:
        """Queue a job inside the caller's transaction (so it commits with what caused it)."""
        result = tx.connection.execute(_INSERT_JOB, self.job_row(
            kind, payload, employee_id=employee_id, inbox_id=inbox_id,
            max_attempts=max_attempts, delay=delay))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def job_row(self, kind: str, payload: dict[str, Any], *, employee_id: str | None = None,
                inbox_id: int | None = None, max_attempts: int | None = None,
                delay: float = 0.0) -> dict[str, Any]:
        """The row of a new pending job, due `delay` seconds from now (the database's)."""
        now = self.db_now.estimate()
        return dict(
            kind=kind, payload=json.dumps(payload, sort_keys=True), employee_id=employee_id,
            inbox_id=inbox_id, state=PENDING, attempts=0,
            max_attempts=max_attempts or self.max_attempts,
            run_after=now + delay, created_at=now,
        )

    def add(self, kind: str, payload: dict[str, Any], **kw: Any) -> int:
        with transaction(self.engine) as conn:
            return self.enqueue(Transaction(conn), kind, payload, **kw)

    # -- claiming ------------------------------------------------------------------------
    #: Expired leases are swept back to pending at most this often while work is found
    #: (and always before answering "nothing to do"): a dead worker's job waits a few
    #: seconds longer, and a busy queue does not pay an extra UPDATE on every claim.
    sweep_every: float = 5.0

    def claim(self, owner: str, lease_seconds: float = 60.0, *,
              finished: Job | None = None) -> Job | None:
        """Take the next runnable job under a lease, or None when there is nothing to do.

        One statement picks and leases the job (`UPDATE … WHERE id = (SELECT … LIMIT 1
        [FOR UPDATE SKIP LOCKED]) RETURNING …`): one round trip on both engines.
        `finished`: a job of this worker's that succeeded, marked done in the same
        transaction (before the pick, so the employee's next job is runnable at once): a
        busy worker then commits once per job, not twice.
        """
        self.db_now.refresh(unless_fresh=True)  # for the jobs this process queues
        now = self.clock()
        params = {"owner": owner, "lease": lease_seconds, **self.db_now.params()}
        with transaction(self.engine) as conn:
            if finished is not None:
                conn.execute(self._complete_stmt, self._complete_params(finished))
            swept = False
            if now - self._last_sweep >= self.sweep_every:
                self._sweep(conn, now)
                swept = True
            row = conn.execute(self._claim_stmt, params).first()
            if row is None and not swept:
                self._sweep(conn, now)
                row = conn.execute(self._claim_stmt, params).first()
            if row is None:
                return None
            return Job(id=row.id, kind=row.kind, payload=json.loads(row.payload),
                       employee_id=row.employee_id, attempts=row.attempts,
                       max_attempts=row.max_attempts, lease_owner=owner)

    def _sweep(self, conn: Connection, now: float) -> None:
        """Expired leases go back to pending (their worker died or stalled)."""
        conn.execute(self._sweep_stmt, self.db_now.params())
        self._last_sweep = now

    def heartbeat(self, job: Job, lease_seconds: float = 60.0) -> bool:
        """Extend the lease; False when the job is no longer ours (lease lost)."""
        with transaction(self.engine) as conn:
            result = conn.execute(self._heartbeat_stmt, {
                "job_id": job.id, "owner": job.lease_owner, "lease": lease_seconds,
                **self.db_now.params()})
            return bool(result.rowcount == 1)

    # -- finishing -----------------------------------------------------------------------
    def complete(self, job: Job, tx: Transaction | None = None) -> None:
        """Mark done; pass `tx` to commit it atomically with the job's own ledger writes."""
        params = self._complete_params(job)
        if tx is not None:
            tx.connection.execute(self._complete_stmt, params)
            return
        with transaction(self.engine) as own:
            own.execute(self._complete_stmt, params)

    def _complete_params(self, job: Job) -> dict[str, Any]:
        return {"job_id": job.id, "owner": job.lease_owner, **self.db_now.params()}

    def fail(self, job: Job, error: str, *, retriable: bool, retry_after: float | None = None,
             count_attempt: bool = True) -> JobState | Literal["lost"]:
        """Record a failure: back to pending with backoff, or a dead letter. Returns the state
        (or LOST when the lease had expired and another worker holds the job)."""
        now = self.db_now.expr
        attempts = job.attempts if count_attempt else job.attempts - 1
        if retriable and attempts < job.max_attempts:
            delay = backoff_seconds(attempts, base=self.backoff_base, jitter=self.jitter)
            if retry_after is not None:
                delay = max(delay, retry_after)
            values: dict[str, Any] = dict(state=PENDING, run_after=now + delay,
                                          attempts=attempts)
            state = JobState.PENDING
        else:
            values = dict(state=DEAD, finished_at=now, attempts=attempts)
            state = JobState.DEAD
        with transaction(self.engine) as conn:
            result = conn.execute(
                update(jobs).where(jobs.c.id == job.id, jobs.c.lease_owner == job.lease_owner)
                .values(lease_owner=None, lease_expires=None, last_error=error[:2000], **values),
                self.db_now.params())
        # The lease was lost (another worker has the job now): nothing was recorded, and the
        # caller must not report a dead letter that is not one.
        return state if result.rowcount == 1 else LOST

    # -- operating -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Jobs by state, keyed by `JobState` value (states with no job are left out; a
        `JobState` member looks its own value up)."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))
            return {JobState(state).value: int(n) for state, n in rows}

    def oldest_pending_age(self) -> float | None:
        with transaction(self.engine) as conn:
            age = conn.execute(
                select(self.db_now.expr - func.min(jobs.c.created_at))
                .where(jobs.c.state == PENDING), self.db_now.params()).scalar()
        return None if age is None else max(0.0, float(age))

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with transaction(self.engine) as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.kind, jobs.c.employee_id, jobs.c.attempts,
                       jobs.c.last_error, jobs.c.finished_at)
                .where(jobs.c.state == DEAD).order_by(jobs.c.id).limit(limit)
            ).mappings()
            return [DeadLetter(**r) for r in rows]

    def replay(self, job_id: int | None = None, tx: Transaction | None = None) -> int:
        """Send dead letters (one, or all) back to the queue with fresh attempts."""
        if tx is not None:
            return len(self.replay_dead(tx, job_id))
        with transaction(self.engine) as conn:
            return len(self.replay_dead(Transaction(conn), job_id))

    def replay_dead(self, tx: Transaction, job_id: int | None = None) -> list[DeadLetter]:
        """Dead letters (one, or all) back to pending with fresh attempts, inside the caller's
        transaction (so the replay commits with its audit); the dead letters as they were.
        A job that is not dead (replayed already) is left alone."""
        cond = jobs.c.state == DEAD
        if job_id is not None:
            cond = and_(cond, jobs.c.id == job_id)
        conn = tx.connection
        dead = [DeadLetter(**r) for r in conn.execute(
            select(jobs.c.id, jobs.c.kind, jobs.c.employee_id, jobs.c.attempts,
                   jobs.c.last_error, jobs.c.finished_at)
            .where(cond).order_by(jobs.c.id).with_for_update()).mappings()]
        if dead:
            conn.execute(update(jobs).where(jobs.c.id.in_([d.id for d in dead]),
                                            jobs.c.state == DEAD)
                         .values(state=PENDING, attempts=0, run_after=self.db_now.expr,
                                 finished_at=None), self.db_now.params())
        return dead

    def job_state(self, job_id: int) -> JobState | None:
        """The state of one job (None: no such job)."""
        with transaction(self.engine) as conn:
            state = conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar()
        return None if state is None else JobState(state)

    def has_unfinished(self, employee_id: str, *, before_id: int | None = None) -> bool:
        """Whether the employee has earlier jobs still queued or running."""
        cond = and_(jobs.c.employee_id == employee_id, jobs.c.state.in_((PENDING, RUNNING)))
        if before_id is not None:
            cond = and_(cond, jobs.c.id < before_id)
        with transaction(self.engine) as conn:
            return conn.execute(select(func.count()).where(cond)).scalar_one() > 0
