"""Fault-suite entries for the reliability work, each against the sandbox vendors and real
connector processes: a `sync --once` that runs out of time and a `serve` that is stopped while
every vendor hangs; BambooHR edits A -> B -> A delivered as hints; a worker whose clock runs
90 s ahead beside a normal one; a review poll while PostgreSQL backends are terminated."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from connector.demo.sandboxes import seed_organisation
from connector.runtime import build_runtime
from connector.settings import load_settings
from connector.store import Store
from connector.store.schema import inbox, jobs
from connector.vendors.bamboohr.sandbox import ID_BASE as BAMBOOHR_ID_BASE
from connector.worker import Worker
from tests.support.e2e import (
    ConnectorProcess,
    Vendors,
    connector_env,
    jobs_idle,
    open_ledger,
    run_cli,
    wait_until,
)

pytestmark = pytest.mark.slow


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'connector.db'}"


def test_faults_a_sync_out_of_time_leaves_work_pending_and_serve_stops_on_sigterm(
        vendors: Vendors, mapping_file: Path, e2e_log_dir: Path, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    seed_organisation(vendors.as_sandboxes(), employees=8, seed=5)
    env = connector_env(vendors, url, mapping_file, http_read_timeout=5.0)
    vendors.faults(latency_ms=250.0)  # every vendor call takes a quarter of a second
    short = run_cli(env, e2e_log_dir, "sync", "--once", "--deadline", "2", "--quiet")
    assert short.returncode == 1, short.stdout + short.stderr
    assert "deadline: stopped at 2 s (--deadline)" in short.stdout
    with open_ledger(url) as store:
        counts = store.jobs.counts()
    assert counts.get("pending", 0) > 0 and not counts.get("dead")  # pending, not dead
    vendors.heal()
    full = run_cli(env, e2e_log_dir, "sync", "--once", "--quiet")
    assert full.returncode == 0, full.stdout + full.stderr
    with open_ledger(url) as store:
        assert jobs_idle(store) and store.jobs.dead_letters() == []

    # Every vendor now hangs for 30 s on every call; SIGTERM still ends serve in time.
    proc = ConnectorProcess({**env, "CONNECTOR_SHUTDOWN_SECONDS": "2",
                             "CONNECTOR_HTTP_READ_TIMEOUT": "60"}, e2e_log_dir, "sigterm")
    proc.start()
    vendors.faults(timeout_rate=1.0, timeout_seconds=30.0)
    time.sleep(3.0)  # the pollers are inside calls that will not answer
    began = time.monotonic()
    code = proc.stop()
    took = time.monotonic() - began
    vendors.heal()
    assert code == 0 and took < 2.0 + 4.0, f"exit {code} after {took:.1f} s"


def test_faults_bamboohr_edits_a_b_a_arrive_as_hints_and_all_apply(
        vendors: Vendors, mapping_file: Path, e2e_log_dir: Path, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    people = seed_organisation(vendors.as_sandboxes(), employees=6, seed=9)
    env = connector_env(vendors, url, mapping_file)
    for _ in range(2):  # reviews make the ledger's people, the second directory read links
        assert run_cli(env, e2e_log_dir, "sync", "--once", "--quiet").returncode == 0
    # Only the webhooks can tell the ledger now: the directory is read once an hour.
    proc = ConnectorProcess({**env, "CONNECTOR_BAMBOOHR_POLL_SECONDS": "3600"}, e2e_log_dir,
                            "hints")
    proc.start()
    eid = str(people[2]["id"])
    bamboo_id = str(BAMBOOHR_ID_BASE + int(eid))
    try:
        with open_ledger(url) as store:
            before = store.identity(eid)
            assert before is not None
            original = before.employee().role

            def edit(title: str) -> None:
                time.sleep(1.1)  # a delivery of its own: a new signed stamp
                requests.patch(f"{vendors.bamboohr.url}/_sandbox/employees/{bamboo_id}",
                               json={"jobTitle": title}, timeout=10).raise_for_status()
                sent = requests.post(f"{vendors.bamboohr.url}/_sandbox/send-webhook",
                                     timeout=10, json={
                                         "url": f"{proc.url}/webhooks/bamboohr",
                                         "action": "updated", "employee_ids": [bamboo_id]})
                assert [d["status"] for d in sent.json()["deliveries"]] == [202]

                def applied() -> bool:
                    row = store.identity(eid)
                    return row is not None and row.employee().role == title
                wait_until(applied, 60, f"the ledger's role {title!r}")

            edit("Regional Lead")
            edit(original or "Account Executive")  # A -> B -> A
            wait_until(lambda: jobs_idle(store), 60, "quiet")
            assert store.jobs.dead_letters() == []
    finally:
        proc.stop()


def test_faults_a_worker_90_s_ahead_takes_no_live_lease(
        vendors: Vendors, mapping_file: Path, e2e_log_dir: Path, pg_database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import _empty_pg

    _empty_pg(pg_database_url)
    seed_organisation(vendors.as_sandboxes(), employees=10, seed=3)
    vendors.faults(latency_ms=150.0)  # jobs take long enough to overlap
    env = connector_env(vendors, pg_database_url, mapping_file)
    proc = ConnectorProcess(env, e2e_log_dir, "skew-normal")
    proc.start()
    for name, value in env.items():
        if name.startswith("CONNECTOR_"):
            monkeypatch.setenv(name, value)
    rt = build_runtime(load_settings())
    skewed = Store.open(pg_database_url, upgrade=False, clock=lambda: time.time() + 90.0)
    rt.ctx.store = skewed  # the same worker code, on a store whose own clock is 90 s ahead
    stop = threading.Event()
    ahead = threading.Thread(target=Worker(rt.ctx, lease_seconds=5).run_forever,
                             args=(stop,), kwargs={"concurrency": 2}, daemon=True)
    ahead.start()
    try:
        with open_ledger(pg_database_url) as store:
            wait_until(lambda: store.inbox_count() >= 10 and jobs_idle(store), 180,
                       "the first cycle done by both workers")
            with store.engine.connect() as conn:
                rows = conn.execute(select(jobs.c.attempts, jobs.c.last_error)).all()
    finally:
        stop.set()
        ahead.join(timeout=15)
        proc.stop()
        vendors.heal()
        skewed.close()
        rt.close()
    swept = [r for r in rows if (r.last_error or "").startswith("lease expired")]
    assert swept == [], f"{len(swept)} live lease(s) taken by the worker ahead"
    assert sum(r.attempts for r in rows) == len(rows)  # every job ran exactly once


def test_faults_a_review_poll_progresses_while_backends_are_terminated(
        vendors: Vendors, mapping_file: Path, e2e_log_dir: Path, pg_database_url: str) -> None:
    from tests.conftest import _empty_pg

    _empty_pg(pg_database_url)
    people = seed_organisation(vendors.as_sandboxes(), employees=12, seed=13)
    vendors.faults(latency_ms=40.0)
    env = connector_env(vendors, pg_database_url, mapping_file)
    db = pg_database_url.rsplit("/", 1)[1]
    admin = create_engine(pg_database_url.rsplit("/", 1)[0] + "/postgres",
                          isolation_level="AUTOCOMMIT")
    flapping = threading.Event()
    cuts: list[int] = []

    def flap() -> None:
        while not flapping.wait(0.8):
            with admin.connect() as conn:
                cuts.append(len(conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": db}).all()))

    proc = ConnectorProcess(env, e2e_log_dir, "flapping")
    proc.start()
    cutter = threading.Thread(target=flap, daemon=True)
    cutter.start()
    reviews: Any = None
    try:
        with open_ledger(pg_database_url) as store:
            def stored() -> int:
                with store.engine.connect() as conn:
                    return int(conn.execute(select(func.count()).select_from(inbox)
                                            .where(inbox.c.kind == "review")).scalar_one())

            def all_in() -> bool:
                try:
                    return stored() >= len(people)
                except Exception:  # noqa: BLE001 - our own reads are cut too
                    return False
            wait_until(all_in, 120, "every review stored despite the cuts")
            flapping.set()
            cutter.join(timeout=5)
            reviews = stored()
    finally:
        flapping.set()
        proc.stop()
        vendors.heal()
        admin.dispose()
    assert reviews is not None and reviews >= len(people)
    assert sum(cuts) > 0  # the database really was cut under the poll
