"""Metrics as a process-wide service: the store-read gauges, multiprocess sums, and the port
a worker-only process serves its metrics on.

The multiprocess cases run real subprocesses: prometheus_client chooses per-process files
when it is imported, from PROMETHEUS_MULTIPROC_DIR, exactly as gunicorn workers and
`connector worker` processes do in production.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from connector.errors import ConfigError
from connector.observability.metrics import (
    QueueCollector,
    export_queue,
    exposition,
    serve_worker_metrics,
    webhook_metrics,
)
from connector.store import Store

ROOT = Path(__file__).parents[2]


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store.open(sqlite_url)
    yield s
    s.close()


def samples(text: str, name: str) -> list[tuple[str, float]]:
    """(labels, value) of every sample of `name` (exactly that name) in an exposition."""
    pattern = rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$"
    return [(m.group(1) or "", float(m.group(2))) for m in re.finditer(pattern, text, re.M)]


# --- one process -----------------------------------------------------------------------------


def test_queue_gauges_are_read_from_the_store_at_each_scrape(store: Store) -> None:
    registry = CollectorRegistry()
    export_queue(store, registry)
    assert samples(exposition(registry).decode(), "connector_jobs_pending") == [("", 0.0)]
    for n in range(3):
        store.jobs.add("completion", {"n": n})
    text = exposition(registry).decode()
    assert samples(text, "connector_jobs_pending") == [("", 3.0)]
    assert samples(text, "connector_jobs_dead") == [("", 0.0)]
    assert samples(text, "connector_jobs_oldest_pending_seconds")[0][1] >= 0.0
    export_queue(store, registry)  # again (an app built twice): the same gauges, once
    assert len(samples(exposition(registry).decode(), "connector_jobs_pending")) == 1


def test_a_store_that_cannot_answer_leaves_the_gauges_out_not_the_scrape() -> None:
    def down() -> Store:
        raise RuntimeError("database unavailable")

    registry = CollectorRegistry()
    registry.register(QueueCollector(down))
    hits = webhook_metrics(registry).received
    hits.labels("hr").inc()
    text = exposition(registry).decode()
    assert "connector_jobs_pending" not in text
    assert 'events_received_total{source="hr"} 1.0' in text


def test_receiver_series_are_made_once_per_registry_and_count_exactly_under_threads() -> None:
    registry = CollectorRegistry()
    assert webhook_metrics(registry) is webhook_metrics(registry)
    series = webhook_metrics(registry)

    def work() -> None:
        for _ in range(2000):
            series.received.labels("hr").inc()
            series.seconds.observe(0.01)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = exposition(registry).decode()
    assert samples(text, "events_received_total") == [('{source="hr"}', 8000.0)]
    assert samples(text, "webhook_dispatch_seconds_count") == [("", 8000.0)]


def test_a_metrics_port_that_cannot_be_served_is_a_clear_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="metrics port must be 0-65535"):
        serve_worker_metrics(store, 70000)
    with pytest.raises(ConfigError, match=r"cannot serve metrics on 192\.0\.2\.1:0"):
        serve_worker_metrics(store, 0, "192.0.2.1")  # TEST-NET: no local interface has it


# --- several processes -----------------------------------------------------------------------


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "tests.support.metrics_process", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_two_processes_counters_add_up_and_queue_gauges_appear_once(
        store: Store, sqlite_url: str, tmp_path: Path) -> None:
    for n in range(5):
        store.jobs.add("completion", {"n": n})
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    _run(["record", sqlite_url, "3"], env)
    _run(["record", sqlite_url, "4"], env)
    text = _run(["scrape", sqlite_url], env)  # a third process: the receiver a scrape reaches
    assert samples(text, "events_received_total") == [('{source="hr"}', 7.0)]
    assert samples(text, "webhook_dispatch_seconds_count") == [("", 7.0)]
    assert samples(text, "connector_vendor_calls_total") == [
        ('{status="200",vendor="talentlms"}', 7.0)]
    assert samples(text, "connector_vendor_call_seconds_count") == [('{vendor="talentlms"}', 7.0)]
    assert samples(text, "connector_jobs_finished_total") == [
        ('{kind="completion",outcome="done"}', 7.0)]
    assert samples(text, "connector_job_seconds_sum") == [('{kind="completion"}', 1.75)]
    # Read from the database by the scraping process alone: once, and not 3 x 5.
    assert samples(text, "connector_jobs_pending") == [("", 5.0)]
    assert text.count("# TYPE connector_jobs_pending gauge") == 1


# --- a worker-only process -------------------------------------------------------------------


def test_connector_worker_serves_its_own_metrics_port(sqlite_url: str, tmp_path: Path) -> None:
    store = Store.open(sqlite_url)
    store.jobs.add("no_such_kind", {})  # a job the worker can only dead-letter
    store.close()
    env = {**os.environ, "CONNECTOR_DATABASE_URL": sqlite_url, "CONNECTOR_LMS": "none",
           "CONNECTOR_GOAL_TRACKER": "none", "CONNECTOR_REVIEW_SOURCES": "",
           "CONNECTOR_LOG_FORMAT": "text"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "worker", "--metrics-port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            if found := re.match(r"metrics on (http://127\.0\.0\.1:\d+/metrics)$", line.strip()):
                url = found.group(1)
                break
        assert url, "the worker never said where it serves metrics"
        deadline = time.monotonic() + 30
        while True:
            text = requests.get(url, timeout=5).text
            # The run time is the last thing a job records (after its outcome and state).
            if samples(text, "connector_job_seconds_count") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert samples(text, "connector_jobs_dead") == [("", 1.0)]
        assert samples(text, "connector_jobs_pending") == [("", 0.0)]
        assert samples(text, "connector_jobs_finished_total") == [
            ('{kind="no_such_kind",outcome="dead"}', 1.0)]
        assert samples(text, "connector_job_seconds_count") == [('{kind="no_such_kind"}', 1.0)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0


def test_the_worker_path_does_not_import_the_receiver() -> None:
    code = ("import sys, connector.cli, connector.commands, connector.runtime, connector.worker,"
            " connector.observability.metrics, connector.observability.logging;"
            " print(sorted(m for m in sys.modules if m.split('.')[0] in {'webhooks', 'flask'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
