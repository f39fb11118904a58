"""The receiver's hot path: an inbound event, who it is about, and its job, stored together.

Once `ingest_event` returns True the event is durable and its job queued, so the caller may
acknowledge it; a duplicate (same source and event id) stores nothing and returns False.
The employee is found in the same statement when the sender named only an LMS user: by
linked LMS user id first, then by an email that exactly one employee has
(`LedgerMixin.employee_for_learner` in SQL), so that the job carries the employee and the
queue keeps that employee's jobs in order.

PostgreSQL: one statement (a data-modifying CTE: inbox row, then its job) in autocommit. A
single statement is atomic on its own, so this costs one round trip instead of five (BEGIN,
lookup, inbox, job, COMMIT). SQLite cannot put an INSERT in a CTE: the inbox row (with the
lookup) and the job are two statements in one `BEGIN IMMEDIATE` transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Engine,
    Float,
    Integer,
    LargeBinary,
    String,
    bindparam,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connector.models import utcnow
from connector.store.engine import Transaction, driver_cursor, is_postgres
from connector.store.jobs import JobQueue
from connector.store.schema import UtcDateTime, identities, inbox, jobs
from connector.store.sql import DriverStatement, dumps

_INBOX_COLUMNS = ["source", "event_id", "kind", "employee_id", "payload", "raw", "received_at"]
_JOB_COLUMNS = ["kind", "payload", "employee_id", "inbox_id", "state", "attempts",
                "max_attempts", "run_after", "created_at"]


def _inbox_insert(postgres: bool) -> Any:
    """INSERT INTO inbox … SELECT (the event, with its employee looked up) ON CONFLICT DO
    NOTHING RETURNING id, employee_id."""
    by_lms_user = (select(identities.c.employee_id)
                   .where(identities.c.lms_user_id == bindparam("lms_user_id", type_=String))
                   .limit(1).scalar_subquery())
    by_only_email = (select(func.min(identities.c.employee_id))
                     .where(identities.c.email == bindparam("email", type_=String))
                     .having(func.count() == 1).scalar_subquery())
    employee = func.coalesce(bindparam("employee_id", type_=String), by_lms_user, by_only_email)
    event = select(
        bindparam("source", type_=String), bindparam("event_id", type_=String),
        bindparam("kind", type_=String), employee, bindparam("payload", type_=String),
        bindparam("raw", type_=LargeBinary), bindparam("received_at", type_=UtcDateTime),
    # SQLite reads `SELECT … ON CONFLICT` as a join's ON unless the SELECT has a WHERE.
    ).where(true())
    insert = pg_insert if postgres else sqlite_insert
    return (insert(inbox).from_select(_INBOX_COLUMNS, event)
            .on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(inbox.c.id, inbox.c.employee_id))


def _event_and_job() -> Any:
    """PostgreSQL: WITH event AS (the inbox insert) INSERT INTO jobs … SELECT … FROM event."""
    event = _inbox_insert(postgres=True).cte("event")
    job = select(
        bindparam("job_kind", type_=String), bindparam("job_payload", type_=String),
        event.c.employee_id, event.c.id, bindparam("job_state", type_=String),
        bindparam("job_attempts", type_=Integer), bindparam("job_max_attempts", type_=Integer),
        bindparam("job_run_after", type_=Float), bindparam("job_created_at", type_=Float),
    ).select_from(event)
    return jobs.insert().from_select(_JOB_COLUMNS, job).returning(jobs.c.id)


class EventIntake:
    """`Store.ingest`'s half that touches the database.

    Its statements are compiled once and run on the driver's own cursor: per event,
    SQLAlchemy's execution machinery cost three times what SQLite spent running them
    (bench/webhooks.py measures the receiver this serves).
    """

    def __init__(self, engine: Engine, queue: JobQueue) -> None:
        self.engine = engine
        self.queue = queue
        self.postgres = is_postgres(engine)
        dialect = engine.dialect
        if self.postgres:
            self._event = DriverStatement(_event_and_job(), dialect)
        else:
            self._event = DriverStatement(_inbox_insert(postgres=False), dialect)
            self._job = DriverStatement(
                jobs.insert().values({name: bindparam(name, type_=jobs.c[name].type)
                                      for name in _JOB_COLUMNS}), dialect)

    def ingest_in(self, tx: Transaction, *, source: str, event_id: str, kind: str,
                  payload: dict[str, Any], raw: bytes | None, employee_id: str | None,
                  job_kind: str, learner: tuple[str | None, str | None] | None) -> bool:
        """`ingest` inside the caller's transaction (through SQLAlchemy, not the hot path):
        for a batch whose events commit together with its cursor."""
        lms_user_id, email = (learner if learner is not None and employee_id is None
                              else (None, None))
        event = tx.connection.execute(_inbox_insert(self.postgres), {
            "source": source, "event_id": event_id, "kind": kind, "employee_id": employee_id,
            "lms_user_id": lms_user_id or None,
            "email": (email or "").strip().lower() or None,
            "payload": dumps(payload), "raw": raw, "received_at": utcnow(),
        }).first()
        if event is None:
            return False
        inbox_id, found_employee = event
        self.queue.enqueue(tx, job_kind, {"source": source, "event_id": event_id, **payload},
                           employee_id=found_employee, inbox_id=inbox_id)
        return True

    def ingest(self, *, source: str, event_id: str, kind: str, payload: dict[str, Any],
               raw: bytes | None, employee_id: str | None, job_kind: str,
               learner: tuple[str | None, str | None] | None) -> bool:
        """Store an inbound event and its job; False for a duplicate. `learner` = (LMS user
        id, email) finds the employee when `employee_id` is None."""
        lms_user_id, email = (learner if learner is not None and employee_id is None
                              else (None, None))
        values: dict[str, Any] = {
            "source": source, "event_id": event_id, "kind": kind, "employee_id": employee_id,
            "lms_user_id": lms_user_id or None,
            "email": (email or "").strip().lower() or None,
            "payload": dumps(payload), "raw": raw, "received_at": utcnow(),
        }
        job_payload = {"source": source, "event_id": event_id, **payload}
        if self.postgres:
            job = self.queue.job_row(job_kind, job_payload)
            values.update(job_kind=job["kind"], job_payload=job["payload"],
                          job_state=job["state"], job_attempts=job["attempts"],
                          job_max_attempts=job["max_attempts"], job_run_after=job["run_after"],
                          job_created_at=job["created_at"])
            with driver_cursor(self.engine, single_statement=True) as cursor:
                cursor.execute(self._event.sql, self._event.parameters(values))
                return cursor.fetchone() is not None
        with driver_cursor(self.engine) as cursor:
            cursor.execute(self._event.sql, self._event.parameters(values))
            event = cursor.fetchone()
            if event is None:
                return False
            inbox_id, found_employee = event
            job = self.queue.job_row(job_kind, job_payload, employee_id=found_employee,
                                     inbox_id=inbox_id)
            cursor.execute(self._job.sql, self._job.parameters(job))
        return True
