"""The durable store: one schema over SQLite (default) or PostgreSQL (scale-out).

Its public boundary is what this package exports: the `Store` and its named operations, the
unit of work they share (`Transaction`, from `Store.transaction()`), the typed rows its reads
return and the enums of the states those rows are in. Nothing outside `connector/store`
imports SQLAlchemy or a table (tests/unit/test_layering.py).
"""

from connector.store.drift import DriftFlag
from connector.store.engine import Transaction
from connector.store.jobs import Job
from connector.store.rows import (
    Action,
    Approval,
    Assignment,
    AuditEntry,
    Completion,
    DeadLetter,
    EvidenceRecord,
    ExternalId,
    Goal,
    Identity,
    IdentityWait,
    PollerStatus,
    RateBudget,
    StagedBatch,
)
from connector.store.states import (
    ActionState,
    ApprovalState,
    AssignmentState,
    BatchState,
    GoalState,
    JobState,
    MatchState,
)
from connector.store.store import Store

__all__ = [
    "Action", "ActionState", "Approval", "ApprovalState", "Assignment", "AssignmentState",
    "AuditEntry", "BatchState", "Completion", "DeadLetter", "DriftFlag", "EvidenceRecord",
    "ExternalId",
    "Goal", "GoalState", "Identity", "IdentityWait", "Job", "JobState", "MatchState",
    "PollerStatus", "RateBudget", "StagedBatch", "Store", "Transaction",
]
