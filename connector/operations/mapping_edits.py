"""Is an edit of the mapping safe for the goals already open? (`connector check`)

Open goals follow their rule by its stable id (`Mapping.rule_by_id`). An edit that removes
that rule, or changes what it says, changes what happens to those goals later (their
evidence window, a reset, recertification), so `check` says so before the file is used. Goals
recorded before rules had ids follow their position; a position that now holds another
skill's rule is said too.
"""

from __future__ import annotations

from collections import Counter

from connector.store import Goal, Store
from mappings.schema import Mapping, normalise_name


def open_goal_warnings(store: Store, mapping: Mapping) -> list[str]:
    """One sentence per rule that open goals depend on and that the file changed."""
    gone: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    moved: Counter[tuple[int, str]] = Counter()
    for goal in store.open_goals():
        if goal.rule_id is None:
            _check_position(goal, mapping, moved)
            continue
        rule = mapping.rule_by_id(goal.rule_id)
        if rule is None:
            gone[goal.rule_id] += 1
        elif goal.rule_version is not None and rule.version != goal.rule_version:
            changed[goal.rule_id] += 1
    lines = [f"rule {rule_id!r}, which {_goals(n)} follow, is no longer in the file (a rule "
             "without an `id` is named by its skill and courses; give it `id = "
             f"\"{rule_id}\"` to keep it)" for rule_id, n in sorted(gone.items())]
    lines += [f"rule {rule_id!r} changed since {_goals(n)} were planned: they keep their "
              "courses; their evidence window, reset and recertification follow the new rule"
              for rule_id, n in sorted(changed.items())]
    lines += [f"rules[{index}] is now the rule for {skill!r}, but {_goals(n)} recorded before "
              f"rule ids follow rules[{index}] for another skill"
              for (index, skill), n in sorted(moved.items())]
    return lines


def _check_position(goal: Goal, mapping: Mapping, moved: Counter[tuple[int, str]]) -> None:
    rule = mapping.rule_by_id(None, goal.rule_index)
    if rule is None or goal.rule_index is None:
        return
    if mapping.skill_id_for(rule.skill) != goal.skill_id \
            and normalise_name(rule.skill) != normalise_name(goal.skill_id):
        moved[(goal.rule_index, rule.skill)] += 1


def _goals(count: int) -> str:
    return f"{count} open goal{'s' if count != 1 else ''}"
