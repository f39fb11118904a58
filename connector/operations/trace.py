"""The full story of one employee: who they are to the connector, their goals, assignments and
completions, and every decision and effect in the audit trail, in order."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connector.errors import InputError
from connector.store import (
    Assignment,
    AuditEntry,
    Completion,
    DriftFlag,
    Goal,
    Identity,
    Store,
)


@dataclass(frozen=True, slots=True)
class EmployeeTrace:
    identity: Identity
    goals: list[Goal]
    assignments: list[Assignment]
    completions: list[Completion]
    audit: list[AuditEntry]
    drift: list[DriftFlag] = field(default_factory=list)  # what `connector reconcile` found

    def as_json(self) -> dict[str, Any]:
        """The `connector trace --json` document: dates as ISO text, states as their values."""
        return {
            "employee": _plain_row(self.identity),
            "goals": [_plain_row(g) for g in self.goals],
            "assignments": [_plain_row(a) for a in self.assignments],
            "completions": [_plain_row(c) for c in self.completions],
            "audit": [{"at": _plain(a.at), "event": a.event, "message": a.message,
                       "cause": a.cause, "ref": a.ref} for a in self.audit],
            "drift": [_plain_row(d) for d in self.drift],
        }


def employee_trace(store: Store, *, employee_id: str) -> EmployeeTrace:
    identity = store.identity(employee_id)
    if identity is None:
        raise InputError(f"employee {employee_id!r} is not known to the connector")
    return EmployeeTrace(identity=identity, goals=store.goals_for(employee_id),
                         assignments=store.assignments_for(employee_id),
                         completions=store.completions_for(employee_id),
                         audit=store.audit_trail(employee_id),
                         drift=store.drift.all_for(employee_id))


def _plain_row(row: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in asdict(row).items()}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
