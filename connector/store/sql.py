"""Small SQL helpers shared by the store modules (portable insert-or-ignore, JSON columns)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any],
                  conflict: list[str]) -> bool:
    """Insert unless a row with the same `conflict` columns exists; True when inserted."""
    if conn.dialect.name == "postgresql":
        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing(
            index_elements=conflict)
    else:
        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing(
            index_elements=conflict)
    # SQLAlchemy 2.x keeps an INSERT's rowcount only when asked (psycopg reports -1
    # once the cursor is closed), so ask: without it every insert looks ignored on PG.
    stmt = stmt.execution_options(preserve_rowcount=True)
    return bool(conn.execute(stmt).rowcount == 1)


_RETURNING_ID: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def insert_ignore_returning_id(conn: Connection, table: Table, values: dict[str, Any],
                              conflict: list[str]) -> int | None:
    """Insert-or-ignore in one round trip; the new row's id, or None when it existed.

    The statement is built once per table and executed with the values as parameters: on
    the receiver's hot path, building Core statements cost more than running them.
    """
    key = (conn.dialect.name, table.name, tuple(conflict))
    stmt = _RETURNING_ID.get(key)
    if stmt is None:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = (insert(table).on_conflict_do_nothing(index_elements=conflict)
                .returning(table.c.id))
        _RETURNING_ID[key] = stmt
    found = conn.execute(stmt, values).scalar()
    return None if found is None else int(found)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)
