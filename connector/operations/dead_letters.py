"""Jobs that failed for good: list them, and replay them once the cause is fixed.

A replay resets the job (fresh attempts, due now) and audits who replayed it, in one
transaction; replaying a job that is no longer dead changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.errors import InputError
from connector.store import DeadLetter, Store


@dataclass(frozen=True, slots=True)
class Replay:
    """The dead letters queued again (empty: none were dead; nothing changed)."""

    replayed: list[DeadLetter]

    @property
    def changed(self) -> bool:
        return bool(self.replayed)

    @property
    def message(self) -> str:
        return f"queued {len(self.replayed)} job(s) again; a worker will run them"


def list_dead_letters(store: Store, *, limit: int = 1000) -> list[DeadLetter]:
    return store.jobs.dead_letters(limit=limit)


def replay(store: Store, *, job_id: int | None = None, by: str) -> Replay:
    """Queue one dead letter (`job_id`) or all of them (None) again.

    A named job that is not a dead letter is an `InputError` saying what it is now (a second
    submit of the same replay finds it pending or done, and changes nothing)."""
    with store.transaction() as tx:
        replayed = store.jobs.replay_dead(tx, job_id)
        for job in replayed:
            store.audit(tx, job.employee_id, "dead_letter.replayed",
                        f"job #{job.id} ({job.kind}) queued again by {by} after "
                        f"{job.attempts} attempt(s)", ref=f"job:{job.id}")
    if job_id is not None and not replayed:
        state = store.jobs.job_state(job_id)
        if state is None:
            raise InputError(f"no dead letter #{job_id}")
        raise InputError(f"no dead letter #{job_id}: the job is {state} (replayed already, "
                         "or it never failed for good); nothing changed")
    return Replay(replayed)
