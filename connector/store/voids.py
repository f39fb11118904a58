"""Withdrawn completions: the evidence a voided completion had earned, taken back in the ledger
without deleting anything (the evidence row, the completion and the audit trail all stay)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, select, update

from connector.models import utcnow
from connector.store.engine import Transaction, transaction
from connector.store.rows import Completion, EvidenceRecord
from connector.store.schema import completions, evidence, evidence_voids, goals
from connector.store.sql import insert_ignore
from connector.store.states import GoalState


class VoidsMixin:
    """The `Store`'s operations for withdrawn completions (mixed into `Store`)."""

    engine: Engine

    def completion_by_event(self, event_id: str, source: str | None = None
                            ) -> Completion | None:
        """The completion received under `event_id` (an xAPI statement id is unique across
        sources, so a push and a pull of one statement are one), preferring `source`."""
        with transaction(self.engine) as conn:
            rows = [Completion.from_row(r) for r in conn.execute(
                select(completions).where(completions.c.event_id == event_id)
                .order_by(completions.c.source)).mappings()]
        rows.sort(key=lambda c: c.source != source)
        return rows[0] if rows else None

    def void_of(self, event_id: str) -> Completion | None:
        """The voiding event that withdrew `event_id`, if one was received (it may arrive
        before the completion it voids)."""
        with transaction(self.engine) as conn:
            row = conn.execute(select(completions).where(completions.c.voids == event_id)
                               .order_by(completions.c.recorded_at)).mappings().first()
            return Completion.from_row(row) if row else None

    def evidence_from(self, event_id: str) -> list[EvidenceRecord]:
        """Evidence rows that `event_id` earned and that no void has taken back."""
        voided = select(evidence_voids.c.goal_key).where(
            evidence_voids.c.goal_key == evidence.c.goal_key,
            evidence_voids.c.course_id == evidence.c.course_id,
            evidence_voids.c.completion_event == evidence.c.completion_event)
        with transaction(self.engine) as conn:
            rows = conn.execute(select(evidence).where(
                evidence.c.completion_event == event_id, ~voided.exists())
                .order_by(evidence.c.goal_key)).mappings()
            return [EvidenceRecord.from_row(r) for r in rows]

    def voided_courses(self, goal_key: str) -> set[str]:
        """Courses of the goal whose evidence row stands for a voided completion."""
        join = evidence.join(evidence_voids, and_(
            evidence_voids.c.goal_key == evidence.c.goal_key,
            evidence_voids.c.course_id == evidence.c.course_id,
            evidence_voids.c.completion_event == evidence.c.completion_event))
        with transaction(self.engine) as conn:
            rows = conn.execute(select(evidence.c.course_id).select_from(join)
                                .where(evidence.c.goal_key == goal_key))
            return {str(r.course_id) for r in rows}

    def void_evidence(self, tx: Transaction, *, goal_key: str, course_id: str,
                      completion_event: str, void_event: str, at: datetime) -> bool:
        """Mark the evidence as taken back; False when it already was."""
        return insert_ignore(tx.connection, evidence_voids, dict(
            goal_key=goal_key, course_id=course_id, completion_event=completion_event,
            void_event=void_event, voided_at=at), ["goal_key", "course_id", "completion_event"])

    def renew_evidence(self, tx: Transaction, goal_key: str, course_id: str, event_id: str,
                       completed_at: datetime) -> None:
        """A new completion of a course whose evidence was voided: the evidence row now
        stands for it (the voided one stays in `evidence_voids` and `completions`)."""
        tx.connection.execute(update(evidence).where(
            evidence.c.goal_key == goal_key, evidence.c.course_id == course_id).values(
            completion_event=event_id, completed_at=completed_at, posted_at=utcnow()))

    def reopen_goal(self, tx: Transaction, goal_key: str, progress: float) -> None:
        """A closed goal open again (a course's evidence was withdrawn)."""
        tx.connection.execute(update(goals).where(goals.c.goal_key == goal_key).values(
            state=GoalState.OPEN.value, progress=progress, closed_at=None))
