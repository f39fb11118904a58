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

from connector.errors import ConnectorError
from connector.models import Employee
from connector.pollers import PollReport, poll_all
from connector.runtime import Runtime
from connector.store import Store
from connector.worker import Worker, WorkerStats

log = logging.getLogger(__name__)


class StoreInbox:
    """The receiver's `Inbox` port on the store: event and job in one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def ingest(self, source: str, event_id: str, kind: str, payload: dict[str, Any],
               raw: bytes, employee_id: str | None) -> bool:
        body: dict[str, Any]
        if kind == "review":
            body = {"review": payload}
        elif kind == "completion":
            body = {"completion": payload}
            if employee_id is None:
                return self.store.ingest(source, event_id, kind, body, raw,
                                         learner=(payload.get("lms_user_id"),
                                                  payload.get("email")))
        elif kind == "employee":
            body = employee_job_payload(self.store, payload)
        else:
            body = dict(payload)
        return self.store.ingest(source, event_id, kind, body, raw, employee_id)


def employee_job_payload(store: Store, change: dict[str, Any]) -> dict[str, Any]:
    """A BambooHR employee change as an `employee` job: known facts updated by the fields."""
    eid = str(change["employee_id"])
    fields = change.get("fields") or {}
    known = store.identity(eid)
    base: dict[str, Any] = (store.employee_of(known).model_dump() if known
                            else {"employee_id": eid})
    updates = {"email": fields.get("workEmail") or fields.get("email"),
               "first_name": fields.get("firstName"), "last_name": fields.get("lastName"),
               "role": fields.get("jobTitle"), "manager_id": fields.get("supervisorEId")}
    base.update({k: v for k, v in updates.items() if v})
    status = str(fields.get("status") or fields.get("employmentStatus") or "").lower()
    action = change.get("action", "updated")
    base["active"] = action != "deleted" and status not in {"inactive", "terminated"}
    return {"employee": Employee.model_validate(base).model_dump(mode="json"), "action": action}


def build_receiver(rt: Runtime) -> Flask:
    from connector.observability.metrics import export_queue
    from webhooks.app import create_app

    export_queue(rt.store)
    return create_app(inbox=StoreInbox(rt.store), settings=rt.settings,
                      ready_check=rt.store.ready)


@dataclass
class SyncSummary:
    poll: PollReport
    work: WorkerStats

    @property
    def failed(self) -> bool:
        return bool(self.poll.errors or self.work.dead)

    def text(self) -> str:
        p, w = self.poll, self.work
        lines = [f"polled: {p.reviews} new review(s), {p.completions} new completion(s), "
                 f"{p.employees} directory update(s), {p.leavers} leaver(s), "
                 f"{p.reconciled} reconciled, {p.recertifications} recertification(s) due",
                 f"jobs: {w.done} done, {w.retried} to retry later, {w.dead} dead letter(s)"]
        lines += [f"error: {e}" for e in p.errors]
        lines += [f"dead letter: {e}" for e in w.errors]
        return "\n".join(lines)


def sync_once(rt: Runtime, *, confirm: bool = False, concurrency: int = 1) -> SyncSummary:
    """Poll every source once and drain the queue: the scheduled-job way to run."""
    report = poll_all(rt, confirm=confirm)
    stats = Worker(rt.ctx, lease_seconds=rt.settings.job_lease_seconds).drain(
        concurrency=concurrency)
    # Completions found while draining (e.g. reconciliation) are processed in the same run.
    if rt.store.jobs.counts().get("pending", 0):
        more = Worker(rt.ctx).drain(concurrency=concurrency)
        stats.done += more.done
        stats.dead += more.dead
        stats.retried += more.retried
        stats.errors += more.errors
    return SyncSummary(report, stats)


class Service:
    """Receiver + worker + pollers in one process (the embedded default)."""

    def __init__(self, rt: Runtime, *, host: str = "127.0.0.1", port: int = 8080,
                 poll_seconds: float | None = None) -> None:
        self.rt = rt
        self.host = host
        self.port = port
        self.fixed = poll_seconds  # one interval for every poller (tests, the demo)
        self.poll_seconds = poll_seconds or float(rt.settings.talentlms_poll_seconds)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.server: Any = None

    def start(self) -> str:
        from werkzeug.serving import make_server

        from connector.sandbox.common import QuietRequestHandler

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
            threading.Thread(target=self._poll_loop, name="pollers", daemon=True),
        ]
        for t in self.threads:
            t.start()
        url = f"http://{self.host}:{self.port}"
        log.info("service started", extra={"url": url})
        return url

    def _poll_loop(self) -> None:
        """Each poller on its own schedule: the LMS timeline every
        CONNECTOR_TALENTLMS_POLL_SECONDS, reviews and the directory every
        CONNECTOR_ORANGEHRM_POLL_SECONDS (or `poll_seconds` when given, for tests)."""
        settings = self.rt.settings
        every = {"completions": self.poll_seconds,
                 "reviews": self.fixed or float(settings.orangehrm_poll_seconds),
                 "directory": self.fixed or float(settings.orangehrm_poll_seconds),
                 "recertification": self.fixed or 3600.0}
        due = dict.fromkeys(every, 0.0)
        while not self.stop_event.is_set():
            now = time.monotonic()
            ready = frozenset(name for name, at in due.items() if at <= now)
            try:
                report = poll_all(self.rt, only=ready)
                for error in report.errors:
                    log.warning("poll failed", extra={"error": error})
            except ConnectorError as exc:
                log.warning("poll stopped", extra={"error": str(exc)})
            for name in ready:
                due[name] = now + every[name]
            self.stop_event.wait(max(0.05, min(due.values()) - time.monotonic()))

    def stop(self) -> None:
        self.stop_event.set()
        if self.server is not None:
            self.server.shutdown()
        for t in self.threads:
            t.join(timeout=10)
