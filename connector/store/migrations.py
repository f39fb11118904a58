"""Ordered, named schema migrations, applied once each, safe with several processes at once.

A migration is a function of a connection; its name is recorded in `schema_migrations`.
Concurrency: PostgreSQL takes a transaction-scoped advisory lock; SQLite's `BEGIN IMMEDIATE`
already serialises writers. Either way the second process finds the names recorded and
applies nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, select, text

from connector.models import utcnow
from connector.store import schema
from connector.store.engine import is_postgres, transaction

_LOCK_ID = 0x5C111_6A9  # arbitrary, fixed: "skill gap"


def _initial(conn: Connection) -> None:
    """0001: every table of the first release."""
    tables = [t for t in schema.metadata.sorted_tables if t is not schema.schema_migrations]
    schema.metadata.create_all(conn, tables=tables, checkfirst=True)


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("0001_initial", _initial),
]


def applied(engine: Engine) -> set[str]:
    if not inspect(engine).has_table("schema_migrations"):
        return set()
    with transaction(engine) as conn:
        return set(conn.execute(select(schema.schema_migrations.c.name)).scalars())


def pending(engine: Engine) -> list[str]:
    done = applied(engine)
    return [name for name, _ in MIGRATIONS if name not in done]


def upgrade(engine: Engine) -> list[str]:
    """Apply what is missing; return the names applied (empty when already current)."""
    with transaction(engine) as conn:
        if is_postgres(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        schema.schema_migrations.create(conn, checkfirst=True)
        done = set(conn.execute(select(schema.schema_migrations.c.name)).scalars())
        newly = []
        for name, migrate in MIGRATIONS:
            if name in done:
                continue
            migrate(conn)
            conn.execute(schema.schema_migrations.insert().values(name=name, applied_at=utcnow()))
            newly.append(name)
        return newly
