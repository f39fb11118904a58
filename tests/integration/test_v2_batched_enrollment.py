"""The worker sends TalentLMS v2 enrollments in batches across employees, and never twice.

The real product (directory read, review poll, worker) against the sandboxes, with
`CONNECTOR_TALENTLMS_API=v2`. A first run enrolls every planned course through a few batch
calls; then the same reviews arrive again (a duplicate delivery) and a crash is replayed —
enrollments whose intent is in the ledger but whose outcome is not (the state a worker
killed between the batch call and its record leaves) are run again. The vendor holds each
enrollment once, every batch pair was new except the replayed ones (answered "already
enrolled", which is success), and the ledger records each assignment once.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from connector.demo.sandboxes import sandbox_settings, seed_organisation, start_sandboxes
from connector.errors import SafetyStop
from connector.models import ActionKind
from connector.pollers import poll_reviews, sync_directory
from connector.progress import quiet
from connector.runtime import build_runtime
from connector.store import ActionState
from connector.worker import Worker

EMPLOYEES = 12


def _poll(rt: Any) -> int:
    queued = 0
    for source in rt.review_sources:
        try:
            queued += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping))
        except SafetyStop:
            queued += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping),
                                   confirm=True)
    return queued


def test_batches_across_employees_and_never_enrolls_twice(database_url: str) -> None:
    sb = start_sandboxes()
    try:
        seed_organisation(sb, employees=EMPLOYEES)
        settings = sandbox_settings(sb, database_url, talentlms_api="v2",
                                    talentlms_v2_task_poll_seconds=0.01)
        rt = build_runtime(settings)
        # A batch wait longer than the test: batches go out full or when there is nothing
        # else to run, whatever the machine's load (the timer is tested on its own).
        worker = Worker(rt.ctx, lease_seconds=480, batch_wait=120)
        assert worker.batcher is not None  # v2: the worker gathers enrollments
        sync_directory(rt.store, rt.directory, max_leaver_share=0.05,
                       id_spaces=rt.ctx.id_spaces)
        worker.drain()
        assert _poll(rt) == EMPLOYEES
        stats = worker.drain(concurrency=2)
        assert stats.dead == 0, stats.errors
        lms = sb.talentlms.state()
        assigned = rt.store.assignments_for()
        pairs = {(a.employee_id, a.course_id) for a in assigned}
        assert len(assigned) == len(pairs) > 2 * EMPLOYEES // 2
        assert lms["counts"]["enrollments"] == len(assigned)
        assert lms["counts"]["batch_pairs"] == len(assigned)  # each pair sent once
        batches = lms["calls_by_route"].get("POST batch", 0)
        # Across employees, and full: a thread with nothing to run waits for the other
        # thread's job rather than sending a part of the batch.
        assert batches == math.ceil(len(assigned) / 100)
        assert lms["calls_by_route"].get("POST addusertocourse", 0) == 0

        # The same reviews again, and a crash replayed: intents without outcomes.
        replayed = []
        for identity in rt.store.all_identities()[:5]:
            for action in rt.store.actions_for(identity.employee_id, (ActionState.DONE,)):
                if action.kind is ActionKind.ENROLL:
                    rt.store.set_action_state(action.key, ActionState.INTENT)
                    replayed.append(action.key)
            rt.store.jobs.add("resume", {"employee_id": identity.employee_id},
                              employee_id=identity.employee_id)
        assert replayed
        rt.store.save_cursor("orangehrm.reviews", None)
        _poll(rt)  # a duplicate delivery of every review
        stats = worker.drain(concurrency=2)
        assert stats.dead == 0, stats.errors
        after = sb.talentlms.state()
        assert after["counts"]["enrollments"] == len(assigned)  # nothing enrolled twice
        assert after["events"]["course_add_user"] == len(assigned)
        # Only the replayed pairs were sent again, and found already there.
        assert after["counts"]["batch_pairs"] == len(assigned) + len(replayed)
        assert after["calls_by_route"].get("POST batch", 0) == batches + 1
        assert len(rt.store.assignments_for()) == len(assigned)
        for key in replayed:
            assert rt.store.action(key).state is ActionState.DONE
        rt.close()
    finally:
        sb.stop()


def test_the_progress_total_counts_a_job_waiting_for_its_batch_once(database_url: str) -> None:
    """A job whose enrollments wait for a batch is shown as done while it is still running in
    the store; the drain's total (and so its ETA) must not count it twice. The batch call is
    slowed so that the total is read while every job waits for it."""
    sb = start_sandboxes()
    rt = None
    try:
        seed_organisation(sb, employees=6)
        settings = sandbox_settings(sb, database_url, talentlms_api="v2",
                                    talentlms_v2_task_poll_seconds=0.01)
        rt = build_runtime(settings)
        # A batch wait longer than the test: batches go out full or when there is nothing
        # else to run, whatever the machine's load (the timer is tested on its own).
        worker = Worker(rt.ctx, lease_seconds=480, batch_wait=120)
        sync_directory(rt.store, rt.directory, max_leaver_share=0.05,
                       id_spaces=rt.ctx.id_spaces)
        worker.drain()
        queued = _poll(rt)
        sb.talentlms.post("/_sandbox/faults", {"latency_ms": 150})
        progress = quiet()
        totals: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.01):
                if progress.total_of is not None:
                    totals.append(progress.total_of())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            stats = worker.drain(concurrency=2, progress=progress)
        finally:
            stop.set()
            sampler.join()
        assert stats.dead == 0, stats.errors
        assert progress.done == stats.done >= queued
        # Jobs still queued at the end (none run by this drain) are in the total too.
        counts = rt.store.jobs.counts()
        left = counts.get("pending", 0) + counts.get("running", 0)
        assert totals and max(totals) <= stats.done + left, (max(totals), stats.done, counts)
    finally:
        if rt is not None:
            rt.close()
        sb.stop()
