"""The demo's summary and its end-state checks: every goal and every assignment in the
ledger exists exactly once in the vendor that holds it, and nothing became a dead letter."""

from __future__ import annotations

from typing import Any

from connector.demo.sandboxes import Sandboxes
from connector.runtime import Runtime
from connector.store import GoalState
from connector.vendors.registry import Role, title


def summarise(rt: Runtime, sb: Sandboxes) -> dict[str, Any]:
    store = rt.store
    ids = [r.employee_id for r in store.all_identities()]
    goals = [g for eid in ids for g in store.goals_for(eid)]
    assignments = store.assignments_for()
    evidence = sum(len(store.evidence_for(g.goal_key)) for g in goals)
    unmapped = store.audit_events("skill.unmapped")
    closed = [g for g in goals if g.state is GoalState.CLOSED]
    example = (closed or goals)[0].employee_id if goals else (ids[0] if ids else "-")
    goals_in, lms_in = title(sb.roles[Role.GOALS]), title(sb.roles[Role.LMS])
    checks = {
        f"every ledger goal exists once in {goals_in}":
            sb.playing(Role.GOALS).count("goals") == len(goals),
        f"every assignment exists once in {lms_in}":
            sb.playing(Role.LMS).count("enrollments") == len(assignments),
        "no dead letters": not store.jobs.dead_letters(),
    }
    owners = sb.playing(Role.GOALS).goal_owner_emails()
    if owners is not None:
        emails = {r.employee_id: r.email for r in store.all_identities()}
        checks[f"every {goals_in} goal is on the record of the person with the same email"] = \
            all(owners.get(g.goal_key) == emails.get(g.employee_id) for g in goals) \
            and len(owners) == len(goals)
    return {
        "reviews": len(store.audit_events("gap.found")) and store.review_count(),
        "gaps": len(store.audit_events("gap.found")),
        "assignments": len(assignments),
        "goals_open": len(goals) - len(closed), "goals_closed": len(closed),
        "evidence": evidence,
        "failed_attempts_noted": len(store.audit_events("goal.note")),
        "unmapped": sorted({u.message.split(":")[0] for u in unmapped}),
        "identities_pending": [r.employee_id for r in store.identities_waiting()],
        "checks": checks, "checks_ok": all(checks.values()), "example_employee": example,
    }


def format_summary(s: dict[str, Any]) -> str:
    lines = ["", "━━ summary ━━",
             f"reviews planned:      {s['reviews']}",
             f"skill gaps found:     {s['gaps']}",
             f"courses assigned:     {s['assignments']}",
             f"goals open / closed:  {s['goals_open']} / {s['goals_closed']}",
             f"evidence posted:      {s['evidence']}",
             f"failed attempts noted: {s['failed_attempts_noted']}",
             f"unmapped skills:      {', '.join(s['unmapped']) or 'none'}",
             f"waiting for an identity match: {', '.join(s['identities_pending']) or 'none'}"
             + ("  (connector identities pending)" if s["identities_pending"] else "")]
    lines.append("checks:")
    lines += [f"  {'✔' if ok else '✘'} {name}" for name, ok in s["checks"].items()]
    return "\n".join(lines)
