"""The planner: turns one review's skill gaps into the side effects that should follow.

Pure: a function of (review, mapping, what the ledger already holds, today). It never calls a
vendor; a dry run is its plan printed. Re-planning is safe by construction: an action whose
idempotency key the ledger has already done is skipped, so a re-delivered review plans nothing
and a re-opened review with changed ratings plans only the difference.

Order inside one review's plan (the executor relies on it): ENSURE_LEARNER first (once per
employee per run, only when something is enrolled), then per gap, highest rule priority first,
OPEN_GOAL followed by its ENROLL actions, so a goal exists before a completion can arrive for it.
"""

from __future__ import annotations

import collections.abc as cabc
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from connector.models import (
    ActionKind,
    Cause,
    GoalKey,
    Plan,
    PlanAction,
    Review,
    SkillGap,
    Skipped,
    Unmapped,
)
from mappings.gaps import gaps_for_planning
from mappings.schema import Mapping, Rule, remember
from mappings.trusted import trusted_maker

SHARE_FLOOR = 20  # employees: below this, an assignment share is not judged

ALREADY_DONE = "already done"
ALREADY_ASSIGNED = "already assigned"
ALREADY_PLANNED = "already planned in this run"
LIMIT_PER_REVIEW = "limit max_courses_per_review"
PROTECTED = "protected"

_ENSURE_LEARNER = ActionKind.ENSURE_LEARNER
_ENROLL = ActionKind.ENROLL
_OPEN_GOAL = ActionKind.OPEN_GOAL


@dataclass(frozen=True)
class LedgerView:
    """What the ledger already holds, as far as planning needs to know.

    `done_keys`: idempotency keys of actions already executed (or queued) for good.
    `open_courses`: employee id → course ids assigned to that employee for a goal still open.
    """

    done_keys: frozenset[str] = frozenset()
    open_courses: cabc.Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> LedgerView:
        return cls()

    def with_plan(self, plan: Plan) -> LedgerView:
        """The view once every action of `plan` has been executed (for dry runs and tests)."""
        open_courses = {k: set(v) for k, v in self.open_courses.items()}
        for action in plan.actions:
            if action.kind is ActionKind.ENROLL and action.course_id is not None:
                open_courses.setdefault(action.employee.employee_id, set()).add(action.course_id)
        return LedgerView(
            done_keys=self.done_keys | {a.key for a in plan.actions},
            open_courses={k: frozenset(v) for k, v in open_courses.items()},
        )


class Planner:
    """Plans reviews one at a time, remembering what this run has planned so far.

    Holding per-run state lets a stream of reviews be planned without building one big plan:
    a course planned for an employee by an earlier review in the run is not planned again.
    """

    def __init__(
        self, mapping: Mapping, ledger: LedgerView | None = None, *, today: date | None = None
    ) -> None:
        self.mapping = mapping
        self._index = mapping.index
        self._max_per_review = mapping.limits.max_courses_per_review
        self.ledger = ledger if ledger is not None else LedgerView.empty()
        self.today = today
        self._courses_planned: dict[str, set[str]] = {}  # employee id → course ids this run
        self._learners_planned: set[str] = set()
        self._goals_planned: set[str] = set()
        self._enrolls_planned: set[str] = set()
        self._titles: dict[tuple[object, ...], str] = {}
        # rules[N] → whether its goal title names the employee (worth a display name).
        self._names_employee = ["{employee}" in rule.goal_title for rule in mapping.rules]
        self.enrollments_planned = 0

    @property
    def employees_enrolled(self) -> int:
        """How many employees this run has planned at least one new course for."""
        return sum(1 for courses in self._courses_planned.values() if courses)

    def plan_review(self, review: Review) -> Plan:
        gaps, ranked, unmapped = gaps_for_planning(review, self._index)
        employee = review.employee
        eid = employee.employee_id
        rid = review.review_id
        if eid in self._index.protected:
            guarded = [_skip(eid, rid, gap.skill_id, None, PROTECTED) for gap in gaps]
            return _plan((), tuple(gaps), tuple(unmapped), tuple(guarded))
        if not ranked:
            return _plan((), (), tuple(unmapped), ())
        if len(ranked) > 1:
            ranked.sort()

        cycle = review.cycle
        done = self.ledger.done_keys
        enrolls_planned = self._enrolls_planned
        # Every goal's enrollment keys, worked out once: courses this review's goals already
        # got (earlier runs, or earlier in this run when the review is delivered twice) use up
        # its budget before anything new is planned.
        budget = self._max_per_review
        keys_of: list[list[str]] = []
        for entry in ranked:
            goal_text = f"{eid}/{entry[2]}/{cycle}"  # str(GoalKey)
            keys = [f"enroll:{eid}:{course}:{goal_text}" for course in entry[4].courses]
            for key in keys:
                if key in done or key in enrolls_planned:
                    budget -= 1
            keys_of.append(keys)

        base_day = review.completed_at.date()
        if self.today is not None and self.today > base_day:
            base_day = self.today
        actions: list[PlanAction] = []
        skipped: list[Skipped] = []
        learner_causes: list[Cause] = []
        planned = self._courses_planned.setdefault(eid, set())
        already_open = self.ledger.open_courses.get(eid, frozenset())
        for (_priority, _gap, skill_id, rule_index, rule, gap), keys in zip(
            ranked, keys_of, strict=True
        ):
            linked: list[str] = []
            new_courses: list[str] = []
            own = 0  # courses enrolled for this very goal: now, earlier, or earlier this run
            for course, key in zip(rule.courses, keys, strict=True):
                if key in done:
                    own += 1
                    linked.append(course)
                    skipped.append(_skip(eid, rid, skill_id, course, ALREADY_DONE))
                elif key in enrolls_planned:
                    own += 1
                    linked.append(course)
                    skipped.append(_skip(eid, rid, skill_id, course, ALREADY_PLANNED))
                elif course in already_open or course in planned:
                    linked.append(course)
                    skipped.append(_skip(eid, rid, skill_id, course, ALREADY_ASSIGNED))
                elif budget <= 0:
                    skipped.append(_skip(eid, rid, skill_id, course, LIMIT_PER_REVIEW))
                else:
                    budget -= 1
                    own += 1
                    linked.append(course)
                    new_courses.append(course)
                    planned.add(course)
                    enrolls_planned.add(key)
            if not own:
                # A goal only opens with at least one course of its own; courses that already
                # serve another open goal alone do not open a second goal for them. (This also
                # keeps re-planning stable: a goal never appears just because another review
                # assigned its courses in between.)
                reason = ALREADY_ASSIGNED if linked else LIMIT_PER_REVIEW
                skipped.append(_skip(eid, rid, skill_id, None, reason))
                continue
            goal_key = f"goal:{eid}/{skill_id}/{cycle}"  # PlanAction.key of the OPEN_GOAL
            opens = False
            if goal_key in done:
                skipped.append(_skip(eid, rid, skill_id, None, ALREADY_DONE))
            elif goal_key in self._goals_planned:
                skipped.append(_skip(eid, rid, skill_id, None, ALREADY_PLANNED))
            else:
                self._goals_planned.add(goal_key)
                opens = True
            if not opens and not new_courses:
                continue
            goal = _goal_key({"employee_id": eid, "skill_id": skill_id, "cycle": cycle})
            due = base_day + self._index.due_after[rule_index]
            causes = (gap.cause,)
            priority = rule.priority
            if opens:
                actions.append(_plan_action({
                    "kind": _OPEN_GOAL, "employee": employee, "course_id": None,
                    "course_ids": tuple(linked), "goal": goal,
                    "goal_title": self._title(rule_index, rule, gap, review), "due_date": due,
                    "priority": priority, "causes": causes,
                }))
            for course in new_courses:
                actions.append(_plan_action({
                    "kind": _ENROLL, "employee": employee, "course_id": course,
                    "course_ids": (), "goal": goal, "goal_title": None, "due_date": due,
                    "priority": priority, "causes": causes,
                }))
                learner_causes.append(gap.cause)

        if learner_causes:
            self.enrollments_planned += len(learner_causes)
            if f"learner:{eid}" in done:  # PlanAction.key of the ENSURE_LEARNER
                skipped.append(_skip(eid, rid, "", None, ALREADY_DONE))
            elif eid not in self._learners_planned:
                self._learners_planned.add(eid)
                actions.insert(0, _plan_action({
                    "kind": _ENSURE_LEARNER, "employee": employee, "course_id": None,
                    "course_ids": (), "goal": None, "goal_title": None, "due_date": None,
                    "priority": 0, "causes": tuple(learner_causes),
                }))
        return _plan(tuple(actions), tuple(gaps), tuple(unmapped), tuple(skipped))

    def bulk_limit_problems(self, headcount: int | None = None, *,
                            max_assignments: int | None = None,
                            max_share: float | None = None) -> list[str]:
        """Run-wide limits this run's plans break; a person must confirm if any.

        Limits: the mapping's `[limits]`, and the operator's (`max_assignments`, `max_share`:
        CONNECTOR_MAX_ASSIGNMENTS_PER_RUN / CONNECTOR_MAX_ASSIGNMENT_SHARE). `headcount` is how
        many employees the HR system holds; without it the share cannot be judged. A share is
        only judged from SHARE_FLOOR employees up, so a small team's first cycle (or a
        2-person import) is not stopped.
        """
        limits = self.mapping.limits
        problems = []
        for limit, name in ((limits.max_assignments_per_run, "limits.max_assignments_per_run"),
                            (max_assignments, "CONNECTOR_MAX_ASSIGNMENTS_PER_RUN")):
            if limit is not None and self.enrollments_planned > limit:
                problems.append(f"{self.enrollments_planned} new course assignments exceed "
                                f"{name} = {limit}")
        if not headcount or headcount < SHARE_FLOOR:
            return problems
        share = self.employees_enrolled / headcount
        for cap, name in ((limits.max_assignment_share, "limits.max_assignment_share"),
                          (max_share, "CONNECTOR_MAX_ASSIGNMENT_SHARE")):
            if cap is not None and share > cap:
                problems.append(f"{self.employees_enrolled} of {headcount} employees "
                                f"({share:.0%}) would get new courses, over {name} = {cap:g}")
        return problems

    def _title(self, rule_index: int, rule: Rule, gap: SkillGap, review: Review) -> str:
        """The goal's title; remembered, since a run repeats the same few (rule, levels)."""
        rating, target, size = gap.rating, gap.target, gap.gap
        name = review.employee.display_name if self._names_employee[rule_index] else None
        # 0.0 and -0.0 are one key but print differently: leave zeros out of the memo.
        key = None if rating == 0 or target == 0 else (
            rule_index, rating, target, size, review.cycle, name
        )
        title = self._titles.get(key) if key is not None else None
        if title is None:
            title = rule.goal_title.format(
                skill=self._index.skills[gap.skill_id].display_name,
                rating=show_level(rating),
                target=show_level(target),
                gap=show_level(size),
                employee=name,
                cycle=review.cycle,
            )
            if key is not None:
                remember(self._titles, key, title)
        return title


def enroll_key(employee_id: str, course_id: str, goal: str) -> str:
    """`PlanAction.key` of an ENROLL, without building the action (hot path)."""
    return f"enroll:{employee_id}:{course_id}:{goal}"


def show_level(value: float) -> str:
    """A level for people: 2, 2.5, 2.33 (never 2.3333333)."""
    return f"{round(value, 2):g}"


def plan_reviews(
    reviews: Iterable[Review],
    mapping: Mapping,
    ledger: LedgerView | None = None,
    *,
    today: date | None = None,
) -> Plan:
    """One plan for many reviews, planned in the order given."""
    planner = Planner(mapping, ledger, today=today)
    actions: list[PlanAction] = []
    gaps: list[SkillGap] = []
    unmapped: list[Unmapped] = []
    skipped: list[Skipped] = []
    for review in reviews:
        plan = planner.plan_review(review)
        actions.extend(plan.actions)
        gaps.extend(plan.gaps)
        unmapped.extend(plan.unmapped)
        skipped.extend(plan.skipped)
    return _plan(tuple(actions), tuple(gaps), tuple(unmapped), tuple(skipped))


# Inputs here are already-validated models, so the hot path builds results without
# re-validating them (pydantic validation would triple the planning time).
_goal_key = trusted_maker(GoalKey)
_plan_action = trusted_maker(PlanAction)
_skipped = trusted_maker(Skipped)
_plan_of = trusted_maker(Plan)


def _skip(
    employee_id: str, review_id: str, skill_id: str, course_id: str | None, reason: str
) -> Skipped:
    return _skipped({
        "employee_id": employee_id, "review_id": review_id, "skill_id": skill_id,
        "course_id": course_id, "reason": reason,
    })


def _plan(
    actions: tuple[PlanAction, ...],
    gaps: tuple[SkillGap, ...],
    unmapped: tuple[Unmapped, ...],
    skipped: tuple[Skipped, ...],
) -> Plan:
    return _plan_of({
        "actions": actions, "gaps": gaps, "unmapped": unmapped, "skipped": skipped,
    })
