"""What the console shows people instead of raw data: ages in words, errors in plain words,
and an employee's audit trail as a story of steps with their reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.plan_summary import rule_name
from connector.planner import show_level
from connector.store import AuditEntry
from connector.vendors.registry import title


def ago(when: datetime | float | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    if isinstance(when, int | float):
        when = datetime.fromtimestamp(when, UTC)
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    return "just now" if seconds < 45 else f"{duration(seconds)} ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n = max(0, round(seconds))
    return f"{n} second{'s' if n != 1 else ''}"


# (pattern in the stored error, what it means for the person reading it)
_MEANINGS: tuple[tuple[str, str], ...] = (
    (r"\b401\b|unauthori[sz]ed|authentication|invalid api key|credentials",
     "The vendor refused our credentials: check the API key or token in the settings."),
    (r"\b403\b|forbidden|permission",
     "The vendor account is not allowed to do this: check its permissions."),
    (r"\b429\b|rate.?limit|too many requests",
     "The vendor's rate limit was reached; a replay later will usually succeed."),
    (r"\b404\b|not found|no such",
     "Something the job needed was not found at the vendor (a course, user or goal id)."),
    (r"timed? ?out|timeout", "The vendor did not answer in time."),
    (r"connection|refused|unreachable|name resolution|dns",
     "The vendor could not be reached (network, address or outage)."),
    (r"\b5\d\d\b|server error|bad gateway|unavailable",
     "The vendor had an internal error; a replay later will usually succeed."),
)
_BROKEN_CHAIN = re.compile(
    r"(?P<title>[\w.-]+(?: [\w.-]+)?) refused the refresh token .*?: "
    r"(?P<fix>consent again in .*?)(?:\n|$)", re.DOTALL)
_EXCEPTION_PREFIX = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception)):\s*")


def error_words(text: str | None) -> str:
    """One sentence on what went wrong, for a person (the stored text stays on the page)."""
    if not text:
        return "No error was recorded."
    chain = _BROKEN_CHAIN.search(text)
    if chain:  # connector/tokens.py names the broken chain and its one fix
        return (f"The {chain['title']} token chain is broken: {chain['title']} refused the "
                f"refresh token. To fix it, {chain['fix'].rstrip('.')}.")
    lowered = text.lower()
    for pattern, meaning in _MEANINGS:
        if re.search(pattern, lowered):
            return meaning
    detail = _EXCEPTION_PREFIX.sub("", text.strip()).splitlines()[0]
    return detail[:1].upper() + detail[1:300]


# what a poller stream reads, in words (`vendor.kind` is how the store names its cursor)
_POLLED: dict[str, str] = {
    "reviews": "finished reviews", "directory": "employee directory",
    "completions": "course completions", "goals": "goals", "evidence": "evidence",
}


# a stream named by its role rather than a vendor (`hr.reviews`) → the system in words
_ROLE_WORDS: dict[str, str] = {"hr": "HR system", "lms": "LMS", "goals": "Goal tracker"}


def poller_name(name: str) -> str:
    """A poller's cursor name as people say it: `bamboohr.directory` → "BambooHR: employee
    directory" (the raw name stays on the page beside it, for whoever reads the logs)."""
    vendor, _, kind = name.partition(".")
    system = _ROLE_WORDS.get(vendor) or title(vendor)
    if not kind:
        return system
    return f"{system}: {_POLLED.get(kind, kind.replace('_', ' '))}"


# a job state as an HR reader understands it (the stored state is shown beside it)
JOB_STATES: dict[str, str] = {
    "pending": "waiting to run", "running": "running now", "done": "done",
    "dead": "failed for good (dead letters)",
}


# a job's kind (connector/handlers.py) as the work it does
JOB_KINDS: dict[str, str] = {
    "review": "Plan a review", "completion": "Record a course completion",
    "resume": "Carry on after an LMS match", "employee": "Apply a directory change",
    "review_hint": "Fetch a review a vendor announced",
}


# audit event (or its prefix before the first dot) → the step of the story it is
_STEPS: dict[str, str] = {
    "gap.found": "Skill gap found", "planned.enroll": "Course planned",
    "planned.open_goal": "Goal planned", "planned.ensure_learner": "Learner planned",
    "planned.skipped": "Course not planned", "skill.unmapped": "Rating not mapped",
    "enroll": "Enrolled in course", "open_goal": "Goal opened",
    "ensure_learner": "LMS learner ready", "evidence": "Evidence posted",
    "goal.open": "Goal opened", "goal.opened": "Goal opened", "goal.close": "Goal closed",
    "goal.completed": "Goal closed", "goal.progress": "Goal progress",
    "goal.evidence": "Evidence posted", "goal.note": "Note on the goal",
    "goal": "Goal", "completion": "Completion", "review": "Review",
    "identity": "LMS identity", "approval": "Approval", "job": "Job",
    "dead_letter": "Job", "employee": "Employee", "recertification": "Recertification",
}


# A command a stored message tells a terminal user to run → where the console does the same.
_CONSOLE_PLACE: dict[str, str] = {
    "connector identities link": "a person to link them on the Identities page",
    "connector identities": "the Identities page",
    "connector stops confirm": "the Safety stops page",
    "connector stops": "the Safety stops page",
    "connector approvals approve": "the Approvals page",
    "connector approvals": "the Approvals page",
    "connector dead-letters replay": "the Dead letters page",
    "connector dead-letters": "the Dead letters page",
}
# a planner limit a stored message names → what it limits, in words
_LIMITS: dict[str, str] = {
    "max_courses_per_review": "new courses per review",
    "max_assignments_per_run": "assignments per run",
    "max_assignment_share": "share of employees getting new courses",
}
_LIMIT = re.compile(r"\blimit (max_[a-z_]+)")
_COMMAND = re.compile(r"`(connector [a-z-]+(?: [a-z-]+)?)[^`]*`")


def console_words(message: str) -> str:
    """A stored message as the console says it: a command it names (written for the
    terminal) becomes the console page that does the same, so HR staff are not sent to a
    shell; a command the console has no page for stays as written."""
    def place(m: re.Match[str]) -> str:
        command = m.group(1)
        while command not in _CONSOLE_PLACE and command.count(" ") > 1:
            command = command.rsplit(" ", 1)[0]
        return _CONSOLE_PLACE.get(command, m.group(0))
    def limit(m: re.Match[str]) -> str:
        words = _LIMITS.get(m.group(1))
        return f"over the limit on {words} ({m.group(1)})" if words else m.group(0)
    return _LIMIT.sub(limit, _COMMAND.sub(place, message))


@dataclass(frozen=True, slots=True)
class StoryStep:
    at: datetime
    step: str
    event: str
    message: str
    because: str | None


def story(audit: list[AuditEntry]) -> list[StoryStep]:
    """The audit trail in order, each entry named as a step, with the reason when the
    entry carries its cause (review → rating → target → gap → rule)."""
    return [StoryStep(a.at, _step(a.event), a.event, console_words(a.message), _because(a.cause))
            for a in sorted(audit, key=lambda a: (a.at, a.id))]


def _step(event: str) -> str:
    if event in _STEPS:
        return _STEPS[event]
    head = event.split(".", 1)[0]
    return _STEPS.get(head, event.replace("_", " ").replace(".", " ").capitalize())


def _because(cause: Any) -> str | None:
    if not (isinstance(cause, list) and cause and isinstance(cause[0], dict)):
        return None
    c = cause[0]
    try:
        # Worded as `connector trace` words it: levels rounded, the rule by its id.
        return (f"review {c['review_id']} ({title(c['source'])}, {c['cycle']}) rated "
                f"{c['skill_id']} {c['rating_raw']} → {show_level(float(c['rating']))}, "
                f"target {show_level(float(c['target']))}: a gap of "
                f"{show_level(float(c['gap']))}, {rule_name(c)}")
    except (KeyError, TypeError, ValueError):
        return None
