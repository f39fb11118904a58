"""Plans waiting for a person: approve (the plan's review is queued again, approved) or reject.

The decision, its audit row (who and when) and the approved review's job commit together, so
an approval is never recorded without its work, nor its work queued twice. The job carries
the hash of the plan the approver was shown: the worker runs that plan, and a plan that has
changed since (the mapping or the ledger moved) waits for approval again instead of running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from connector.errors import InputError
from connector.store import Approval, ApprovalState, Store


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """One plan's decision. `changed=False`: it was decided already (`state` says how, and
    `decided_by` by whom); nothing was recorded or queued."""

    approval_id: int
    employee_id: str
    state: ApprovalState
    decided_by: str | None
    changed: bool
    job_id: int | None
    message: str


def pending_approvals(store: Store) -> list[Approval]:
    return store.approvals_list(ApprovalState.PENDING)


def get_approval(store: Store, *, approval_id: int) -> Approval:
    """One plan, as its approver is shown it (`approvals show`)."""
    row = store.approval(approval_id)
    if row is None:
        raise InputError(f"no approval #{approval_id} (`connector approvals list` shows them)")
    return row


def approve(store: Store, *, approval_id: int, by: str) -> ApprovalDecision:
    """Approve a plan: a worker carries it out (the review job is queued, approved)."""
    return decide(store, approval_id=approval_id, state=ApprovalState.APPROVED, by=by)


def reject(store: Store, *, approval_id: int, by: str) -> ApprovalDecision:
    """Reject a plan: nothing of it is carried out."""
    return decide(store, approval_id=approval_id, state=ApprovalState.REJECTED, by=by)


def decide(store: Store, *, approval_id: int, state: ApprovalState, by: str
           ) -> ApprovalDecision:
    if state is ApprovalState.PENDING:
        raise ValueError("a decision approves or rejects")
    with store.transaction() as tx:
        current = store.approval_for_decision(tx, approval_id)
        if current is None:
            raise InputError(f"no pending approval #{approval_id}")
        if current.state is not ApprovalState.PENDING:
            return ApprovalDecision(approval_id, current.employee_id, current.state,
                                    current.decided_by, False, None,
                                    f"approval #{approval_id} is already {current.state} "
                                    f"(by {current.decided_by or '-'}); nothing changed")
        row = store.decide_approval(approval_id, state, by, tx=tx)
        if row is None:  # pragma: no cover - the row is locked above
            raise InputError(f"no pending approval #{approval_id}")
        when = datetime.now(UTC).isoformat(timespec="seconds")
        store.audit(tx, row.employee_id, f"approval.{state}",
                    f"plan for review {row.review_source}:{row.review_id} {state} by "
                    f"{by} at {when}", ref=f"approval:{approval_id}")
        job_id = None
        if state is ApprovalState.APPROVED:
            # The job carries the approved plan's hash: it runs that plan or none.
            job_id = store.jobs.enqueue(tx, "review", {"review": json.loads(row.payload),
                                                       "approved": True,
                                                       "plan_hash": row.plan_hash},
                                        employee_id=row.employee_id)
    return ApprovalDecision(approval_id, row.employee_id, state, by, True, job_id,
                            f"{state} approval #{approval_id}")


def decide_pending(store: Store, *, state: ApprovalState, by: str) -> list[ApprovalDecision]:
    """Decide every plan pending now, each in its own transaction: one that another person
    decided meanwhile is reported unchanged, not decided twice."""
    return [decide(store, approval_id=a.id, state=state, by=by)
            for a in pending_approvals(store)]
