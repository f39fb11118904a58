"""Benchmark: the webhook receiver under gunicorn, beside a no-op Flask endpoint in the same run.

Three measurements, all on loopback, all bounded in time:

1. Throughput (closed loop): N clients send Standard-Webhooks-signed LMS completion events to
   `POST /webhooks/lms` as fast as they are acknowledged, first to a no-op Flask endpoint
   (bench/_noop_app.py), then to the real receiver (`webhooks.wsgi:app`) on SQLite and on
   PostgreSQL, each under the same gunicorn settings (docs/gunicorn.conf.py, fixed process
   and thread counts). The figure is the receiver's events/s as a share of the no-op's.
2. Acknowledgement latency (open loop): a fixed 200 events/s for 10 s. Latency is counted from
   the moment each request was due, not when it was sent, so a stalled server is not hidden
   by the sender waiting for it (coordinated omission).
3. Completion to evidence: `connector serve` (receiver + worker + pollers, SQLite) against the
   sandbox vendors; after one review cycle has opened goals and enrolled learners, one LMS
   completion webhook at a time, timed from sending until its evidence comment shows up in the
   BambooHR sandbox. The time between polls of the job queue is reported beside it.

Load is generated in separate processes so that the benchmark's own threads do not share a
GIL with the clients. Every accepted event is checked to be in the inbox afterwards.

    .venv/bin/python bench/webhooks.py [--seconds 8] [--clients 16] [--json] [--skip-postgres]

Targets: receiver >= 40 % of the no-op endpoint's throughput; p99 acknowledgement < 50 ms at
200 events/s; completion-to-evidence p50 < 500 ms. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose webhooks.py would shadow the package

from webhooks.signatures import sign_standard_webhook  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"bench-only-webhook-key-not-real!").decode()
GUNICORN_CONF = ROOT / "docs" / "gunicorn.conf.py"
RATIO_TARGET = 0.40
P99_TARGET_MS = 50.0
EVIDENCE_P50_TARGET_MS = 500.0
MAX_BEHIND_S = 5.0  # open loop: a sender this far behind schedule stops (bounded run time)
PG_ADMIN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# --- events and HTTP -------------------------------------------------------------------------


def completion_event(user_id: str, course_id: str, course_name: str | None = None
                     ) -> tuple[bytes, dict[str, str]]:
    """One signed `course.completed` delivery: (raw body, headers)."""
    now = time.time()
    data: dict[str, Any] = {"user_id": user_id, "course_id": course_id, "score": 91,
                            "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(now))}
    if course_name:
        data["course_name"] = course_name
    raw = json.dumps({"type": "course.completed", "timestamp": int(now), "data": data}).encode()
    headers = sign_standard_webhook(raw, "msg_" + uuid.uuid4().hex, int(now), SECRET)
    headers["Content-Type"] = "application/json"
    return raw, headers


class Client:
    """One keep-alive connection; reconnects once when the server closed it between requests."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=10)

    def post(self, path: str, raw: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, body=raw, headers=headers)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                if attempt == 2:
                    return 0
        return 0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


# --- load generators (each runs in a child process) ------------------------------------------


def _closed_loop(port: int, clients: int, warmup: float, seconds: float, out: Any) -> None:
    start = time.perf_counter() + warmup
    stop = start + seconds
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def client(index: int) -> None:
        http_client = Client("127.0.0.1", port)
        ok = failed = 0
        while True:
            raw, headers = completion_event(f"{index}", "101")
            status = http_client.post("/webhooks/lms", raw, headers)
            now = time.perf_counter()
            if now >= stop:
                break
            if now >= start:
                ok, failed = (ok + 1, failed) if status == 202 else (ok, failed + 1)
        with lock:
            counts["ok"] += ok
            counts["failed"] += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({**counts, "per_s": counts["ok"] / seconds})


def _open_loop(port: int, rate: float, seconds: float, senders: int, out: Any) -> None:
    n = int(rate * seconds)
    latencies: list[float] = [float("nan")] * n
    statuses: list[int] = [0] * n
    start = time.perf_counter() + 0.3

    def sender(k: int) -> None:
        http_client = Client("127.0.0.1", port)
        for i in range(k, n, senders):
            raw, headers = completion_event(f"{i}", "101")
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif -delay > MAX_BEHIND_S:
                continue  # the server cannot keep up: left unsent, counted as failed
            statuses[i] = http_client.post("/webhooks/lms", raw, headers)
            latencies[i] = time.perf_counter() - due

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ok = [lat * 1000 for lat, status in zip(latencies, statuses, strict=True) if status == 202]
    sent = sum(1 for lat in latencies if not math.isnan(lat))  # NaN: never sent
    out.put({"due": n, "sent": sent, "ok": len(ok), "failed": n - len(ok),
             "achieved_per_s": len(ok) / elapsed,
             "p50_ms": percentile(ok, 50), "p99_ms": percentile(ok, 99),
             "max_ms": max(ok, default=float("nan"))})


def in_child(target: Callable[..., None], *args: Any, timeout: float = 120) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out), daemon=True)
    proc.start()
    try:
        result: dict[str, Any] = out.get(timeout=timeout)
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    return result


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 45) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"server at {url} did not become ready:\n{tail}")


@contextmanager
def running(cmd: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """Run a server process until the block ends; yields its port once /readyz answers 200."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def gunicorn(app: str, env_extra: dict[str, str], args: argparse.Namespace, log: Path
             ) -> Any:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(args.workers),
           "GUNICORN_THREADS": str(args.threads), "CONNECTOR_LOG_LEVEL": "WARNING",
           "CONNECTOR_WEBHOOK_SECRETS": SECRET, **env_extra}
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app]
    return running(cmd, env, port, log)


def inbox_count(url: str) -> int:
    from connector.store import Store

    store = Store.open(url)
    try:
        return store.inbox_count("lms")
    finally:
        store.close()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database for the run, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"connector_bench_webhooks_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the measurements ------------------------------------------------------------------------


def measure_servers(args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, Any]]:
    """Throughput of the no-op endpoint and each receiver in alternating rounds, then latency.

    All servers run at once (an idle one costs nothing) and the closed-loop windows alternate
    between them, so a burst of other work on a shared machine hits all of them alike rather
    than whichever happened to be measured at that moment.
    """
    from connector.store import Store

    with ExitStack() as stack:
        urls = {"SQLite": f"sqlite:///{tmp / 'receiver.db'}"}
        if not args.skip_postgres:
            urls["PostgreSQL"] = stack.enter_context(postgres_database(args.pg_admin_url))
        ports = {"no-op": stack.enter_context(gunicorn("_noop_app:app", {}, args,
                                                       tmp / "noop.log"))}
        before = {}
        for engine, url in urls.items():
            Store.open(url).close()  # schema made once, before several processes race for it
            before[engine] = inbox_count(url)
            ports[engine] = stack.enter_context(gunicorn(
                "webhooks.wsgi:app", {"CONNECTOR_DATABASE_URL": url}, args,
                tmp / f"{engine}.log"))
        results: dict[str, dict[str, Any]] = {
            name: {"throughput": {"ok": 0, "failed": 0, "seconds": 0.0, "rounds": []}}
            for name in ports}
        for index in range(args.rounds):
            for name, port in ports.items():
                warmup = 1.5 if index == 0 else 0.5
                got = in_child(_closed_loop, port, args.clients, warmup, args.seconds)
                total = results[name]["throughput"]
                total["ok"] += got["ok"]
                total["failed"] += got["failed"]
                total["seconds"] += args.seconds
                total["rounds"].append(round(got["per_s"], 1))
        for total in (r["throughput"] for r in results.values()):
            total["per_s"] = total["ok"] / total["seconds"]
        for engine, url in urls.items():
            result = results[engine]
            result["latency"] = in_child(_open_loop, ports[engine], args.rate,
                                         args.latency_seconds, args.senders)
            stored = inbox_count(url) - before[engine]
            acknowledged = result["throughput"]["ok"] + result["latency"]["ok"]
            # Warm-up and in-flight requests at a window's end are stored but not counted.
            result["stored"] = stored
            result["all_acknowledged_stored"] = stored >= acknowledged
    return results


def measure_evidence(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Completion webhook → evidence comment on the BambooHR goal, through `connector serve`."""
    import requests

    from connector.demo.org import course_catalogue
    from connector.demo.sandboxes import seed_organisation, start_sandboxes
    from connector.pollers import poll_reviews, sync_directory
    from connector.runtime import build_runtime
    from connector.sandbox.kit import SANDBOX_KEY
    from connector.settings import load_settings
    from connector.store.schema import jobs
    from connector.worker import Worker

    sb = start_sandboxes()
    try:
        seed_organisation(sb, employees=args.employees)
        url = f"sqlite:///{tmp / 'evidence.db'}"
        values = {
            "database_url": url, "talentlms_base_url": sb.talentlms.url,
            "talentlms_api_key": SANDBOX_KEY, "talentlms_hourly_limit": "100000",
            "bamboohr_base_url": sb.bamboohr.url, "bamboohr_api_key": SANDBOX_KEY,
            "orangehrm_base_url": sb.orangehrm.url, "orangehrm_client_id": "demo-client",
            "orangehrm_client_secret": SANDBOX_KEY, "review_sources": "orangehrm",
            "goal_tracker": "bamboohr", "lms": "talentlms", "webhook_secrets": SECRET,
            "talentlms_poll_seconds": "3600", "orangehrm_poll_seconds": "3600",
            "log_level": "WARNING", "log_format": "text",
        }
        values.update(sb.orangehrm.settings())  # its consent: no client credentials grant
        rt = build_runtime(load_settings(**values))
        worker = Worker(rt.ctx)
        sync_directory(rt.store, rt.directory, max_leaver_share=1.0,  # type: ignore[arg-type]
                       id_spaces=rt.ctx.id_spaces)
        worker.drain()
        for source in rt.review_sources:
            poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping), confirm=True)
        worker.drain(concurrency=2)
        names = course_catalogue()
        todo = []
        for row in rt.store.assignments_for(state="enrolled"):
            identity = rt.store.identity(row.employee_id)
            if identity and identity.lms_user_id:
                todo.append((identity.lms_user_id, row.course_id))
        rt.close()
        todo = todo[: args.completions]
        if not todo:
            raise RuntimeError("the review cycle enrolled nobody; nothing to complete")

        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               **{f"CONNECTOR_{k.upper()}": v for k, v in values.items()}}
        cmd = [sys.executable, "-c", "import sys; from connector.cli import main; "
               "sys.exit(main(sys.argv[1:]))", "serve", "--port", str(port)]
        rng = random.Random(11)
        latencies: list[float] = []
        acks: list[float] = []
        missing = 0
        with running(cmd, env, port, tmp / "serve.log"):
            time.sleep(1.0)  # the service's first poll round runs at start; let it finish
            client = Client("127.0.0.1", port)
            state_url = f"{sb.bamboohr.url}/_sandbox/state"
            session = requests.Session()
            for i, (user_id, course_id) in enumerate(todo):
                marker = f"(bench {i})"
                raw, headers = completion_event(user_id, course_id,
                                                 f"{names.get(course_id, course_id)} {marker}")
                sent = time.perf_counter()
                status = client.post("/webhooks/lms", raw, headers)
                acks.append(time.perf_counter() - sent)
                seen = None
                while status == 202 and time.perf_counter() - sent < 10:
                    goals = session.get(state_url, timeout=10).json()["goals"]
                    if any(marker in c.get("text", "") for g in goals for c in g["comments"]):
                        seen = time.perf_counter() - sent
                        break
                    time.sleep(0.005)
                if seen is None:
                    missing += 1
                else:
                    latencies.append(seen)
                # A random pause, so sends land anywhere in the worker's idle sleep.
                time.sleep(rng.uniform(0.0, 0.5))
            metrics = session.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        from connector.store import Store

        store = Store.open(url)
        with store.engine.connect() as conn:
            rows = conn.execute(jobs.select().where(jobs.c.kind == "completion",
                                                    jobs.c.finished_at.is_not(None))).mappings()
            spans = [(r["finished_at"] - r["created_at"]) * 1000 for r in rows]
        store.close()
    finally:
        sb.stop()
    ms = [x * 1000 for x in latencies]
    run_ms = _histogram_mean(metrics, "connector_job_seconds", 'kind="completion"') * 1000
    queued_to_done = sum(spans) / len(spans) if spans else float("nan")
    return {"completions": len(todo), "missing": missing,
            "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
            "max_ms": max(ms, default=float("nan")),
            "ack_p50_ms": percentile([a * 1000 for a in acks], 50),
            "job_run_mean_ms": run_ms, "job_queued_to_done_mean_ms": queued_to_done,
            "job_wait_mean_ms": queued_to_done - run_ms}


def _histogram_mean(text: str, name: str, labels: str) -> float:
    def value(suffix: str) -> float:
        found = re.search(rf"^{name}_{suffix}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
        return float(found.group(1)) if found else float("nan")

    count = value("count")
    return value("sum") / count if count else float("nan")


# --- report ----------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    value: float
    unit: str
    target: str
    met: bool | None
    baseline: float | None = None
    ratio: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def rows_from(noop: dict[str, Any], engines: dict[str, dict[str, Any]],
              evidence: dict[str, Any] | None, rate: float) -> list[Row]:
    base = noop["throughput"]["per_s"]
    rows = [Row("no-op Flask endpoint throughput", base, "events/s", "baseline", None)]
    for engine, r in engines.items():
        per_s = r["throughput"]["per_s"]
        clean = r["throughput"]["failed"] == 0 and r["all_acknowledged_stored"]
        rows.append(Row(f"receiver throughput ({engine})", per_s, "events/s",
                        f">= {RATIO_TARGET:.0%} of no-op, no failures",
                        per_s / base >= RATIO_TARGET and clean, base, per_s / base))
        lat = r["latency"]
        rows.append(Row(f"ack p50 at {rate:g} events/s ({engine})", lat["p50_ms"], "ms", "-", None))
        rows.append(Row(f"ack p99 at {rate:g} events/s ({engine})", lat["p99_ms"], "ms",
                        f"< {P99_TARGET_MS:g} ms, no failures",
                        lat["p99_ms"] < P99_TARGET_MS and lat["failed"] == 0))
    if evidence is not None:
        rows.append(Row("completion to evidence p50 (SQLite, connector serve)",
                        evidence["p50_ms"], "ms", f"< {EVIDENCE_P50_TARGET_MS:g} ms, none lost",
                        evidence["p50_ms"] < EVIDENCE_P50_TARGET_MS and not evidence["missing"]))
        rows.append(Row("completion to evidence p90", evidence["p90_ms"], "ms", "-", None))
        rows.append(Row("  of which job queue wait (mean)", evidence["job_wait_mean_ms"], "ms",
                        "-", None))
        rows.append(Row("  of which job run time (mean)", evidence["job_run_mean_ms"], "ms",
                        "-", None))
    return rows


def print_table(rows: list[Row]) -> None:
    print(f"{'figure':<56}{'value':>10} {'unit':<9}{'baseline':>10}{'ratio':>7}  target")
    for r in rows:
        base = "" if r.baseline is None else f"{r.baseline:.0f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        verdict = "" if r.met is None else ("met" if r.met else "MISSED")
        print(f"{r.name:<56}{r.value:>10.1f} {r.unit:<9}{base:>10}{ratio:>7}  {r.target} "
              f"{verdict}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="one closed-loop window")
    parser.add_argument("--rounds", type=int, default=3,
                        help="closed-loop windows per server, alternating between servers")
    parser.add_argument("--clients", type=int, default=16, help="closed-loop connections")
    parser.add_argument("--workers", type=int, default=min((os.cpu_count() or 1) + 1, 8),
                        help="gunicorn processes (default: docs/gunicorn.conf.py's own)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per process")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop events/s")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=16, help="open-loop connections")
    parser.add_argument("--employees", type=int, default=24)
    parser.add_argument("--completions", type=int, default=50)
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "CONNECTOR_TEST_PG_ADMIN_URL", PG_ADMIN_DEFAULT))
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-evidence", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    # Stopped from outside (bench/run's time limit): unwind, so that servers stop and the
    # PostgreSQL database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.monotonic()
    evidence = None
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as name:
        tmp = Path(name)
        engines = measure_servers(args, tmp)
        noop = engines.pop("no-op")
        if not args.skip_evidence:
            evidence = measure_evidence(args, tmp)
    rows = rows_from(noop, engines, evidence, args.rate)
    ok = all(r.met is not False for r in rows)
    if args.json:
        print(json.dumps({"bench": "webhooks", "ok": ok, "rows": [r.as_dict() for r in rows],
                          "raw": {"noop": noop, "engines": engines, "evidence": evidence},
                          "settings": {k: v for k, v in vars(args).items()
                                       if k not in {"json", "pg_admin_url"}},
                          "seconds": round(time.monotonic() - started, 1)}, indent=2))
    else:
        print(f"webhook receiver: gunicorn {args.workers} processes x {args.threads} threads, "
              f"{args.clients} closed-loop clients, {args.rounds} x {args.seconds:g} s each, "
              f"{args.rate:g} events/s open loop for {args.latency_seconds:g} s")
        print_table(rows)
        print(f"no-op events/s by round: {noop['throughput']['rounds']}")
        for engine, r in engines.items():
            print(f"{engine}: events/s by round {r['throughput']['rounds']}; "
                  f"{r['stored']} events stored; throughput failures {r['throughput']['failed']}; "
                  f"latency run: {r['latency']['ok']} of {r['latency']['due']} acknowledged, "
                  f"{r['latency']['achieved_per_s']:.0f} events/s achieved")
        if evidence is not None:
            print(f"evidence: {evidence['completions']} completions, {evidence['missing']} not "
                  f"seen within 10 s; ack p50 {evidence['ack_p50_ms']:.1f} ms")
        print(f"finished in {time.monotonic() - started:.0f} s; targets",
              "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
