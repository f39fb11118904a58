"""The executor: makes each planned effect happen exactly once, through the ports.

Every external effect follows one pattern (`Executor.effect`): the intent is recorded in the
ledger before the vendor call, the outcome after it, with an audit row. When a retry finds an
intent without an outcome (a crash between the call and the record), it first asks the vendor
whether the effect already happened (`find_goal`, `evidence_exists`; enrolling is idempotent
by design) instead of doing it again.

Inside the adoption window (a new or restored database, see `Store.adoption_reason`), it asks
the vendor first every time, not only after a crash: what an earlier database made there is
adopted into the ledger instead of being made twice. Outside it there are no extra reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from connector.errors import EffectPending, FatalAPIError
from connector.id_spaces import IdSpaces
from connector.models import (
    ActionKind,
    Employee,
    GoalKey,
    LearnerRef,
    Outcome,
    PlanAction,
    utcnow,
)
from connector.ports import (
    EmployeeDirectory,
    EnrollsUntil,
    GoalTracker,
    LearningPlatform,
    ResetsProgress,
)
from connector.settings import Settings
from connector.store import ActionState, MatchState, Store, Transaction
from connector.text_safety import neutralise_formula
from connector.vendors.registry import title
from mappings.schema import Mapping

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass
class Context:
    """What the handlers need: the store, the admin's mapping and the vendor ports."""

    store: Store
    mapping: Mapping
    lms: LearningPlatform | None = None
    goals: GoalTracker | None = None
    create_learners: bool = False
    close_goals: bool = True
    count_unassigned_completions: bool = True
    now: Callable[[], datetime] = utcnow
    course_names: dict[str, str] = field(default_factory=dict)
    #: The adoption window is open: ask the vendor before every goal and evidence.
    adopting: bool = False
    # How each system's id for a person is found (the runtime passes the configured one).
    id_spaces: IdSpaces = field(default_factory=IdSpaces)
    #: A worker's `EnrollmentBatcher` (enroll_batches.py) when the LMS enrolls in batches.
    enrollments: Any = None
    # The directory and settings of the run, for jobs that re-read a person (employee hints).
    directory: EmployeeDirectory | None = None
    settings: Settings | None = None

    @property
    def lms_name(self) -> str:
        """The LMS as people call it (its registry title)."""
        return title(self.lms.name) if self.lms is not None else "the LMS"

    def course_title(self, course_id: str) -> str:
        """The LMS title of a course (catalogue read once per process), else its id."""
        if not self.course_names and self.lms is not None:
            try:
                self.course_names.update(
                    {c.course_id: c.name or c.course_id for c in self.lms.list_courses()})
            except Exception:  # noqa: BLE001 - a title is cosmetic; the id will do
                log.warning("course catalogue unavailable; using course ids as titles")
                self.course_names["__unavailable__"] = ""
            else:
                self._keep_titles()
        return self.course_names.get(course_id) or f"Course {course_id}"

    def _keep_titles(self) -> None:
        """What the catalogue read said, for the console and the reports (catalogue.py)."""
        try:
            self.store.course_titles.remember(
                {cid: name for cid, name in self.course_names.items() if name != cid})
        except Exception:  # noqa: BLE001 - cosmetic too: pages fall back to the ids
            log.warning("could not keep the course titles; pages will show course ids")


_ORDER = {ActionKind.ENSURE_LEARNER: 0, ActionKind.OPEN_GOAL: 1, ActionKind.ENROLL: 2}


class Executor:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store

    # -- the one pattern for every side effect -------------------------------------------
    def effect(self, key: str, kind: str, employee_id: str, *, call: Callable[[], Any],
               record: Callable[[Transaction, Any], None] | None = None,
               already: Callable[[], Any] | None = None, message: str, cause: Any = None,
               course_id: str | None = None, goal_key: str | None = None) -> bool:
        """Make one effect happen once. Returns False when it had already been done."""
        previous = self.store.begin_effect(key, kind, employee_id, course_id=course_id,
                                           goal_key=goal_key)
        if previous in (ActionState.DONE, ActionState.CANCELLED):
            return False
        result = None
        adopting = self.ctx.adopting and previous is not ActionState.INTENT
        if adopting and goal_key and kind.startswith("goal.") and kind != "goal.open" \
                and self.store.opened_in_window(goal_key, employee_id):
            adopting = False  # a goal this database opened itself: nothing to adopt on it
        if already is not None and (previous is ActionState.INTENT or adopting):
            result = already()
            if result and adopting:
                self.store.audit(None, employee_id, f"{kind}.adopted",
                                 f"{message} (found already done in the vendor; adopted by "
                                 "a database that did not know it)", cause, key)
            elif result:
                self.store.audit(None, employee_id, f"{kind}.recovered",
                                 f"{message} (found already done after an interrupted attempt)",
                                 cause, key)
        if not result:
            result = call()
        self.record_effect(key, kind, employee_id, result, record=record, message=message,
                           cause=cause)
        return True

    def record_effect(self, key: str, kind: str, employee_id: str, result: Any, *,
                      record: Callable[[Transaction, Any], None] | None, message: str,
                      cause: Any = None, only_from_intent: bool = False) -> bool:
        """The outcome of an effect, in one transaction. `only_from_intent`: unless it was
        recorded already (an enrollment sent twice by a batch); False then."""
        with self.store.transaction() as tx:
            if only_from_intent and not self.store.set_action_state(
                    key, ActionState.DONE, _jsonable(result), tx,
                    only_from=(ActionState.INTENT,)):
                return False
            if record is not None:
                record(tx, result)
            if not only_from_intent:
                self.store.set_action_state(key, ActionState.DONE, _jsonable(result), tx)
            self.store.audit(tx, employee_id, kind, message, cause, key)
        return True

    # -- plan actions --------------------------------------------------------------------
    def run_employee(self, employee_id: str) -> dict[str, int]:
        """Carry out every planned (or interrupted) action of one employee, in order."""
        todo = self.store.actions_for(
            employee_id, (ActionState.PLANNED, ActionState.INTENT, ActionState.WAITING))
        todo.sort(key=lambda a: (_ORDER[a.kind], a.key))
        counts = {"done": 0, "waiting": 0}
        learner: LearnerRef | None = None
        for action in todo:
            if action.kind is ActionKind.ENSURE_LEARNER:
                learner = self.ensure_learner(action)
                counts["done" if learner else "waiting"] += 1
            elif action.kind is ActionKind.OPEN_GOAL:
                counts["done" if self.open_goal(action) else "waiting"] += 1
            else:
                learner = learner or self.linked_learner(employee_id)
                if learner is None:
                    self.store.set_action_state(action.key, ActionState.WAITING,
                                                only_from=(ActionState.PLANNED,))
                    counts["waiting"] += 1
                    continue
                self.enroll(action, learner)
                counts["done"] += 1
        return counts

    def linked_learner(self, employee_id: str) -> LearnerRef | None:
        row = self.store.identity(employee_id)
        if row and row.match_state is MatchState.LINKED and row.lms_user_id:
            return LearnerRef(lms_user_id=row.lms_user_id, email=row.email)
        return None

    def ensure_learner(self, action: PlanAction) -> LearnerRef | None:
        """Link the employee to an LMS user: a known link, a match, or (if allowed) a new user.

        A miss or an ambiguous match goes to the identity review queue; the employee's
        enrollments wait for a person (`connector identities link`), they are not dropped.
        """
        employee = action.employee
        eid = employee.employee_id
        known = self.linked_learner(eid)
        if known is not None:
            self.store.set_action_state(action.key, ActionState.DONE,
                                        {"lms_user_id": known.lms_user_id})
            return known
        lms = self.ctx.lms
        if lms is None:
            raise EffectPending("no LMS is configured")
        found = lms.find_learner(employee)
        how = "matched"
        if found is None and self.ctx.create_learners:
            found = self.create_learner_once(employee, action.key)
            how = "created"
        if found is None:
            note = f"no {self.ctx.lms_name} user matches {employee.email or eid}"
            with self.store.transaction() as tx:
                self.store.set_identity(eid, state=MatchState.PENDING, note=note, tx=tx)
                self.store.set_action_state(action.key, ActionState.WAITING, tx=tx)
                self.store.audit(tx, eid, "identity.pending",
                                 f"{note}; assignments wait for `connector identities link`",
                                 ref=action.key)
            return None
        with self.store.transaction() as tx:
            self.store.set_identity(eid, state=MatchState.LINKED, lms_user_id=found.lms_user_id,
                                    note=how, tx=tx)
            self.store.set_action_state(action.key, ActionState.DONE,
                                        {"lms_user_id": found.lms_user_id}, tx=tx)
            self.store.audit(tx, eid, "identity.linked",
                             f"{how} {self.ctx.lms_name} user {found.lms_user_id}",
                             ref=action.key)
        return found

    def create_learner_once(self, employee: Employee, key: str) -> LearnerRef:
        lms = _require(self.ctx.lms, "an LMS")
        created: list[LearnerRef] = []

        def call() -> dict[str, str]:
            ref = lms.find_learner(employee) or lms.create_learner(employee)
            created.append(ref)
            return {"lms_user_id": ref.lms_user_id}

        self.effect(f"create-learner:{employee.employee_id}", "learner.create",
                    employee.employee_id, call=call,
                    message=f"created {self.ctx.lms_name} user for {employee.email}")
        return created[0] if created else lms.find_learner(employee) or lms.create_learner(
            employee)

    def tracker_employee(self, action: PlanAction) -> Employee | None:
        """The action's employee as the goal tracker knows them (its own id for them), or
        None when that id is unknown: then the goal waits and the person is listed by
        `connector identities pending` with the reason, never opened on a guessed record."""
        tracker = self.ctx.goals
        employee = action.employee
        if tracker is None:
            return employee
        source = action.causes[0].source if action.causes else None
        found = self.ctx.id_spaces.resolve(self.store, employee, tracker.name, source=source)
        if found.external_id is not None:
            return found.employee(employee)
        eid = employee.employee_id
        with self.store.transaction() as tx:
            new = self.store.wait_for_id(eid, tracker.name, found.reason or "no id", tx)
            self.store.set_action_state(action.key, ActionState.WAITING,
                                        only_from=(ActionState.PLANNED,), tx=tx)
            if new:
                self.store.audit(tx, eid, "identity.pending",
                                 f"{found.reason}; the goal waits", ref=action.key)
        return None

    def open_goal(self, action: PlanAction) -> bool:
        """Open the goal once; False when it waits for the person's id in the tracker."""
        goal = _require(action.goal, "a goal key")
        due_date = _require(action.due_date, "a due date")
        tracker = self.ctx.goals
        tracked = self.tracker_employee(action)
        if tracked is None:
            return False
        employee = action.employee
        # Names and titles from people and the LMS start vendor fields here: a spreadsheet
        # export of the tracker must not run one as a formula (connector/text_safety.py).
        title = neutralise_formula(action.goal_title or f"Develop {goal.skill_id}")
        courses = [(c, neutralise_formula(self.ctx.course_title(c))) for c in action.course_ids]
        cause = [c.model_dump(mode="json") for c in action.causes]
        gap_found_at = self._gap_found_at(action)
        first = action.causes[0] if action.causes else None

        def record(tx: Transaction, ref: Any) -> None:
            self.store.save_goal(
                tx, goal_key=str(goal), employee_id=employee.employee_id,
                skill_id=goal.skill_id, cycle=goal.cycle, title=title,
                course_ids=list(action.course_ids),
                tracker=tracker.name if tracker else None,
                goal_id=ref.get("goal_id") if ref else None,
                milestone_ids=ref.get("milestone_ids", {}) if ref else {},
                gap_found_at=gap_found_at, due_date=action.due_date.isoformat()
                if action.due_date else None,
                rule_index=first.rule_index if first else None,
                rule_id=first.rule_id if first else None,
                rule_version=first.rule_version if first else None,
                mapping_version=first.mapping_version if first else None)

        def call() -> dict[str, Any] | None:
            if tracker is None:
                return None
            ref = tracker.open_goal(tracked, goal, title, due_date, courses)
            return ref.model_dump()

        def already() -> dict[str, Any] | None:
            if tracker is None:
                return None
            ref = tracker.find_goal(tracked, goal, title)
            return ref.model_dump() if ref else None

        self.effect(action.key, "goal.open", employee.employee_id, call=call, record=record,
                    already=already, goal_key=str(goal), cause=cause,
                    message=f"opened development goal {title!r} "
                            f"({len(courses)} course(s), due {action.due_date})")
        return True

    def enroll(self, action: PlanAction, learner: LearnerRef) -> None:
        course_id = _require(action.course_id, "a course id")
        lms = _require(self.ctx.lms, "an LMS")
        eid = action.employee.employee_id
        cause = [c.model_dump(mode="json") for c in action.causes]

        def record(tx: Transaction, _: Any) -> None:
            self.store.save_assignment(
                tx, employee_id=eid, course_id=course_id, goal_key=str(action.goal),
                review_id=action.causes[0].review_id if action.causes else "",
                due_date=action.due_date.isoformat() if action.due_date else None)
            # A re-opened review may have added a course to a goal opened earlier.
            self.store.add_goal_course(str(action.goal), course_id, tx)

        reset = self._needs_reset(action, eid, course_id)

        def call() -> dict[str, str]:
            if reset:
                if not isinstance(lms, ResetsProgress):  # start-up refuses such a mapping
                    raise FatalAPIError("this LMS cannot reset course progress, which the "
                                        "rule needs; see `connector check`",
                                        vendor=self.ctx.lms_name, operation="course reset")
                lms.reset_progress(learner, course_id)  # the course is taken again
                return {"lms_user_id": learner.lms_user_id, "course_id": course_id,
                        "reset": "yes"}
            if isinstance(lms, EnrollsUntil) and action.due_date is not None:
                lms.enroll_until(learner, course_id, action.due_date)  # idempotent too
            else:
                lms.enroll(learner, course_id)  # "already enrolled" is success: safe to repeat
            return {"lms_user_id": learner.lms_user_id, "course_id": course_id}

        message = (f"assigned course {course_id} ({self.ctx.course_title(course_id)}) "
                   f"in {self.ctx.lms_name}, due {action.due_date}")
        batch = self.ctx.enrollments
        if batch is not None and not reset and batch.gathering():
            # Sent with other employees' enrollments (enroll_batches.py); the intent first.
            previous = self.store.begin_effect(action.key, "course.assign", eid,
                                               course_id=course_id, goal_key=str(action.goal))
            if previous not in (ActionState.DONE, ActionState.CANCELLED):
                batch.defer(action.key, learner, course_id, lambda result: self.record_effect(
                    action.key, "course.assign", eid, result, record=record, message=message,
                    cause=cause, only_from_intent=True))
            return
        self.effect(action.key, "course.assign", eid, call=call, record=record,
                    course_id=course_id, goal_key=str(action.goal), cause=cause,
                    message=message)

    def _needs_reset(self, action: PlanAction, employee_id: str, course_id: str) -> bool:
        """An old pass of this course and either a rule with prior_completion = "reset" or a
        recertification cycle: start over. (A recertification assigns the course again; in an
        LMS that still shows it completed there would be nothing left for the learner to do.)"""
        if not action.causes:
            return False
        cause = action.causes[0]
        rule = self.ctx.mapping.rule_by_id(cause.rule_id, cause.rule_index)
        recertifying = cause.source == "recertification"
        if rule is None or (rule.prior_completion != "reset" and not recertifying):
            return False
        found = self._gap_found_at(action)
        return any(row.outcome is Outcome.PASSED and row.completed_at < found
                   for row in self.store.completions_for(employee_id, course_id))

    def _gap_found_at(self, action: PlanAction) -> datetime:
        """When the gap was found: the review's completion time (from the ledger)."""
        recorded = self.store.goal(str(action.goal)) if action.goal else None
        if recorded is not None:  # recorded ahead (a recertification cycle)
            return recorded.gap_found_at
        if action.causes:
            c = action.causes[0]
            found = self.store.review_completed_at(c.source, c.review_id)
            if found is not None:
                return found
        return self.ctx.now()


def end_adoption(ctx: Context) -> bool:
    """Close the adoption window after one full cycle (every stream polled, the queue
    drained): from now on the ledger knows what is in the vendors. True when it was open."""
    if not ctx.adopting:
        return False
    ctx.adopting = False
    with ctx.store.transaction() as tx:
        reason = ctx.store.adoption_reason(tx)
        if not ctx.store.close_adoption(tx):
            return False
        ctx.store.audit(tx, None, "adoption.closed",
                        f"adoption window closed after one full cycle (it opened for "
                        f"{reason}): goals and evidence are no longer looked up first")
    return True


def goal_key_of(text: str) -> GoalKey:
    employee_id, skill_id, cycle = text.split("/", 2)
    return GoalKey(employee_id=employee_id, skill_id=skill_id, cycle=cycle)


def _require(value: _T | None, what: str) -> _T:
    """Narrow an optional the planner always fills; a miss is a bug, reported plainly."""
    if value is None:
        raise EffectPending(f"action is missing {what}")
    return value


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    return str(value)
