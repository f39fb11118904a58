"""Four worker processes on one PostgreSQL database: every job runs once, and one employee's
jobs never overlap and run in the order they were queued (`FOR UPDATE SKIP LOCKED` plus the
per-employee check in the claim)."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import time
from collections import defaultdict

import pytest
from sqlalchemy import create_engine, text

from connector.store import Store
from tests.support.crash_worker import EFFECT_LOG, recording_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

JOBS = 5000
EMPLOYEES = 50
WORKERS = 4


def empty(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(EFFECT_LOG))
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('schema_migrations', 'alembic_version')")).scalars().all()
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                          + " RESTART IDENTITY"))
    engine.dispose()


def test_four_workers_run_every_job_once_in_per_employee_order(pg_database_url: str) -> None:
    store = Store.open(pg_database_url)
    empty(pg_database_url)
    try:
        with store.transaction() as tx:
            for n in range(JOBS):
                # Every seventh job belongs to no employee; the rest to one of 50.
                employee = None if n % 7 == 6 else f"E{n % EMPLOYEES}"
                store.jobs.enqueue(tx, "record", {"n": n}, employee_id=employee)

        ctx = mp.get_context("spawn")
        go = ctx.Event()
        procs = [ctx.Process(target=recording_worker, args=(pg_database_url, f"w{i}", go))
                 for i in range(WORKERS)]
        for p in procs:
            p.start()
        started = time.monotonic()
        go.set()
        for p in procs:
            p.join(timeout=120)
        elapsed = time.monotonic() - started
        assert [p.exitcode for p in procs] == [0] * WORKERS
        print(f"{JOBS} jobs by {WORKERS} processes in {elapsed:.1f} s "
              f"({JOBS / elapsed:.0f} jobs/s, including process start)")

        assert store.jobs.counts() == {"done": JOBS}
        with store.engine.connect() as conn:
            runs = conn.execute(text(
                "SELECT job_id, employee_id, worker, started, finished FROM effect_log "
                "ORDER BY started")).all()
        # Every effect happened once.
        assert len(runs) == JOBS
        assert sorted(r.job_id for r in runs) == list(range(1, JOBS + 1))
        # The work was shared.
        assert len({r.worker for r in runs}) == WORKERS
        # One employee's jobs: in queue order, never two at a time.
        by_employee: dict[str, list] = defaultdict(list)
        for r in runs:
            if r.employee_id is not None:
                by_employee[r.employee_id].append(r)
        assert len(by_employee) == EMPLOYEES
        for employee, seq in by_employee.items():
            ids = [r.job_id for r in seq]
            assert ids == sorted(ids), f"{employee} ran out of order: {ids[:20]}"
            for before, after in itertools.pairwise(seq):
                assert before.finished <= after.started, (
                    f"{employee}: job {after.job_id} started before job {before.job_id} ended")
    finally:
        store.close()
