"""The schema's migrations on SQLite and PostgreSQL: from empty and from a released database
they make one schema; schema.py and the migrations agree (the drift check); a database made
before Alembic is adopted, or refused when it is not what that release made; `connector db
upgrade` from several processes at once is safe; and the scripts ship in the package."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text

from connector.errors import StoreError
from connector.store import migrations, schema
from connector.store.engine import make_engine
from tests.support.released import RELEASES, make_released_database

ROOT = Path(__file__).resolve().parents[2]


def full_schema(url: str) -> dict[str, Any]:
    """Everything the engine says of each table: columns (type as the engine writes it,
    nullability, default), primary key, indexes, unique constraints, foreign keys."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            dialect = conn.dialect
            return {
                table: {
                    "columns": [(c["name"], c["type"].compile(dialect=dialect), c["nullable"],
                                 c.get("default")) for c in found.get_columns(table)],
                    "primary key": found.get_pk_constraint(table)["constrained_columns"],
                    "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                      for i in found.get_indexes(table)),
                    "uniques": sorted((u["name"], tuple(u["column_names"]))
                                      for u in found.get_unique_constraints(table)),
                    "foreign keys": found.get_foreign_keys(table),
                }
                for table in sorted(found.get_table_names())
            }
    finally:
        engine.dispose()


def drift(url: str, metadata: MetaData) -> list[Any]:
    """What autogenerate would write to make the database at `url` match `metadata`."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def upgrade(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return migrations.upgrade(engine)
    finally:
        engine.dispose()


def state(url: str) -> tuple[set[str], list[str]]:
    engine = make_engine(url)
    try:
        return migrations.applied(engine), migrations.pending(engine)
    finally:
        engine.dispose()


# -- one schema, whichever way a database came ----------------------------------------------

@pytest.mark.parametrize("release", RELEASES)
def test_upgrade_from_empty_and_from_a_released_database_give_one_schema(
        new_database: Callable[[], str], release: str) -> None:
    empty, released = new_database(), new_database()
    make_released_database(released, release)
    assert state(released) == ({migrations.FIRST}, migrations.revisions()[1:])

    assert upgrade(empty) == migrations.revisions()
    assert upgrade(released) == migrations.revisions()[1:]  # 0001 is there already

    made = full_schema(empty)
    assert set(made) >= {"inbox", "jobs", "actions", "goals", "alembic_version"}
    assert full_schema(released) == made
    assert state(empty) == state(released) == (set(migrations.revisions()), [])
    assert upgrade(released) == [] and upgrade(empty) == []


def test_the_schema_py_tables_are_what_the_migrations_make(fresh_database_url: str) -> None:
    """The drift check: a change to schema.py without a revision (or the reverse) fails here."""
    upgrade(fresh_database_url)
    assert drift(fresh_database_url, schema.metadata) == []


def test_the_drift_check_sees_a_schema_change_without_a_migration(
        fresh_database_url: str) -> None:
    upgrade(fresh_database_url)
    changed = MetaData()
    for table in schema.metadata.sorted_tables:
        copy = table.to_metadata(changed)
        if table.name == "jobs":
            copy.append_column(Column("priority", Integer, nullable=False))
    found = drift(fresh_database_url, changed)
    assert [(op[0], op[3].name) for op in found if op[0] == "add_column"] == [
        ("add_column", "priority")]


def test_the_first_revision_is_written_out_not_made_from_schema_py() -> None:
    text_ = (migrations.SCRIPTS / "versions" / f"{migrations.FIRST}.py").read_text()
    code = text_.split('"""', 2)[2]  # past the docstring
    assert "create_all" not in code
    assert "connector" not in code  # imports nothing of the code, which moves on
    released = (ROOT / "tests" / "support" / "released" / "0.1.0.sqlite.sql").read_text()
    assert code.count("op.create_table(") == released.count("CREATE TABLE ") == 14


# -- adopting a database made before Alembic ------------------------------------------------

def test_a_released_database_whose_tables_differ_is_refused_and_left_alone(
        new_database: Callable[[], str]) -> None:
    url = new_database()
    make_released_database(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_audit_employee"))
            conn.execute(text("ALTER TABLE jobs ADD COLUMN priority INTEGER"))
        with pytest.raises(StoreError) as info:
            migrations.upgrade(engine)
        assert "audit: index ix_audit_employee is missing" in str(info.value)
        assert "jobs: column priority is unexpected" in str(info.value)
        assert not inspect(engine).has_table(migrations.VERSION_TABLE)
    finally:
        engine.dispose()


def test_a_released_database_recording_an_unknown_migration_is_refused(
        new_database: Callable[[], str]) -> None:
    url = new_database()
    make_released_database(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE schema_migrations SET name = '0002_hand_made'"))
        with pytest.raises(StoreError, match="records \\['0002_hand_made'\\]"):
            migrations.upgrade(engine)
    finally:
        engine.dispose()


def test_a_database_migrated_by_a_newer_release_is_refused(fresh_database_url: str) -> None:
    upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
        with pytest.raises(StoreError, match=r"0099_from_the_future.*newer release"):
            migrations.upgrade(engine)
    finally:
        engine.dispose()


# -- several processes at once --------------------------------------------------------------

UPGRADE_AT = """
import os, sys, time
from pathlib import Path
from connector.cli import main
gate, n = Path(sys.argv[1]), int(sys.argv[2])
(gate / f"ready-{os.getpid()}").touch()
deadline = time.monotonic() + 60
while len(list(gate.iterdir())) < n and time.monotonic() < deadline:
    time.sleep(0.005)  # every process imported and waiting: now all at once
sys.exit(main(["db", "upgrade"]))
"""
PROCESSES = 4


@pytest.mark.slow
@pytest.mark.parametrize("start", ["empty", "released"])
def test_concurrent_db_upgrade_processes_migrate_once(
        new_database: Callable[[], str], tmp_path: Path, start: str) -> None:
    url = new_database()
    if start == "released":
        make_released_database(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["CONNECTOR_DATABASE_URL"] = url
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", UPGRADE_AT, str(gate), str(PROCESSES)],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * PROCESSES, outputs
    said = sorted(out.strip().split(" on ")[0] if out.startswith("applied") else "up to date"
                  for out, _ in outputs)
    expected_applied = migrations.revisions() if start == "empty" else migrations.revisions()[1:]
    if expected_applied:
        assert said == [f"applied {', '.join(expected_applied)}"] + ["up to date"] * (PROCESSES - 1)
    else:
        assert said == ["up to date"] * PROCESSES
    assert state(url) == (set(migrations.revisions()), [])
    assert drift(url, schema.metadata) == []


# -- shipped in the package -----------------------------------------------------------------

def test_every_migration_script_is_package_data() -> None:
    """The runner reads the scripts from the installed package: each file must be shipped."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["connector"]
    package = ROOT / "connector"
    scripts = [p.relative_to(package).as_posix() for p in migrations.SCRIPTS.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts]
    assert f"store/alembic/versions/{migrations.FIRST}.py" in scripts
    assert [s for s in scripts if not any(fnmatch.fnmatch(s, pat) for pat in patterns)] == []
