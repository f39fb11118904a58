"""The reports HR and L&D read (`connector report NAME`, the console's Reports page): skill
gaps by skill, role and manager; the funnel assigned → completed → evidence posted per course
and per skill; goals opened and closed by week; overdue courses.

Each report is a table (columns, rows) plus which columns its chart draws; the counting is
the store's (`Store.reports`), over the ledger; courses carry their LMS title as the worker
last read it (store/catalogue.py). CSV goes through `text_safety.neutralise_cell`, so a name
or title a spreadsheet would run as a formula stays text. "Started" is not in the funnel: the
LMS says it only when asked per learner and course, and reports make no vendor call.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connector.store import Store
from connector.text_safety import neutralise_cell

MAX_WEEKS = 104  # the weekly report shows at most two years, the most recent


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    charted: list[int] = field(default_factory=list)  # columns the chart draws as series
    note: str = ""
    label: int = 0  # the column that names a chart's bar (the first, if that one is empty)

    def as_json(self) -> dict[str, Any]:
        return {"report": self.name, "title": self.title,
                "rows": [dict(zip(self.columns, row, strict=True)) for row in self.rows]}


def _gaps(group: str, heading: str) -> Callable[[Store, date], Report]:
    def build(store: Store, today: date) -> Report:
        rows = store.reports.gaps_by(group)
        label = _manager_name(store) if group == "manager" else str
        return Report(f"gaps-by-{group}", f"Skill gaps by {heading}",
                      [heading, "gaps", "open", "closed"],
                      [[label(r.group), r.gaps, r.open, r.closed] for r in rows], [2, 3],
                      "A gap counts once it had a rule and a development goal; withdrawn "
                      "goals are left out.")
    return build


def _funnel(group: str) -> Callable[[Store, date], Report]:
    def build(store: Store, today: date) -> Report:
        rows = store.reports.funnel_by(group)
        columns = [group, "assigned", "completed", "evidence posted"]
        table: list[list[Any]] = [[r.group, r.assigned, r.completed, r.evidence] for r in rows]
        label = 0
        if group == "course":  # by its LMS title too, as last read (store/catalogue.py)
            titles = store.course_titles.all()
            columns.insert(1, "title")
            for row in table:
                row.insert(1, titles.get(str(row[0]), ""))
            label = 1
        return Report(f"funnel-by-{group}", f"Funnel by {group}: assigned → completed → "
                      "evidence posted", columns, table, [label + 1, label + 2, label + 3],
                      "Withdrawn assignments are left out. Started is not shown: the LMS "
                      "reports it only when asked per learner and course.", label=label)
    return build


def _goals_by_week(store: Store, today: date) -> Report:
    opened: Counter[date] = Counter()
    closed: Counter[date] = Counter()
    for row in store.reports.goal_dates():
        if row.opened_at is not None:
            opened[_monday(row.opened_at)] += 1
        if row.closed_at is not None:
            closed[_monday(row.closed_at)] += 1
    weeks = sorted(opened | closed)
    rows: list[list[Any]] = []
    if weeks:
        first = max(weeks[0], weeks[-1] - timedelta(weeks=MAX_WEEKS - 1))
        week = first
        while week <= weeks[-1]:
            year, number, _ = week.isocalendar()
            rows.append([f"{year}-W{number:02d}", week.isoformat(), opened[week], closed[week]])
            week += timedelta(weeks=1)
    return Report("goals-by-week", "Goals opened and closed by week",
                  ["week", "week starting", "opened", "closed"], rows, [2, 3],
                  "Weeks start on Monday (UTC); a week with nothing opened or closed shows 0.")


def _overdue(store: Store, today: date) -> Report:
    rows = store.reports.overdue(today)
    names = _manager_name(store)
    titles = store.course_titles.all()
    return Report("overdue", "Overdue courses",
                  ["employee id", "employee", "manager", "skill", "course", "course title",
                   "due", "days over"],
                  [[r.employee_id, " ".join(p for p in (r.first_name, r.last_name) if p) or "-",
                    names(r.manager_id or "-"), r.skill_id or "-", r.course_id,
                    titles.get(r.course_id, ""), r.due_date,
                    (today - date.fromisoformat(r.due_date)).days] for r in rows], [],
                  f"Courses still not completed after their due date, as of {today}.")


REPORTS: dict[str, Callable[[Store, date], Report]] = {
    "gaps-by-skill": _gaps("skill", "skill"),
    "gaps-by-role": _gaps("role", "role"),
    "gaps-by-manager": _gaps("manager", "manager"),
    "funnel-by-course": _funnel("course"),
    "funnel-by-skill": _funnel("skill"),
    "goals-by-week": _goals_by_week,
    "overdue": _overdue,
}


def report(store: Store, name: str, *, today: date | None = None) -> Report:
    """The report `name` (one of `REPORTS`) as the ledger holds it now."""
    build = REPORTS.get(name)
    if build is None:
        raise KeyError(name)
    return build(store, today or datetime.now(UTC).date())


def csv_text(found: Report) -> str:
    """The report as CSV: a header row, then its rows, every text cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise_cell(c) for c in found.columns])
    for row in found.rows:
        writer.writerow([neutralise_cell(c) for c in row])
    return out.getvalue()


def _monday(when: datetime) -> date:
    day = when.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _manager_name(store: Store) -> Callable[[str], str]:
    """A manager's id as people know them: "Name (id)" when the ledger knows the manager."""
    seen: dict[str, str] = {}

    def name(manager_id: str) -> str:
        if manager_id not in seen:
            identity = store.identity(manager_id) if manager_id != "-" else None
            full = " ".join(p for p in (identity.first_name, identity.last_name) if p) \
                if identity is not None else ""
            seen[manager_id] = f"{full} ({manager_id})" if full else manager_id
        return seen[manager_id]
    return name
