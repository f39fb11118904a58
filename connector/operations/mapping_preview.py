"""What an edited mapping would do, before anything changes (`connector mapping preview`, the
console's Mapping page).

The edited text is checked as `connector check` checks a file (the same loader, the same
messages, every problem at once; and the abilities the configured LMS lacks). A valid edit is
then planned, as a pure dry run (connector/planner.py, no vendor call, nothing written),
against each employee's most recent stored review, once under the active mapping and once
under the edit, each as if nothing had been assigned yet. The difference is what the edit
changes: course assignments it would add, ones it would no longer make, and unchanged.
"No longer made" never withdraws anything by itself (`connector withdraw` does that); an
added course the employee already holds for an open goal is marked, since it is not assigned
twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from connector.abilities import missing_abilities
from connector.errors import ConfigError
from connector.models import ActionKind, Review
from connector.operations.mapping_edits import open_goal_warnings
from connector.plan_summary import course_text, rule_name
from connector.planner import Planner
from connector.store import Store
from mappings.loader import load_mapping_text
from mappings.schema import Mapping

ADDED, REMOVED, UNCHANGED = "added", "removed", "unchanged"


@dataclass(frozen=True, slots=True)
class Change:
    """One course assignment the two mappings make differently (or alike)."""

    employee_id: str
    name: str
    role: str
    skill: str
    course: str
    rule: str  # the rule that makes it (under the edit; the active one for a removal)
    already_open: bool = False  # added, but the employee holds this course already
    course_title: str = ""  # its LMS title as last read (store/catalogue.py), if known

    @property
    def course_label(self) -> str:
        return course_text(self.course, self.course_title)


@dataclass(frozen=True, slots=True)
class Group:
    skill: str
    role: str
    added: list[Change]
    removed: list[Change]
    unchanged: list[Change]


@dataclass
class MappingPreview:
    """The preview. `problems` non-empty: the edit is not valid (`message` is the text
    `connector check` prints) and nothing was planned."""

    name: str
    message: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reviews: int = 0
    unreadable: int = 0
    changes: dict[str, list[Change]] = field(
        default_factory=lambda: {ADDED: [], REMOVED: [], UNCHANGED: []})

    @property
    def valid(self) -> bool:
        return not self.problems

    def groups(self) -> list[Group]:
        """The changes by skill, then role (employees without a role under "-")."""
        found: dict[tuple[str, str], dict[str, list[Change]]] = defaultdict(
            lambda: {ADDED: [], REMOVED: [], UNCHANGED: []})
        for kind, rows in self.changes.items():
            for row in rows:
                found[(row.skill, row.role)][kind].append(row)
        return [Group(skill, role, v[ADDED], v[REMOVED], v[UNCHANGED])
                for (skill, role), v in sorted(found.items())]

    def as_json(self) -> dict[str, Any]:
        return {"mapping": self.name, "valid": self.valid, "problems": self.problems,
                "warnings": self.warnings, "reviews": self.reviews,
                "unreadable_reviews": self.unreadable,
                "counts": {k: len(v) for k, v in self.changes.items()},
                "groups": [{"skill": g.skill, "role": g.role,
                            ADDED: [asdict(c) for c in g.added],
                            REMOVED: [asdict(c) for c in g.removed],
                            UNCHANGED: [asdict(c) for c in g.unchanged]}
                           for g in self.groups()]}


def check_mapping_text(text: str, name: str, lms_class: type | None
                       ) -> tuple[Mapping | None, str, list[str]]:
    """The mapping in `text`, or None with `connector check`'s message and its problems one
    by one (TOML line and column, or the field's place in the file)."""
    try:
        mapping = load_mapping_text(text, name)
    except ConfigError as exc:
        return None, str(exc), _problem_lines(str(exc))
    lacking = missing_abilities(mapping, lms_class)
    if lacking:
        message = f"{name}: the mapping needs what the LMS cannot do:\n  " + "\n  ".join(lacking)
        return None, message, lacking
    return mapping, "", []


def preview_mapping(store: Store, active: Mapping, text: str, *, name: str,
                    lms_class: type | None) -> MappingPreview:
    """The edit in `text` checked and, when valid, planned against every employee's most
    recent stored review beside the `active` mapping. Reads only; writes nothing."""
    edited, message, problems = check_mapping_text(text, name, lms_class)
    if edited is None:
        return MappingPreview(name, message=message, problems=problems)
    preview = MappingPreview(name, warnings=open_goal_warnings(store, edited))
    reviews, preview.unreadable = latest_reviews(store)
    preview.reviews = len(reviews)
    names = {}
    for review in reviews:  # people as the ledger knows them (a review may carry less)
        known = store.identity(review.employee.employee_id)
        if known is not None:
            names[known.employee_id] = store.employee_of(known).display_name
    titles = store.course_titles.all()
    before = _assignments(active, reviews, names, titles)
    after = _assignments(edited, reviews, names, titles)
    held = store.open_courses(sorted({r.employee.employee_id for r in reviews}))
    for key, change in sorted(after.items()):
        if key in before:
            preview.changes[UNCHANGED].append(change)
        else:
            opened = change.course in held.get(change.employee_id, frozenset())
            preview.changes[ADDED].append(
                Change(**{**asdict(change), "already_open": opened}))
    preview.changes[REMOVED] = [c for k, c in sorted(before.items()) if k not in after]
    return preview


def latest_reviews(store: Store) -> tuple[list[Review], int]:
    """Each employee's most recent stored review (by completion time; the later stored one
    on a tie), and how many stored bodies could not be read as a review."""
    latest: dict[str, Review] = {}
    unreadable = 0
    for body in store.reports.stored_reviews():
        try:
            review = Review.model_validate(body)
        except ValidationError:
            unreadable += 1
            continue
        eid = review.employee.employee_id
        known = latest.get(eid)
        if known is None or _when(review) >= _when(known):
            latest[eid] = review
    return [latest[k] for k in sorted(latest)], unreadable


def _when(review: Review) -> datetime:
    return review.completed_at


def _assignments(mapping: Mapping, reviews: list[Review], names: dict[str, str],
                 titles: dict[str, str]) -> dict[tuple[str, str, str], Change]:
    """(employee, skill, course) → the assignment `mapping` makes from these reviews, as if
    the ledger held nothing yet (pure planning)."""
    planner = Planner(mapping)
    found: dict[tuple[str, str, str], Change] = {}
    for review in reviews:
        employee = review.employee
        for action in planner.plan_review(review).actions:
            if action.kind is not ActionKind.ENROLL or action.course_id is None \
                    or action.goal is None:
                continue
            key = (employee.employee_id, action.goal.skill_id, action.course_id)
            found[key] = Change(employee.employee_id,
                                names.get(employee.employee_id, employee.display_name),
                                employee.role or "-", action.goal.skill_id, action.course_id,
                                rule_name(action.causes[0]) if action.causes else "-",
                                course_title=titles.get(action.course_id, ""))
    return found


def _problem_lines(message: str) -> list[str]:
    """The problems of a `connector check` message, one per line (a syntax error is one)."""
    head, _, rest = message.partition("\n")
    lines = [line.strip() for line in rest.splitlines() if line.strip()]
    return lines or [head]
