"""Benchmark: Moodle as LMS and goal tracker, calls per assignment, goal, evidence and poll,
measured through the whole product path (review poll → worker → Moodle; completions polled →
worker → evidence and closing) against the Moodle simulator on loopback.

The demo's organisation (`connector.demo.org`, N employees, OrangeHRM reviews) runs through
the real runtime on SQLite; the simulator counts every web-service call by function, read at
each phase boundary. Moodle publishes no rate limit: the limit is the site's PHP workers,
shared with learners, so the targets are about calls per unit of work, set from what each
unit needs at least:

- an assignment: one `enrol_manual_enrol_users` plus one learner lookup per learner (shared by
  their assignments) and the catalogue once: <= 1.5 calls per assignment;
- a goal: create the plan, read its competencies, add the competency: <= 3.1 calls per goal;
- an evidence: the completion time and the final grade (read once per completion), the
  read-back and the rating: <= 4.1 calls per evidence, the poll's per-learner read aside;
- a poll: exactly one `core_enrol_get_users_courses` per learner with an open assignment;
  closing a goal: read-back, proficient rating, complete: <= 3.1 calls per closed goal.

Usage: .venv/bin/python bench/moodle.py [--employees 120] [--json]
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.demo.run import complete_some_courses
from connector.demo.sandboxes import sandbox_settings, seed_organisation, start_sandboxes
from connector.pollers import open_courses, poll_all, poll_completions
from connector.runtime import build_runtime
from connector.store import AssignmentState, GoalState
from connector.vendors.registry import Role
from connector.worker import Worker

CAST = {Role.LMS: "moodle", Role.GOALS: "moodle", Role.REVIEWS: "orangehrm"}
ENROL = ("core_user_get_users_by_field", "core_user_create_users",
         "core_course_get_courses_by_field", "enrol_manual_enrol_users")
GOAL = ("core_competency_create_plan", "core_competency_list_plan_competencies",
        "core_competency_add_competency_to_plan", "core_competency_list_user_plans",
        "core_competency_list_competencies")
POLL = ("core_enrol_get_users_courses",)


def measure(employees: int) -> dict[str, Any]:
    sb = start_sandboxes(CAST)
    try:
        seed_organisation(sb, employees=employees, missing_learners=0)
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            rt = build_runtime(sandbox_settings(sb, url, max_assignment_share=1.0,
                                                max_assignments_per_run=100_000))
            try:
                started = time.monotonic()
                calls0 = dict(sb.moodle.state()["calls"])
                report = poll_all(rt, confirm=True)  # the demo confirms the safety stop too
                if report.errors or report.stops or not report.reviews:
                    raise SystemExit(f"review poll: {report}")
                Worker(rt.ctx).drain()
                calls1 = dict(sb.moodle.state()["calls"])
                store = rt.store
                assignments = len(store.assignments_for())
                goals = [g for i in store.all_identities() for g in store.goals_for(i.employee_id)]
                complete_some_courses(sb, store, random.Random(7))
                open_learners = len(open_courses(store))
                new, _ = poll_completions(store, rt.ctx.lms)
                calls2 = dict(sb.moodle.state()["calls"])
                Worker(rt.ctx).drain()
                calls3 = dict(sb.moodle.state()["calls"])
                evidence = sum(len(store.evidence_for(g.goal_key)) for g in goals)
                closed = sum(1 for i in store.all_identities()
                             for g in store.goals_for(i.employee_id)
                             if g.state is GoalState.CLOSED)
                still_open = len(open_courses(store))
                poll_completions(store, rt.ctx.lms)
                calls4 = dict(sb.moodle.state()["calls"])
                seconds = time.monotonic() - started
                left = len(store.assignments_for(state=AssignmentState.ENROLLED))
            finally:
                rt.close()
    finally:
        sb.stop()

    def spent(before: dict[str, int], after: dict[str, int], names: tuple[str, ...] | None
              = None) -> int:
        keys = names if names is not None else tuple(after)
        return sum(int(after.get(k, 0)) - int(before.get(k, 0)) for k in keys)

    plan_phase = spent(calls0, calls1)
    return {
        "employees": employees, "assignments": assignments, "goals": len(goals),
        "completions": new, "evidence": evidence, "closed": closed,
        "open_learners": open_learners, "open_learners_after": still_open,
        "enrol_calls": spent(calls0, calls1, ENROL), "goal_calls": spent(calls0, calls1, GOAL),
        "plan_phase_calls": plan_phase,
        "poll_reads": spent(calls1, calls2, POLL), "poll_calls": spent(calls1, calls2),
        "evidence_phase_calls": spent(calls2, calls3),
        "second_poll_reads": spent(calls3, calls4, POLL), "left_enrolled": left,
        "seconds": round(seconds, 1),
        "by_function": {k: int(calls4.get(k, 0)) - int(calls0.get(k, 0)) for k in sorted(calls4)},
    }


def rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    f = m["by_function"]
    per_assignment = m["enrol_calls"] / max(m["assignments"], 1)
    per_goal = m["goal_calls"] / max(m["goals"], 1)
    # Closing a goal: its read-back and proficient rating (those beyond one per evidence)
    # and the complete call. Evidence: the completion time and grade reads, its read-back
    # and rating, and the scale reads (once per competency).
    read_backs = f.get("tool_lp_data_for_user_competency_summary_in_plan", 0)
    ratings = f.get("core_competency_grade_competency_in_plan", 0)
    completes = f.get("core_competency_complete_plan", 0)
    closing = completes + (read_backs - m["evidence"]) + (ratings - m["evidence"])
    per_closed = closing / max(m["closed"], 1)
    evidence_calls = (f.get("core_completion_get_course_completion_status", 0)
                      + f.get("gradereport_user_get_grade_items", 0) + read_backs + ratings
                      - (closing - completes) + f.get("core_competency_read_competency", 0)
                      + f.get("core_competency_read_competency_framework", 0))
    per_evidence = evidence_calls / max(m["evidence"], 1)
    out = [
        {"name": "employees / assignments / goals", "value":
            f"{m['employees']} / {m['assignments']} / {m['goals']}"},
        {"name": "completions / evidence / goals closed", "value":
            f"{m['completions']} / {m['evidence']} / {m['closed']}"},
        {"name": "calls per assignment", "value": round(per_assignment, 3), "unit": "calls",
         "target": "<= 1.5", "met": per_assignment <= 1.5},
        {"name": "calls per goal opened", "value": round(per_goal, 3), "unit": "calls",
         "target": "<= 3.1", "met": per_goal <= 3.1},
        {"name": "calls per evidence (poll's per-learner read aside)",
         "value": round(per_evidence, 3), "unit": "calls", "target": "<= 4.1",
         "met": per_evidence <= 4.1},
        {"name": "calls per closed goal", "value": round(per_closed, 3), "unit": "calls",
         "target": "<= 3.1", "met": per_closed <= 3.1},
        {"name": "poll: users_courses reads / open learners",
         "value": f"{m['poll_reads']} / {m['open_learners']}", "target": "equal",
         "met": m["poll_reads"] == m["open_learners"]},
        {"name": "poll after: reads / open learners",
         "value": f"{m['second_poll_reads']} / {m['open_learners_after']}", "target": "equal",
         "met": m["second_poll_reads"] == m["open_learners_after"]},
        {"name": "every completion became evidence", "value": "", "target": "as named",
         "met": m["evidence"] == m["completions"]},
        {"name": "wall time", "value": m["seconds"], "unit": "s"},
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=120)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    m = measure(args.employees)
    table = rows(m)
    if args.json:
        print(json.dumps({"rows": table, "measured": m}))
    else:
        for row in table:
            met = "" if "met" not in row else ("  ok" if row["met"] else "  MISS")
            print(f"{met:6} {row['name']}: {row['value']} {row.get('unit', '')} "
                  f"{row.get('target', '')}".rstrip())
        print("calls by function:", json.dumps(m["by_function"]))
    return 0 if all(r.get("met", True) for r in table) else 1


if __name__ == "__main__":
    sys.exit(main())
