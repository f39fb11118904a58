"""Drift reconciliation (`connector reconcile`, and daily in `serve`): the ledger against the
vendors, for what people change by hand there.

What is checked: every open assignment of an active, linked employee whose goal is open
(is the learner still there, still active, still enrolled?) and every open goal the tracker
holds (does it still exist?). The reads are batched by the adapters (`ReadsEnrollments`,
`ReadsGoals`): per learner or per course for the LMS, per goal owner for the tracker, never
one call per assignment where the vendor can do better.

What is *safe* to repair, and so repaired:

- an enrollment removed by hand while its goal is still open, the employee active and the
  learner active: enrolled again, **once** (CONNECTOR_RECONCILE_REENROLL, on by default). The
  repair is said where people look (an audit row `drift.repaired`, `status`, `trace`, the
  console). Removed again after that repair, a person clearly means it: it is left removed
  and flagged, never fought over.

What is only flagged (never re-created, because a person deliberately removed it):

- a goal deleted in the goal tracker: evidence for it is then not posted (each completion
  says so in the audit trail; no retries, no dead letter);
- a learner deactivated or deleted in the LMS: their open courses cannot be taken;
- with re-enrollment switched off, every removed enrollment.

Each finding is one `drift_flags` row, audited once (`drift.flagged`), however often it is
seen; a finding the vendor no longer shows is resolved (`drift.resolved`). `--dry-run` reads
the vendors and writes nothing, anywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connector.errors import NotFoundError, VendorError
from connector.executor import Context
from connector.models import GoalRef, LearnerRef
from connector.ports import (
    GoalPresence,
    LearnerEnrollments,
    LearningPlatform,
    ReadsEnrollments,
    ReadsGoals,
)
from connector.store import (
    ActionState,
    AssignmentState,
    Goal,
    GoalState,
    Identity,
    MatchState,
    Store,
    Transaction,
)
from connector.vendors.registry import title

ENROLLMENT_REMOVED = "enrollment_removed"
LEARNER_INACTIVE = "learner_inactive"
LEARNER_MISSING = "learner_missing"
GOAL_DELETED = "goal_deleted"
OPEN, REPAIRED = "open", "repaired"
#: The cursor row holding when `serve` last reconciled (names starting with _ are no pollers).
LAST_RUN = "_reconcile.last"
FIRST_RUN_AFTER = 300.0  # seconds after the first start before a new database reconciles


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference found, and what was (or, in a dry run, would be) done about it."""

    kind: str
    employee_id: str
    subject: str
    outcome: str  # repaired | flagged | already flagged | would repair | would flag
    message: str
    goal_key: str | None = None
    course_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    dry_run: bool
    assignments_checked: int
    goals_checked: int
    findings: list[Finding] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)  # what an adapter cannot read

    @property
    def repaired(self) -> int:
        return sum(1 for f in self.findings if f.outcome == "repaired")

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "assignments_checked": self.assignments_checked,
                "goals_checked": self.goals_checked,
                "findings": [asdict(f) for f in self.findings], "resolved": self.resolved,
                "not_checked": self.not_checked}

    def text(self) -> str:
        head = ("dry run: nothing was changed. " if self.dry_run else "") + (
            f"checked {self.assignments_checked} open assignment(s) and "
            f"{self.goals_checked} open goal(s): {len(self.findings)} difference(s)")
        lines = [head]
        lines += [f"  {f.outcome}: {f.message}" for f in self.findings]
        lines += [f"  resolved: {r}" for r in self.resolved]
        lines += [f"  not checked: {n}" for n in self.not_checked]
        return "\n".join(lines)


def reconcile(ctx: Context, *, dry_run: bool = False, reenroll: bool = True,
              by: str = "connector") -> ReconcileReport:
    """Compare the ledger with the vendors; repair what is safe, flag the rest."""
    store = ctx.store
    goals = {g.goal_key: g for g in store.open_goals() if g.state is GoalState.OPEN}
    people: dict[str, Identity | None] = {}

    def person(employee_id: str) -> Identity | None:
        if employee_id not in people:
            people[employee_id] = store.identity(employee_id)
        return people[employee_id]

    findings: list[Finding] = []
    resolved: list[str] = []
    not_checked: list[str] = []
    run = _Run(ctx, dry_run, by, findings, resolved)

    deleted = {f.goal_key for f in store.drift.listed() if f.kind == GOAL_DELETED}
    todo = []
    for a in store.assignments_for(state=AssignmentState.ENROLLED):
        who = person(a.employee_id)
        if (a.goal_key in goals and a.goal_key not in deleted and who is not None
                and who.active and who.match_state is MatchState.LINKED and who.lms_user_id):
            todo.append((a, who))
    lms = ctx.lms
    if todo and not isinstance(lms, ReadsEnrollments):
        not_checked.append(f"{ctx.lms_name} cannot list enrollments: {len(todo)} open "
                           "assignment(s) not compared")
    elif todo and isinstance(lms, ReadsEnrollments):
        states = lms.enrollments([(str(who.lms_user_id), a.course_id) for a, who in todo])
        for a, who in todo:
            state = states.get(str(who.lms_user_id))
            if state is not None:
                run.assignment(lms, a.employee_id, a.course_id, goals[a.goal_key], who, state,
                               reenroll=reenroll)

    tracker = ctx.goals
    tracked = [g for g in goals.values()
               if g.goal_id and tracker is not None and g.tracker == tracker.name
               and (who := person(g.employee_id)) is not None and who.active]
    if tracked and not isinstance(tracker, ReadsGoals):
        not_checked.append(f"{_tracker_name(ctx)} cannot list goals: {len(tracked)} open "
                           "goal(s) not compared")
    elif tracked and isinstance(tracker, ReadsGoals):
        presence = tracker.goal_presence([(owner_id(ctx, g), goal_ref(g)) for g in tracked])
        for g in tracked:
            found = presence.get(str(g.goal_id))
            if found is GoalPresence.DELETED:
                run.goal_deleted(g)
            elif found is not None and not dry_run and store.drift.resolve(GOAL_DELETED,
                                                                           g.goal_key):
                run.resolved_note(g.employee_id, f"goal {g.goal_key} is in "
                                  f"{_tracker_name(ctx)} again")
    if not dry_run:
        store.save_cursor(LAST_RUN, ctx.now().isoformat())
    return ReconcileReport(dry_run=dry_run, assignments_checked=len(todo),
                           goals_checked=len(tracked), findings=findings, resolved=resolved,
                           not_checked=not_checked)


@dataclass
class _Run:
    """One reconciliation's decisions and their records."""

    ctx: Context
    dry_run: bool
    by: str
    findings: list[Finding]
    resolved: list[str]
    _learners_seen: set[str] = field(default_factory=set)

    @property
    def store(self) -> Store:
        return self.ctx.store

    def assignment(self, platform: LearningPlatform, employee_id: str, course_id: str,
                   goal: Goal, who: Identity, state: LearnerEnrollments, *,
                   reenroll: bool) -> None:
        lms = self.ctx.lms_name
        user = state.lms_user_id
        if not state.exists or not state.active:
            if user in self._learners_seen:
                return
            self._learners_seen.add(user)
            kind = LEARNER_MISSING if not state.exists else LEARNER_INACTIVE
            how = "deleted" if not state.exists else "deactivated"
            self.flag(kind, user, employee_id, None, None,
                      f"{lms} user {user} of employee {employee_id} was {how} in {lms}: "
                      "their open courses cannot be taken; reactivate them there, or "
                      "withdraw the assignments (`connector withdraw`)")
            return
        subject = f"{employee_id}/{course_id}/{goal.goal_key}"
        if course_id in state.course_ids:
            if not self.dry_run and self.store.drift.resolve(ENROLLMENT_REMOVED, subject):
                self.resolved_note(employee_id, f"course {course_id} of goal {goal.goal_key} "
                                   f"is enrolled in {lms} again")
            return
        earlier = self.store.drift.get(ENROLLMENT_REMOVED, subject)
        where = f"course {course_id} of open goal {goal.goal_key} was removed in {lms}"
        if reenroll and (earlier is None or earlier.repairs == 0):
            message = (f"{where}: enrolled again (once; removed again, it is left removed "
                       "and flagged)")
            if self.dry_run:
                self.note(ENROLLMENT_REMOVED, employee_id, subject, "would repair", message,
                          goal.goal_key, course_id)
                return
            try:
                platform.enroll(LearnerRef(lms_user_id=user, email=who.email), course_id)
            except VendorError as exc:  # the course itself gone, say: a person decides
                self.flag(ENROLLMENT_REMOVED, subject, employee_id, goal.goal_key, course_id,
                          f"{where}; enrolling again failed ({exc}): enroll them by hand or "
                          "withdraw the assignment (`connector withdraw`)")
                return
            with self.store.transaction() as tx:
                self.store.drift.flag(ENROLLMENT_REMOVED, subject, message,
                                      employee_id=employee_id, goal_key=goal.goal_key,
                                      course_id=course_id, state=REPAIRED, repairs=1, tx=tx)
                self.store.audit(tx, employee_id, "drift.repaired", message,
                                 {"drift": ENROLLMENT_REMOVED, "by": self.by}, subject)
            self.note(ENROLLMENT_REMOVED, employee_id, subject, "repaired", message,
                      goal.goal_key, course_id)
            return
        why = ("removed again after the connector re-enrolled it once"
               if earlier is not None and earlier.repairs else "re-enrolling is switched off "
               "(CONNECTOR_RECONCILE_REENROLL)")
        self.flag(ENROLLMENT_REMOVED, subject, employee_id, goal.goal_key, course_id,
                  f"{where}, {why}: left as it is; enroll them by hand or withdraw the "
                  "assignment (`connector withdraw`)")

    def goal_deleted(self, goal: Goal) -> None:
        self.flag(GOAL_DELETED, goal.goal_key, goal.employee_id, goal.goal_key, None,
                  deleted_goal_message(self.ctx, goal))

    def flag(self, kind: str, subject: str, employee_id: str, goal_key: str | None,
             course_id: str | None, message: str) -> None:
        if self.dry_run:
            earlier = self.store.drift.get(kind, subject)
            seen = earlier is not None and earlier.state == OPEN
            self.note(kind, employee_id, subject, "already flagged" if seen else "would flag",
                      message, goal_key, course_id)
            return
        with self.store.transaction() as tx:
            new = self.store.drift.flag(kind, subject, message, employee_id=employee_id,
                                        goal_key=goal_key, course_id=course_id, tx=tx)
            if new:
                self.store.audit(tx, employee_id, "drift.flagged", message,
                                 {"drift": kind, "by": self.by}, subject)
        self.note(kind, employee_id, subject, "flagged" if new else "already flagged",
                  message, goal_key, course_id)

    def note(self, kind: str, employee_id: str, subject: str, outcome: str, message: str,
             goal_key: str | None, course_id: str | None) -> None:
        self.findings.append(Finding(kind=kind, employee_id=employee_id, subject=subject,
                                     outcome=outcome, message=message, goal_key=goal_key,
                                     course_id=course_id))

    def resolved_note(self, employee_id: str, message: str) -> None:
        self.store.audit(None, employee_id, "drift.resolved", message, {"by": self.by})
        self.resolved.append(message)


def seconds_until_due(ctx: Context, every: float) -> float:
    """How long until the next scheduled run: `every` after the last one recorded. A
    database that never reconciled waits `FIRST_RUN_AFTER` (or `every`, if shorter), so a
    start-up's first cycle runs first and a short-lived `serve` (the demo) reads nothing."""
    last = ctx.store.cursor(LAST_RUN)
    first = min(every, FIRST_RUN_AFTER)
    if last is None:
        return first
    try:
        elapsed = (ctx.now() - datetime.fromisoformat(last)).total_seconds()
    except ValueError:
        return first
    return max(0.0, every - elapsed)


# --- what completions ask (connector/completions.py) ----------------------------------------


def goal_is_deleted(store: Store, goal_key: str) -> bool:
    """The goal was found deleted in the tracker (and is not back): post nothing on it."""
    found = store.drift.get(GOAL_DELETED, goal_key)
    return found is not None and found.state == OPEN


def settle_deleted_goal(ctx: Context, goal: Goal, error: NotFoundError,
                        action_key: str) -> bool:
    """A not-found answer from the goal tracker while posting on `goal`. When the tracker
    confirms the goal is gone (or cannot be asked), flag it once and cancel the effect, so
    the job ends instead of retrying into a dead letter; False when it is something else."""
    tracker = ctx.goals
    if tracker is None or error.vendor != tracker.name or not goal.goal_id:
        return False
    if isinstance(tracker, ReadsGoals):
        presence = tracker.goal_presence([(owner_id(ctx, goal), goal_ref(goal))])
        if presence.get(goal.goal_id) is not GoalPresence.DELETED:
            return False
    message = deleted_goal_message(ctx, goal)
    store = ctx.store
    with store.transaction() as tx:
        if store.drift.flag(GOAL_DELETED, goal.goal_key, message,
                            employee_id=goal.employee_id, goal_key=goal.goal_key, tx=tx):
            store.audit(tx, goal.employee_id, "drift.flagged", message,
                        {"drift": GOAL_DELETED, "by": "connector"}, goal.goal_key)
        store.set_action_state(action_key, ActionState.CANCELLED, tx=tx)
    return True


def skip_deleted_goal(ctx: Context, goal: Goal, course_id: str, ref: str,
                      tx: Transaction | None = None) -> str:
    """Say, once per completion, that it was not posted because its goal is gone."""
    ctx.store.audit(tx, goal.employee_id, "completion.goal_deleted",
                    f"completion of course {course_id} not posted: goal {goal.goal_key} was "
                    f"deleted in {_tracker_name(ctx)} (see `connector status`)", ref=ref)
    return "goal-deleted"


def deleted_goal_message(ctx: Context, goal: Goal) -> str:
    return (f"goal {goal.title!r} ({goal.goal_key}) was deleted in {_tracker_name(ctx)}: the "
            "connector does not re-create it, and completions of its courses are recorded "
            "but not posted; a later review opens a new goal")


def owner_id(ctx: Context, goal: Goal) -> str:
    """The goal owner's id in the tracker, as already known (no matching), else ''."""
    tracker = ctx.goals
    if tracker is None:
        return ""
    return ctx.id_spaces.known_id(ctx.store, goal.employee_id, tracker.name) or ""


def goal_ref(goal: Goal) -> GoalRef:
    return GoalRef(tracker=goal.tracker or "none", goal_id=goal.goal_id or goal.goal_key,
                   milestone_ids=goal.milestone_ids)


def _tracker_name(ctx: Context) -> str:
    return title(ctx.goals.name) if ctx.goals is not None else "the goal tracker"
