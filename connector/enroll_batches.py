"""Enrollments gathered across employees and sent in the LMS's batches: calls are the budget.

With an LMS that enrolls many pairs per call (`EnrollsInBatches` with `enroll_batch_size` > 1),
the executor does not enroll each course itself while a worker runs a job. It records the
intent in the ledger first, as for every effect, and hands the pair here; the job stays
running (parked), so its employee's later jobs wait and per-employee order holds. A batch
goes out when it is full, when none of the worker's threads has a job to run (a thread that
finds nothing waits while another still claims or runs one, whose enrollments then join the
same batch), or when its oldest pair has waited `max_wait` seconds. Each enrolled pair's
outcome is then recorded exactly as the executor records it (the assignment, the action
done, the audit row), and each parked job finishes: done when all its pairs were enrolled,
failed otherwise (retried or dead, as any job, with the pair's error).

Exactly once: a pair already done in the ledger is never sent (the intent step says so); a
pair gathered twice is sent once. A crash after the call and before the record leaves the
action in `intent` and the job running; its lease expires, the job runs again and sends the
pair again, and the LMS answers "already enrolled", which is success.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from connector.models import LearnerRef
from connector.ports import EnrollsInBatches
from connector.store.jobs import Job

# How long a gathered enrollment may wait for its batch to fill, by default; well inside a
# job's lease (60 s), whose heartbeat stops while the job is parked (the worker caps it at a
# quarter of the lease).
MAX_WAIT_SECONDS = 15.0


@dataclass
class Deferred:
    """One enrollment waiting for its batch, and how to record it once made."""

    key: str
    learner: LearnerRef
    course_id: str
    finish: Callable[[Any], None]
    since: float
    jobs: list[int] = field(default_factory=list)

    @property
    def pair(self) -> tuple[str, str]:
        return (self.learner.lms_user_id, self.course_id)


@dataclass
class Parked:
    """A job whose handler returned while some of its enrollments wait for a batch."""

    job: Job
    outcome: str | None = None  # set once the handler returned
    waiting: set[str] = field(default_factory=set)
    error: Exception | None = None


Finished = tuple[Job, str, Exception | None]  # (job, outcome, None or the first error)


class EnrollmentBatcher:
    """Shared by a worker's threads; `running(job)` marks the job a thread runs now."""

    def __init__(self, lms: EnrollsInBatches, *, size: int, max_wait: float = MAX_WAIT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lms = lms
        self.size = size
        self.max_wait = max_wait
        self.clock = clock
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0  # worker threads working now (not waiting for others)
        self._local = threading.local()
        self._pending: dict[str, Deferred] = {}
        self._parked: dict[int, Parked] = {}

    @classmethod
    def for_lms(cls, lms: Any, *, max_wait: float = MAX_WAIT_SECONDS
                ) -> EnrollmentBatcher | None:
        """A batcher when the LMS takes more than one pair a call, else None."""
        size = getattr(lms, "enroll_batch_size", 1) if isinstance(lms, EnrollsInBatches) else 1
        return cls(lms, size=size, max_wait=max_wait) if size > 1 \
            else None

    # -- while a handler runs --
    @contextmanager
    def running(self, job: Job) -> Iterator[None]:
        self._local.job = job
        try:
            yield
        finally:
            self._local.job = None

    @contextmanager
    def working(self) -> Iterator[None]:
        """A worker thread claiming and running jobs: a batch waits for it (its enrollments
        may join) except while it waits itself (`wait_for_busy_threads`)."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._idle.notify_all()

    def job_ended(self) -> None:
        """A thread finished a job: threads waiting for others look again (that employee's
        next job may be runnable now)."""
        with self._lock:
            self._idle.notify_all()

    def wait_for_busy_threads(self, timeout: float) -> bool:
        """Called by a working thread that found nothing to run: True when another thread
        was still working (this one waited, up to `timeout`, for it to end a job, so that its
        enrollments can join this batch); False when none was and the batch should go now."""
        with self._lock:
            self._busy -= 1  # not working while it waits
            try:
                if self._busy == 0:
                    return False
                self._idle.notify_all()  # another waiting thread may be the last one now
                self._idle.wait(timeout)
                return True
            finally:
                self._busy += 1

    def gathering(self) -> bool:
        """Whether an enrollment made on this thread now can wait for a batch (a worker's
        job is running here); outside a job the executor enrolls at once."""
        return getattr(self._local, "job", None) is not None

    def defer(self, key: str, learner: LearnerRef, course_id: str,
              finish: Callable[[Any], None]) -> None:
        job: Job = self._local.job
        with self._lock:
            item = self._pending.get(key)
            if item is None:
                item = Deferred(key, learner, course_id, finish, self.clock())
                self._pending[key] = item
            item.jobs.append(job.id)
            self._parked.setdefault(job.id, Parked(job)).waiting.add(key)

    # -- the worker, after the handler --
    def park(self, job: Job, outcome: str) -> bool:
        """True when the job waits for its batch (the worker finishes it later)."""
        with self._lock:
            parked = self._parked.get(job.id)
            if parked is None:
                return False
            parked.outcome = outcome
            return True

    def forget(self, job: Job) -> None:
        """The job failed: its pairs not yet sent are dropped (their intents stay; the
        retry gathers them again)."""
        with self._lock:
            parked = self._parked.pop(job.id, None)
            for key in parked.waiting if parked else ():
                item = self._pending.get(key)
                if item is not None and job.id in item.jobs:
                    item.jobs.remove(job.id)
                    if not item.jobs:
                        del self._pending[key]

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def due(self) -> bool:
        with self._lock:
            if len(self._pending) >= self.size:
                return True
            oldest = min((i.since for i in self._pending.values()), default=None)
        return oldest is not None and self.clock() - oldest >= self.max_wait

    def flush(self, *, everything: bool = False) -> list[Finished]:
        """Send one batch (or, with `everything`, all that is gathered); the jobs finished."""
        finished: list[Finished] = []
        while True:
            with self._lock:
                chunk = [self._pending.pop(k) for k in list(self._pending)[:self.size]]
            if not chunk:
                return finished
            finished += self._send(chunk)
            if not everything:
                return finished

    def _send(self, chunk: list[Deferred]) -> list[Finished]:
        try:
            results = self.lms.enroll_many([(i.learner, i.course_id) for i in chunk])
        except Exception as exc:  # noqa: BLE001 - every pair's job learns of it
            results = {i.pair: exc for i in chunk}
        finished: list[Finished] = []
        for item in chunk:
            error = results.get(item.pair, RuntimeError(
                f"the batch answer did not mention course {item.course_id}"))
            if error is None:
                try:
                    item.finish({"lms_user_id": item.learner.lms_user_id,
                                 "course_id": item.course_id})
                except Exception as exc:  # noqa: BLE001 - the job is retried; enrolling is idempotent
                    error = exc
            with self._lock:
                for job_id in item.jobs:
                    parked = self._parked.get(job_id)
                    if parked is None:
                        continue
                    parked.waiting.discard(item.key)
                    if error is not None and parked.error is None:
                        parked.error = error
                    if not parked.waiting and parked.outcome is not None:
                        del self._parked[job_id]
                        finished.append((parked.job, parked.outcome, parked.error))
        return finished

    def settled_now(self, job: Job) -> Finished | None:
        """A job parked after all its pairs were already sent (a pair gathered twice)."""
        with self._lock:
            parked = self._parked.get(job.id)
            if parked is None or parked.waiting or parked.outcome is None:
                return None
            del self._parked[job.id]
            return (parked.job, parked.outcome, parked.error)
