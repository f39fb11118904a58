"""Which mapping rules need an optional vendor ability, and the refusal when the configured
vendor lacks it.

Asked at every start-up (`build_runtime`) and by `connector check`, so a rule that would need a
course reset is refused with a message instead of silently enrolling (the executor also fails
rather than fall back, should the two ever disagree).
"""

from __future__ import annotations

from connector.errors import ConfigError
from connector.ports import ResetsProgress
from mappings.schema import Mapping


def abilities_needed(mapping: Mapping) -> list[tuple[str, type, str]]:
    """(rule path, ability protocol, why) for every rule that needs an optional ability."""
    needed: list[tuple[str, type, str]] = []
    for index, rule in enumerate(mapping.rules):
        where = f"rules[{index}] ({rule.skill})"
        if rule.prior_completion == "reset":
            needed.append((where, ResetsProgress, 'prior_completion = "reset" needs the LMS '
                                                  "to reset a learner's course progress"))
        if rule.recertify_every_days:
            needed.append((where, ResetsProgress, "recertify_every_days needs the LMS to reset "
                                                  "a learner's course progress"))
    return needed


def missing_abilities(mapping: Mapping, lms_class: type | None) -> list[str]:
    """One line per rule that the configured LMS cannot carry out; empty when all can."""
    if lms_class is None:
        return []  # no LMS: nothing is assigned, so nothing needs resetting
    name = getattr(lms_class, "name", lms_class.__name__)
    return [f"{where}: {why}, which {name} cannot do; change the rule or CONNECTOR_LMS"
            for where, ability, why in abilities_needed(mapping)
            if not issubclass(lms_class, ability)]


def refuse_missing_abilities(mapping: Mapping, lms_class: type | None) -> None:
    problems = missing_abilities(mapping, lms_class)
    if problems:
        raise ConfigError("the mapping needs what the LMS cannot do:\n  "
                          + "\n  ".join(problems))
