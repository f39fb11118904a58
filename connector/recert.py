"""Recertification: when a rule says `recertify_every_days`, a completed skill goal comes due
again; a new cycle opens (a new goal, the courses assigned again) and the old goal, its
evidence and completions stay in the ledger as history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connector.executor import Context
from connector.models import ActionKind, Cause, Employee, GoalKey, PlanAction
from connector.store import ActionState, Goal, GoalState
from mappings.schema import Rule


def recert_cycle(due: datetime) -> str:
    return f"recert-{due.date().isoformat()}"


def check_recertifications(ctx: Context, now: datetime | None = None) -> int:
    """Open the recertification cycles that have come due; returns how many were opened."""
    store = ctx.store
    now = now or ctx.now()
    opened = 0
    for identity in store.all_identities():
        eid = identity.employee_id
        if not identity.active or ctx.mapping.is_protected(eid):
            continue
        goals = store.goals_for(eid)
        newest: dict[str, Goal] = {}
        for goal in goals:  # only the latest cycle of each skill can come due
            if goal.skill_id not in newest or goal.gap_found_at > \
                    newest[goal.skill_id].gap_found_at:
                newest[goal.skill_id] = goal
        for goal in newest.values():
            if goal.state is not GoalState.CLOSED:
                continue
            rule = ctx.mapping.rule_by_id(goal.rule_id, goal.rule_index)
            if rule is None or not rule.recertify_every_days:
                continue
            done = [e.completed_at for e in store.evidence_for(goal.goal_key)]
            if not done:
                continue
            due = max(done) + timedelta(days=rule.recertify_every_days)
            if due > now:
                continue
            opened += open_cycle(ctx, store.employee_of(identity), goal, due, rule)
    return opened


def open_cycle(ctx: Context, employee: Employee, goal: Goal, due: datetime, rule: Rule) -> int:
    """Record the new cycle's goal (pending until opened) and actions, and queue the work.

    The new cycle follows the rule as the mapping says it today, under its stable id."""
    store = ctx.store
    courses, due_in_days = rule.courses, rule.due_in_days
    certified = max(e.completed_at for e in store.evidence_for(goal.goal_key)).date()
    key = GoalKey(employee_id=employee.employee_id, skill_id=goal.skill_id,
                  cycle=recert_cycle(due))
    if store.goal(str(key)) is not None:
        return 0
    cause = Cause(review_id=f"recertification of {goal.goal_key}", source="recertification",
                  cycle=key.cycle, skill_id=goal.skill_id, rating_key=goal.skill_id,
                  rating_raw=f"certified {certified}",
                  rating=0, rater="recertification", target=0, gap=0,
                  rule_index=ctx.mapping.rules.index(rule),
                  rule_id=rule.rule_id, rule_version=rule.version,
                  mapping_version=ctx.mapping.version)
    due_date = (max(due, ctx.now()) + timedelta(days=due_in_days)).date()
    title = f"Recertify {goal.skill_id.replace('_', ' ')} (was: {goal.title})"[:200]
    actions = [PlanAction(kind=ActionKind.OPEN_GOAL, employee=employee, goal=key,
                          course_ids=tuple(courses), goal_title=title, due_date=due_date,
                          causes=(cause,))]
    actions += [PlanAction(kind=ActionKind.ENROLL, employee=employee, course_id=c, goal=key,
                           due_date=due_date, causes=(cause,)) for c in courses]
    with store.transaction() as tx:
        store.save_goal(tx, goal_key=str(key), employee_id=employee.employee_id,
                        skill_id=goal.skill_id, cycle=key.cycle, title=title,
                        course_ids=list(courses), tracker=None, goal_id=None, milestone_ids={},
                        gap_found_at=due, due_date=due_date.isoformat(),
                        rule_index=goal.rule_index, state=GoalState.PENDING,
                        rule_id=rule.rule_id, rule_version=rule.version,
                        mapping_version=ctx.mapping.version)
        for action in actions:
            store.record_action(action, ActionState.PLANNED, tx)
        store.audit(tx, employee.employee_id, "recertification.due",
                    f"{goal.skill_id} certification from goal {goal.goal_key} expired on "
                    f"{due.date()}; a new cycle {key.cycle} opens with "
                    f"{len(courses)} course(s); the old goal stays as history",
                    cause.model_dump(mode="json"), str(key))
        store.jobs.enqueue(tx, "resume", {"employee_id": employee.employee_id},
                           employee_id=employee.employee_id)
    return 1
