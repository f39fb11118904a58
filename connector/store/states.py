"""The states a stored row can be in, one enum per table that has a lifecycle.

They are `StrEnum`s: each member *is* the string the database holds, so the stored values
never change and a member compares equal to its text.
"""

from __future__ import annotations

from enum import StrEnum


class ActionState(StrEnum):
    """An effect in the ledger (`actions`): planned, then intent before the vendor call, then
    done after it; waiting for a person or an LMS user; cancelled when the employee left."""

    AWAITING_APPROVAL = "awaiting_approval"
    PLANNED = "planned"
    INTENT = "intent"
    DONE = "done"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class JobState(StrEnum):
    """A queued job: pending → running → done | pending (a retry) | dead (a dead letter)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class GoalState(StrEnum):
    """A development goal: pending (recorded ahead of a recertification cycle), open, closed."""

    PENDING = "pending"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class AssignmentState(StrEnum):
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class MatchState(StrEnum):
    """How an HR employee is matched to an LMS user: not yet needed, linked, waiting for a
    person (no or an ambiguous match), or ignored by a person."""

    NEW = "new"
    LINKED = "linked"
    PENDING = "pending"
    IGNORED = "ignored"


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class BatchState(StrEnum):
    """A batch stopped by a safety limit: waiting for a person, then confirmed (queued as
    stored) or discarded (skipped, audited); superseded when a later read of the same stream
    replaced it before anyone decided."""

    WAITING = "waiting"
    CONFIRMED = "confirmed"
    DISCARDED = "discarded"
    SUPERSEDED = "superseded"
    #: Being read, page by page (not yet judged): kept so a lost connection costs one page.
    READING = "reading"
