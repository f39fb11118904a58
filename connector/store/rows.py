"""The rows the store hands out: frozen, typed, one class per table the core reads.

Read operations return these instead of driver rows or dicts, so a caller reads `goal.state`
(a `GoalState`) rather than `row["state"]` (any string), and a misspelt field is a type error,
not a `KeyError` at run time. JSON columns arrive decoded. Each `from_row` is the one place a
table's columns become a row object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.models import Employee, Outcome
from connector.store.sql import loads
from connector.store.states import (
    ActionState,
    ApprovalState,
    AssignmentState,
    BatchState,
    GoalState,
    MatchState,
)


@dataclass(frozen=True, slots=True)
class Identity:
    """An HR employee as the connector knows them, and their link to an LMS user."""

    employee_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    role: str | None
    manager_id: str | None
    lms_user_id: str | None
    match_state: MatchState
    match_note: str | None
    active: bool
    left_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Identity:
        return cls(**{**row, "match_state": MatchState(row["match_state"]),
                      "active": bool(row["active"])})

    def employee(self) -> Employee:
        """The HR facts as the planner's `Employee`."""
        return Employee(employee_id=self.employee_id, email=self.email,
                        first_name=self.first_name, last_name=self.last_name, role=self.role,
                        manager_id=self.manager_id, active=self.active)


@dataclass(frozen=True, slots=True)
class ExternalId:
    """The id one system (`system`, a registry name) gives a person, and whom it belongs to
    in the ledger (`employee_id`; None while no one in the ledger matches). `manager_id` is
    the person's manager as that same system reads it."""

    system: str
    external_id: str
    employee_id: str | None
    email: str | None
    manager_id: str | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> ExternalId:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class IdentityWait:
    """A person whose effects in `system` wait for their id there, and why."""

    employee_id: str
    system: str
    reason: str
    since: datetime

    @classmethod
    def from_row(cls, row: Any) -> IdentityWait:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class RateBudget:
    """One vendor's shared rate budget: calls allowed per hour, and available now."""

    vendor: str
    per_hour: float
    available: float


@dataclass(frozen=True, slots=True)
class Goal:
    """A development goal in the ledger; `course_ids` in milestone order."""

    goal_key: str
    employee_id: str
    skill_id: str
    cycle: str
    title: str
    course_ids: list[str]
    tracker: str | None
    goal_id: str | None
    milestone_ids: dict[str, str]
    state: GoalState
    progress: float
    gap_found_at: datetime
    due_date: str | None
    rule_index: int | None
    opened_at: datetime | None
    closed_at: datetime | None
    rule_id: str | None = None
    rule_version: str | None = None
    mapping_version: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Goal:
        return cls(**{**row, "state": GoalState(row["state"]),
                      "course_ids": loads(row["course_ids"]) or [],
                      "milestone_ids": loads(row["milestone_ids"]) or {}})


@dataclass(frozen=True, slots=True)
class Assignment:
    """A course the connector assigned an employee for one goal."""

    employee_id: str
    course_id: str
    goal_key: str
    review_id: str
    state: AssignmentState
    due_date: str | None
    enrolled_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Assignment:
        return cls(**{**row, "state": AssignmentState(row["state"])})


@dataclass(frozen=True, slots=True)
class Action:
    """One effect in the ledger, by idempotency key. `payload` is the plan action's JSON
    (`{}` for effects that are not plan actions); `result` the vendor's answer, decoded."""

    key: str
    kind: str
    employee_id: str
    course_id: str | None
    goal_key: str | None
    state: ActionState
    payload: str
    result: Any
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Action:
        return cls(**{**row, "state": ActionState(row["state"]),
                      "result": loads(row["result"])})


@dataclass(frozen=True, slots=True)
class Completion:
    """A course completion as received (history: never overwritten)."""

    source: str
    event_id: str
    employee_id: str | None
    lms_user_id: str | None
    course_id: str
    outcome: Outcome
    completed_at: datetime
    score: float | None
    certificate_url: str | None
    expires_at: datetime | None
    recorded_at: datetime
    voids: str | None = None  # a voiding statement: the event id it withdrew

    @classmethod
    def from_row(cls, row: Any) -> Completion:
        return cls(**{**row, "outcome": Outcome(row["outcome"])})


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """Evidence posted on a goal for one course (the completion that earned it)."""

    goal_key: str
    course_id: str
    completion_event: str
    completed_at: datetime
    posted_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> EvidenceRecord:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class Approval:
    """A review's plan waiting for (or decided by) a person; `payload` is the review JSON."""

    id: int
    employee_id: str
    review_source: str
    review_id: str
    summary: str
    payload: str
    state: ApprovalState
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    plan: Any = None  # the plan as the approver is shown it (decoded JSON), or None
    plan_hash: str | None = None  # what approving binds the job to

    @classmethod
    def from_row(cls, row: Any) -> Approval:
        return cls(**{**row, "state": ApprovalState(row["state"]),
                      "plan": loads(row.get("plan"))})


@dataclass(frozen=True, slots=True)
class StagedBatch:
    """A batch a safety limit stopped, kept as it was read: `payload` (the reviews, or the
    directory read) is what a confirm queues; `summary` is the plan people are shown;
    `plan_hash` binds a confirm to that plan; `cursor` is where the stream moves on."""

    id: int
    stream: str
    source: str
    kind: str
    state: BatchState
    reasons: list[str]
    summary: dict[str, Any]
    plan_hash: str
    payload: dict[str, Any]
    cursor: str | None
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> StagedBatch:
        return cls(**{**row, "state": BatchState(row["state"]),
                      "reasons": loads(row["reasons"]) or [],
                      "summary": loads(row["summary"]) or {},
                      "payload": loads(row["payload"]) or {}})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One decision or effect; `cause` is the decoded cause chain (or None)."""

    id: int
    at: datetime
    employee_id: str | None
    event: str
    message: str
    cause: Any
    ref: str | None

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        return cls(**{**row, "cause": loads(row["cause"])})


@dataclass(frozen=True, slots=True)
class PollerStatus:
    """A poller's cursor health: when it last succeeded and its last error."""

    name: str
    last_success_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A job that will not be retried until a person replays it."""

    id: int
    kind: str
    employee_id: str | None
    attempts: int
    last_error: str | None
    finished_at: float | None
