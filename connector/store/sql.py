"""Small SQL helpers shared by the store modules (portable insert-or-ignore, JSON columns)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any],
                  conflict: list[str]) -> bool:
    """Insert unless a row with the same `conflict` columns exists; True when inserted.

    The values go to `execute` as parameters, not into the statement (`.values(...)`):
    the statement is then the same for every row of a table, so SQLAlchemy neither coerces
    each value into a bound literal nor builds a cache key over them on every call (that
    was about a tenth of the product's CPU in a sync cycle, bench/cycle.py). Values are
    plain data here; a SQL expression among them would need `.values()` again.
    """
    if conn.dialect.name == "postgresql":
        stmt: Any = pg_insert(table).on_conflict_do_nothing(index_elements=conflict)
    else:
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict)
    # SQLAlchemy 2.x keeps an INSERT's rowcount only when asked (psycopg reports -1
    # once the cursor is closed), so ask: without it every insert looks ignored on PG.
    stmt = stmt.execution_options(preserve_rowcount=True)
    return bool(conn.execute(stmt, values).rowcount == 1)


class DriverStatement:
    """A Core statement compiled once for one dialect, to run on a driver cursor
    (`engine.driver_cursor`): its SQL, and its parameters in the driver's style with the
    columns' bind processing (e.g. `UtcDateTime`) applied as SQLAlchemy would apply it."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._order: list[str] | None = (list(compiled.positiontup)
                                         if compiled.positiontup is not None else None)
        self._defaults = {name: bind.value for name, bind in compiled.binds.items()
                          if not bind.required}
        self._processors = {
            name: process for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }

    def parameters(self, values: dict[str, Any]) -> Any:
        """The driver's parameters for `values` (every required parameter, by name)."""
        bound = {**self._defaults, **values}
        for name, process in self._processors.items():
            bound[name] = process(bound[name])
        return bound if self._order is None else [bound[name] for name in self._order]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)
