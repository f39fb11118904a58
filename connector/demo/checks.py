"""The demo's summary and its end-state checks: every goal and every assignment in the
ledger exists exactly once in the vendor that holds it, and nothing became a dead letter."""

from __future__ import annotations

from collections import Counter
from typing import Any

from connector.demo.sandboxes import Sandboxes
from connector.runtime import Runtime
from connector.store import ActionState, GoalState
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
        **account(rt),
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


def account(rt: Runtime) -> dict[str, Any]:
    """Where every gap and every planned course went, so the totals add up: a gap opened a
    goal, or says why not (no rule, protected, its courses cut by a limit or assigned for
    another goal already); a planned course was assigned, or waits (for an identity, an
    approval, its turn), or was cancelled (a leaver)."""
    store, mapping = rt.store, rt.ctx.mapping
    gaps: set[tuple[str, str, str]] = set()
    for entry in store.audit_events("gap.found"):
        cause = entry.cause if isinstance(entry.cause, dict) else {}
        if entry.employee_id and cause.get("skill_id"):
            gaps.add((entry.employee_id, cause["skill_id"], str(cause.get("cycle"))))
    goals = {(g.employee_id, g.skill_id, g.cycle) for eid in {e for e, _, _ in gaps}
             for g in store.goals_for(eid)}
    reasons: dict[tuple[str, str], list[str]] = {}
    cut: set[tuple[str, str, str]] = set()
    for entry in store.audit_events("planned.skipped"):
        skill, _, rest = entry.message.partition(": ")
        what, _, reason = rest.rpartition(": ")
        reasons.setdefault((entry.employee_id or "", skill), []).append(reason)
        if reason.startswith("limit") and what.startswith("course "):
            cut.add((entry.employee_id or "", skill, what))
    no_goal: Counter[str] = Counter()
    for eid, skill, _cycle in gaps - goals:
        if mapping.rule_for(skill) is None:
            no_goal["no rule for the skill"] += 1
        elif mapping.is_protected(eid):
            no_goal["protected employee"] += 1
        else:
            found = reasons.get((eid, skill))
            no_goal[_why_no_goal(found[0]) if found else "not planned yet"] += 1
    planned: Counter[str] = Counter()
    for row in store.all_identities():
        for key, state in store.action_states(row.employee_id).items():
            if key.startswith("enroll:"):
                planned[_ENROLL_FATE.get(state, str(state))] += 1
    return {"gaps_with_goal": len(gaps & goals), "gaps_without_goal": dict(no_goal),
            "courses_planned": sum(planned.values()), "courses_by_fate": dict(planned),
            "courses_cut_by_limit": len(cut)}


_ENROLL_FATE = {ActionState.DONE: "assigned", ActionState.WAITING: "waiting for an identity",
                ActionState.AWAITING_APPROVAL: "waiting for approval",
                ActionState.PLANNED: "not yet run", ActionState.INTENT: "not yet run",
                ActionState.CANCELLED: "cancelled (the employee left)"}


def _why_no_goal(reason: str) -> str:
    if reason.startswith("limit"):
        return f"all its courses cut by {reason}"
    if reason == "already assigned":
        return "its courses already serve another open goal"
    return reason


def _breakdown(parts: dict[str, int]) -> str:
    return ", ".join(f"{what}: {n}" for what, n in sorted(parts.items(), key=lambda p: -p[1]))


def format_summary(s: dict[str, Any]) -> str:
    no_goal = sum(s["gaps_without_goal"].values())
    fates = dict(s["courses_by_fate"])
    assigned = fates.pop("assigned", 0)
    lines = ["", "━━ summary ━━",
             f"reviews planned:      {s['reviews']}",
             f"skill gaps found:     {s['gaps']}: {s['gaps_with_goal']} opened a goal"
             + (f"; {no_goal} did not ({_breakdown(s['gaps_without_goal'])})" if no_goal
                else ""),
             f"courses planned:      {s['courses_planned']}: {assigned} assigned"
             + (f"; {_breakdown(fates)}" if fates else "")
             + (f" ({s['courses_cut_by_limit']} more cut by a limit, never planned)"
                if s["courses_cut_by_limit"] else ""),
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
