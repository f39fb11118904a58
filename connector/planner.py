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
from datetime import date, timedelta

from connector.models import (
    ActionKind,
    Cause,
    Employee,
    GoalKey,
    Plan,
    PlanAction,
    Review,
    SkillGap,
    Skipped,
    Unmapped,
)
from mappings.gaps import find_gaps
from mappings.schema import Mapping, Rule, trusted

ALREADY_DONE = "already done"
ALREADY_ASSIGNED = "already assigned"
ALREADY_PLANNED = "already planned in this run"
LIMIT_PER_REVIEW = "limit max_courses_per_review"
PROTECTED = "protected"


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
        self.enrollments_planned = 0

    @property
    def employees_enrolled(self) -> int:
        """How many employees this run has planned at least one new course for."""
        return sum(1 for courses in self._courses_planned.values() if courses)

    def plan_review(self, review: Review) -> Plan:
        gaps, unmapped = find_gaps(review, self.mapping)
        employee = review.employee
        if employee.employee_id in self._index.protected:
            guarded = [_skip(review, gap.skill_id, None, PROTECTED) for gap in gaps]
            return _plan((), gaps, unmapped, guarded)

        base_day = review.completed_at.date()
        if self.today is not None and self.today > base_day:
            base_day = self.today
        ordered = sorted(
            ((gap, *self._rule(gap)) for gap in gaps),
            key=lambda item: (-item[2].priority, -item[0].gap, item[0].skill_id),
        )
        budget = self._max_per_review - self._done_enrolls(
            employee, ordered, review.cycle
        )
        actions: list[PlanAction] = []
        skipped: list[Skipped] = []
        planned = self._courses_planned.setdefault(employee.employee_id, set())
        already_open = self.ledger.open_courses.get(employee.employee_id, frozenset())
        done = self.ledger.done_keys
        eid = employee.employee_id
        for gap, _rule_index, rule in ordered:
            goal = trusted(GoalKey, employee_id=eid, skill_id=gap.skill_id, cycle=review.cycle)
            goal_text = str(goal)
            due = base_day + timedelta(days=rule.due_in_days)
            causes = (gap.cause,)
            linked: list[str] = []
            enrolls: list[PlanAction] = []
            own = 0  # courses enrolled for this very goal: now, earlier, or earlier this run
            for course in rule.courses:
                key = enroll_key(eid, course, goal_text)
                if key in done:
                    own += 1
                    linked.append(course)
                    skipped.append(_skip(review, gap.skill_id, course, ALREADY_DONE))
                elif key in self._enrolls_planned:
                    own += 1
                    linked.append(course)
                    skipped.append(_skip(review, gap.skill_id, course, ALREADY_PLANNED))
                elif course in already_open or course in planned:
                    linked.append(course)
                    skipped.append(_skip(review, gap.skill_id, course, ALREADY_ASSIGNED))
                elif budget <= 0:
                    skipped.append(_skip(review, gap.skill_id, course, LIMIT_PER_REVIEW))
                else:
                    budget -= 1
                    own += 1
                    linked.append(course)
                    enrolls.append(_action(
                        ActionKind.ENROLL, employee, course_id=course, goal=goal, due_date=due,
                        priority=rule.priority, causes=causes,
                    ))
                    planned.add(course)
                    self._enrolls_planned.add(key)
            if not own:
                # A goal only opens with at least one course of its own; courses that already
                # serve another open goal alone do not open a second goal for them. (This also
                # keeps re-planning stable: a goal never appears just because another review
                # assigned its courses in between.)
                reason = ALREADY_ASSIGNED if linked else LIMIT_PER_REVIEW
                skipped.append(_skip(review, gap.skill_id, None, reason))
                continue
            open_goal = _action(
                ActionKind.OPEN_GOAL, employee, course_ids=tuple(linked), goal=goal,
                goal_title=self._title(rule, gap, review), due_date=due,
                priority=rule.priority, causes=causes,
            )
            if open_goal.key in done:
                skipped.append(_skip(review, gap.skill_id, None, ALREADY_DONE))
            elif open_goal.key in self._goals_planned:
                skipped.append(_skip(review, gap.skill_id, None, ALREADY_PLANNED))
            else:
                self._goals_planned.add(open_goal.key)
                actions.append(open_goal)
            actions.extend(enrolls)

        new_enrolls = [a for a in actions if a.kind is ActionKind.ENROLL]
        self.enrollments_planned += len(new_enrolls)
        if new_enrolls:
            learner = _action(
                ActionKind.ENSURE_LEARNER, employee,
                causes=tuple(c for a in new_enrolls for c in a.causes),
            )
            if learner.key in done:
                skipped.append(_skip(review, "", None, ALREADY_DONE))
            elif employee.employee_id not in self._learners_planned:
                self._learners_planned.add(employee.employee_id)
                actions.insert(0, learner)
        return _plan(actions, gaps, unmapped, skipped)

    def bulk_limit_problems(self, headcount: int | None = None) -> list[str]:
        """Run-wide limits this run's plans break; the executor waits for a person if any.

        `headcount` is how many employees the HR system holds; without it the share limit
        cannot be judged and is not checked.
        """
        limits = self.mapping.limits
        problems = []
        if (
            limits.max_assignments_per_run is not None
            and self.enrollments_planned > limits.max_assignments_per_run
        ):
            problems.append(
                f"{self.enrollments_planned} new course assignments exceed "
                f"limits.max_assignments_per_run = {limits.max_assignments_per_run}"
            )
        if limits.max_assignment_share is not None and headcount:
            share = self.employees_enrolled / headcount
            if share > limits.max_assignment_share:
                problems.append(
                    f"{self.employees_enrolled} of {headcount} employees ({share:.0%}) would get "
                    f"new courses; limits.max_assignment_share = {limits.max_assignment_share:g}"
                )
        return problems

    def _rule(self, gap: SkillGap) -> tuple[int, Rule]:
        found = self._index.rules.get(gap.skill_id)
        if found is None:  # find_gaps only returns gaps that have a rule
            raise AssertionError(f"no rule for gap in {gap.skill_id!r}")
        return found

    def _done_enrolls(
        self, employee: Employee, ordered: list[tuple[SkillGap, int, Rule]], cycle: str
    ) -> int:
        """Courses this review's goals already got (earlier runs, or earlier in this run when
        the review is delivered twice): they use up its budget."""
        done = self.ledger.done_keys
        if not done and not self._enrolls_planned:
            return 0
        count = 0
        for gap, _index, rule in ordered:
            goal = f"{employee.employee_id}/{gap.skill_id}/{cycle}"  # str(GoalKey)
            for course in rule.courses:
                key = enroll_key(employee.employee_id, course, goal)
                count += key in done or key in self._enrolls_planned
        return count

    def _title(self, rule: Rule, gap: SkillGap, review: Review) -> str:
        return rule.goal_title.format(
            skill=self._index.skills[gap.skill_id].display_name,
            rating=show_level(gap.rating),
            target=show_level(gap.target),
            gap=show_level(gap.gap),
            employee=review.employee.display_name,
            cycle=review.cycle,
        )


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
    return _plan(actions, gaps, unmapped, skipped)


# Inputs here are already-validated models, so the hot path builds results without
# re-validating them (pydantic validation would triple the planning time).


def _action(
    kind: ActionKind,
    employee: Employee,
    *,
    course_id: str | None = None,
    course_ids: tuple[str, ...] = (),
    goal: GoalKey | None = None,
    goal_title: str | None = None,
    due_date: date | None = None,
    priority: int = 0,
    causes: tuple[Cause, ...] = (),
) -> PlanAction:
    return trusted(
        PlanAction,
        kind=kind, employee=employee, course_id=course_id, course_ids=course_ids, goal=goal,
        goal_title=goal_title, due_date=due_date, priority=priority, causes=causes,
    )


def _skip(review: Review, skill_id: str, course_id: str | None, reason: str) -> Skipped:
    return trusted(
        Skipped,
        employee_id=review.employee.employee_id, review_id=review.review_id,
        skill_id=skill_id, course_id=course_id, reason=reason,
    )


def _plan(
    actions: Iterable[PlanAction],
    gaps: Iterable[SkillGap],
    unmapped: Iterable[Unmapped],
    skipped: Iterable[Skipped],
) -> Plan:
    return trusted(
        Plan,
        actions=tuple(actions), gaps=tuple(gaps), unmapped=tuple(unmapped), skipped=tuple(skipped)
    )
