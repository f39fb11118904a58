"""Links from an employee's story to their goal and courses in the vendors' own web apps,
where the vendor's plug-in says which page that is (`VendorPlugin.links`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from pydantic import ValidationError

from connector.errors import ConfigError
from connector.operations.trace import EmployeeTrace
from connector.settings import Settings
from connector.vendors import registry
from connector.vendors.registry import VendorLinks


@dataclass
class PersonLinks:
    courses: dict[str, str] = field(default_factory=dict)  # course id → URL
    goals: dict[str, str] = field(default_factory=dict)  # goal key → URL
    lms: str = "the LMS"
    tracker: dict[str, str] = field(default_factory=dict)  # goal key → the tracker's title


def vendor_links(name: str | None, settings: Settings) -> VendorLinks | None:
    """The plug-in's page templates, or None (no such vendor, none known, bad settings)."""
    if not name or name == "none":
        return None
    try:
        plugin = registry.get(name)
        return plugin.links(settings) if plugin.links is not None else None
    except (ConfigError, ValidationError):
        return None


def person_links(settings: Settings, trace: EmployeeTrace,
                 id_in: Callable[[str], str | None] = lambda system: None) -> PersonLinks:
    """The story's courses and goals as pages in their vendors' web apps; `id_in(system)`
    is the person's id in that system, when the ledger knows one (else the ledger's id)."""
    found = PersonLinks(lms=registry.title(settings.lms) if settings.lms != "none" else "")
    lms = vendor_links(settings.lms, settings)
    courses = {a.course_id for a in trace.assignments}
    for goal in trace.goals:
        courses.update(goal.course_ids)
    if lms is not None and lms.course:
        found.courses = {c: lms.course.format(course_id=quote(c, safe="")) for c in courses}
    for goal in trace.goals:
        links = vendor_links(goal.tracker, settings)
        if links is None or not links.goal or (goal.goal_id is None and "{goal_id}" in links.goal):
            continue
        found.goals[goal.goal_key] = links.goal.format(
            goal_id=quote(goal.goal_id or "", safe=""),
            employee_id=quote(id_in(goal.tracker or "") or trace.identity.employee_id,
                              safe=""))
        found.tracker[goal.goal_key] = registry.title(goal.tracker or "")
    return found
