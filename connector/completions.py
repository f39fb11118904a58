"""The second half of the loop: a course completion becomes evidence on a development goal.

A completion (an LMS poller, an LMS webhook or xAPI) is kept as history, then matched through
the ledger to the open goals that link its course. Only a pass after the gap was found (or
within the rule's accepted window) is evidence; a failure is a note on the goal; an expired
certificate counts for nothing. Evidence is posted once, the course's milestone completed, the
goal's progress moved, and the goal closed when every linked course is done.

A completion can be withdrawn (an xAPI voiding statement): the evidence it earned is taken
back, never deleted. The goal gets a note saying why, the course's progress is undone where
the tracker can (`WithdrawsEvidence`), a closed goal is reopened, and the story (`trace`)
shows it; a later completion of the course earns the evidence again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from connector.errors import EffectPending, NotFoundError
from connector.executor import Context, Executor, goal_key_of
from connector.models import CompletionEvent, Evidence, GoalRef, Outcome
from connector.operations.reconcile import goal_is_deleted, settle_deleted_goal, skip_deleted_goal
from connector.ports import RecordsTraining, WithdrawsEvidence
from connector.store import ActionState, AssignmentState, Goal, GoalState, Transaction
from connector.vendors.registry import title


def handle_completion(ctx: Context, event: CompletionEvent, *, job_id: int | None = None
                      ) -> str:
    """Apply one completion event; returns a short word for logs and tests."""
    store = ctx.store
    if event.voids is not None:
        return handle_void(ctx, event)
    employee_id = event.employee_id or store.employee_for_learner(event.lms_user_id, event.email)
    store.record_completion(event, employee_id)
    void = store.void_of(event.event_id)
    if void is not None:  # its void came first (a push, or an earlier poll)
        store.audit(None, employee_id, "completion.voided",
                    f"completion of course {event.course_id} ({event.event_id}) arrived after "
                    f"it was voided ({void.event_id}); it is not evidence",
                    ref=f"{event.source}:{event.event_id}")
        return "voided"
    if employee_id is None:
        store.audit(None, None, "completion.unmatched",
                    f"completion of course {event.course_id} by LMS user "
                    f"{event.lms_user_id or event.email} matches no known employee",
                    ref=f"{event.source}:{event.event_id}")
        return "unmatched"
    goals = [g for g in store.goals_for(employee_id, state=GoalState.OPEN)
             if event.course_id in g.course_ids]
    if not ctx.count_unassigned_completions:
        # Only goals for which the connector itself assigned this course.
        assigned = {a.goal_key for a in store.assignments_for(employee_id)
                    if a.course_id == event.course_id
                    and a.state is not AssignmentState.CANCELLED}
        goals = [g for g in goals if g.goal_key in assigned]
    if not goals:
        if _assignment_on_its_way(ctx, employee_id, event.course_id, job_id):
            raise EffectPending(
                f"completion of course {event.course_id} arrived before its assignment was "
                "recorded; retrying")
        store.audit(None, employee_id, "completion.unassigned",
                    f"completed course {event.course_id} ({event.outcome.value}), which the "
                    "connector did not assign and no open goal links",
                    ref=f"{event.source}:{event.event_id}")
        return "unassigned"
    results = [apply_to_goal(ctx, goal, event) for goal in goals]
    return ",".join(results)


def _assignment_on_its_way(ctx: Context, employee_id: str, course_id: str,
                           job_id: int | None) -> bool:
    pending = ctx.store.actions_for(
        employee_id, (ActionState.PLANNED, ActionState.INTENT, ActionState.WAITING))
    if any(a.course_id == course_id or course_id in a.course_ids for a in pending):
        return True
    return ctx.store.jobs.has_unfinished(employee_id, before_id=job_id)


def apply_to_goal(ctx: Context, goal: Goal, event: CompletionEvent) -> str:
    store = ctx.store
    executor = Executor(ctx)
    employee_id = goal.employee_id
    goal_key = goal.goal_key
    course_id = event.course_id
    ref = GoalRef(tracker=goal.tracker or "none", goal_id=goal.goal_id or goal_key,
                  milestone_ids=goal.milestone_ids)
    tracker = ctx.goals
    evidence = Evidence(goal=goal_key_of(goal_key), course_id=course_id,
                        course_name=event.course_name or ctx.course_title(course_id),
                        lms_name=_lms_label(ctx, event), completed_at=event.completed_at,
                        outcome=event.outcome, score=event.score,
                        certificate_url=event.certificate_url)
    source_ref = f"{event.source}:{event.event_id}"

    if event.outcome is Outcome.IN_PROGRESS:
        store.audit(None, employee_id, "completion.in_progress",
                    f"course {course_id} in progress", ref=source_ref)
        return "in_progress"
    if goal_is_deleted(store, goal_key):  # deleted in the tracker: say so, post nothing
        return skip_deleted_goal(ctx, goal, course_id, source_ref)
    if event.outcome is Outcome.FAILED:
        note_key = f"note:{goal_key}:{course_id}:{event.event_id}"
        try:
            executor.effect(
                note_key, "goal.note", employee_id,
                call=lambda: tracker.add_note(ref, evidence.text()) if tracker else None,
                message=f"noted a failed attempt at course {course_id}", goal_key=goal_key,
                course_id=course_id, cause={"completion": source_ref})
        except NotFoundError as exc:
            if not settle_deleted_goal(ctx, goal, exc, note_key):
                raise
            return skip_deleted_goal(ctx, goal, course_id, source_ref)
        return "failed-noted"

    why_not = _not_evidence(ctx, goal, event)
    if why_not:
        store.audit(None, employee_id, "completion.ignored",
                    f"completion of course {course_id} on {event.completed_at.date()} is not "
                    f"evidence for goal {goal_key}: {why_not}", ref=source_ref)
        return "ignored"

    linked = goal.course_ids
    voided = store.voided_courses(goal_key)
    done_before = {e.course_id for e in store.evidence_for(goal_key)} - voided
    done_after = done_before | {course_id}
    percent = round(100.0 * len(done_after & set(linked)) / max(1, len(linked)), 1)

    def post() -> None:
        if tracker is None:
            return
        tracker.add_evidence(ref, evidence)
        # A course added to the goal after it was opened (a re-opened review) has no
        # milestone; its evidence comment is the record there.
        if not ref.milestone_ids or course_id in ref.milestone_ids:
            tracker.complete_course(ref, course_id, percent)
        owner = ctx.id_spaces.known_id(store, employee_id, tracker.name)  # its own id
        if isinstance(tracker, RecordsTraining) and owner is not None:  # one per course
            tracker.record_training(owner, evidence)  # finds its earlier record first

    def already() -> bool:
        if tracker is None or not tracker.evidence_exists(ref, evidence):
            return False
        # The interrupted attempt may have stopped between the comment and the milestone;
        # ticking a milestone again is harmless, leaving it unticked is not.
        tracker.complete_course(ref, course_id, percent)
        return True

    def record(tx: Transaction, _: Any) -> None:
        if course_id in voided:  # earned again after a withdrawn completion
            store.renew_evidence(tx, goal_key, course_id, event.event_id, event.completed_at)
        else:
            store.save_evidence(tx, goal_key, course_id, event.event_id, event.completed_at)
        store.complete_assignment(tx, employee_id, course_id, goal_key, event.completed_at)
        store.set_goal_progress(goal_key, percent, tx)

    # After a void the course's first evidence effect is done; the new one is its own effect.
    evidence_key = f"evidence:{goal_key}:{course_id}" + (
        f":{event.event_id}" if course_id in voided else "")
    try:
        posted = executor.effect(
            evidence_key, "goal.evidence", employee_id, call=post,
            already=already, record=record, goal_key=goal_key, course_id=course_id,
            cause={"completion": source_ref, "goal": goal_key},
            message=f"posted evidence on goal {goal_key}: {evidence.text()} "
                    f"(progress {percent:g} %)")
    except NotFoundError as exc:  # the goal was deleted in the tracker: flagged once
        if not settle_deleted_goal(ctx, goal, exc, evidence_key):
            raise
        return skip_deleted_goal(ctx, goal, course_id, source_ref)
    if set(linked) <= done_after:
        close_goal(ctx, executor, goal, ref, again=event.event_id if voided else None)
    return "evidence" if posted else "duplicate"


def close_goal(ctx: Context, executor: Executor, goal: Goal, ref: GoalRef,
               again: str | None = None) -> None:
    """Close once; a goal reopened by a withdrawn completion closes again as its own effect
    (`again`: the completion that finished it this time)."""
    tracker = ctx.goals
    goal_key = goal.goal_key

    def call() -> None:
        if tracker is not None and ctx.close_goals:
            tracker.close_goal(ref)

    def record(tx: Transaction, _: Any) -> None:
        ctx.store.close_goal(goal_key, ctx.now(), tx)

    key = f"close:{goal_key}" + (f":{again}" if again else "")
    executor.effect(key, "goal.close", goal.employee_id, call=call,
                    record=record, goal_key=goal_key, cause={"goal": goal_key},
                    message=f"every linked course is done: goal {goal_key} "
                            + ("closed" if ctx.close_goals else "left open at 100 %"))


def _not_evidence(ctx: Context, goal: Goal, event: CompletionEvent) -> str | None:
    """Why a pass does not count for this goal, or None when it does."""
    now = ctx.now()
    if event.expires_at is not None and event.expires_at <= now:
        return f"its certification expired on {event.expires_at.date()}"
    found = goal.gap_found_at
    if event.completed_at >= found:
        return None
    rule = ctx.mapping.rule_by_id(goal.rule_id, goal.rule_index)
    if rule is not None and rule.prior_completion == "accept_within_days":
        window = timedelta(days=rule.accept_within_days or 0)
        if found - event.completed_at <= window:
            return None
        return (f"completed before the gap was found ({found.date()}) and outside the "
                f"{rule.accept_within_days}-day window")
    return f"completed before the gap was found ({found.date()})"


def _lms_label(ctx: Context, event: CompletionEvent) -> str:
    """The LMS as people call it, from the registry: the event's source, else the LMS."""
    label = title(event.source)
    return label if label != event.source else title(ctx.lms_name)


def handle_void(ctx: Context, event: CompletionEvent) -> str:
    """A completion withdrawn (`event.voids`): kept as history, and every piece of evidence
    it earned taken back: a note on the goal, the course's progress undone where the tracker
    can, a closed goal reopened. Voiding what earned nothing (or nothing known) is recorded
    and audited only."""
    store = ctx.store
    target = store.completion_by_event(event.voids or "", event.source)
    employee_id = target.employee_id if target else event.employee_id
    store.record_completion(event.model_copy(update={
        "course_id": target.course_id if target else ""}), employee_id)
    ref = f"{event.source}:{event.event_id}"
    if target is None:
        store.audit(None, employee_id, "completion.void_unmatched",
                    f"statement {event.voids} was voided, but no completion with that id was "
                    "received", ref=ref)
        return "void-unmatched"
    earned = store.evidence_from(target.event_id)
    if not earned:
        store.audit(None, employee_id, "completion.voided",
                    f"completion of course {target.course_id} ({target.event_id}) was voided "
                    "before it counted as evidence", ref=ref)
        return "voided"
    results = []
    for record in earned:
        goal = store.goal(record.goal_key)
        if goal is not None:
            results.append(_withdraw(ctx, goal, target.course_id, target.event_id, event))
    return ",".join(results)


def _withdraw(ctx: Context, goal: Goal, course_id: str, voided: str,
              event: CompletionEvent) -> str:
    store = ctx.store
    tracker = ctx.goals
    goal_key = goal.goal_key
    ref = GoalRef(tracker=goal.tracker or "none", goal_id=goal.goal_id or goal_key,
                  milestone_ids=goal.milestone_ids)
    was_closed = goal.state is GoalState.CLOSED
    linked = goal.course_ids
    still = ({e.course_id for e in store.evidence_for(goal_key)}
             - store.voided_courses(goal_key) - {course_id})
    percent = round(100.0 * len(still & set(linked)) / max(1, len(linked)), 1)
    title_ = ctx.course_title(course_id)
    course = title_ if title_ != course_id else f"course {course_id}"
    day = event.completed_at.date().isoformat()
    note = (f"The completion of {course} was withdrawn in {_lms_label(ctx, event)} on {day} "
            f"(statement {voided} voided); it no longer counts as evidence"
            + ("; the goal is open again." if was_closed else "."))
    evidence = Evidence(goal=goal_key_of(goal_key), course_id=course_id,
                        course_name=ctx.course_title(course_id), lms_name=_lms_label(ctx, event),
                        completed_at=event.completed_at)

    def call() -> None:
        if tracker is None:
            return
        if isinstance(tracker, WithdrawsEvidence):
            tracker.withdraw_evidence(ref, evidence, note)
            if was_closed and ctx.close_goals:
                tracker.reopen_goal(ref, note)
        else:  # the tracker cannot undo progress: the note says what happened
            tracker.add_note(ref, note)

    def record(tx: Transaction, _: Any) -> None:
        store.void_evidence(tx, goal_key=goal_key, course_id=course_id,
                            completion_event=voided, void_event=event.event_id,
                            at=event.completed_at)
        if was_closed:
            store.reopen_goal(tx, goal_key, percent)
        else:
            store.set_goal_progress(goal_key, percent, tx)

    done = Executor(ctx).effect(
        f"void:{goal_key}:{course_id}:{voided}", "goal.evidence_withdrawn", goal.employee_id,
        call=call, record=record, goal_key=goal_key, course_id=course_id,
        cause={"completion": f"{event.source}:{event.event_id}", "voids": voided,
               "goal": goal_key},
        message=f"withdrew evidence on goal {goal_key}: {note} (progress {percent:g} %)")
    return "withdrawn" if done else "duplicate"
