"""The only things the core knows about vendors: three small protocols (and a directory).

Adding an LMS or an HR system means one module implementing these, one simulator and one
contract test file; nothing in the core changes. Every method that makes a change must be safe
to call again after a crash: either idempotent by the vendor's design ("already enrolled" is
success) or paired with a read (`find_goal`, `evidence_exists`) the executor asks first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from connector.models import (
    CompletionEvent,
    Course,
    Employee,
    Evidence,
    GoalKey,
    GoalRef,
    LearnerRef,
    Progress,
    Review,
)


@runtime_checkable
class ReviewSource(Protocol):
    """Where finished performance reviews come from (poll side)."""

    name: str

    def reviews_completed_since(self, cursor: str | None) -> tuple[list[Review], str | None]:
        """Reviews finished after `cursor`, and the cursor to store once they are queued.

        The returned cursor never moves past what was read in this call.
        """
        ...


@runtime_checkable
class LearningPlatform(Protocol):
    """An LMS: learners, catalogue, enrollments, progress and completions."""

    name: str

    def find_learner(self, employee: Employee) -> LearnerRef | None: ...

    def create_learner(self, employee: Employee) -> LearnerRef: ...

    def list_courses(self) -> list[Course]: ...

    def enroll(self, learner: LearnerRef, course_id: str) -> None:
        """Enroll; an existing enrollment counts as success (idempotent by design)."""
        ...

    def enroll_many(
        self, pairs: Sequence[tuple[LearnerRef, str]]
    ) -> dict[tuple[str, str], Exception | None]:
        """Enroll a batch; the result maps (lms_user_id, course_id) to None or its error."""
        ...

    def progress(self, learner: LearnerRef, course_id: str) -> Progress: ...

    def completions_since(
        self, cursor: str | None
    ) -> tuple[list[CompletionEvent], str | None, bool]:
        """New completion (and failure) events after `cursor`.

        Returns (events, new cursor, overflowed). `overflowed` is True when the source may
        have dropped events between polls; the caller then reconciles open assignments.
        """
        ...


@runtime_checkable
class GoalTracker(Protocol):
    """Where development goals live: open, evidence, progress, close."""

    name: str

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        """The goal made earlier for `key`, if any: asked before creating after a crash."""
        ...

    def open_goal(
        self,
        employee: Employee,
        key: GoalKey,
        title: str,
        due_date: date,
        courses: Sequence[tuple[str, str]],  # (course_id, course title) in milestone order
    ) -> GoalRef: ...

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool: ...

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None: ...

    def add_note(self, goal: GoalRef, text: str) -> None:
        """A comment that is not evidence (a failed attempt, a cancellation)."""
        ...

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        """Mark the course's milestone done (or move the goal's percentage)."""
        ...

    def close_goal(self, goal: GoalRef) -> None: ...


@runtime_checkable
class EmployeeDirectory(Protocol):
    """The HR system's list of people, for identity and leavers."""

    name: str

    def list_employees(self) -> tuple[list[Employee], bool]:
        """All employees, and whether the read is known to be complete.

        An incomplete read (a failed page, a truncated answer) must never trigger leaver
        handling; the caller checks the flag.
        """
        ...
