"""`sync --once` past its deadline: the work not started stays pending (not dead), the summary
says so and the run counts as failed (exit code 1), on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.executor import Context
from connector.run_deadline import RunDeadline
from connector.runtime import Runtime
from connector.service import sync_once
from connector.settings import Settings
from connector.store import Store
from mappings.loader import load_mapping

JOBS = 30


class Ticks:
    """A clock that moves one second each time it is read: a run of slow jobs."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    store = Store.open(database_url)
    ctx = Context(store=store, mapping=load_mapping("mappings/example.toml"))
    yield Runtime(settings=Settings(_env_file=None), store=store, ctx=ctx)
    store.close()


def test_a_run_past_its_deadline_leaves_the_rest_pending(runtime: Runtime) -> None:
    store = runtime.store
    for n in range(JOBS):  # thin review notifications: each job only records itself
        store.jobs.add("review_hint", {"review_id": f"R{n}"}, employee_id=f"E{n}")
    deadline = RunDeadline(8.0, clock=Ticks())
    summary = sync_once(runtime, deadline=deadline)
    counts = store.jobs.counts()
    assert summary.out_of_time and summary.failed
    assert 0 < summary.work.done < JOBS
    assert counts.get("pending", 0) == JOBS - summary.work.done == summary.left_pending
    assert not counts.get("dead") and not counts.get("running")
    text = summary.text()
    assert f"{summary.left_pending} job(s) left pending for the next run" in text
    assert "8 s (--deadline)" in text


def test_a_run_within_its_deadline_is_not_failed_by_it(runtime: Runtime) -> None:
    runtime.store.jobs.add("review_hint", {"review_id": "R1"}, employee_id="E1")
    summary = sync_once(runtime, deadline=RunDeadline(3600.0))
    assert not summary.out_of_time and not summary.failed
    assert "deadline" not in summary.text()
    assert runtime.store.jobs.counts() == {"done": 1}
