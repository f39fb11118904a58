"""Benchmark: how many jobs per second the durable queue carries, next to its engine's floor.

Each run measures, on the same engine in the same run:

- baseline: the bare cost of durability, one committed INSERT and one committed UPDATE per
  row (what any durable queue must at least pay), by as many processes as the case has;
- pipeline: jobs queued with `Store.ingest` (inbox + job, one transaction), then drained by
  `Worker` with a no-op handler: claim under a lease (with per-employee ordering), run,
  complete. SQLite with one worker; PostgreSQL with 1 and 4 worker processes.

The ratio pipeline/baseline says how much the queue's own logic costs on top of the engine.
PostgreSQL runs in a fresh database made for the run and dropped after it.

    .venv/bin/python bench/pipeline.py [--jobs 3000] [--pg-admin-url URL] [--skip-postgres] [--json]

Targets on the 2-core reference machine: SQLite >= 500 jobs/s; PostgreSQL, 4 workers >= 1,000.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import (  # noqa: E402 - after the path set-up above
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    text,
    update,
)

from connector.executor import Context  # noqa: E402
from connector.store import Store  # noqa: E402
from connector.store.engine import make_engine  # noqa: E402
from connector.store.jobs import Job  # noqa: E402
from connector.worker import Worker  # noqa: E402
from mappings.schema import Mapping  # noqa: E402

TARGETS = {"sqlite/1": 500.0, "postgresql/4": 1000.0}
EMPLOYEES = 200  # jobs carry employee ids, so the per-employee ordering check is paid for

_bench_meta = MetaData()
_bench_rows = Table(
    "bench_rows", _bench_meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(20), nullable=False),
    Column("payload", String(200), nullable=False),
)


def noop(_ctx: Context, _job: Job) -> str:
    return "ok"


def _baseline_process(url: str, n: int, ready: Any, go: Any, done: Any) -> None:
    """n rows, each a committed INSERT then a committed UPDATE (one process's share)."""
    engine = make_engine(url, pool_size=2)
    with engine.connect():
        pass  # connect before the clock starts
    ready.set()
    go.wait()
    try:
        for i in range(n):
            with engine.begin() as conn:
                key = conn.execute(_bench_rows.insert().values(
                    state="pending", payload=f'{{"n": {i}}}')).inserted_primary_key
            assert key is not None
            with engine.begin() as conn:
                conn.execute(update(_bench_rows).where(_bench_rows.c.id == key[0])
                             .values(state="done"))
    finally:
        done.put(n)
        engine.dispose()


def baseline(url: str, n: int, workers: int) -> float:
    """The engine's floor for durable work: committed INSERT + UPDATE pairs per second, by
    as many processes as the pipeline case uses."""
    engine = make_engine(url)
    _bench_meta.create_all(engine)
    engine.dispose()
    rate, _ = in_processes(_baseline_process, url, workers, n // workers)
    return rate


def enqueue(url: str, n: int) -> float:
    """Queue n no-op jobs through the inbox, one transaction each: jobs per second."""
    store = Store.open(url)
    try:
        started = time.perf_counter()
        for i in range(n):
            store.ingest("bench", f"{uuid.uuid4().hex}", "noop", {"n": i},
                         employee_id=f"E{i % EMPLOYEES}")
        return n / (time.perf_counter() - started)
    finally:
        store.close()


def _worker_process(url: str, ready: Any, go: Any, done: Any) -> None:
    store = Store(make_engine(url, pool_size=2))
    worker = Worker(Context(store=store, mapping=Mapping()), handlers={"noop": noop})
    store.jobs.counts()  # connect before the clock starts
    ready.set()
    go.wait()
    try:
        # Nothing runnable now may mean leased by other workers or waiting behind an
        # employee's earlier job: stop only when nothing is left at all.
        worker.drain(wait_for_retries=True, idle_sleep=0.002)
    finally:
        done.put(worker.stats.done)
        store.close()


def _drain_process(url: str, _n: int, ready: Any, go: Any, done: Any) -> None:
    _worker_process(url, ready, go, done)


def drain(url: str, workers: int) -> tuple[float, int]:
    """Drain the queue with `workers` processes: (jobs per second, jobs done)."""
    return in_processes(_drain_process, url, workers, 0)


def in_processes(target: Any, url: str, workers: int, n: int) -> tuple[float, int]:
    """Run `target(url, n, ready, go, done)` in `workers` fresh processes, timed from one
    start signal (after every process has connected) until every one has reported."""
    ctx = mp.get_context("spawn")
    ready = [ctx.Event() for _ in range(workers)]
    go = ctx.Event()
    done: Any = ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, n, r, go, done)) for r in ready]
    for p in procs:
        p.start()
    for r in ready:
        r.wait(timeout=60)
    started = time.perf_counter()
    go.set()
    total = sum(done.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join(timeout=30)
    return total / elapsed, total


def run_case(url: str, engine: str, workers: int, n: int) -> dict[str, Any]:
    base = baseline(url, n, workers)
    queued = enqueue(url, n)
    rate, total = drain(url, workers)
    if total != n:
        raise SystemExit(f"{engine}/{workers}: {total} of {n} jobs done")
    key = f"{engine}/{workers}"
    return {"case": key, "jobs": n, "baseline_insert_update_per_s": round(base, 1),
            "enqueue_per_s": round(queued, 1), "jobs_per_s": round(rate, 1),
            "ratio_to_baseline": round(rate / base, 2), "target": TARGETS.get(key),
            "met": None if key not in TARGETS else rate >= TARGETS[key]}


def _reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_rows"))
        conn.execute(text("TRUNCATE jobs, inbox RESTART IDENTITY"))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "CONNECTOR_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        Store.open(url).close()
        results.append(run_case(url, "sqlite", 1, args.jobs))

    if not args.skip_postgres:
        name = f"connector_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            Store.open(url).close()
            for workers in (1, 4):
                _reset(url)
                results.append(run_case(url, "postgresql", workers, args.jobs))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'case':<14}{'jobs':>6}{'baseline/s':>12}{'enqueue/s':>11}{'jobs/s':>9}"
              f"{'ratio':>7}  target")
        for r in results:
            target = "" if r["target"] is None else (
                f">= {r['target']:g} {'met' if r['met'] else 'MISSED'}")
            print(f"{r['case']:<14}{r['jobs']:>6}{r['baseline_insert_update_per_s']:>12}"
                  f"{r['enqueue_per_s']:>11}{r['jobs_per_s']:>9}{r['ratio_to_baseline']:>7}"
                  f"  {target}")
    return 0 if all(r["met"] is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
