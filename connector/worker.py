"""The worker: claims jobs, runs their handler, records success, retry or dead letter.

Errors are classified by what to do next: vendor 429/5xx/timeouts, busy databases and
"not yet" (`EffectPending`) are retried with backoff (and the vendor's Retry-After); a
rejected request or bad data is permanent and becomes a dead letter at once. A heartbeat
thread keeps the lease of a long job alive; if the worker dies, the lease expires and
another worker takes the job over.

With an LMS that enrolls in batches, a job whose enrollments wait for a batch stays running
until the batch is sent (`enroll_batches.py`): the batch goes out when full, when no other job
is runnable, or after a short wait, and the job is then marked done or failed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

from pydantic import ValidationError

from connector.enroll_batches import MAX_WAIT_SECONDS, EnrollmentBatcher, Finished
from connector.errors import (
    ConnectorError,
    EffectPending,
    InputError,
    RetriableStoreError,
    VendorError,
)
from connector.executor import Context
from connector.handlers import HANDLERS, Handler
from connector.observability.metrics import job_seconds, jobs_finished
from connector.progress import Progress, jobs_total
from connector.store.jobs import DEAD, Job

log = logging.getLogger(__name__)


def classify(exc: BaseException) -> tuple[bool, float | None]:
    """(retriable, retry_after seconds) for an error raised by a handler."""
    if isinstance(exc, VendorError):
        return exc.retriable, exc.retry_after
    if isinstance(exc, RetriableStoreError | EffectPending):
        return True, None
    if isinstance(exc, InputError | ValidationError | KeyError | TypeError):
        return False, None
    if isinstance(exc, ConnectorError):
        return True, None
    return True, None  # unknown: probably transient; bounded by max attempts


@dataclass
class WorkerStats:
    done: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, ctx: Context, *, lease_seconds: float = 60.0,
                 handlers: dict[str, Handler] | None = None, owner: str | None = None,
                 batch_wait: float = MAX_WAIT_SECONDS) -> None:
        """`batch_wait`: how long an enrollment may wait for its batch to fill (LMSs that
        enroll in batches); never more than a quarter of the lease, as a parked job's
        heartbeat stops."""
        self.ctx = ctx
        self.store = ctx.store
        self.lease_seconds = lease_seconds
        self.handlers = handlers or HANDLERS
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stats = WorkerStats()
        self._lock = threading.Lock()
        self._counted: set[int] = set()  # parked jobs already shown as done
        self._wake = threading.Event()
        self.progress: Progress | None = None  # a drain's progress display, when shown
        self.batcher = EnrollmentBatcher.for_lms(ctx.lms,
                                                 max_wait=min(batch_wait, lease_seconds / 4))
        if self.batcher is not None:
            ctx.enrollments = self.batcher

    def run_available(self, owner_suffix: str = "",
                      keep_going: Callable[[], bool] = lambda: True) -> None:
        """Claim and run jobs until none is runnable now (or `keep_going()` is false).

        A job that succeeded is marked done in the transaction that claims the next one (one
        commit per job instead of two; bench/pipeline.py), and the last one before this
        returns, so nothing it ran is left unmarked.
        """
        owner = self.owner + owner_suffix
        finished: tuple[Job, str] | None = None
        with self.batcher.working() if self.batcher is not None else nullcontext():
            try:
                while keep_going():
                    job = self.store.jobs.claim(owner, self.lease_seconds,
                                                finished=finished[0] if finished else None)
                    if finished is not None:
                        self._done(*finished)
                        finished = None
                    if job is None:
                        if self.batcher is not None and self.batcher.has_pending():
                            # Nothing to run here. While another thread still works, wait for
                            # it (its enrollments join this batch: fewer, fuller calls); then
                            # send what is gathered and look again (the employees' next jobs
                            # may be runnable now).
                            if not self.batcher.due() and \
                                    self.batcher.wait_for_busy_threads(timeout=1.0):
                                continue
                            self._settle(self.batcher.flush(everything=True))
                            continue
                        break
                    outcome = self.run_job(job)
                    if outcome is not None:
                        if self.batcher is not None and self.batcher.park(job, outcome):
                            self._count(job)  # its work is done; only the batch is left
                            self._settle([self.batcher.settled_now(job)])
                        else:
                            finished = (job, outcome)
                    if self.batcher is not None:
                        self.batcher.job_ended()
                        if self.batcher.due():
                            self._settle(self.batcher.flush())
            finally:
                if finished is not None:
                    self.store.jobs.complete(finished[0])
                    self._done(*finished)
                if self.batcher is not None:
                    self._settle(self.batcher.flush(everything=True))

    def _settle(self, finished: Sequence[Finished | None]) -> None:
        """Jobs whose batched enrollments were sent: done, or failed with the pair's error."""
        for item in finished:
            if item is None:
                continue
            job, outcome, error = item
            if error is None:
                self.store.jobs.complete(job)
                self._done(job, outcome)
            else:
                self._failed(job, error)

    def run_job(self, job: Job) -> str | None:
        """Run one claimed job: its outcome, or None when it failed (the failure is recorded,
        as a retry or a dead letter). Success is the caller's to mark (`run_available`)."""
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, stop), daemon=True)
        beat.start()
        started = time.perf_counter()
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                raise InputError(f"no handler for job kind {job.kind!r}")
            # A handler that says nothing succeeded all the same: None means failure here.
            if self.batcher is not None:
                with self.batcher.running(job):
                    outcome = handler(self.ctx, job) or "ok"
            else:
                outcome = handler(self.ctx, job) or "ok"
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none escapes
            if self.batcher is not None:
                self.batcher.forget(job)
            self._failed(job, exc)
            return None
        finally:
            stop.set()
            beat.join(timeout=1)
            job_seconds.labels(job.kind).observe(time.perf_counter() - started)
        return outcome

    def _count(self, job: Job) -> None:
        """Advance the progress display for a job, once (a parked job counts when its
        handler returns, so a batch filling up does not stall the ETA)."""
        with self._lock:
            if job.id in self._counted:
                return
            self._counted.add(job.id)
        if self.progress is not None:
            self.progress.advance()

    def _parked_counted(self) -> int:
        """Jobs shown as done while they wait for their batch (still running in the store)."""
        with self._lock:
            return len(self._counted)

    def _done(self, job: Job, outcome: str) -> None:
        """Count and log a job once it is marked done."""
        jobs_finished.labels(job.kind, "done").inc()
        with self._lock:
            self.stats.done += 1
        self._count(job)
        with self._lock:
            self._counted.discard(job.id)
        log.info("job done", extra={"job_id": job.id, "kind": job.kind,
                                    "employee_id": job.employee_id, "outcome": outcome})

    def _failed(self, job: Job, exc: BaseException) -> None:
        retriable, retry_after = classify(exc)
        error = f"{type(exc).__name__}: {exc}"
        state = self.store.jobs.fail(job, error, retriable=retriable, retry_after=retry_after)
        jobs_finished.labels(job.kind, "dead" if state == DEAD else "retry").inc()
        with self._lock:
            if state == DEAD:
                self.stats.dead += 1
                self.stats.errors.append(error)
            else:
                self.stats.retried += 1
        with self._lock:
            counted = job.id in self._counted
            self._counted.discard(job.id)
        if state == DEAD and self.progress is not None and not counted:
            self.progress.advance()
        elif state != DEAD and self.progress is not None and counted:
            self.progress.advance(-1)  # shown done when it parked; it will run again
        if state == DEAD:
            self.store.audit(None, job.employee_id, "job.dead",
                             f"{job.kind} job {job.id} failed for good after {job.attempts} "
                             f"attempt(s): {error[:500]}", ref=f"job:{job.id}")
            log.warning("job dead-lettered", extra={"job_id": job.id, "kind": job.kind,
                                                    "error": error[:300]})
        else:
            log.info("job will be retried", extra={"job_id": job.id, "kind": job.kind,
                                                   "error": error[:300]})

    def _heartbeat(self, job: Job, stop: threading.Event) -> None:
        interval = max(1.0, self.lease_seconds / 3)
        while not stop.wait(interval):
            try:
                if not self.store.jobs.heartbeat(job, self.lease_seconds):
                    log.warning("lease lost", extra={"job_id": job.id})
                    return
            except ConnectorError:
                log.warning("heartbeat failed", extra={"job_id": job.id})

    def drain(self, *, concurrency: int = 1, deadline: float | None = None,
              wait_for_retries: bool = False, idle_sleep: float = 0.2,
              progress: Progress | None = None,
              keep_going: Callable[[], bool] = lambda: True) -> WorkerStats:
        """Run until no job is runnable (or, with `wait_for_retries`, until none is pending or
        running anywhere: other workers' leases and backoffs are waited out). `progress`
        counts jobs finished for good against the jobs pending at the start plus those
        queued since."""
        if progress is not None:
            # A parked job is counted done already and is still running in the store:
            # count it once, or the total (and the ETA) grows by every batch waiting.
            progress.total_of = jobs_total(self.store,
                                           lambda: progress.done - self._parked_counted())
            self.progress = progress

        def before_deadline() -> bool:
            return (deadline is None or time.monotonic() < deadline) and keep_going()

        def loop(index: int) -> None:
            while before_deadline():
                self.run_available(f":{index}", before_deadline)
                if not wait_for_retries or not self._pending_left():
                    return
                time.sleep(idle_sleep)

        threads = [threading.Thread(target=loop, args=(i,), daemon=True)
                   for i in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.progress = None
        return self.stats

    def _pending_left(self) -> bool:
        counts = self.store.jobs.counts()
        return counts.get("pending", 0) + counts.get("running", 0) > 0

    def notify(self) -> None:
        """New work was queued in this process: wake an idle loop now, not at its next poll."""
        self._wake.set()

    def run_forever(self, stop: threading.Event, *, concurrency: int = 1,
                    idle_sleep: float = 0.25) -> None:
        """Work until `stop`. Idle loops poll the store every `idle_sleep` seconds (other
        processes queue work too) and wake at once on `notify()`."""
        def loop(index: int) -> None:
            while not stop.is_set():
                try:
                    self.run_available(f":{index}", lambda: not stop.is_set())
                except ConnectorError as exc:
                    log.warning("worker loop error", extra={"error": str(exc)})
                # Nothing runnable now: wait for a poll interval or a notify().
                self._wake.wait(idle_sleep)
                self._wake.clear()

        def wake_on_stop() -> None:
            stop.wait()
            self._wake.set()

        threading.Thread(target=wake_on_stop, daemon=True).start()

        threads = [threading.Thread(target=loop, args=(i,), name=f"worker-{i}", daemon=True)
                   for i in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
