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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
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


@runtime_checkable
class CompletionSource(Protocol):
    """Completions from somewhere other than the LMS (an xAPI learning record store), polled
    beside it (`CONNECTOR_COMPLETION_SOURCES`). Same contract as the LMS's
    `completions_since`."""

    name: str

    def completions_since(
        self, cursor: str | None
    ) -> tuple[list[CompletionEvent], str | None, bool]: ...


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
class EnrollsInBatches(Protocol):
    """An LMS that enrolls many (learner, course) pairs per call."""

    def enroll_many(
        self, pairs: Sequence[tuple[LearnerRef, str]]
    ) -> dict[tuple[str, str], Exception | None]:
        """The result maps (lms_user_id, course_id) to None or its error."""
        ...


# --- drift reconciliation (`connector reconcile`): what the vendor holds now ---------------


@dataclass(frozen=True, slots=True)
class LearnerEnrollments:
    """One LMS user as the LMS holds them now: whether they exist, are active, and the
    courses they are enrolled in (at least those asked about)."""

    lms_user_id: str
    exists: bool = True
    active: bool = True
    course_ids: frozenset[str] = frozenset()


class GoalPresence(StrEnum):
    """A goal as the tracker holds it now."""

    PRESENT = "present"  # there, and not closed
    CLOSED = "closed"  # there, closed (by a person or by us)
    DELETED = "deleted"  # gone: deleted by a person (the tracker proved its absence)


@runtime_checkable
class ReadsEnrollments(Protocol):
    """An LMS that can say, in few calls, who is enrolled where (drift reconciliation).

    The adapter chooses how to batch: per learner or per course, whichever costs fewer
    calls for the pairs asked about. Never one call per pair when that can be avoided."""

    def enrollments(self, pairs: Sequence[tuple[str, str]]) -> dict[str, LearnerEnrollments]:
        """For every LMS user id among `pairs` ((lms_user_id, course_id)): its state."""
        ...


@runtime_checkable
class ReadsGoals(Protocol):
    """A goal tracker that can say which of our goals still exist (drift reconciliation).

    `goals` are (the owner's id in the tracker, the goal); the adapter batches per owner.
    A goal is DELETED only when the tracker proves it absent (a complete list, or a
    not-found answer for that goal); when absence cannot be proven it is left out."""

    def goal_presence(self, goals: Sequence[tuple[str, GoalRef]]) -> dict[str, GoalPresence]:
        """`GoalRef.goal_id` → presence, for every goal the tracker could judge."""
        ...


@runtime_checkable
class WithdrawsEvidence(Protocol):
    """A goal tracker that can take back evidence whose completion was withdrawn (an xAPI
    statement voided after its evidence was posted): the course's progress undone with the
    reason beside it, and a closed goal reopened. History stays: nothing is deleted."""

    def withdraw_evidence(self, goal: GoalRef, evidence: Evidence, note: str) -> None: ...

    def reopen_goal(self, goal: GoalRef, note: str) -> None: ...
