"""A plan as a person reads it, and the hash that binds a later decision to it.

A person confirms a stopped batch or approves a review's plan after reading it; what runs
must be what they read. So every plan shown for a decision has one line per effect (who,
which course or goal), a hash over those lines, and, when re-planning now gives other lines,
the difference to show instead of running. Due dates are left out of the lines: they count
from the day of planning, and a plan confirmed the next day is still the plan that was read.

Pure: no store, no vendor. Also here: skips counted once (a goal not opened because all of
its courses were cut is one cut, not two) and levels rounded as goal titles round them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from connector.models import ActionKind, PlanAction, Skipped
from connector.planner import show_level
from mappings.schema import Mapping


def effect_line(action: PlanAction) -> str:
    """One effect in words; the unit of a plan's hash and of the difference between plans."""
    eid = action.employee.employee_id
    if action.kind is ActionKind.ENSURE_LEARNER:
        return f"find or create the LMS learner for {eid}"
    if action.kind is ActionKind.ENROLL:
        return f"assign course {action.course_id} to {eid} (goal {action.goal})"
    courses = ", ".join(action.course_ids)
    return f"open goal {action.goal_title!r} for {eid} (goal {action.goal}; courses {courses})"


def effect_lines(actions: Iterable[PlanAction]) -> list[str]:
    return sorted(effect_line(a) for a in actions)


def lines_hash(lines: Iterable[str]) -> str:
    """The plan hash: equal exactly when the plan's effects are."""
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def plan_hash(actions: Iterable[PlanAction]) -> str:
    return lines_hash(effect_lines(actions))


def difference(shown: Sequence[str], now: Sequence[str]) -> list[str]:
    """What re-planning now changes: `- effect` no longer planned, `+ effect` new."""
    before, after = set(shown), set(now)
    return ([f"- {line}" for line in sorted(before - after)]
            + [f"+ {line}" for line in sorted(after - before)])


def batch_summary(actions: Sequence[PlanAction], reviews: int) -> dict[str, Any]:
    """A stopped batch of reviews as `stops show` prints it: per employee their new
    courses and goals, the totals, and the effect lines the hash was made of."""
    people: dict[str, dict[str, Any]] = {}
    for action in actions:
        employee = action.employee
        person = people.setdefault(employee.employee_id, {
            "employee_id": employee.employee_id, "name": employee.display_name,
            "email": employee.email, "courses": [], "goals": []})
        if action.kind is ActionKind.ENROLL and action.course_id:
            person["courses"].append(action.course_id)
        elif action.kind is ActionKind.OPEN_GOAL:
            person["goals"].append(action.goal_title or str(action.goal))
    employees = [p for p in people.values() if p["courses"] or p["goals"]]
    return {
        "reviews": reviews,
        "employees": employees,
        "assignments": sum(a.kind is ActionKind.ENROLL for a in actions),
        "goals": sum(a.kind is ActionKind.OPEN_GOAL for a in actions),
        "lines": effect_lines(actions),
    }


def leaver_line(employee_id: str, name: str) -> str:
    return f"mark {employee_id} ({name}) as a leaver"


def leavers_summary(known: int, leavers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A stopped directory read: who would be marked as a leaver, of how many known."""
    lines = sorted(leaver_line(eid, name) for eid, name in leavers)
    return {"known": known,
            "leavers": [{"employee_id": eid, "name": name} for eid, name in leavers],
            "lines": lines}


def course_text(course_id: str, title: str | None) -> str:
    """A course in words, the one way pages, reports and commands name it: `Negotiation
    basics (101)`, or `course 101` while no title is known (store/catalogue.py)."""
    return f"{title} ({course_id})" if title else f"course {course_id}"


def approval_plan(actions: Sequence[PlanAction], mapping: Mapping,
                  course_title: Callable[[str], str]) -> dict[str, Any]:
    """A review's plan as an approver reads it: per goal the employee, the skill, rating →
    target, the rule, the courses by title and the goal's title, with the causes."""
    items: list[dict[str, Any]] = []
    by_goal: dict[str, dict[str, Any]] = {}
    name = actions[0].employee.display_name if actions else ""
    for action in actions:
        if action.kind is ActionKind.ENSURE_LEARNER or action.goal is None:
            continue
        cause = action.causes[0] if action.causes else None
        item = by_goal.get(str(action.goal))
        if item is None:
            skill = mapping.index.skills.get(action.goal.skill_id)
            item = {
                "goal": str(action.goal), "goal_title": action.goal_title,
                "skill": skill.display_name if skill else action.goal.skill_id,
                "rating": show_level(cause.rating) if cause else None,
                "target": show_level(cause.target) if cause else None,
                "rule": rule_name(cause) if cause else None,
                "due": action.due_date.isoformat() if action.due_date else None,
                "courses": [], "linked": [],
                "causes": [_cause_text(c) for c in action.causes],
            }
            by_goal[str(action.goal)] = item
            items.append(item)
        if action.kind is ActionKind.ENROLL and action.course_id:
            item["courses"].append({"id": action.course_id,
                                    "title": course_title(action.course_id)})
        elif action.kind is ActionKind.OPEN_GOAL:
            item["goal_title"] = action.goal_title
            item["linked"] = [{"id": c, "title": course_title(c)} for c in action.course_ids]
    return {"employee": name, "items": items, "lines": effect_lines(actions)}


def approval_summary(shown: dict[str, Any]) -> str:
    """One line per plan for a list: `Negotiation 1 → 3: 2 course(s), goal 'Raise …'`."""
    parts = [f"{item['skill']} {item['rating']} → {item['target']}: "
             f"{len(item['courses'])} course(s)"
             + (f", goal {item['goal_title']!r}" if item["goal_title"] else "")
             for item in shown["items"]]
    return "; ".join(parts) or "no effects"


def rule_name(cause: Any) -> str:
    """How a cause names its rule: its id where the mapping gives one, else its place."""
    rule_id = getattr(cause, "rule_id", None) or (
        cause.get("rule_id") if isinstance(cause, dict) else None)
    if rule_id:
        return f"rule {rule_id}"
    index = cause["rule_index"] if isinstance(cause, dict) else cause.rule_index
    return f"rules[{index}]"


def _cause_text(cause: Any) -> str:
    return (f"review {cause.review_id} ({cause.source}, {cause.cycle}) rated {cause.skill_id} "
            f"{cause.rating_raw} → {show_level(cause.rating)} against a target of "
            f"{show_level(cause.target)} (gap {show_level(cause.gap)}; {rule_name(cause)})")


LEARNER_SKILL = ""  # the planner's skill id on a skip of the learner step


def distinct_skips(skipped: Iterable[Skipped]) -> list[Skipped]:
    """Each skipped item once: a goal left unopened because every one of its courses was cut
    (or already assigned) is the courses' skip, not another; the learner step that is already
    done is no skipped item at all."""
    items = list(skipped)
    course_cuts = {(s.employee_id, s.review_id, s.skill_id, s.reason)
                   for s in items if s.course_id is not None}
    return [s for s in items
            if s.skill_id != LEARNER_SKILL
            and (s.course_id is not None
                 or (s.employee_id, s.review_id, s.skill_id, s.reason) not in course_cuts)]


def skip_text(skip: Skipped) -> str:
    """A skip for people: `negotiation: course 101: already done`, or for a goal-level skip
    `negotiation: goal not opened: limit …` (never a `course -`)."""
    what = f"course {skip.course_id}" if skip.course_id is not None else "goal not opened"
    return f"{skip.skill_id}: {what}: {skip.reason}"
