"""Withdraw what a wrong review (or a wrong import of reviews) set in motion.

`connector withdraw --review ID` (or `--import FILE`: every review the file holds) undoes
what can be undone without taking anything from a learner:

- a course the learner has not started is unenrolled (needs the LMS's `Unenrolls` ability);
  one already started, or passed, stays: what was earned is kept, completions included;
- each goal the review opened gets a note saying why, and is closed (it has evidence) or
  cancelled (it has none); a goal that also carries another review's courses stays open;
- actions of the review not yet carried out (planned, waiting, awaiting approval) are
  cancelled.

`--dry-run` prints exactly these steps and changes nothing (it reads each course's progress
from the LMS, which is how "not started" is known). Every step is one effect of the executor
(`withdraw:…` keys): audited, done once, so a second withdraw does nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from connector.errors import InputError
from connector.executor import Context, Executor
from connector.models import GoalRef, LearnerRef
from connector.ports import FindsNotes, Unenrolls
from connector.reviews.file import read_reviews
from connector.store import (
    ActionState,
    AssignmentState,
    BatchState,
    Goal,
    GoalState,
    Store,
    Transaction,
)

StepKind = Literal["unenroll", "keep course", "close goal", "cancel goal", "keep goal",
                   "cancel planned"]

#: The source `connector import` gives the reviews of a file.
IMPORT_SOURCE = "csv"

#: Actions of the review not yet begun: cancelling them is all it takes.
NOT_BEGUN = (ActionState.PLANNED, ActionState.WAITING, ActionState.AWAITING_APPROVAL)


@dataclass(frozen=True)
class Step:
    """One thing a withdraw does (or, for "keep …", deliberately leaves), and why."""

    kind: StepKind
    employee_id: str
    why: str
    course_id: str | None = None
    goal_key: str | None = None
    action_key: str | None = None

    @property
    def changes(self) -> bool:
        return not self.kind.startswith("keep")

    def text(self) -> str:
        what = {"unenroll": f"unenroll {self.employee_id} from course {self.course_id}",
                "keep course": f"keep course {self.course_id} of {self.employee_id}",
                "close goal": f"close goal {self.goal_key}",
                "cancel goal": f"cancel goal {self.goal_key}",
                "keep goal": f"keep goal {self.goal_key} open",
                "cancel planned": f"cancel planned action {self.action_key}"}[self.kind]
        return f"{what}: {self.why}"


@dataclass
class WithdrawResult:
    reviews: list[str]
    dry_run: bool
    steps: list[Step] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(step.changes for step in self.steps)

    def text(self) -> str:
        head = ", ".join(self.reviews)
        if not self.changes:
            lines = [f"nothing to withdraw for {head}: already withdrawn, or nothing was done"]
        elif self.dry_run:
            lines = [f"withdraw {head} would (dry run, nothing changed):"]
        else:
            lines = [f"withdrew {head}:"]
        lines += [f"  {step.text()}" for step in self.steps]
        if self.dry_run and self.changes:
            lines.append("run again without --dry-run to do it")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"reviews": self.reviews, "dry_run": self.dry_run, "changes": self.changes,
                "steps": [{**asdict(s), "changes": s.changes} for s in self.steps]}


def withdraw_reviews(ctx: Context, review_ids: list[str], *, source: str | None = None,
                     dry_run: bool = False, by: str) -> WithdrawResult:
    """Withdraw every review named (see the module's docstring); unknown ids are an
    InputError before anything is done."""
    targets = [(review_id, *_review(ctx, review_id, source)) for review_id in review_ids]
    result = WithdrawResult(reviews=[f"review {r} ({s})" for r, s, _ in targets],
                            dry_run=dry_run)
    for review_id, review_source, employee_id in targets:
        steps = plan_withdraw(ctx, review_id, review_source, employee_id)
        result.steps += steps
        if not dry_run:
            _carry_out(ctx, steps, review_id, by)
    return result


def reviews_in_file(path: Path) -> tuple[list[str], str]:
    """The review ids a file that was imported holds, and their source (as `connector
    import` read them): withdrawing an import is withdrawing each of its reviews."""
    with read_reviews(path, source=IMPORT_SOURCE) as reviews_file:
        ids = list(dict.fromkeys(review.review_id for review in reviews_file))
    if not ids:
        raise InputError(f"{path}: holds no reviews to withdraw")
    return ids, IMPORT_SOURCE


def reviews_in_batch(store: Store, batch_id: int) -> tuple[list[str], str | None]:
    """The review ids of a batch a safety limit stopped and a person confirmed (`connector
    stops`): withdrawing a batch is withdrawing each of its reviews."""
    batch = store.staged_batch(batch_id)
    if batch is None:
        raise InputError(f"no batch #{batch_id} (see `connector stops list`)")
    if batch.state is not BatchState.CONFIRMED:
        raise InputError(f"batch #{batch_id} is {batch.state.value}, not confirmed: nothing of "
                         "it ran, so there is nothing to withdraw")
    reviews = [r for r in batch.payload.get("reviews", []) if isinstance(r, dict)]
    ids = list(dict.fromkeys(str(r["review_id"]) for r in reviews if r.get("review_id")))
    if not ids:
        raise InputError(f"batch #{batch_id} holds no reviews to withdraw")
    sources = {str(r.get("source")) for r in reviews if r.get("source")}
    return ids, sources.pop() if len(sources) == 1 else None


def _review(ctx: Context, review_id: str, source: str | None) -> tuple[str, str]:
    found = [(s, e) for s, e in ctx.store.reviews_with_id(review_id)
             if source is None or s == source]
    if not found:
        raise InputError(f"no review {review_id!r}{f' from {source!r}' if source else ''} in "
                         "the ledger (a plan still waiting for approval is withdrawn with "
                         "`connector approvals reject`; `connector trace EMPLOYEE` shows an "
                         "employee's reviews)")
    if len(found) > 1:
        raise InputError(f"review id {review_id!r} comes from several sources "
                         f"({', '.join(s for s, _ in found)}); name one with --source")
    return found[0]


def plan_withdraw(ctx: Context, review_id: str, source: str, employee_id: str) -> list[Step]:
    """The steps, decided from the ledger and each enrolled course's progress in the LMS."""
    store = ctx.store
    every = store.assignments_for(employee_id)
    mine = [a for a in every if a.review_id == review_id]
    learner = Executor(ctx).linked_learner(employee_id)
    steps: list[Step] = []
    for a in mine:
        if a.state is AssignmentState.COMPLETED:
            steps.append(Step("keep course", employee_id, "already completed: earned, kept",
                              course_id=a.course_id, goal_key=a.goal_key))
        elif a.state is AssignmentState.ENROLLED:
            steps.append(_course_step(ctx, learner, employee_id, a.course_id, a.goal_key))
    for goal_key in dict.fromkeys(a.goal_key for a in mine):
        goal = store.goal(goal_key)
        if goal is None or goal.state not in (GoalState.OPEN, GoalState.PENDING):
            continue
        others = sorted({a.review_id for a in every if a.goal_key == goal_key
                         and a.review_id != review_id
                         and a.state is not AssignmentState.CANCELLED})
        if others:
            steps.append(Step("keep goal", employee_id, "it also carries courses of review(s) "
                              + ", ".join(others), goal_key=goal_key))
            continue
        earned = len(store.evidence_for(goal_key))
        if earned:
            steps.append(Step("close goal", employee_id, f"{earned} completed course(s) kept "
                              "as earned; a note says why", goal_key=goal_key))
        else:
            steps.append(Step("cancel goal", employee_id, "nothing earned yet; a note says why",
                              goal_key=goal_key))
    for action in store.actions_for(employee_id, NOT_BEGUN):
        if any(c.review_id == review_id and c.source == source for c in action.causes):
            steps.append(Step("cancel planned", employee_id, "not carried out yet",
                              course_id=action.course_id, action_key=action.key,
                              goal_key=str(action.goal) if action.goal else None))
    return steps


def _course_step(ctx: Context, learner: LearnerRef | None, employee_id: str, course_id: str,
                 goal_key: str) -> Step:
    lms = ctx.lms

    def keep(why: str) -> Step:
        return Step("keep course", employee_id, why, course_id=course_id, goal_key=goal_key)

    if lms is None or learner is None:
        return keep(f"no {ctx.lms_name} user to read progress from; remove it there by hand")
    if not isinstance(lms, Unenrolls):
        return keep(f"{ctx.lms_name} cannot unenroll through the connector; remove it there "
                    "by hand if wanted")
    progress = lms.progress(learner, course_id)
    if not progress.enrolled:
        return Step("unenroll", employee_id, "no longer enrolled in the LMS; the ledger "
                    "follows", course_id=course_id, goal_key=goal_key)
    if progress.status == "not_started":
        return Step("unenroll", employee_id, "not started yet", course_id=course_id,
                    goal_key=goal_key)
    return keep(f"already started ({progress.percent:g} %, {progress.status}): the learner "
                "keeps it")


def _carry_out(ctx: Context, steps: list[Step], review_id: str, by: str) -> None:
    executor = Executor(ctx)
    store = ctx.store
    why = f"withdrawn by {by}: review {review_id} should not have assigned it"
    for step in steps:
        eid = step.employee_id
        cause = {"withdraw": review_id, "by": by}
        if step.kind == "unenroll":
            course_id, goal_key = step.course_id or "", step.goal_key or ""
            lms, learner = ctx.lms, executor.linked_learner(eid)

            def unenroll(lms: Any = lms, learner: Any = learner, course_id: str = course_id
                         ) -> dict[str, Any]:
                return {"removed": bool(lms.unenroll(learner, course_id))}

            def cancel(tx: Transaction, _: Any, eid: str = eid, course_id: str = course_id,
                       goal_key: str = goal_key) -> None:
                store.cancel_assignment(tx, eid, course_id, goal_key)

            executor.effect(f"withdraw:unenroll:{eid}:{course_id}:{goal_key}",
                            "withdraw.unenroll", eid, call=unenroll, record=cancel,
                            course_id=course_id, goal_key=goal_key, cause=cause,
                            message=f"unenrolled from course {course_id} (not started): {why}")
        elif step.kind in ("close goal", "cancel goal"):
            goal = store.goal(step.goal_key or "")
            if goal is not None:
                _end_goal(ctx, executor, goal, step, why, cause)
        elif step.kind == "cancel planned" and step.action_key:
            with store.transaction() as tx:
                if store.set_action_state(step.action_key, ActionState.CANCELLED,
                                          only_from=NOT_BEGUN, tx=tx):
                    store.audit(tx, eid, "withdraw.cancel_planned",
                                f"cancelled planned action {step.action_key}: {why}", cause,
                                step.action_key)
    if any(step.changes for step in steps):
        store.audit(None, steps[0].employee_id, "withdraw.done",
                    f"review {review_id} withdrawn by {by}: "
                    + "; ".join(step.text() for step in steps), {"withdraw": review_id})


def _end_goal(ctx: Context, executor: Executor, goal: Goal, step: Step, why: str,
              cause: dict[str, Any]) -> None:
    """A note saying why, then the goal closed (evidence earned) or cancelled (none)."""
    tracker = ctx.goals
    ref = GoalRef(tracker=goal.tracker or "none", goal_id=goal.goal_id or goal.goal_key,
                  milestone_ids=goal.milestone_ids)
    closing = step.kind == "close goal"
    note = (f"Withdrawn: {why}. " + ("Courses already completed stay as evidence."
                                     if closing else "Nothing had been completed yet."))
    key = goal.goal_key
    executor.effect(f"withdraw:note:{key}", "withdraw.note", goal.employee_id,
                    call=lambda: tracker.add_note(ref, note) if tracker else None,
                    already=(lambda: tracker.note_exists(ref, note))
                    if isinstance(tracker, FindsNotes) else None,
                    goal_key=key, cause=cause, message=f"noted on goal {key}: {note}")
    state = GoalState.CLOSED if closing else GoalState.CANCELLED

    def end() -> None:
        if tracker is not None and ctx.close_goals:
            tracker.close_goal(ref)

    def record(tx: Transaction, _: Any) -> None:
        ctx.store.withdraw_goal(key, ctx.now(), tx, state=state)

    executor.effect(f"withdraw:goal:{key}", "withdraw.goal", goal.employee_id, call=end,
                    record=record, goal_key=key, cause=cause,
                    message=f"goal {key} {state.value}: {why}")
