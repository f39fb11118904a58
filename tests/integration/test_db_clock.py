"""One clock for shared state: a worker whose own clock runs 90 s ahead (its `clock` hook
shifted) neither sweeps a live lease of a normal worker nor refills the shared vendor budget
early, on both engines, because leases and the budget are measured on the database's now."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from connector.store import JobState, Store
from connector.store.schema import jobs

SKEW = 90.0


def ahead() -> float:
    return time.time() + SKEW


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Store, Store]]:
    normal = Store.open(database_url)
    skewed = Store.open(database_url, upgrade=False, clock=ahead)
    yield normal, skewed
    skewed.close()
    normal.close()


def test_a_worker_ahead_by_90_s_does_not_sweep_a_live_lease(
        stores: tuple[Store, Store]) -> None:
    normal, skewed = stores
    job_id = normal.jobs.add("noop", {}, employee_id="E1")
    held = normal.jobs.claim("normal", lease_seconds=30.0)
    assert held is not None and held.id == job_id
    skewed.jobs.add("noop", {}, employee_id="E1")  # queued behind the running one

    assert skewed.jobs.claim("skewed", lease_seconds=30.0) is None  # sweeps, finds nothing

    with normal.engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one()
    assert (row["state"], row["lease_owner"]) == (JobState.RUNNING, "normal")
    assert normal.jobs.heartbeat(held, 30.0)  # still ours
    normal.jobs.complete(held)
    # Stamped by the skewed worker, the queued job is due on the database's clock (now),
    # not 90 s late.
    later = normal.jobs.claim("normal")
    assert later is not None and later.id != job_id


def test_a_lease_taken_by_a_skewed_worker_runs_on_the_database_clock(
        stores: tuple[Store, Store]) -> None:
    normal, skewed = stores
    skewed.jobs.add("noop", {})
    job = skewed.jobs.claim("skewed", lease_seconds=30.0)
    assert job is not None
    with normal.engine.connect() as conn:
        expires = conn.execute(select(jobs.c.lease_expires)
                               .where(jobs.c.id == job.id)).scalar_one()
    assert expires == pytest.approx(time.time() + 30.0, abs=5.0)  # not 120 s out


def test_a_worker_ahead_by_90_s_does_not_overspend_the_shared_budget(
        stores: tuple[Store, Store]) -> None:
    normal, skewed = stores
    normal.configure_budget("bamboohr", per_hour=3600, burst=2)  # 1 call/s, 2 at once
    assert [normal.acquire("bamboohr"), normal.acquire("bamboohr")] == [0.0, 0.0]
    # The bucket is empty; 90 s of the skewed worker's clock would refill it.
    wait = skewed.acquire("bamboohr")
    assert wait == pytest.approx(1.0, abs=0.3)
    [budget] = normal.rate_budgets()
    assert budget.available < 0.5


def test_a_token_refresh_lease_is_not_taken_over_by_a_skewed_process(
        stores: tuple[Store, Store]) -> None:
    normal, skewed = stores
    assert normal.kept.take_lease("orangehrm.refresh", "normal", 30.0)
    assert not skewed.kept.take_lease("orangehrm.refresh", "skewed", 30.0)


def test_a_job_queued_now_is_due_at_once_on_the_database_clock(database_url: str) -> None:
    """A new job is stamped from this process's clock plus the offset measured to the
    database's; SQLite's now has whole milliseconds, so without allowing for that a job read
    back within the same millisecond was not yet due, and a drain (`sync --once`, the demo)
    that looked then found nothing to run and stopped with it pending."""
    store = Store.open(database_url)
    try:
        clock = store.jobs.db_now
        late = []
        for n in range(600):
            if n % 50 == 0:
                clock.refresh()  # each measurement falls at another point of a millisecond
            stamped = clock.estimate()
            with store.transaction() as tx:
                now = clock.read(tx.connection)
            if stamped > now:
                late.append(stamped - now)
        assert not late, f"{len(late)} of 600 stamps were ahead of the database's now"
        job_id = store.jobs.add("review", {}, employee_id="E1")
        claimed = store.jobs.claim("t")
        assert claimed is not None and claimed.id == job_id
    finally:
        store.close()
