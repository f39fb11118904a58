"""The job queue on both engines: leases, heartbeats, backoff, dead letters, per-employee order.

Time and jitter are injected, so lease expiry and backoff are exact and nothing sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from connector.store import Job, JobState, Store
from connector.store.jobs import LOST, backoff_seconds
from connector.store.schema import jobs
from tests.support.fakes import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(database_url: str, clock: ManualClock) -> Iterator[Store]:
    s = Store.open(database_url, clock=clock, db_clock=clock, jitter=lambda: 0.5,
                   backoff_base=2.0)
    yield s
    s.close()


def row(store: Store, job_id: int) -> dict:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one())


def claim(store: Store, owner: str = "w1", lease: float = 60.0) -> Job:
    job = store.jobs.claim(owner, lease)
    assert job is not None
    return job


# -- claim, lease, heartbeat --------------------------------------------------------------

def test_claim_takes_the_job_under_a_lease(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.add("noop", {"n": 1}, employee_id="E1", max_attempts=3)
    job = claim(store, "w1", lease=30)
    assert (job.id, job.kind, job.payload, job.employee_id) == (job_id, "noop", {"n": 1}, "E1")
    assert (job.attempts, job.max_attempts, job.lease_owner) == (1, 3, "w1")
    r = row(store, job_id)
    assert (r["state"], r["lease_owner"], r["lease_expires"]) == (
        JobState.RUNNING, "w1", clock.now + 30)
    assert store.jobs.claim("w2") is None  # nothing else to take
    store.jobs.complete(job)
    r = row(store, job_id)
    assert (r["state"], r["lease_owner"], r["finished_at"]) == (JobState.DONE, None, clock.now)


def test_claim_can_mark_the_workers_finished_job_done_first(store: Store) -> None:
    """One transaction per job for a busy worker: the job it finished is marked done by the
    claim of its next one, before the pick, so that employee's next job is runnable at once."""
    first_id = store.jobs.add("noop", {"n": 1}, employee_id="E1")
    second_id = store.jobs.add("noop", {"n": 2}, employee_id="E1")
    first = claim(store, "w1")
    assert store.jobs.claim("w2") is None  # E1's second job waits behind the first
    second = store.jobs.claim("w1", finished=first)
    assert second is not None and (first.id, second.id) == (first_id, second_id)
    assert (row(store, first_id)["state"], row(store, second_id)["state"]) == (
        JobState.DONE, JobState.RUNNING)
    assert store.jobs.claim("w1", finished=second) is None  # nothing left: still recorded
    assert row(store, second_id)["state"] == JobState.DONE


def test_heartbeat_extends_the_lease(store: Store, clock: ManualClock) -> None:
    store.jobs.add("noop", {})
    job = claim(store, lease=30)
    clock.now += 20
    assert store.jobs.heartbeat(job, 30) is True
    assert row(store, job.id)["lease_expires"] == clock.now + 30
    clock.now += 25  # past the first lease, inside the extended one
    assert store.jobs.claim("w2") is None


def test_an_expired_lease_is_claimed_again_and_the_old_owner_loses_it(
        store: Store, clock: ManualClock) -> None:
    store.jobs.add("noop", {})
    stale = claim(store, "w1", lease=10)
    clock.now += 9
    assert store.jobs.claim("w2") is None  # still leased
    clock.now += 2
    fresh = claim(store, "w2", lease=10)
    assert fresh.id == stale.id
    assert fresh.attempts == 2  # the lost run counts as an attempt
    # The stalled worker wakes up: its heartbeat and its completion no longer count.
    assert store.jobs.heartbeat(stale, 10) is False
    store.jobs.complete(stale)
    assert store.jobs.fail(stale, "late", retriable=False) == LOST  # changes nothing
    r = row(store, fresh.id)
    assert (r["state"], r["lease_owner"]) == (JobState.RUNNING, "w2")
    store.jobs.complete(fresh)
    assert row(store, fresh.id)["state"] == JobState.DONE


def test_a_busy_queue_still_sweeps_expired_leases_every_few_seconds(
        store: Store, clock: ManualClock) -> None:
    first = store.jobs.add("noop", {})
    others = [store.jobs.add("noop", {}) for _ in range(3)]
    assert claim(store, "dead-worker", lease=1).id == first
    clock.now += 2  # the lease has expired, but the last sweep was under sweep_every ago
    assert claim(store, "w1").id == others[0]
    clock.now += store.jobs.sweep_every
    assert claim(store, "w1").id == first  # swept back, and first in line again
    assert row(store, first)["last_error"] == "lease expired (worker stopped or stalled)"


# -- failure, backoff, dead letters -------------------------------------------------------

def test_backoff_is_capped_exponential_with_injected_jitter() -> None:
    def full(n: int) -> float:
        return backoff_seconds(n, base=2.0, cap=60.0, jitter=lambda: 1.0)

    assert [full(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert backoff_seconds(3, base=2.0, jitter=lambda: 0.25) == 2.0
    assert backoff_seconds(1, jitter=lambda: 0.0) == 0.0


def test_retriable_failure_goes_back_to_pending_after_the_backoff(
        store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.add("noop", {}, max_attempts=5)
    assert store.jobs.fail(claim(store), "HTTP 503", retriable=True) == JobState.PENDING
    r = row(store, job_id)
    # attempt 1, base 2 s, jitter 0.5 → 1 s.
    assert (r["state"], r["run_after"], r["attempts"]) == (JobState.PENDING, clock.now + 1.0, 1)
    assert r["last_error"] == "HTTP 503"
    assert r["lease_owner"] is None
    assert store.jobs.claim("w1") is None  # not before run_after
    clock.now += 1.0
    second = claim(store)
    assert second.attempts == 2
    assert store.jobs.fail(second, "HTTP 503", retriable=True) == JobState.PENDING
    assert row(store, job_id)["run_after"] == clock.now + 2.0  # attempt 2 → 0.5 * 4 s


def test_retry_after_wins_over_a_shorter_backoff(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.add("noop", {})
    store.jobs.fail(claim(store), "HTTP 429", retriable=True, retry_after=120)
    assert row(store, job_id)["run_after"] == clock.now + 120


def test_an_uncounted_failure_does_not_use_up_an_attempt(store: Store) -> None:
    job_id = store.jobs.add("noop", {}, max_attempts=1)
    assert store.jobs.fail(claim(store), "not yet", retriable=True, count_attempt=False) \
        == JobState.PENDING
    assert row(store, job_id)["attempts"] == 0


def test_permanent_failure_is_a_dead_letter_at_once(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.add("noop", {}, employee_id="E1", max_attempts=8)
    assert store.jobs.fail(claim(store), "HTTP 400: bad course id",
                           retriable=False) == JobState.DEAD
    r = row(store, job_id)
    assert (r["state"], r["finished_at"], r["attempts"]) == (JobState.DEAD, clock.now, 1)
    (letter,) = store.jobs.dead_letters()
    assert (letter.id, letter.kind, letter.employee_id) == (job_id, "noop", "E1")
    assert letter.last_error == "HTTP 400: bad course id"


def test_max_attempts_turns_a_retriable_failure_into_a_dead_letter(
        store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.add("noop", {}, max_attempts=2)
    assert store.jobs.fail(claim(store), "HTTP 503", retriable=True) == JobState.PENDING
    clock.now += 10
    assert store.jobs.fail(claim(store), "HTTP 503", retriable=True) == JobState.DEAD
    assert row(store, job_id)["attempts"] == 2
    assert store.jobs.claim("w1") is None


def test_replay_one_dead_letter_then_all(store: Store, clock: ManualClock) -> None:
    ids = [store.jobs.add("noop", {"n": n}) for n in range(3)]
    for _ in ids:
        store.jobs.fail(claim(store), "boom", retriable=False)
    assert [d.id for d in store.jobs.dead_letters()] == ids
    assert store.jobs.replay(ids[1]) == 1
    assert store.jobs.replay(ids[1]) == 0  # no longer dead
    r = row(store, ids[1])
    assert (r["state"], r["attempts"], r["run_after"], r["finished_at"]) == (
        JobState.PENDING, 0, clock.now, None)
    assert claim(store).id == ids[1]
    assert store.jobs.replay() == 2
    assert store.jobs.dead_letters() == []
    assert store.jobs.counts() == {JobState.RUNNING: 1, JobState.PENDING: 2}


# -- per-employee exclusivity and order ---------------------------------------------------

def test_jobs_of_one_employee_run_one_at_a_time_in_queue_order(store: Store) -> None:
    a1 = store.jobs.add("noop", {}, employee_id="E1")
    a2 = store.jobs.add("noop", {}, employee_id="E1")
    b1 = store.jobs.add("noop", {}, employee_id="E2")
    anon = store.jobs.add("noop", {})
    first = claim(store, "w1")
    assert first.id == a1
    others = {claim(store, "w2").id, claim(store, "w3").id}
    assert others == {b1, anon}  # a2 waits for a1
    assert store.jobs.claim("w4") is None
    assert store.jobs.has_unfinished("E1", before_id=a2) is True
    store.jobs.complete(first)
    assert store.jobs.has_unfinished("E1", before_id=a2) is False
    assert claim(store, "w4").id == a2


def test_an_earlier_job_waiting_for_its_retry_blocks_the_later_ones(
        store: Store, clock: ManualClock) -> None:
    a1 = store.jobs.add("noop", {}, employee_id="E1")
    a2 = store.jobs.add("noop", {}, employee_id="E1")
    store.jobs.fail(claim(store), "HTTP 503", retriable=True)  # a1 back to pending, later
    assert store.jobs.claim("w1") is None  # a2 must not overtake a1
    clock.now += 5
    again = claim(store)
    assert again.id == a1
    assert store.jobs.claim("w2") is None
    store.jobs.complete(again)
    assert claim(store).id == a2


def test_a_dead_letter_does_not_block_the_employee_for_ever(store: Store) -> None:
    store.jobs.add("noop", {}, employee_id="E1")
    a2 = store.jobs.add("noop", {}, employee_id="E1")
    store.jobs.fail(claim(store), "HTTP 400", retriable=False)
    assert claim(store).id == a2


def test_concurrent_claims_never_hand_out_a_job_twice(database_url: str) -> None:
    stores = [Store.open(database_url) for _ in range(3)]
    try:
        with stores[0].transaction() as tx:
            for n in range(120):
                stores[0].jobs.enqueue(tx, "noop", {"n": n}, employee_id=f"E{n % 40}")
        taken: list[int] = []
        lock = threading.Lock()

        def work(s: Store, name: str) -> None:
            while (job := s.jobs.claim(name)) is not None:
                with lock:
                    taken.append(job.id)
                s.jobs.complete(job)

        threads = [threading.Thread(target=work, args=(s, f"w{i}"))
                   for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        # A claimer that finds every runnable job of the moment taken stops early; finish.
        work(stores[0], "w-final")
        assert sorted(taken) == list(range(1, 121))
        assert stores[0].jobs.counts() == {JobState.DONE: 120}
    finally:
        for s in stores:
            s.close()


# -- operating figures --------------------------------------------------------------------

def test_counts_and_oldest_pending_age(store: Store, clock: ManualClock) -> None:
    assert store.jobs.counts() == {}
    assert store.jobs.oldest_pending_age() is None
    store.jobs.add("noop", {})
    clock.now += 30
    store.jobs.add("noop", {})
    store.jobs.add("noop", {}, max_attempts=1)
    clock.now += 15
    store.jobs.complete(claim(store))
    assert store.jobs.oldest_pending_age() == 15.0  # the first is done; the second is 15 s old
    store.jobs.fail(claim(store), "x", retriable=False)
    assert store.jobs.counts() == {JobState.DONE: 1, JobState.DEAD: 1, JobState.PENDING: 1}

