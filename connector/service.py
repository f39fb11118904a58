"""Running the product: the webhook receiver's inbox, `connector serve` and `sync --once`.

`serve` is the embedded default: one process runs the receiver, a worker and the pollers on
SQLite. At scale the same pieces run apart (gunicorn for `webhooks.wsgi:app`, several
`connector worker` processes, one PostgreSQL) — see docs/production.md.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask

from connector.chores import chores_for, start_chores
from connector.employee_hints import HINT_JOB
from connector.errors import ConnectorError
from connector.executor import end_adoption
from connector.inbound import queue_completion, queue_employee_hint, queue_review
from connector.pollers import PollReport, poll_all
from connector.progress import Progress
from connector.run_deadline import RunDeadline
from connector.runtime import Runtime
from connector.serving import QuietRequestHandler
from connector.settings import Settings
from connector.store import Store
from connector.worker import Worker, WorkerStats

log = logging.getLogger(__name__)


class StoreInbox:
    """The receiver's `Inbox` port on the store: each kind through its one queueing path."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def ingest(self, source: str, event_id: str, kind: str, payload: dict[str, Any],
               raw: bytes, employee_id: str | None) -> bool:
        if kind == "review":
            return queue_review(self.store, payload, source=source, event_id=event_id, raw=raw)
        if kind == "completion":
            if employee_id is not None:
                payload = {**payload, "employee_id": employee_id}
            return queue_completion(self.store, payload, source=source, event_id=event_id,
                                    raw=raw)
        if kind == "employee":  # a hint: its job re-reads the person (employee_hints.py)
            return queue_employee_hint(self.store, payload, source=source, event_id=event_id,
                                       raw=raw, job_kind=HINT_JOB)
        return self.store.ingest(source, event_id, kind, dict(payload), raw, employee_id)


def build_receiver(rt: Runtime) -> Flask:
    from connector.observability.metrics import export_queue
    from webhooks.app import create_app

    export_queue(rt.store)
    return create_app(inbox=StoreInbox(rt.store, rt.settings), settings=rt.settings,
                      ready_check=rt.store.ready)


@dataclass
class SyncSummary:
    poll: PollReport
    work: WorkerStats
    deadline: RunDeadline | None = None
    left_pending: int = 0  # jobs still pending when the run ended

    @property
    def out_of_time(self) -> bool:
        return self.deadline is not None and self.deadline.reached

    @property
    def failed(self) -> bool:
        return bool(self.poll.errors or self.work.dead or self.out_of_time)

    def text(self) -> str:
        p, w = self.poll, self.work
        lines = [f"polled: {p.reviews} new review(s), {p.completions} new completion(s), "
                 f"{p.employees} directory update(s), {p.leavers} leaver(s), "
                 f"{p.reconciled} reconciled, {p.recertifications} recertification(s) due",
                 f"jobs: {w.done} done, {w.retried} to retry later, {w.dead} dead letter(s)"]
        lines += [f"error: {e}" for e in p.errors]
        lines += [f"dead letter: {e}" for e in w.errors]
        if self.out_of_time and self.deadline is not None:
            unread = f"; not polled: {', '.join(p.not_reached)}" if p.not_reached else ""
            lines.append(f"deadline: stopped at {self.deadline.describe()}; "
                         f"{self.left_pending} job(s) left pending for the next run{unread} "
                         "(raise it with --deadline SECONDS)")
        return "\n".join(lines)


def sync_once(rt: Runtime, *, confirm: bool = False, concurrency: int = 1,
              progress: Progress | None = None,
              deadline: RunDeadline | None = None) -> SyncSummary:
    """Poll every source once and drain the queue: the scheduled-job way to run. `progress`
    shows the drain (jobs done / total, the budget-aware ETA); past `deadline` no new work
    starts and what is left stays pending (run_deadline.py)."""
    keep_going = deadline.keep_going if deadline is not None else (lambda: True)
    report = poll_all(rt, confirm=confirm, keep_going=keep_going)
    stats = Worker(rt.ctx, lease_seconds=rt.settings.job_lease_seconds).drain(
        concurrency=concurrency, progress=progress, keep_going=keep_going)
    # Completions found while draining (e.g. reconciliation) are processed in the same run.
    if rt.store.jobs.counts().get("pending", 0) and keep_going():
        more = Worker(rt.ctx).drain(concurrency=concurrency, progress=progress,
                                    keep_going=keep_going)
        stats.done += more.done
        stats.dead += more.dead
        stats.retried += more.retried
        stats.errors += more.errors
    pending = rt.store.jobs.counts().get("pending", 0)
    if not report.errors and not stats.dead and not pending and not report.not_reached:
        end_adoption(rt.ctx)  # one full cycle: the new or restored database has caught up
    return SyncSummary(report, stats, deadline, pending)


class Service:
    """Receiver + worker + pollers in one process (the embedded default)."""

    def __init__(self, rt: Runtime, *, host: str = "127.0.0.1", port: int = 8080,
                 poll_seconds: float | None = None, console_port: int | None = None,
                 console_users: Any = None, console_demo: bool = False) -> None:
        self.rt = rt
        self.host = host
        self.port = port
        self.console_port = console_port  # the operator console on its own listener
        self.console_users = console_users  # the demo's own sign-in; else the settings'
        self.console_demo = console_demo
        self.console_url: str | None = None
        self.console_server: Any = None
        self.fixed = poll_seconds  # one interval for every poller (tests, the demo)
        self.stop_event = threading.Event()
        self._polled: set[str] = set()  # streams polled without error since start-up
        self._polled_lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.server: Any = None

    def start(self) -> str:
        from werkzeug.serving import make_server

        # The console first: a console setting that is wrong stops the start before any
        # listener is open.
        console = self._console_thread(make_server) if self.console_port is not None else None
        # The receiver logs each request itself (JSON, with a request id).
        self.server = make_server(self.host, self.port, build_receiver(self.rt), threaded=True,
                                  request_handler=QuietRequestHandler)
        self.port = self.server.server_port
        worker = Worker(self.rt.ctx, lease_seconds=self.rt.settings.job_lease_seconds)
        self.rt.store.on_new_job = worker.notify  # a webhook's job starts at once
        self.threads = [
            threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True),
            threading.Thread(target=worker.run_forever, name="worker", daemon=True,
                             args=(self.stop_event,),
                             kwargs={"concurrency": self.rt.settings.worker_concurrency}),
            *(threading.Thread(target=self._poll_loop, name=f"poll-{stream}", daemon=True,
                               args=(stream, every))
              for stream, every in self._poll_streams().items()),
        ]
        if console is not None:
            self.threads.append(console)
        for t in self.threads:
            t.start()
        self.threads += start_chores(chores_for(self.rt, serve=True), self.stop_event)
        url = f"http://{self.host}:{self.port}"
        log.info("service started", extra={"url": url})
        return url

    def _console_thread(self, make_server: Any) -> threading.Thread:
        """The console on a listener of its own: the receiver's app never serves it."""
        from connector.console import create_app

        self.console_server = make_server(self.host, self.console_port,
                                          create_app(self.rt.store, self.rt.settings,
                                                     users=self.console_users,
                                                     demo=self.console_demo),
                                          threaded=True, request_handler=QuietRequestHandler)
        self.console_url = f"http://{self.host}:{self.console_server.server_port}"
        return threading.Thread(target=self.console_server.serve_forever, name="console",
                                daemon=True)

    def _poll_streams(self) -> dict[str, float]:
        """Every stream's interval: as often as the poll_seconds setting of the vendor behind
        it says (CONNECTOR_<VENDOR>_POLL_SECONDS), or `poll_seconds` when given (tests, the
        demo); recertifications hourly."""
        every = {name: self.fixed or seconds for name, seconds in self.rt.schedule.items()}
        every["recertification"] = self.fixed or 3600.0
        return every

    def _poll_loop(self, stream: str, every: float) -> None:
        """One stream on its own thread and schedule, so a slow vendor delays only its own
        work (a directory read taking 20 s no longer holds up completions)."""
        only = frozenset({stream})
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                report = poll_all(self.rt, only=only)
                for error in report.errors:
                    log.warning("poll failed", extra={"stream": stream, "error": error})
                for stop in report.stops:  # the stream waits for `connector stops`
                    log.warning("poll stopped", extra={"stream": stream, "error": stop})
                if not report.errors:
                    self._polled_cleanly(stream)
            except ConnectorError as exc:
                log.warning("poll stopped", extra={"stream": stream, "error": str(exc)})
            self.stop_event.wait(max(0.05, started + every - time.monotonic()))

    def _polled_cleanly(self, stream: str) -> None:
        """Close a new or restored database's adoption window after one full cycle: every
        stream polled without error since start-up, and no job pending or running."""
        with self._polled_lock:
            self._polled.add(stream)
            whole_cycle = self._polled >= self._poll_streams().keys()
        if not self.rt.ctx.adopting or not whole_cycle:
            return
        counts = self.rt.store.jobs.counts()
        if not counts.get("pending", 0) and not counts.get("running", 0):
            end_adoption(self.rt.ctx)  # a no-op once closed

    def stop(self, grace: float | None = None) -> bool:
        """Stop within `grace` seconds (CONNECTOR_SHUTDOWN_SECONDS) in all, however slow the
        work in hand: the listeners close, and threads still busy after that are left (they
        are daemons; a job cut off goes back to the queue when its lease expires). True when
        every thread finished in time."""
        grace = self.rt.settings.shutdown_seconds if grace is None else grace
        until = time.monotonic() + grace
        self.stop_event.set()
        if self.server is not None:
            self.server.shutdown()
        if self.console_server is not None:
            self.console_server.shutdown()
        for t in self.threads:
            t.join(timeout=max(0.0, until - time.monotonic()))
        left = [t.name for t in self.threads if t.is_alive()]
        if left:
            log.warning("stopped with work still running", extra={"threads": left,
                                                                  "grace_seconds": grace})
        return not left
