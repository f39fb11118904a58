"""Alembic's entry point for the connector's schema (run by `connector.store.migrations`).

The runner hands over a connection already inside its locked transaction
(`config.attributes["connection"]`), so every revision commits together with the version
stamp, or not at all. `target_metadata` is the live schema (store/schema.py), used only by
autogenerate and the drift test; revisions themselves never import it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from connector.store import schema


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        compare_type=True,
        # SQLite alters a table by copying it: autogenerate writes such steps as batches.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Called without the runner (e.g. to write a new revision): connect to the configured URL.
    from connector.store.engine import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the connector's migrations run online only: give a database URL")
_main()
