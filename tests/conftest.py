"""Shared fixtures: a real database per test, on SQLite and on a real PostgreSQL server; and the
one rule about skips.

PostgreSQL: one fresh database per test run on 127.0.0.1:5432 (dropped at the end), with the
tables emptied before each test; `new_database` makes more, blank ones, for migration tests.

Skips: a test skips when an input it needs is missing (the PostgreSQL server, a vendor's
OpenAPI file), saying what is missing. Under CI (`CI=true`) every skip fails the run unless its
reason is on `ALLOWED_SKIPS` below, so no check can pass there by not running.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "CONNECTOR_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

# -- skips ----------------------------------------------------------------------------------

# The one allow-list: a skip whose reason contains a key here is accepted under CI; the value
# says why that input may be missing there. Empty: in CI every input is present.
ALLOWED_SKIPS: dict[str, str] = {}



def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _refused(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """The failure text for a skip CI does not accept, or None."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return None
    reason = _skip_reason(report)
    if any(key in reason for key in ALLOWED_SKIPS):
        return None
    return (f"skipped under CI=true: {reason}\n(a skip fails CI unless its reason is on "
            "ALLOWED_SKIPS in tests/conftest.py, with why)")


def _judge(report: pytest.TestReport | pytest.CollectReport, config: pytest.Config) -> None:
    """Under CI, turn a refused skip into a failure (elsewhere the summary lists it)."""
    refused = _refused(report)
    if refused is not None and in_ci():
        report.outcome = "failed"
        report.longrepr = refused


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, None]:
    outcome = yield
    _judge(outcome.get_result(), item.config)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    """A module skipped as a whole (`allow_module_level`, `importorskip`) is a skip too."""
    outcome = yield
    _judge(outcome.get_result(), collector.config)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    # From the reports the terminal saw: with pytest-xdist they were made on the workers.
    refused = [f"{r.nodeid}: {_skip_reason(r)}"
               for r in terminalreporter.stats.get("skipped", []) if _refused(r) is not None]
    if refused:
        terminalreporter.section("skips CI would refuse")
        terminalreporter.write_line(
            f"{len(refused)} skipped for a missing input: under CI=true each fails the run "
            "(unless on ALLOWED_SKIPS in tests/conftest.py)")
        for line in refused:
            terminalreporter.write_line(f"  {line}")


# -- running in parallel ----------------------------------------------------------------------

# `make test` runs the suite on two pytest workers (pytest-xdist, `--dist loadgroup`). A
# module's tests stay together on one worker, in their order, as in a serial run (module
# fixtures are made once). The end-to-end tests run whole connector processes against the
# sandboxes with time limits of their own: they all go to one worker, one after another, so
# two of them never share the machine's two cores while the other runs the lighter tests.
HEAVY = ("tests/e2e/", "tests/integration/test_worker_crash.py",
         "tests/integration/test_pg_concurrency.py")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group("heavy" if module.startswith(HEAVY)
                                                else module))


# -- databases ------------------------------------------------------------------------------

def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


def _require_pg() -> None:
    if not _pg_available():
        pytest.skip(f"PostgreSQL is not answering at {PG_ADMIN_URL.rsplit('@', 1)[-1]} "
                    "(start it, or set CONNECTOR_TEST_PG_ADMIN_URL)")


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run."""
    _require_pg()
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
