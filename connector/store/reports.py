"""The console's and `connector report`'s questions to the ledger, as named queries.

Reports read the ledger (goals, assignments, evidence, identities), never the audit trail:
retention never prunes the ledger while a goal is open, so a report stays whole. Each query
returns plain rows; grouping into weeks or charts is the caller's (connector/operations/
reports.py). Counting happens in SQL, so a report over many employees is one round trip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, select

from connector.store.engine import transaction
from connector.store.schema import assignments, evidence, goals, identities, inbox

GROUPS = ("skill", "role", "manager")


@dataclass(frozen=True, slots=True)
class GapCount:
    """Gaps (development goals) found for one skill, role or manager."""

    group: str
    gaps: int
    open: int
    closed: int


@dataclass(frozen=True, slots=True)
class FunnelCount:
    """Course assignments of one course or skill: assigned → completed → evidence posted."""

    group: str
    assigned: int
    completed: int
    evidence: int


@dataclass(frozen=True, slots=True)
class GoalDates:
    opened_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class OverdueRow:
    employee_id: str
    first_name: str | None
    last_name: str | None
    manager_id: str | None
    course_id: str
    skill_id: str | None
    due_date: str


class ReportQueries:
    """The report queries over one engine (`Store.reports`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def gaps_by(self, group: str) -> list[GapCount]:
        """Goals (gaps that had a rule) counted by `group`: skill, role or manager; goals
        withdrawn by a person are left out, an employee without a role is "-"."""
        if group not in GROUPS:
            raise ValueError(f"group by one of {', '.join(GROUPS)}")
        column = {"skill": goals.c.skill_id, "role": identities.c.role,
                  "manager": identities.c.manager_id}[group]
        key = func.coalesce(column, "-")
        query = (select(key.label("g"), func.count().label("n"),
                        func.sum(case((goals.c.state == "open", 1), else_=0)).label("o"),
                        func.sum(case((goals.c.state == "closed", 1), else_=0)).label("c"))
                 .select_from(goals.outerjoin(
                     identities, identities.c.employee_id == goals.c.employee_id))
                 .where(goals.c.state != "cancelled")
                 .group_by(key).order_by(func.count().desc(), key))
        with transaction(self.engine) as conn:
            return [GapCount(str(r.g), int(r.n), int(r.o or 0), int(r.c or 0))
                    for r in conn.execute(query)]

    def funnel_by(self, group: str) -> list[FunnelCount]:
        """Assignments (not cancelled) per course or per skill: how many were assigned,
        completed, and had their evidence posted on the goal."""
        if group not in ("course", "skill"):
            raise ValueError("group by course or skill")
        column = assignments.c.course_id if group == "course" else goals.c.skill_id
        key = func.coalesce(column, "-")
        joined = assignments.outerjoin(goals, goals.c.goal_key == assignments.c.goal_key) \
            .outerjoin(evidence, and_(evidence.c.goal_key == assignments.c.goal_key,
                                      evidence.c.course_id == assignments.c.course_id))
        query = (select(key.label("g"), func.count().label("n"),
                        func.sum(case((assignments.c.state == "completed", 1), else_=0))
                        .label("done"),
                        func.count(evidence.c.course_id).label("ev"))
                 .select_from(joined).where(assignments.c.state != "cancelled")
                 .group_by(key).order_by(func.count().desc(), key))
        with transaction(self.engine) as conn:
            return [FunnelCount(str(r.g), int(r.n), int(r.done or 0), int(r.ev))
                    for r in conn.execute(query)]

    def goal_dates(self) -> list[GoalDates]:
        """When each goal opened and closed (withdrawn goals left out)."""
        query = select(goals.c.opened_at, goals.c.closed_at, goals.c.gap_found_at).where(
            goals.c.state != "cancelled")
        with transaction(self.engine) as conn:
            return [GoalDates(r.opened_at or r.gap_found_at, r.closed_at)
                    for r in conn.execute(query)]

    def overdue(self, today: date) -> list[OverdueRow]:
        """Courses still enrolled (not completed) whose due date is before `today`, the
        longest overdue first."""
        query = (select(assignments.c.employee_id, identities.c.first_name,
                        identities.c.last_name, identities.c.manager_id,
                        assignments.c.course_id, goals.c.skill_id, assignments.c.due_date)
                 .select_from(assignments.outerjoin(
                     identities, identities.c.employee_id == assignments.c.employee_id)
                     .outerjoin(goals, goals.c.goal_key == assignments.c.goal_key))
                 .where(assignments.c.state == "enrolled",
                        assignments.c.due_date.is_not(None),
                        assignments.c.due_date < today.isoformat())
                 .order_by(assignments.c.due_date, assignments.c.employee_id,
                           assignments.c.course_id))
        with transaction(self.engine) as conn:
            return [OverdueRow(r.employee_id, r.first_name, r.last_name, r.manager_id,
                               r.course_id, r.skill_id, r.due_date)
                    for r in conn.execute(query)]

    def stored_reviews(self) -> list[dict[str, Any]]:
        """Every review body the inbox holds, oldest first (a mapping preview re-plans each
        employee's most recent one); a body that is not a JSON object is left out."""
        query = (select(inbox.c.payload).where(inbox.c.kind == "review")
                 .order_by(inbox.c.id))
        found: list[dict[str, Any]] = []
        with transaction(self.engine) as conn:
            for (payload,) in conn.execute(query):
                try:
                    body = json.loads(payload).get("review")
                except (ValueError, AttributeError):
                    continue
                if isinstance(body, dict):
                    found.append(body)
        return found
