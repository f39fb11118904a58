"""One path per inbound kind: how a review, a completion and an employee change are queued.

Every source (a poll, an import, a webhook) ends here, so an event's dedupe key, its job and
the safety limits are decided once; a batch a limit stops is staged here, as read, for a
person (`connector stops`, connector/operations/stops.py). Each function stores the event
and its job in one transaction (`Store.ingest`) and answers whether it was new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from connector.errors import SafetyStop
from connector.models import CompletionEvent, Employee, PlanAction, Review
from connector.operations.erase import dropped_as_erased
from connector.plan_summary import batch_summary, leavers_summary, lines_hash
from connector.planner import LedgerView, Planner
from connector.settings import Settings
from connector.store import BatchState, StagedBatch, Store, Transaction
from mappings.schema import Mapping as RuleMapping

DIRECTORY_SOURCE = "directory"
REVIEWS, LEAVERS = "reviews", "leavers"  # what a staged batch holds
IMPORT_STREAM = "import:"  # an import's stream (`import:<file name>`) has no cursor


def review_event_id(review: Review) -> str:
    """A review's dedupe key: the same review with the same ratings is the same event; an
    edited review (new fingerprint) is new work."""
    return f"{review.review_id}:{review.fingerprint()}"


def review_source(review: Review | Mapping[str, Any]) -> str:
    return review.source if isinstance(review, Review) else str(review.get("source", "?"))


def queue_review(store: Store, review: Review | Mapping[str, Any], *,
                 source: str | None = None, event_id: str | None = None,
                 raw: bytes | None = None, tx: Transaction | None = None) -> bool:
    """Queue one finished review. A `Review` is keyed on its fingerprint; a webhook's
    already-checked body (a mapping) comes with its delivery's source and event id. With
    `tx` it commits with the caller's other writes (a confirmed batch and its cursor)."""
    person = review.employee.model_dump() if isinstance(review, Review) \
        else dict(review["employee"])
    if dropped_as_erased(store, f"a review from {source or review_source(review)}", tx=tx,
                         employee_id=str(person["employee_id"]), email=person.get("email")):
        return False
    if isinstance(review, Review):
        body = review.model_dump(mode="json")
        return store.ingest(source or review.source, event_id or review_event_id(review),
                            "review", {"review": body}, raw,
                            employee_id=review.employee.employee_id, tx=tx)
    if source is None or event_id is None:
        raise ValueError("a review body needs its source and event id")
    return store.ingest(source, event_id, "review", {"review": dict(review)}, raw,
                        employee_id=str(review["employee"]["employee_id"]))


def queue_completion(store: Store, event: CompletionEvent | Mapping[str, Any], *,
                     source: str | None = None, event_id: str | None = None,
                     raw: bytes | None = None) -> bool:
    """Queue one completion (or failure). The employee is resolved from the ledger by LMS
    user id or email when the event does not name one."""
    facts = event.model_dump() if isinstance(event, CompletionEvent) else event
    if dropped_as_erased(store, f"a completion from {source or facts.get('source')}",
                         employee_id=facts.get("employee_id"),
                         lms_user_id=facts.get("lms_user_id"), email=facts.get("email")):
        return False
    if isinstance(event, CompletionEvent):
        return store.ingest(source or event.source, event_id or event.event_id, "completion",
                            {"completion": event.model_dump(mode="json")}, raw,
                            employee_id=event.employee_id,
                            learner=(event.lms_user_id, event.email))
    if source is None or event_id is None:
        raise ValueError("a completion body needs its source and event id")
    employee_id = event.get("employee_id")
    body = {"completion": dict(event)}
    if employee_id is None:
        return store.ingest(source, event_id, "completion", body, raw,
                            learner=(event.get("lms_user_id"), event.get("email")))
    return store.ingest(source, event_id, "completion", body, raw, str(employee_id))


def queue_employee(store: Store, employee: Employee, action: str, *,
                   since: str | None = None, source: str = DIRECTORY_SOURCE,
                   event_id: str | None = None, raw: bytes | None = None,
                   tx: Transaction | None = None) -> bool:
    """Queue an employee change; the same facts read again are a duplicate, not new work.
    `since` (the ledger's last change of the identity) tells a leave or a rehire apart from
    an earlier read with the same facts."""
    if dropped_as_erased(store, f"an employee change from {source}", tx=tx,
                         employee_id=employee.employee_id, email=employee.email):
        return False
    if event_id is None:
        digest = hashlib.sha256(employee.model_dump_json().encode()).hexdigest()[:16]
        event_id = f"{action}:{employee.employee_id}:{digest}" + (f":{since}" if since else "")
    return store.ingest(source, event_id, "employee",
                        {"employee": employee.model_dump(mode="json"), "action": action}, raw,
                        employee_id=employee.employee_id, tx=tx)


def queue_employee_hint(store: Store, payload: dict[str, Any], *, source: str, event_id: str,
                        raw: bytes | None, job_kind: str) -> bool:
    """Queue a vendor's employee-change hint (its values are not trusted: the job re-reads
    the person, connector/employee_hints.py). A hint about an erased person is dropped before
    anything of it is stored, raw body included."""
    vendor_id = str(payload.get("employee_id") or "")
    if vendor_id and dropped_as_erased(store, f"an employee change from {source}",
                                       external=[(source, vendor_id)]):
        return False
    return store.ingest(source, event_id, "employee", dict(payload), raw, None,
                        job_kind=job_kind)


def plan_batch(store: Store, mapping: RuleMapping, reviews: Sequence[Review]
               ) -> tuple[Planner, list[PlanAction]]:
    """A batch of reviews planned as a dry run against the ledger, as its jobs would plan
    it: the planner (for the limits) and every effect it plans."""
    employee_ids = sorted({r.employee.employee_id for r in reviews})
    planner = Planner(mapping, LedgerView(done_keys=frozenset(store.done_keys(employee_ids)),
                                          open_courses=store.open_courses(employee_ids)))
    actions = [action for review in reviews for action in planner.plan_review(review).actions]
    return planner, actions


def stop_over_limits(store: Store, settings: Settings, mapping: RuleMapping,
                     reviews: Sequence[Review], *, confirm: bool, what: str,
                     stream: str | None = None, cursor: str | None = None) -> int:
    """Plan a batch of reviews as a dry run; stop before any effect when it breaks a safety
    limit (the planner's `bulk_limit_problems`). A stopped batch is staged as read (no jobs,
    the plan and its hash kept) for `connector stops`, and `SafetyStop` says so; `stream`
    names it (a poll's cursor, or `import:<file>`) and `cursor` is where that stream moves
    once it is decided. Returns the new assignments planned."""
    planner, actions = plan_batch(store, mapping, reviews)
    headcount = len({row.employee_id for row in store.all_identities()}
                    | {r.employee.employee_id for r in reviews})
    problems = planner.bulk_limit_problems(headcount,
                                           max_assignments=settings.max_assignments_per_run,
                                           max_share=settings.max_assignment_share)
    stream = stream or f"{IMPORT_STREAM}{what}"
    if problems and not confirm:
        summary = batch_summary(actions, len(reviews))
        batch, new = store.stage_batch(
            stream=stream, source=what, kind=REVIEWS, reasons=problems, summary=summary,
            plan_hash=lines_hash(summary["lines"]), cursor=cursor,
            payload={"reviews": [r.model_dump(mode="json") for r in reviews]})
        if new:
            store.audit(None, None, "safety.assignments",
                        f"{what} stopped before any effect (stop #{batch.id}): "
                        + "; ".join(problems), ref=f"stop:{batch.id}")
        raise SafetyStop(stop_message(batch))
    if problems:
        store.audit(None, None, "safety.confirmed",
                    f"{what} confirmed by a person despite: " + "; ".join(problems))
        close_waiting(store, stream, by="--confirm")
    return planner.enrollments_planned


def stage_leavers(store: Store, *, stream: str, source: str, known: int,
                  leavers: Sequence[tuple[str, str]], seen: Sequence[str], reason: str
                  ) -> StagedBatch:
    """A directory read that would mark too many people as leavers, staged: who they are,
    and the ids the read listed (so a confirm can re-check the leavers against the ledger
    without reading the directory again)."""
    summary = leavers_summary(known, leavers)
    batch, new = store.stage_batch(
        stream=stream, source=source, kind=LEAVERS, reasons=[reason], summary=summary,
        plan_hash=lines_hash(summary["lines"]), cursor=None,
        payload={"seen": sorted(seen), "leavers": [eid for eid, _ in leavers]})
    if new:
        store.audit(None, None, "safety.leavers", f"{source} stopped before any leaver was "
                    f"marked (stop #{batch.id}): {reason}", ref=f"stop:{batch.id}")
    return batch


def close_waiting(store: Store, stream: str, *, by: str) -> None:
    """A batch carried out with `--confirm` while a stop of its stream waited: that stop is
    decided by the same confirm (it was the same read, or an older one of it)."""
    waiting = store.waiting_batch(stream)
    if waiting is not None:
        with store.transaction() as tx:
            if store.decide_batch(tx, waiting.id, BatchState.CONFIRMED, by):
                store.audit(tx, None, "stop.confirmed",
                            f"stop #{waiting.id} ({waiting.source}) confirmed with {by}",
                            ref=f"stop:{waiting.id}")


def stop_message(batch: StagedBatch) -> str:
    """What an operator reads when a batch stops: one sentence per limit, what the batch
    holds, and the commands that decide it."""
    limits = "".join(f"\n  - {reason}." for reason in batch.reasons)
    s = batch.summary
    if batch.kind == LEAVERS:
        holds = "Nobody was marked as a leaver (the other directory updates went ahead)."
    else:
        holds = (f"It plans {s.get('assignments', 0)} course assignment(s) and "
                 f"{s.get('goals', 0)} goal(s) for {len(s.get('employees', []))} employee(s) "
                 f"from {s.get('reviews', 0)} review(s).")
    return (f"{batch.source} stopped before any change (stop #{batch.id}), over "
            f"{'a safety limit' if len(batch.reasons) == 1 else 'safety limits'}:{limits}\n"
            f"{holds} The batch is kept as read, nothing of it queued. See it with "
            f"`connector stops show {batch.id}`, then `connector stops confirm {batch.id}` "
            f"or `connector stops discard {batch.id}`.")
