"""The connector at a glance: jobs by state, the oldest pending job, dead letters, pollers,
and what waits for a person (identities, approvals, safety stops)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.store import (
    ApprovalState,
    BatchState,
    DriftFlag,
    JobState,
    PollerStatus,
    StagedBatch,
    Store,
)


@dataclass(frozen=True, slots=True)
class StatusReport:
    jobs: dict[str, int]
    oldest_pending_seconds: float | None
    dead_letters: int
    pollers: list[PollerStatus]
    identities_pending: int
    approvals_pending: int
    assignments: int
    stops: list[StagedBatch]
    drift: list[DriftFlag] = field(default_factory=list)  # open and repaired findings

    def as_json(self) -> dict[str, Any]:
        """The `connector status --json` document (its keys are an interface: keep them)."""
        return {
            "jobs": dict(self.jobs),
            "oldest_pending_seconds": self.oldest_pending_seconds,
            "dead_letters": self.dead_letters,
            "pollers": [
                {"name": p.name,
                 "last_success": p.last_success_at.isoformat() if p.last_success_at else None,
                 "last_error": p.last_error} for p in self.pollers],
            "identities_pending": self.identities_pending,
            "approvals_pending": self.approvals_pending,
            "assignments": self.assignments,
            "stops_waiting": [
                {"id": b.id, "stream": b.stream, "source": b.source, "kind": b.kind,
                 "reasons": b.reasons, "since": b.created_at.isoformat(),
                 "show": f"connector stops show {b.id}"} for b in self.stops],
            "drift": [
                {"kind": d.kind, "state": d.state, "employee_id": d.employee_id,
                 "goal_key": d.goal_key, "course_id": d.course_id, "message": d.message,
                 "since": d.first_seen_at.isoformat()} for d in self.drift],
        }


def status_report(store: Store) -> StatusReport:
    counts = store.jobs.counts()
    return StatusReport(
        jobs={s.value: counts.get(s.value, 0) for s in (JobState.PENDING, JobState.RUNNING,
                                                        JobState.DONE, JobState.DEAD)},
        oldest_pending_seconds=store.jobs.oldest_pending_age(),
        dead_letters=len(store.jobs.dead_letters(limit=10_000)),
        pollers=store.pollers(),
        identities_pending=len(store.identities_waiting()),
        approvals_pending=len(store.approvals_list(ApprovalState.PENDING)),
        assignments=len(store.assignments_for()),
        stops=store.staged_batches(BatchState.WAITING),
        drift=store.drift.listed(states=("open", "repaired")),
    )
