"""Schema migrations: frozen Alembic revisions shipped in the package, applied under a lock.

The revisions are in `store/alembic/versions/`, one file each, named `NNNN_what` (the file name
is the revision id, which is what `/readyz` and `connector db upgrade` print). A released
revision is never edited: a schema change is `schema.py` plus a new revision, and
tests/integration/test_migrations.py fails when the two disagree. To write one, from a
database upgraded to the current head:

    python -c "from alembic import command; from connector.store.migrations import \\
        alembic_config as c; command.revision(c('sqlite:///dev.db'), 'what it does', \\
        autogenerate=True, rev_id='0002_what_it_does')"

then read and tidy the generated file (it is code that will run on every database).

Databases made before Alembic (by the release whose `0001_initial` ran `create_all` and
recorded its name in `schema_migrations`) are adopted on their next upgrade: their tables are
checked against the frozen first revision and stamped with it, so nothing is re-created.

Concurrency: Alembic does not lock. The upgrade runs in one transaction that first takes the
write lock: PostgreSQL's transaction-scoped advisory lock, SQLite's `BEGIN IMMEDIATE` (every
transaction here begins so, see engine.py). A second process waits, then finds the database
current and applies nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.engine import Inspector
from sqlalchemy.types import TypeEngine

from connector.errors import StoreError
from connector.store.engine import is_postgres, transaction

SCRIPTS = Path(__file__).with_name("alembic")
FIRST = "0001_initial"  # the frozen first revision: the schema of the first release
LEGACY_TABLE = "schema_migrations"  # where the releases before Alembic recorded migrations
VERSION_TABLE = "alembic_version"
_LOCK_ID = 0x5C111_6A9  # fixed: "skill gap"; 0.1.0 used it too, so old and new take turns

# table -> part ("column", "index", …) -> name -> what it is
Shape = dict[str, dict[str, dict[str, Any]]]


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """Alembic's configuration, built here (no alembic.ini): the shipped scripts, and either
    a connection to run on (the runner's, inside its lock) or a URL (writing a revision)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s")  # the file is named by its id
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    """The revisions shipped with this install (they do not change while it runs)."""
    return ScriptDirectory.from_config(alembic_config())


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def applied(engine: Engine) -> set[str]:
    """The revisions the database has (a pre-Alembic database: the names it recorded)."""
    with transaction(engine) as conn:
        return _applied(conn)


def pending(engine: Engine) -> list[str]:
    """The revisions the database lacks, oldest first (for `/readyz` and `connector db`)."""
    done = applied(engine)
    return [name for name in revisions() if name not in done]


def upgrade(engine: Engine) -> list[str]:
    """Apply what is missing; return the revisions applied (empty when already current).

    Safe to run twice and from several processes at once (see the module's docstring).
    """
    with transaction(engine) as conn:
        if is_postgres(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        if _is_pre_alembic(conn):
            _adopt(conn)
        done = _applied(conn)
        todo = [name for name in revisions() if name not in done]
        if todo:
            command.upgrade(alembic_config(connection=conn), "head")
        return todo


# -- what the database has ---------------------------------------------------------------

def _applied(conn: Connection) -> set[str]:
    if not inspect(conn).has_table(VERSION_TABLE):
        return _recorded_before_alembic(conn)
    heads = MigrationContext.configure(conn).get_current_heads()
    unknown = sorted(set(heads) - set(revisions()))
    if unknown:
        raise StoreError(
            f"the database is at revision {', '.join(unknown)}, which this release does not "
            "know: it was migrated by a newer release; run that one (or newer)")
    return {script.revision for script in _scripts().iterate_revisions(heads, "base")}


def _is_pre_alembic(conn: Connection) -> bool:
    found = inspect(conn)
    return found.has_table(LEGACY_TABLE) and not found.has_table(VERSION_TABLE)


def _recorded_before_alembic(conn: Connection) -> set[str]:
    if not inspect(conn).has_table(LEGACY_TABLE):
        return set()
    return set(conn.execute(text(f"SELECT name FROM {LEGACY_TABLE}")).scalars())  # noqa: S608


# -- adopting a database made before Alembic ---------------------------------------------

def _adopt(conn: Connection) -> None:
    """Stamp a pre-Alembic database with the frozen first revision, once its tables are
    shown to be that revision's (so the revisions after it apply as to any other)."""
    recorded = _recorded_before_alembic(conn)
    if recorded != {FIRST}:
        raise StoreError(
            f"the database's {LEGACY_TABLE} records {sorted(recorded) or 'nothing'}; a "
            f"database made before Alembic records exactly {FIRST!r}: check what made it")
    differences = _differences(_shape(inspect(conn)), _first_revision_shape())
    if differences:
        raise StoreError(
            f"the database records {FIRST!r} but its tables differ from that revision: "
            + "; ".join(differences[:10]) + ("; …" if len(differences) > 10 else ""))
    command.stamp(alembic_config(connection=conn), FIRST)


@cache
def _first_revision_shape() -> Shape:
    """What the frozen first revision makes, read back from a scratch in-memory database."""
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as conn:
            command.upgrade(alembic_config(connection=conn), FIRST)
            return _shape(inspect(conn))
    finally:
        scratch.dispose()


def _shape(found: Inspector) -> Shape:
    """Tables as both engines can compare them: per table, its columns (kind, nullable), its
    primary key, indexes (columns, unique) and unique constraints (columns), by name."""
    shape: Shape = {}
    for table in found.get_table_names():
        if table == VERSION_TABLE:
            continue
        uniques = {str(u["name"]): tuple(u["column_names"])
                   for u in found.get_unique_constraints(table)}
        shape[table] = {
            "column": {c["name"]: (_kind(c["type"]), "null" if c["nullable"] else "not null")
                       for c in found.get_columns(table)},
            "primary key": {"": tuple(found.get_pk_constraint(table)["constrained_columns"])},
            "index": {str(i["name"]): (tuple(i["column_names"]), "unique" if i["unique"] else "")
                      for i in found.get_indexes(table)
                      if i["name"] not in uniques},  # PostgreSQL lists both
            "unique": uniques,
        }
    return shape


# Generic kinds, most specific first (Float is no Numeric in SQLAlchemy 2.1; Text is a String).
_KINDS: tuple[type[TypeEngine[Any]], ...] = (
    Boolean, Integer, Float, Numeric, DateTime, LargeBinary, String)


def _kind(column_type: TypeEngine[Any]) -> str:
    """A column type as a kind both engines share (FLOAT, DOUBLE PRECISION: Float)."""
    for kind in _KINDS:
        if isinstance(column_type, kind):
            length = getattr(column_type, "length", None)
            return f"{kind.__name__}({length})" if length else kind.__name__
    return type(column_type).__name__


def _differences(found: Shape,
                 expected: Shape) -> list[str]:
    """What differs, one short line each ("jobs: column run_after is missing")."""
    out = [f"table {name} is missing" for name in sorted(expected.keys() - found.keys())]
    out += [f"table {name} is unexpected" for name in sorted(found.keys() - expected.keys())]
    for table in sorted(expected.keys() & found.keys()):
        for part, wanted in expected[table].items():
            have = found[table][part]
            for name in sorted(wanted.keys() | have.keys()):
                what = f"{table}: {part} {name}".rstrip()
                if name not in have:
                    out.append(f"{what} is missing")
                elif name not in wanted:
                    out.append(f"{what} is unexpected")
                elif have[name] != wanted[name]:
                    out.append(f"{what} is {have[name]} instead of {wanted[name]}")
    return out
