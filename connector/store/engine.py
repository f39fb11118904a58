"""Engines and transactions for both backends, and the one place driver errors are translated.

SQLite: WAL, a busy timeout, and every transaction opened with `BEGIN IMMEDIATE` so a job
claim is a real write lock (no two workers claim the same job, no upgrade deadlocks).
PostgreSQL: READ COMMITTED with row locks (`FOR UPDATE SKIP LOCKED`) where it matters.
Nothing above this module imports `sqlite3` or `psycopg` errors.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from connector.errors import ConfigError, RetriableStoreError, StoreError

_SECRET_IN_URL = re.compile(r"(://[^:/@]+:)[^@]*@")


def redact_url(url: str) -> str:
    """The database URL with any password replaced, for logs and status output."""
    return _SECRET_IN_URL.sub(r"\1***@", url)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for `url` (sqlite:///… or postgresql+psycopg://…) set up for our use."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            _configure_sqlite(engine)
            return engine
        if url.startswith("postgresql"):
            # No pre-ping (a round trip per checkout on the receiver's hot path): a connection
            # dropped by a server restart fails one call, which is retried, and the pool
            # replaces it; recycling keeps idle connections fresh.
            return create_engine(url, pool_size=pool_size, max_overflow=10, pool_recycle=300)
    except (sa_exc.ArgumentError, ImportError) as exc:
        raise ConfigError(f"CONNECTOR_DATABASE_URL {redact_url(url)!r}: {exc}") from None
    raise ConfigError(
        f"CONNECTOR_DATABASE_URL {redact_url(url)!r}: expected sqlite:///PATH or "
        "postgresql://USER@HOST/DB"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _use_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _use_wal(cur: Any) -> None:
    """Switch a database file to WAL (it stays so); retried, since the switch needs the file
    to itself and SQLite answers "database is locked" at once, without its busy timeout, when
    several processes open a new database together."""
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    for attempt in range(100):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.01 + 0.002 * attempt)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into StoreError / RetriableStoreError at the store boundary."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise StoreError(f"database constraint violated: {_short(exc)}") from exc
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise RetriableStoreError(f"database unavailable or busy: {_short(exc)}") from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise RetriableStoreError(f"database connection lost: {_short(exc)}") from exc
        raise StoreError(f"database error: {_short(exc)}") from exc


def _short(exc: sa_exc.DBAPIError) -> str:
    return _first_line(exc.orig) if exc.orig is not None else type(exc).__name__


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction, with driver errors translated."""
    with translate_errors(), engine.begin() as conn:
        yield conn


class Transaction:
    """A unit of work: what `Store.transaction()` yields. Pass it as `tx` to store operations
    and they commit together when the `with` block ends (or roll back together if it raises).

    It holds the transaction's connection for the store's own modules; nothing outside
    `connector/store` reads it (tests/unit/test_layering.py checks that no module outside
    the store imports SQLAlchemy).
    """

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection


def using(engine: Engine, tx: Transaction | None) -> AbstractContextManager[Connection]:
    """The caller's transaction when given, else a transaction of its own."""
    return nullcontext(tx.connection) if tx is not None else transaction(engine)


@contextmanager
def driver_cursor(engine: Engine, *, single_statement: bool = False) -> Iterator[Any]:
    """A cursor of the driver itself, from the engine's pool, in one transaction that
    commits when the block ends (and rolls back if it raises); errors translated like
    `transaction`'s. `single_statement=True`: the block runs one statement, which is atomic
    on its own, so PostgreSQL runs it in autocommit (no BEGIN and COMMIT round trips).

    For the receiver's hot path only (see store/intake.py): elsewhere SQLAlchemy's own
    execution is worth its cost.
    """
    postgres = is_postgres(engine)
    dialect = engine.dialect
    with translate_errors():
        pooled = engine.raw_connection()
    conn: Any = pooled.driver_connection
    cursor = None
    autocommit = postgres and single_statement
    try:
        cursor = conn.cursor()
        if autocommit:
            conn.autocommit = True
        elif not postgres:
            cursor.execute("BEGIN IMMEDIATE")  # as every SQLite transaction here (see above)
        try:
            yield cursor
            if not autocommit:
                conn.commit()
        except BaseException:
            if not autocommit:
                conn.rollback()
            raise
        finally:
            if autocommit and not conn.closed:
                conn.autocommit = False
    except dialect.loaded_dbapi.Error as exc:
        disconnect = dialect.is_disconnect(exc, conn, cursor)
        if disconnect or (autocommit and conn.autocommit):
            # Never back to the pool: dead, or still in autocommit (which would quietly
            # split the next user's transaction into single statements).
            pooled.invalidate(exc)
        if disconnect:
            # What SQLAlchemy does on a disconnect: the pool's other connections are
            # presumed dead too (a server restart), so it starts afresh; otherwise every
            # one of them would fail one more delivery.
            engine.dispose()
            raise RetriableStoreError(f"database connection lost: {_first_line(exc)}") from exc
        if isinstance(exc, dialect.loaded_dbapi.IntegrityError):
            raise StoreError(f"database constraint violated: {_first_line(exc)}") from exc
        if isinstance(exc, (dialect.loaded_dbapi.OperationalError,
                            dialect.loaded_dbapi.InterfaceError)):
            raise RetriableStoreError(f"database unavailable or busy: {_first_line(exc)}") from exc
        raise StoreError(f"database error: {_first_line(exc)}") from exc
    finally:
        if cursor is not None and not getattr(conn, "closed", False):
            cursor.close()
        pooled.close()  # back to the pool
