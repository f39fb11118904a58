"""SIGTERM stops `connector serve` within CONNECTOR_SHUTDOWN_SECONDS even while a poll is stuck
in a vendor call that will not end for a minute (a real subprocess; the vendor is a loopback
socket that accepts and never answers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import REPO, ConnectorProcess, wait_until

GRACE = 1.0


class SilentVendor:
    """Accepts connections and reads requests, never answers: a vendor call that hangs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self.held: list[socket.socket] = []
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)
            self.accepted += 1

    def close(self) -> None:
        self.stopping = True
        self.thread.join(timeout=2)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentVendor]:
    vendor = SilentVendor()
    yield vendor
    vendor.close()


def stalled_env(vendor: SilentVendor, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["PYTHONPATH"] = str(REPO)
    values = {"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
              "MAPPING_FILE": str(REPO / "mappings" / "example.toml"),
              "LMS": "none", "REVIEW_SOURCES": "csv", "GOAL_TRACKER": "bamboohr",
              "BAMBOOHR_BASE_URL": vendor.url, "BAMBOOHR_API_KEY": "k" * 20,
              "BAMBOOHR_POLL_SECONDS": "1", "HTTP_READ_TIMEOUT": "60",
              "HTTP_DEADLINE_SECONDS": "60", "SHUTDOWN_SECONDS": str(GRACE)}
    env.update({f"CONNECTOR_{k}": v for k, v in values.items()})
    return env


def test_serve_stops_within_the_grace_while_a_poll_hangs(silent: SilentVendor,
                                                         tmp_path: Path) -> None:
    proc = ConnectorProcess(stalled_env(silent, tmp_path), tmp_path, "shutdown")
    proc.start()
    try:
        wait_until(lambda: silent.accepted > 0, 20, "the directory poll calling the vendor")
        assert proc.proc is not None
        time.sleep(0.3)  # the poll is now waiting on an answer that never comes
        stopped = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.proc.wait(timeout=30)
        took = time.monotonic() - stopped
    finally:
        proc.kill()
    assert code == 0, proc.log_path.read_text(errors="replace")[-2000:]
    assert took < GRACE + 3.0, f"took {took:.1f} s to stop"
    assert "Traceback" not in proc.log_path.read_text(errors="replace")


def test_worker_stops_within_the_grace_while_a_job_hangs(silent: SilentVendor,
                                                         tmp_path: Path) -> None:
    """A job re-reading a person from the silent vendor holds its thread; SIGTERM still ends
    `connector worker` in time, and the job is left to its lease (pending again later)."""
    from connector.store import Store

    env = stalled_env(silent, tmp_path)
    store = Store.open(env["CONNECTOR_DATABASE_URL"])
    store.jobs.add("employee_hint", {"source": "bamboohr", "employee_id": "7",
                                     "action": "updated", "fields": {}})
    store.close()
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "worker"], env=env,
                                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: silent.accepted > 0, 30, "the job calling the vendor")
            time.sleep(0.3)
            stopped = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            took = time.monotonic() - stopped
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert code == 0, log_path.read_text(errors="replace")[-2000:]
    assert took < GRACE + 3.0, f"took {took:.1f} s to stop"
