"""The Reports page: every report of connector/operations/reports.py (the same as `connector
report NAME`) as a chart drawn on the server (charts.py) and its table, each downloadable as
CSV with formula cells neutralised."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template

from connector.console import charts
from connector.console.app import console
from connector.operations import reports
from connector.plan_summary import course_text

SHOWN = 50  # table rows on the page; the CSV has them all
RECENT_WEEKS = 26  # the weekly chart's span; its table shows the weeks with something in them


def report_list() -> Any:
    store = console().store
    shown = []
    for name in reports.REPORTS:
        found = reports.report(store, name)
        drawn, rows = found.rows, found.rows
        if name == "goals-by-week":
            drawn = found.rows[-RECENT_WEEKS:]
            rows = [r for r in found.rows if any(r[i] for i in found.charted)][::-1]
        chart = None
        if found.charted:
            chart = charts.bars(found.title, [_label(found, r) for r in drawn],
                                [(found.columns[i], [float(r[i]) for r in drawn])
                                 for i in found.charted])
        shown.append({"report": found, "chart": chart, "rows": rows[:SHOWN],
                      "weekly": name == "goals-by-week", "weeks": RECENT_WEEKS})
    return render_template("reports.html", reports=shown, shown=SHOWN)


def _label(found: reports.Report, row: list[Any]) -> str:
    """A bar's name: the first column's value, or, for a course, its title with the id beside
    it, so two courses of the same title stay apart."""
    return course_text(str(row[0]), row[found.label]) if found.label else str(row[0])


def report_csv(name: str) -> Any:
    if name not in reports.REPORTS:
        abort(404, description=f"there is no report {name!r}; the reports are: "
                               + ", ".join(reports.REPORTS))
    found = reports.report(console().store, name)
    return Response(reports.csv_text(found), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"',
        "Cache-Control": "no-store"})
