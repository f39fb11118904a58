"""Ledger states a test needs to start from, made through the store's own calls."""

from __future__ import annotations

from connector.store import Store


def dead_letter(store: Store) -> int:
    """A job that failed for good (a dead letter); its id."""
    job_id = store.jobs.add("nonsense", {}, employee_id="E1")
    job = store.jobs.claim("test")
    assert job is not None and job.id == job_id
    store.jobs.fail(job, "refused", retriable=False)
    return job_id
