"""Safety stops waiting for a person: list, show, confirm (carry out the batch as stored) or
discard (skip it).

A batch a safety limit stopped was stored as it was read (connector/inbound.py), with its
plan and the plan's hash. Confirming queues exactly that batch, without reading the vendor
again, and moves its stream's cursor past it: the events, the cursor, the decision and its
audit row commit together. A confirm is bound to the plan that was shown: when re-planning
now (the mapping or the ledger changed meanwhile) gives another plan, it refuses, shows the
difference, and puts the same batch up again with the plan as it is now (a new stop id, so
what a person confirms is always what they read). Discarding marks the batch's reviews
skipped (one audit row each) and moves the cursor past them; a discarded leaver read marks
nobody. Deciding twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.errors import InputError
from connector.inbound import (
    IMPORT_STREAM,
    LEAVERS,
    plan_batch,
    queue_employee,
    queue_review,
)
from connector.models import Employee, Review
from connector.plan_summary import (
    batch_summary,
    difference,
    effect_lines,
    leaver_line,
    leavers_summary,
    lines_hash,
)
from connector.store import BatchState, StagedBatch, Store, Transaction
from mappings.schema import Mapping


class PlanChanged(InputError):
    """Re-planning the stopped batch now gives another plan than the one shown: nothing was
    queued. `difference` lists the effects that changed (`- gone`, `+ new`)."""

    def __init__(self, stop_id: int, changes: list[str], now_id: int) -> None:
        self.difference = changes
        self.now_id = now_id
        super().__init__(
            f"stop #{stop_id} was not confirmed: the plan is no longer the one shown (the "
            "mapping or the ledger changed since it stopped). What changed:\n  "
            + "\n  ".join(changes)
            + f"\nThe same batch, planned as it is now, waits as stop #{now_id}: read it with "
              f"`connector stops show {now_id}`, then confirm or discard that one.")


@dataclass(frozen=True, slots=True)
class StopDecision:
    """A confirm or a discard. `changed=False`: it was decided already (`state`, by
    `decided_by`); nothing was queued, moved or audited."""

    stop_id: int
    state: BatchState
    decided_by: str | None
    changed: bool
    queued: int
    message: str


def waiting_stops(store: Store) -> list[StagedBatch]:
    return store.staged_batches(BatchState.WAITING)


def get_stop(store: Store, *, stop_id: int) -> StagedBatch:
    batch = store.staged_batch(stop_id)
    if batch is None:
        raise InputError(f"no safety stop #{stop_id} (`connector stops list` shows them)")
    return batch


def confirm_stop(store: Store, *, stop_id: int, by: str, mapping: Mapping | None
                 ) -> StopDecision:
    """Carry out the stored batch whose plan was shown; refused (`PlanChanged`) when the
    plan would differ now. `mapping` plans a batch of reviews (a leaver read needs none)."""
    batch = get_stop(store, stop_id=stop_id)
    if batch.state is not BatchState.WAITING:
        return _unchanged(batch)
    if batch.kind == LEAVERS:
        leavers = _current_leavers(store, batch)
        lines = sorted(leaver_line(e.employee_id, e.display_name) for e, _ in leavers)
    else:
        if mapping is None:
            raise ValueError("a batch of reviews is planned with a mapping")
        reviews = [Review.model_validate(r) for r in batch.payload.get("reviews", [])]
        _, actions = plan_batch(store, mapping, reviews)
        lines = effect_lines(actions)
    if lines_hash(lines) != batch.plan_hash:
        # The batch stays as read; its plan as it is now replaces the one shown, to be read
        # and decided afresh (the old stop is superseded, never carried out).
        if batch.kind == LEAVERS:
            summary = leavers_summary(len([r for r in store.all_identities() if r.active]),
                                      [(e.employee_id, e.display_name) for e, _ in leavers])
        else:
            summary = batch_summary(actions, len(reviews))
        now, _ = store.stage_batch(stream=batch.stream, source=batch.source, kind=batch.kind,
                                   reasons=batch.reasons, summary=summary,
                                   plan_hash=lines_hash(lines), payload=batch.payload,
                                   cursor=batch.cursor)
        raise PlanChanged(stop_id, difference(batch.summary.get("lines", []), lines), now.id)
    queued = 0
    with store.transaction() as tx:
        current = store.staged_batch(stop_id, tx)  # locked: a second confirm waits here
        if current is None or current.state is not BatchState.WAITING:
            return _unchanged(current or batch)
        if batch.kind == LEAVERS:
            for employee, since in leavers:
                queued += queue_employee(store, employee.model_copy(update={"active": False}),
                                         "deleted", since=since, tx=tx)
        else:
            queued = sum(queue_review(store, review, tx=tx) for review in reviews)
        _move_cursor(store, batch, tx)
        store.decide_batch(tx, stop_id, BatchState.CONFIRMED, by)
        store.audit(tx, None, "safety.confirmed",
                    f"stop #{stop_id} ({batch.source}) confirmed by {by} despite: "
                    + "; ".join(batch.reasons) + f"; {queued} event(s) queued as stored",
                    ref=f"stop:{stop_id}")
    return StopDecision(stop_id, BatchState.CONFIRMED, by, True, queued,
                        f"confirmed stop #{stop_id}: {queued} event(s) queued; a worker "
                        "carries them out")


def discard_stop(store: Store, *, stop_id: int, by: str) -> StopDecision:
    """Skip the stored batch: its reviews are marked skipped (audited, each on its
    employee's trail) and its stream reads on past them; a leaver read marks nobody."""
    batch = get_stop(store, stop_id=stop_id)
    if batch.state is not BatchState.WAITING:
        return _unchanged(batch)
    skipped = 0
    with store.transaction() as tx:
        current = store.staged_batch(stop_id, tx)
        if current is None or current.state is not BatchState.WAITING:
            return _unchanged(current or batch)
        for body in batch.payload.get("reviews", []):
            review = Review.model_validate(body)
            store.audit(tx, review.employee.employee_id, "review.skipped",
                        f"review {review.review_id} ({review.source}) skipped: stop "
                        f"#{stop_id} discarded by {by}; nothing of it is carried out",
                        ref=f"{review.source}:{review.review_id}")
            skipped += 1
        _move_cursor(store, batch, tx)
        store.decide_batch(tx, stop_id, BatchState.DISCARDED, by)
        store.audit(tx, None, "stop.discarded",
                    f"stop #{stop_id} ({batch.source}) discarded by {by}"
                    + (f": {skipped} review(s) skipped" if skipped else
                       ": nobody was marked as a leaver"), ref=f"stop:{stop_id}")
    what = (f"{skipped} review(s) skipped" if batch.kind != LEAVERS else
            "nobody was marked as a leaver (the next complete directory read judges again)")
    return StopDecision(stop_id, BatchState.DISCARDED, by, True, 0,
                        f"discarded stop #{stop_id}: {what}")


def stop_document(batch: StagedBatch) -> dict[str, Any]:
    """The `stops show --json` / `stops list --json` document of one stop."""
    return {"id": batch.id, "stream": batch.stream, "source": batch.source,
            "kind": batch.kind, "state": str(batch.state), "reasons": batch.reasons,
            "summary": batch.summary, "plan_hash": batch.plan_hash,
            "created_at": batch.created_at.isoformat(), "decided_by": batch.decided_by,
            "decided_at": batch.decided_at.isoformat() if batch.decided_at else None}


def _unchanged(batch: StagedBatch) -> StopDecision:
    return StopDecision(batch.id, batch.state, batch.decided_by, False, 0,
                        f"stop #{batch.id} is already {batch.state} (by "
                        f"{batch.decided_by or '-'}); nothing changed")


def _current_leavers(store: Store, batch: StagedBatch) -> list[tuple[Employee, str]]:
    """Who the stored directory read makes a leaver against the ledger as it is now, each
    with the identity's last change (a leave is keyed on it, as the poller keys it)."""
    seen = set(batch.payload.get("seen", []))
    return [(store.employee_of(row), str(row.updated_at)) for row in store.all_identities()
            if row.active and row.employee_id not in seen]


def _move_cursor(store: Store, batch: StagedBatch, tx: Transaction) -> None:
    """A polled stream reads on past the batch; an import has no cursor."""
    if not batch.stream.startswith(IMPORT_STREAM):
        store.save_cursor(batch.stream, batch.cursor, tx)
