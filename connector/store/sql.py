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


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)
