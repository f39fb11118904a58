"""When a batch of enrollments goes out: full, when its oldest pair has waited `max_wait`, or
when no worker thread is still working (connector/enroll_batches.py). The LMS is the ports'
in-memory fake; the clock is a test's own."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from connector.enroll_batches import EnrollmentBatcher
from connector.executor import Context
from connector.models import LearnerRef
from connector.progress import quiet
from connector.store import Store
from connector.store.jobs import Job
from connector.worker import Worker
from mappings.schema import Mapping
from tests.support.fakes import FakeLMS


def job(n: int) -> Job:
    return Job(id=n, kind="review", payload={}, employee_id=f"E{n}", attempts=1,
               max_attempts=5, lease_owner="test")


def gather(batcher: EnrollmentBatcher, n: int) -> None:
    """Job n's handler gathers one enrollment, and the job parks."""
    with batcher.running(job(n)):
        batcher.defer(f"enroll:E{n}:101", LearnerRef(lms_user_id=f"u{n}"), "101",
                      finish=lambda _: None)
    assert batcher.park(job(n), "ok")


def test_a_batch_is_due_when_full_or_when_its_oldest_pair_has_waited_long_enough() -> None:
    now = [0.0]
    lms = FakeLMS()
    batcher = EnrollmentBatcher(lms, size=3, max_wait=10.0, clock=lambda: now[0])
    gather(batcher, 1)
    now[0] = 6.0
    gather(batcher, 2)
    assert not batcher.due()
    now[0] = 10.0  # the first pair has waited 10 s
    assert batcher.due()
    finished = batcher.flush()
    assert sorted(j.id for j, _, error in finished if error is None) == [1, 2]
    assert lms.calls["enroll"] == 2 and not batcher.has_pending()
    for n in (3, 4, 5):
        gather(batcher, n)
    assert batcher.due()  # full, however young


def test_a_thread_with_nothing_to_run_waits_only_while_another_still_works() -> None:
    batcher = EnrollmentBatcher(FakeLMS(), size=100)
    with batcher.working():
        assert batcher.wait_for_busy_threads(timeout=5.0) is False  # alone: send now

    other_working = threading.Event()
    end_job = threading.Event()

    def other() -> None:
        with batcher.working():
            other_working.set()
            end_job.wait(5.0)
            batcher.job_ended()

    thread = threading.Thread(target=other)
    thread.start()
    other_working.wait(5.0)
    with batcher.working():
        threading.Timer(0.2, end_job.set).start()
        started = time.monotonic()
        assert batcher.wait_for_busy_threads(timeout=5.0) is True
        waited = time.monotonic() - started
    thread.join()
    assert 0.1 < waited < 4.0  # woken by the other thread's job ending, not the timeout


def test_a_parked_job_whose_batch_fails_is_not_shown_done(tmp_path: Path) -> None:
    """A job counted done when it parked goes back to pending when its batch call fails (a
    retriable error): the drain's progress takes it back, so done and total stay true."""
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        lms = FakeLMS(fail_enrolls=1)
        lms.enroll_batch_size = 10  # type: ignore[attr-defined]

        def handler(ctx: Context, job: Job) -> str:
            ctx.enrollments.defer(f"enroll:{job.employee_id}:101",
                                  LearnerRef(lms_user_id="u1"), "101", finish=lambda _: None)
            return "ok"

        worker = Worker(Context(store=store, mapping=Mapping(), lms=lms),
                        handlers={"enroll": handler})
        assert worker.batcher is not None
        store.jobs.add("enroll", {}, employee_id="E1")
        progress = quiet()
        stats = worker.drain(progress=progress)
        assert (stats.done, stats.retried) == (0, 1)
        assert progress.done == 0  # 1 before: counted when it parked, never taken back
        assert store.jobs.counts() == {"pending": 1}
    finally:
        store.close()
