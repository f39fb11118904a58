"""One path per inbound kind: how a review, a completion and an employee change are queued.

Every source (a poll, an import, a webhook) ends here, so an event's dedupe key, its job and
the safety limits are decided once. Each function stores the event and its job in one
transaction (`Store.ingest`) and answers whether it was new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from connector.errors import SafetyStop
from connector.models import CompletionEvent, Employee, Review
from connector.planner import LedgerView, Planner
from connector.settings import Settings
from connector.store import Store
from mappings.schema import Mapping as RuleMapping

DIRECTORY_SOURCE = "directory"


def review_event_id(review: Review) -> str:
    """A review's dedupe key: the same review with the same ratings is the same event; an
    edited review (new fingerprint) is new work."""
    return f"{review.review_id}:{review.fingerprint()}"


def queue_review(store: Store, review: Review | Mapping[str, Any], *,
                 source: str | None = None, event_id: str | None = None,
                 raw: bytes | None = None) -> bool:
    """Queue one finished review. A `Review` is keyed on its fingerprint; a webhook's
    already-checked body (a mapping) comes with its delivery's source and event id."""
    if isinstance(review, Review):
        body = review.model_dump(mode="json")
        return store.ingest(source or review.source, event_id or review_event_id(review),
                            "review", {"review": body}, raw,
                            employee_id=review.employee.employee_id)
    if source is None or event_id is None:
        raise ValueError("a review body needs its source and event id")
    return store.ingest(source, event_id, "review", {"review": dict(review)}, raw,
                        employee_id=str(review["employee"]["employee_id"]))


def queue_completion(store: Store, event: CompletionEvent | Mapping[str, Any], *,
                     source: str | None = None, event_id: str | None = None,
                     raw: bytes | None = None) -> bool:
    """Queue one completion (or failure). The employee is resolved from the ledger by LMS
    user id or email when the event does not name one."""
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
                   event_id: str | None = None, raw: bytes | None = None) -> bool:
    """Queue an employee change; the same facts read again are a duplicate, not new work.
    `since` (the ledger's last change of the identity) tells a leave or a rehire apart from
    an earlier read with the same facts."""
    if event_id is None:
        digest = hashlib.sha256(employee.model_dump_json().encode()).hexdigest()[:16]
        event_id = f"{action}:{employee.employee_id}:{digest}" + (f":{since}" if since else "")
    return store.ingest(source, event_id, "employee",
                        {"employee": employee.model_dump(mode="json"), "action": action}, raw,
                        employee_id=employee.employee_id)


def stop_over_limits(store: Store, settings: Settings, mapping: RuleMapping,
                     reviews: Sequence[Review], *, confirm: bool, what: str) -> int:
    """Plan a batch of reviews as a dry run; stop before any effect when it breaks a safety
    limit (the planner's `bulk_limit_problems`). Returns the new assignments planned."""
    employee_ids = sorted({r.employee.employee_id for r in reviews})
    planner = Planner(mapping, LedgerView(done_keys=frozenset(store.done_keys(employee_ids)),
                                          open_courses=store.open_courses(employee_ids)))
    for review in reviews:
        planner.plan_review(review)
    headcount = len({row.employee_id for row in store.all_identities()} | set(employee_ids))
    problems = planner.bulk_limit_problems(headcount,
                                           max_assignments=settings.max_assignments_per_run,
                                           max_share=settings.max_assignment_share)
    if problems and not confirm:
        store.audit(None, None, "safety.assignments",
                    f"{what} stopped before any effect: " + "; ".join(problems))
        raise SafetyStop(
            f"{what} stopped before any change — " + "; ".join(problems)
            + f". Plan: {len(reviews)} review(s), {planner.enrollments_planned} assignment(s) "
            f"for {planner.employees_enrolled} employee(s). Check it with `connector plan`, "
            "then run again with --confirm")
    if problems:
        store.audit(None, None, "safety.confirmed",
                    f"{what} confirmed by a person despite: " + "; ".join(problems))
    return planner.enrollments_planned
