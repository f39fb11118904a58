"""Databases as released versions of the connector made them, for the migration tests.

`0.1.0`: its `connector db upgrade` ran `schema.metadata.create_all` as migration
`0001_initial`, recorded in `schema_migrations`. The DDL it emitted is frozen in
`released/0.1.0.<dialect>.sql` (compiled from that release's schema.py), so these databases
stay what that release made whatever schema.py becomes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from connector.store.engine import make_engine

HERE = Path(__file__).with_name("released")
RELEASES = ("0.1.0",)


def make_released_database(url: str, release: str = "0.1.0") -> None:
    """Make on the blank database `url` what `release` made on its first start."""
    engine = make_engine(url)
    try:
        ddl = (HERE / f"{release}.{engine.dialect.name}.sql").read_text(encoding="utf-8")
        statements = [s.strip() for s in ddl.split(";\n") if s.strip()]
        with engine.begin() as conn:
            for statement in statements:
                body = "\n".join(line for line in statement.splitlines()
                                 if not line.startswith("--"))
                conn.execute(text(body))
            # As the release's runner recorded each migration it applied.
            conn.execute(text("INSERT INTO schema_migrations (name, applied_at) "
                              "VALUES ('0001_initial', :at)"),
                         {"at": datetime.now(UTC).replace(tzinfo=None)
                          if engine.dialect.name == "sqlite" else datetime.now(UTC)})
    finally:
        engine.dispose()
