"""End-to-end harness: the sandbox vendors in the test process, the real connector in a
subprocess.

Why a subprocess: the end-to-end tests must exercise what an operator runs — `connector serve`
(or `connector dead-letters …`) reading its settings from `CONNECTOR_*` variables — and be
able to SIGKILL it. Why the sandboxes stay in the test process: the test flips their fault
switches and reads their state directly, and a refusal switch can be added to a simulator app
before it serves (HTTP-level faking, never a patch of our own code).

Every byte the subprocesses print goes to a file in one log directory per test session, so the
suite can finally grep all of it for the configured secrets. The secrets are distinctive
strings that appear nowhere else.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests
from flask import Response, request

from connector.demo.sandboxes import Sandboxes
from connector.sandbox import bamboohr as sandbox_bamboohr
from connector.sandbox import orangehrm as sandbox_orangehrm
from connector.sandbox import talentlms as sandbox_talentlms
from connector.sandbox.common import Faults, RunningSimulator, serve
from connector.secrets import new_key
from connector.store import Store
from webhooks.signatures import sign_standard_webhook

REPO = Path(__file__).resolve().parents[2]

# -- secrets: distinctive, so a grep of every log finds any leak --------------------------------
TALENTLMS_API_KEY = "tlmsE2Ekey-Qv7Zr2Lp9X"
BAMBOOHR_API_KEY = "bhrE2Ekey-Jm4Tw8Ks1N"
ORANGEHRM_CLIENT_SECRET = "ohrmE2Esecret-Hd6Pc3Fy5R"
ORANGEHRM_CLIENT_ID = "e2e-orangehrm-client"
WEBHOOK_KEY = b"inboundE2Ekey-Wn5Gs9Bx2C"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
BAMBOOHR_WEBHOOK_SECRET = "bhrE2Ewhsec-Ur3Ya7Ve4D"


def secret_forms() -> dict[str, str]:
    """Each configured secret in every form it could leak in (raw, base64, Basic auth)."""
    forms = {
        "talentlms api key": TALENTLMS_API_KEY,
        "bamboohr api key": BAMBOOHR_API_KEY,
        "orangehrm client secret": ORANGEHRM_CLIENT_SECRET,
        "webhook secret": WEBHOOK_SECRET,
        "webhook secret (base64 body)": WEBHOOK_SECRET.removeprefix("whsec_"),
        "webhook key": WEBHOOK_KEY.decode(),
        "bamboohr webhook secret": BAMBOOHR_WEBHOOK_SECRET,
    }
    for user, password in ((TALENTLMS_API_KEY, ""), (BAMBOOHR_API_KEY, "x"),
                           (ORANGEHRM_CLIENT_ID, ORANGEHRM_CLIENT_SECRET)):
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        forms[f"basic auth of {user[:8]}…"] = basic
    return forms


# -- the sandbox vendors ------------------------------------------------------------------------


@dataclass
class RefusalSwitch:
    """Makes BambooHR answer 400 (its documented empty body + reason header) to matching
    writes while `active`: a permanent failure the connector must dead-letter, not retry."""

    active: bool = False
    path: re.Pattern[str] = re.compile(r"/comments$")
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, app: Any) -> None:
        @app.before_request
        def _refuse() -> Response | None:
            if not self.active or request.method != "POST" or not self.path.search(
                    request.path):
                return None
            with self.lock:
                self.refused += 1
            resp = Response(b"", status=400)
            resp.headers["X-BambooHR-Error-Message"] = "The request body is invalid."
            return resp


@dataclass
class Vendors:
    talentlms: RunningSimulator
    bamboohr: RunningSimulator
    orangehrm: RunningSimulator
    refusals: RefusalSwitch

    @property
    def all(self) -> tuple[RunningSimulator, ...]:
        return (self.talentlms, self.bamboohr, self.orangehrm)

    def as_sandboxes(self) -> Sandboxes:
        """The shape `connector.demo.seed_organisation` takes."""
        return Sandboxes.at({sim.name: sim.url for sim in self.all})

    def faults(self, **switches: Any) -> None:
        """Set the same fault switches on every vendor (`POST /_sandbox/faults`)."""
        for index, sim in enumerate(self.all):
            values = dict(switches)
            if values.get("seed") is not None:
                values["seed"] = int(values["seed"]) + index  # one stream per vendor
            requests.post(f"{sim.url}/_sandbox/faults", json=values,
                          timeout=10).raise_for_status()

    def heal(self) -> None:
        self.faults(error_rate=0.0, timeout_rate=0.0, drop_rate=0.0, latency_ms=0.0,
                    storm_429_rate=0.0)

    def state(self, name: str) -> dict[str, Any]:
        sim = getattr(self, name)
        answer = requests.get(f"{sim.url}/_sandbox/state", timeout=30)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def stop(self) -> None:
        for sim in self.all:
            sim.stop()


def start_vendors() -> Vendors:
    """TalentLMS, BambooHR and OrangeHRM simulators on loopback, keyed with our secrets."""
    refusals = RefusalSwitch()
    bamboo_app = sandbox_bamboohr.create_app(api_key=BAMBOOHR_API_KEY, faults=Faults(),
                                             webhook_secret=BAMBOOHR_WEBHOOK_SECRET)
    refusals.install(bamboo_app)
    return Vendors(
        talentlms=serve(sandbox_talentlms.create_app(api_key=TALENTLMS_API_KEY,
                                                     hourly_limit=1_000_000, faults=Faults()),
                        "talentlms"),
        bamboohr=serve(bamboo_app, "bamboohr"),
        orangehrm=serve(sandbox_orangehrm.create_app(client_id=ORANGEHRM_CLIENT_ID,
                                                     client_secret=ORANGEHRM_CLIENT_SECRET,
                                                     faults=Faults()), "orangehrm"),
        refusals=refusals,
    )


def write_mapping(path: Path) -> Path:
    """The example mapping with the bulk limits lifted: `serve` has no --confirm, and a
    300-person first cycle is exactly what the limits exist to stop."""
    text = (REPO / "mappings" / "example.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^max_assignments_per_run\s*=.*$", "max_assignments_per_run = 100000",
                  text)
    text = re.sub(r"(?m)^max_assignment_share\s*=.*$", "max_assignment_share = 1.0", text)
    path.write_text(text, encoding="utf-8")
    return path


def connector_env(vendors: Vendors, database_url: str, mapping_file: Path,
                  **settings: Any) -> dict[str, str]:
    """The environment of a connector process: every setting as `CONNECTOR_<NAME>`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["PYTHONPATH"] = str(REPO)
    values: dict[str, Any] = {
        "database_url": database_url,
        "mapping_file": mapping_file,
        "talentlms_base_url": vendors.talentlms.url,
        "talentlms_api_key": TALENTLMS_API_KEY,
        "talentlms_hourly_limit": 1_000_000,
        "talentlms_poll_seconds": 2,
        "orangehrm_poll_seconds": 2,
        "bamboohr_poll_seconds": 2,  # the directory, as often as the other streams
        "bamboohr_base_url": vendors.bamboohr.url,
        "bamboohr_api_key": BAMBOOHR_API_KEY,
        "bamboohr_webhook_secret": BAMBOOHR_WEBHOOK_SECRET,
        "orangehrm_base_url": vendors.orangehrm.url,
        "orangehrm_client_id": ORANGEHRM_CLIENT_ID,
        "orangehrm_client_secret": ORANGEHRM_CLIENT_SECRET,
        "review_sources": "orangehrm",
        "goal_tracker": "bamboohr",
        "lms": "talentlms",
        "webhook_secrets": WEBHOOK_SECRET,
        "worker_concurrency": 4,
        "job_lease_seconds": 5,
        "max_assignments_per_run": 100_000,
        "max_assignment_share": 1.0,
        "http_burst": 200,  # loopback sandboxes; TalentLMS stays capped by its own limit
        "log_level": "DEBUG",
    }
    values.update(settings)
    if "orangehrm_refresh_token" not in values:
        # Stock OrangeHRM 5 grants no client credentials: the admin consents once and gives
        # the connector the refresh token; the processes keep the rotated ones, sealed.
        values["orangehrm_refresh_token"] = orangehrm_consent(vendors)
        values.setdefault("secrets_key", new_key())
    for name, value in values.items():
        env[f"CONNECTOR_{name.upper()}"] = str(value)
    return env


def orangehrm_consent(vendors: Vendors) -> str:
    """The admin's one-time consent in the OrangeHRM simulator: a fresh refresh token."""
    answer = requests.post(f"{vendors.orangehrm.url}/_sandbox/oauth/authorize", timeout=10)
    answer.raise_for_status()
    return str(answer.json()["refresh_token"])


# -- the connector processes ----------------------------------------------------------------------


def engine_name(database_url: str) -> str:
    """"sqlite" or "postgres": a short label for log files and messages."""
    return "postgres" if database_url.startswith("postgresql") else "sqlite"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ConnectorProcess:
    """`connector serve` in a subprocess on a fixed loopback port, restartable after a kill."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str, *,
                 cwd: Path | None = None) -> None:
        self.env = env
        self.log_dir = log_dir
        self.name = name
        self.cwd = cwd or log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.kills = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def start(self, timeout: float = 60.0) -> str:
        self.starts += 1
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "serve", "--port", str(self.port)],
            env=self.env, cwd=self.cwd, stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout, f"{self.name} answering /readyz", interval=0.1)
        return self.url

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
        try:
            return requests.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a power cut or the OOM killer."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.kills += 1
        self._close_log()

    def stop(self) -> int | None:
        """SIGTERM and wait for a clean exit (SIGKILL after 20 s)."""
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def run_cli(env: dict[str, str], log_dir: Path, *args: str,
            timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """One `connector …` command; its output is kept with the logs (the secret grep reads it)."""
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", *args], env=env, cwd=log_dir,
        capture_output=True, text=True, timeout=timeout, check=False)
    stamp = f"{time.time():.6f}".replace(".", "")
    (log_dir / f"cli-{args[0]}-{stamp}.log").write_text(
        f"$ connector {' '.join(args)}\n--- exit {done.returncode}\n{done.stdout}\n"
        f"--- stderr\n{done.stderr}", encoding="utf-8")
    return done


@contextmanager
def running(process: ConnectorProcess) -> Iterator[ConnectorProcess]:
    process.start()
    try:
        yield process
    finally:
        process.stop()


def wait_until(check: Callable[[], bool], timeout: float, what: str, *,
               interval: float = 0.5) -> float:
    """Poll `check` until it holds; returns the seconds it took. AssertionError on timeout."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- webhooks ----------------------------------------------------------------------------------


class WebhookSender:
    """Signs and posts webhooks the way the senders do (Standard Webhooks, BambooHR HMAC)."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url
        self.session = session or requests.Session()

    def post(self, source: str, raw: bytes, headers: dict[str, str],
             timeout: float = 10.0) -> requests.Response:
        return self.session.post(f"{self.base_url}/webhooks/{source}", data=raw,
                                 headers={"Content-Type": "application/json", **headers},
                                 timeout=timeout)

    def standard(self, source: str, body: Any, msg_id: str, *, timestamp: int | None = None,
                 secret: str = WEBHOOK_SECRET) -> requests.Response:
        raw = json.dumps(body).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        return self.post(source, raw, sign_standard_webhook(raw, msg_id, stamp, secret))

    def bamboohr(self, raw: bytes, timestamp: int | None = None) -> requests.Response:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = sandbox_bamboohr.sign_webhook(raw, stamp, BAMBOOHR_WEBHOOK_SECRET)
        return self.post("bamboohr", raw, {"X-BambooHR-Timestamp": stamp,
                                           "X-BambooHR-Signature": signature})

    def until_acked(self, send: Callable[[], requests.Response], deadline: float) -> int:
        """At-least-once delivery: resend until a 2xx (through crashes and restarts)."""
        while True:
            try:
                status = send().status_code
                if 200 <= status < 300:
                    return status
                if status < 500:
                    raise AssertionError(f"delivery refused with {status}")
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("a webhook was never acknowledged")
            time.sleep(0.2)


def lms_completion(user_id: str, course_id: str, completed_at: str, *, passed: bool = True,
                   score: float = 90) -> dict[str, Any]:
    """An LMS completion webhook body (the shape `/webhooks/lms` documents)."""
    return {"type": "course.completed" if passed else "course.failed",
            "timestamp": completed_at,
            "data": {"user_id": user_id, "course_id": course_id, "completed_at": completed_at,
                     "score": score,
                     "certificate_url": f"https://lms.example/cert/{user_id}-{course_id}"
                     if passed else None}}


# -- the store, read from the test ----------------------------------------------------------------


@contextmanager
def open_ledger(database_url: str) -> Iterator[Store]:
    """The connector's store, read-only by convention (no migrations: the service made it)."""
    store = Store.open(database_url, upgrade=False)
    try:
        yield store
    finally:
        store.close()


def jobs_idle(store: Store) -> bool:
    counts = store.jobs.counts()
    return counts.get("pending", 0) + counts.get("running", 0) == 0


def dump_store_text(store: Store, path: Path) -> None:
    """Everything the store says in words (audit, job errors, action results) into a file,
    so the final secret grep covers what an operator sees through `status` and `trace`."""
    from sqlalchemy import select

    from connector.store.schema import actions, audit, jobs

    with store.engine.connect() as conn:
        lines = [f"audit {r.event} {r.message} {r.cause}" for r in conn.execute(
            select(audit.c.event, audit.c.message, audit.c.cause))]
        lines += [f"job {r.kind} {r.last_error}" for r in conn.execute(
            select(jobs.c.kind, jobs.c.last_error).where(jobs.c.last_error.is_not(None)))]
        lines += [f"action {r.key} {r.result}" for r in conn.execute(
            select(actions.c.key, actions.c.result))]
    path.write_text("\n".join(lines), encoding="utf-8")
