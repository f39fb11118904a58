"""What each kind of job does. Every path into the product ends here: an import, a review
poller and the HR webhook all queue `review` jobs; an LMS poller and the LMS webhooks queue
`completion` jobs; the directory queues `employee` jobs (see `inbound.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connector.completions import apply_to_goal, handle_completion
from connector.employee_hints import HINT_JOB, handle_employee_hint_job
from connector.executor import Context, Executor
from connector.models import CompletionEvent, Employee, Outcome, Plan, Review
from connector.plan_summary import (
    approval_plan,
    approval_summary,
    distinct_skips,
    plan_hash,
    skip_text,
)
from connector.planner import LedgerView, plan_reviews, show_level
from connector.store import ActionState, GoalState, Job

log = logging.getLogger(__name__)

Handler = Callable[[Context, Job], str]


def handle_review_job(ctx: Context, job: Job) -> str:
    review = Review.model_validate(job.payload["review"])
    return process_review(ctx, review, approved=bool(job.payload.get("approved")),
                          approved_hash=job.payload.get("plan_hash"))


def plan_for(ctx: Context, review: Review) -> Plan:
    """The plan for one review against what the ledger already holds (a pure call)."""
    eid = review.employee.employee_id
    view = LedgerView(done_keys=frozenset(ctx.store.done_keys([eid])),
                      open_courses=ctx.store.open_courses([eid]))
    return plan_reviews([review], ctx.mapping, view, today=ctx.now().date())


def process_review(ctx: Context, review: Review, *, approved: bool = False,
                   approved_hash: str | None = None) -> str:
    """Plan one review and carry it out. Where the mapping wants approval, the plan is shown
    to a person first; an approved job runs only the plan that was approved (`approved_hash`):
    a plan that re-planning has changed since waits for approval again, as it is now."""
    store = ctx.store
    employee = review.employee
    eid = employee.employee_id
    old_email = store.upsert_employee(employee)
    if old_email:
        store.audit(None, eid, "identity.email_changed",
                    f"email changed from {old_email} to {employee.email}; the LMS link is kept")
    ref = f"{review.source}:{review.review_id}"
    if ctx.mapping.is_protected(eid):
        store.audit(None, eid, "review.protected",
                    "employee is protected in the mapping file; nothing planned", ref=ref)
        return "protected"
    if store.review_fingerprint(review.source, review.review_id) == review.fingerprint():
        store.audit(None, eid, "review.duplicate",
                    f"review {ref} was already planned with the same ratings", ref=ref)
        Executor(ctx).run_employee(eid)
        return "duplicate"
    plan = plan_for(ctx, review)
    if ctx.mapping.approval.required and plan.actions:
        digest = plan_hash(plan.actions)
        if not approved:
            shown = approval_plan(plan.actions, ctx.mapping, ctx.course_title)
            if store.request_approval(review, approval_summary(shown), plan=shown,
                                      plan_hash=digest):
                store.audit(None, eid, "review.awaiting_approval",
                            f"{len(plan.actions)} action(s) wait for approval "
                            "(`connector approvals list`)", ref=ref)
            return "awaiting_approval"
        if approved_hash is not None and approved_hash != digest:
            shown = approval_plan(plan.actions, ctx.mapping, ctx.course_title)
            store.renew_approval(review, approval_summary(shown), plan=shown,
                                 plan_hash=digest)
            store.audit(None, eid, "approval.plan_changed",
                        "the plan changed after it was approved (the mapping or the ledger "
                        "changed); nothing ran, and the plan as it is now waits for approval "
                        "again (`connector approvals list`)", shown["lines"], ref=ref)
            return "awaiting_approval"
    record_plan(ctx, review, plan)
    counts = Executor(ctx).run_employee(eid)
    catch_up_completions(ctx, eid)
    return f"planned {len(plan.actions)}, done {counts['done']}, waiting {counts['waiting']}"


def record_plan(ctx: Context, review: Review, plan: Plan) -> None:
    """Write the plan to the ledger with its cause chains, in one transaction."""
    store = ctx.store
    eid = review.employee.employee_id
    ref = f"{review.source}:{review.review_id}"
    with store.transaction() as tx:
        store.record_review(review, tx)
        store.link_external(eid, review.source, eid, tx=tx)  # the source's own id space
        for gap in plan.gaps:
            store.audit(tx, eid, "gap.found",
                        f"{gap.skill_id}: rated {show_level(gap.rating)} against a target of "
                        f"{show_level(gap.target)} (gap {show_level(gap.gap)})",
                        gap.cause.model_dump(mode="json"), ref)
        for action in plan.actions:
            # A key cancelled when the employee left (`learner:E` above all) and planned
            # again by a later review, after a rehire, is planned work again: without that
            # a rehire's enrollments would wait forever for a learner nobody looks for.
            if (store.record_action(action, ActionState.PLANNED, tx)
                    or store.replan_cancelled(action, tx)):
                store.audit(tx, eid, f"planned.{action.kind.value}", _describe(action),
                            [c.model_dump(mode="json") for c in action.causes], action.key)
        for item in plan.unmapped:
            store.audit(tx, eid, "skill.unmapped", f"{item.skill_key}: {item.reason}",
                        ref=ref)
        for skip in distinct_skips(plan.skipped):
            store.audit(tx, eid, "planned.skipped", skip_text(skip), ref=ref)


def _describe(action: Any) -> str:
    if action.course_id:
        return f"assign course {action.course_id} for goal {action.goal}"
    if action.goal:
        return f"open goal {action.goal_title!r}"
    return "find or create the LMS learner"


def catch_up_completions(ctx: Context, employee_id: str) -> None:
    """Passes recorded before the goal existed (an early completion) are applied now."""
    for goal in ctx.store.goals_for(employee_id, state=GoalState.OPEN):
        for course in goal.course_ids:
            for row in ctx.store.completions_for(employee_id, course):
                if row.outcome is not Outcome.PASSED:
                    continue
                event = CompletionEvent(
                    source=row.source, event_id=row.event_id, course_id=course,
                    lms_user_id=row.lms_user_id, employee_id=employee_id,
                    completed_at=row.completed_at, outcome=Outcome.PASSED,
                    score=row.score, certificate_url=row.certificate_url,
                    expires_at=row.expires_at)
                apply_to_goal(ctx, goal, event)


def handle_completion_job(ctx: Context, job: Job) -> str:
    event = CompletionEvent.model_validate(job.payload["completion"])
    return handle_completion(ctx, event, job_id=job.id)


def handle_resume_job(ctx: Context, job: Job) -> str:
    """Run what waited for an employee (an identity linked by a person, an approval)."""
    eid = job.payload["employee_id"]
    counts = Executor(ctx).run_employee(eid)
    catch_up_completions(ctx, eid)
    return f"resumed: done {counts['done']}, waiting {counts['waiting']}"


def handle_employee_job(ctx: Context, job: Job) -> str:
    """A directory change: keep the identity current; a leaver's pending work is cancelled."""
    store = ctx.store
    action = job.payload.get("action", "updated")
    employee = Employee.model_validate(job.payload["employee"])
    eid = employee.employee_id
    if store.identity(eid) is None and action == "deleted":
        return "unknown"
    old_email = store.upsert_employee(employee)
    if old_email:
        store.audit(None, eid, "identity.email_changed",
                    f"email changed from {old_email} to {employee.email}; the LMS link is kept")
    if action == "deleted" or not employee.active:
        return cancel_pending(ctx, eid)
    row = store.identity(eid)
    if row is not None and not row.active:
        store.set_active(eid, True)
        store.audit(None, eid, "employee.rehired",
                    "employee is active again; the same identity continues")
    return "updated"


def cancel_pending(ctx: Context, employee_id: str) -> str:
    """A leaver: pending assignments are cancelled; goals and LMS records are left as they are."""
    store = ctx.store
    pending = store.actions_for(employee_id, (ActionState.PLANNED, ActionState.WAITING))
    with store.transaction() as tx:
        store.set_active(employee_id, False, tx)
        for action in pending:
            store.set_action_state(action.key, ActionState.CANCELLED, tx=tx)
        store.audit(tx, employee_id, "employee.left",
                    f"employee left: {len(pending)} pending action(s) cancelled; goals and LMS "
                    "records are left as they are")
    return f"left: cancelled {len(pending)}"


def handle_review_hint_job(ctx: Context, job: Job) -> str:
    ctx.store.audit(None, job.employee_id, "review.hint",
                    f"thin notification for review {job.payload.get('review_id')}: waiting for "
                    "the full review from a polling source")
    return "hint"


HANDLERS: dict[str, Handler] = {
    "review": handle_review_job,
    "completion": handle_completion_job,
    "resume": handle_resume_job,
    "employee": handle_employee_job,
    "review_hint": handle_review_hint_job,
    HINT_JOB: handle_employee_hint_job,
}
