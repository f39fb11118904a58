"""Shared fixtures: a real database per test, on SQLite and on a real PostgreSQL server.

PostgreSQL: one fresh database per test run on 127.0.0.1:5432 (dropped at the end), with the
tables emptied before each test; `new_database` makes more, blank ones, for migration tests.
When the server is down the PostgreSQL cases are skipped,
except under CI (`CONNECTOR_REQUIRE_POSTGRES=1`), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "CONNECTOR_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run."""
    if not _pg_available():
        if os.environ.get("CONNECTOR_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required (CONNECTOR_REQUIRE_POSTGRES=1)")
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not running")
    name = f"connector_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('schema_migrations', 'alembic_version')")).scalars().all()
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A database URL for each engine; an empty database for every test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'connector.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    _empty_pg(url)
    return url


@pytest.fixture
def new_database(database_url: str, tmp_path) -> Iterator[Callable[[], str]]:  # type: ignore[no-untyped-def]
    """Make blank databases (no table at all) on the engine of `database_url`: SQLite files
    beside it; PostgreSQL databases beside the run's, dropped after the test."""
    made: list[str] = []
    admin = None

    def make() -> str:
        nonlocal admin
        n = len(made)
        if not database_url.startswith("postgresql"):
            made.append(f"sqlite:///{tmp_path / f'blank-{n}.db'}")
            return made[-1]
        base, name = database_url.rsplit("/", 1)
        fresh = f"{name}_b{n}_{uuid.uuid4().hex[:6]}"
        admin = admin or create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{fresh}"'))
        made.append(f"{base}/{fresh}")
        return made[-1]

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for url in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" '
                                  "WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def fresh_database_url(new_database: Callable[[], str]) -> str:
    """A database no migration has touched."""
    return new_database()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'connector.db'}"
