"""The only things the core knows about vendors: four ports and a few optional abilities.

A vendor implements the ports for the parts it can play (LMS, goal tracker, review source,
directory) and registers once in `connector/vendors/registry.py`; nothing in the core changes.
What only some vendors can do is an *ability*: a small protocol of its own that the core
asks for by type (`isinstance(lms, ResetsProgress)`), never by probing attribute names, so a
rule that needs a missing ability is refused at start-up instead of silently doing something
else. Every method that makes a change must be safe
to call again after a crash: either idempotent by the vendor's design ("already enrolled" is
success) or paired with a read (`find_goal`, `evidence_exists`) the executor asks first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, Protocol, runtime_checkable

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
    creates_learners: bool  # the operator allows creating a learner who has no account yet

    def find_learner(self, employee: Employee) -> LearnerRef | None: ...

    def learner(self, lms_user_id: str) -> LearnerRef | None:
        """The LMS user with this id, or None when there is none (a person linking an
        employee by hand is told who it is, or that it does not exist)."""
        ...

    def create_learner(self, employee: Employee) -> LearnerRef: ...

    def list_courses(self) -> list[Course]: ...

    def enroll(self, learner: LearnerRef, course_id: str) -> None:
        """Enroll; an existing enrollment counts as success (idempotent by design)."""
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
    closes_goals: bool  # the operator wants a goal closed when every course is done

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


# --- optional abilities: asked for by type --------------------------------------------------


@runtime_checkable
class ResetsProgress(Protocol):
    """An LMS that can clear a learner's progress so a course is taken again
    (rules with `prior_completion = "reset"`, recertification)."""

    def reset_progress(self, learner: LearnerRef, course_id: str) -> None: ...


@runtime_checkable
class Unenrolls(Protocol):
    """An LMS that can take a learner out of a course (`connector withdraw`, for courses not
    yet started). Returns False when the learner was not enrolled: safe to repeat."""

    def unenroll(self, learner: LearnerRef, course_id: str) -> bool: ...


@runtime_checkable
class ReadsHistory(Protocol):
    """An LMS that can list a learner's past passes and failures (`connector backfill`)."""

    def learner_history(self, learner: LearnerRef) -> list[CompletionEvent]: ...


@runtime_checkable
class ChecksOnline(Protocol):
    """A vendor that can prove its credentials and the mapping's ids cheaply
    (`connector check --online`). The report has `key_ok`, and may have `error`,
    `rate_remaining`, `rate_limit` and `missing_courses`."""

    def check_online(self, course_ids: Sequence[str]) -> dict[str, Any]: ...


@runtime_checkable
class RecordsTraining(Protocol):
    """A goal tracker that also keeps a training record per completed course."""

    def record_training(self, employee_id: str, evidence: Evidence) -> str | None: ...


@runtime_checkable
class ReadsReviewPages(Protocol):
    """A review source that hands its reviews over page by page as it reads them, each page
    with the cursor that resumes after it (every review read so far counted); the last
    cursor is the one `reviews_completed_since` would return. A poll stores each page as it
    comes, so a lost database connection costs one page, not the whole read."""

    def review_pages_since(self, cursor: str | None
                           ) -> Iterator[tuple[list[Review], str | None]]: ...


@runtime_checkable
class ReadsEmployee(Protocol):
    """A directory that can read one person now, by its own id: the fields in the shape of
    that vendor's employee changes (its `employee_change` rule reads them), or None when the
    vendor has no such person. Turns an employee-change hint into what is true now."""

    def read_employee(self, employee_id: str) -> dict[str, Any] | None: ...


@runtime_checkable
class EnrollsInBatches(Protocol):
    """An LMS that enrolls many (learner, course) pairs per call."""

    def enroll_many(
        self, pairs: Sequence[tuple[LearnerRef, str]]
    ) -> dict[tuple[str, str], Exception | None]:
        """The result maps (lms_user_id, course_id) to None or its error."""
        ...
