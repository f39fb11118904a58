"""End-state checks for the end-to-end tests: the vendors' state against the connector's ledger.

"Exactly once" is checked where it can be seen: in the vendors. Each ledger goal is one
BambooHR goal (found by the marker line the connector writes), each evidence row one comment
with its tag, each noted failed attempt one note, each assignment one TalentLMS enrollment;
nothing in the vendors that the ledger does not know. The semantic snapshot drops what differs
between two equivalent runs (vendor ids, timestamps) so a crashed run can be compared with a
clean one.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from connector.store import EvidenceRecord, Goal, Store
from connector.store.schema import actions, inbox, jobs
from tests.support.e2e import Vendors

_MARKER = re.compile(r"^connector-goal: (.+)$", re.MULTILINE)
_TAG = re.compile(r"\[evidence (\S+) (\d{4}-\d{2}-\d{2})\]")


def goal_key_of(vendor_goal: dict[str, Any]) -> str | None:
    found = _MARKER.search(str(vendor_goal.get("description") or ""))
    return found.group(1).strip() if found else None


def notes_by_goal(store: Store) -> Counter[str]:
    """Failed attempts the ledger says were noted on each goal."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(actions.c.goal_key).where(
            actions.c.kind == "goal.note", actions.c.state == "done"))
        return Counter(str(r.goal_key) for r in rows)


def ledger_goals(store: Store) -> dict[str, Goal]:
    return {g.goal_key: g for row in store.all_identities()
            for g in store.goals_for(row.employee_id)}


def exactly_once_problems(vendors: Vendors, store: Store) -> list[str]:
    """Every difference between the vendors' state and the ledger (empty when they agree)."""
    problems: list[str] = []
    learners = {r.employee_id: r.lms_user_id for r in store.all_identities()}
    wanted = Counter((learners.get(a.employee_id), a.course_id)
                     for a in store.assignments_for() if a.state != "cancelled")
    enrolled = Counter((e["user_id"], e["course_id"])
                       for e in vendors.state("talentlms")["enrollments"])
    if set(wanted) != set(enrolled):
        problems.append(f"TalentLMS enrollments differ from the ledger: missing "
                        f"{sorted(set(wanted) - set(enrolled))[:5]}, unknown "
                        f"{sorted(set(enrolled) - set(wanted))[:5]}")
    problems += [f"TalentLMS enrollment {pair} exists {n} times"
                 for pair, n in enrolled.items() if n > 1]

    goals = ledger_goals(store)
    notes = notes_by_goal(store)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for vendor_goal in vendors.state("bamboohr")["goals"]:
        key = goal_key_of(vendor_goal)
        if key is None or key not in goals:
            problems.append(f"BambooHR goal {vendor_goal['id']} ({key}) is not in the ledger")
            continue
        by_key.setdefault(key, []).append(vendor_goal)
    for key, goal in goals.items():
        found = by_key.get(key, [])
        if len(found) != 1:
            problems.append(f"goal {key} exists {len(found)} times in BambooHR")
            continue
        problems += _goal_problems(key, goal, found[0], store.evidence_for(key), notes[key])
    return problems


def _goal_problems(key: str, goal: Goal, vendor_goal: dict[str, Any],
                   evidence: list[EvidenceRecord], notes: int) -> list[str]:
    problems = []
    if f"{vendor_goal['employeeId']}:{vendor_goal['id']}" != goal.goal_id:
        problems.append(f"goal {key}: ledger points at {goal.goal_id}, "
                        f"BambooHR has {vendor_goal['employeeId']}:{vendor_goal['id']}")
    if vendor_goal["closed"] != (goal.state == "closed"):
        problems.append(f"goal {key}: BambooHR closed={vendor_goal['closed']}, "
                        f"ledger state {goal.state}")
    tags = Counter[tuple[str, str]]()
    untagged = 0
    for comment in vendor_goal["comments"]:
        found = _TAG.search(str(comment.get("text", "")))
        if found:
            tags[(found.group(1), found.group(2))] += 1
        else:
            untagged += 1
    expected = Counter((e.course_id, e.completed_at.date().isoformat()) for e in evidence)
    if tags != expected:
        problems.append(f"goal {key}: evidence comments {dict(tags)} but ledger evidence "
                        f"{dict(expected)}")
    if untagged != notes:
        problems.append(f"goal {key}: {untagged} note comment(s) but the ledger noted {notes}")
    return problems


def semantic_snapshot(vendors: Vendors, store: Store) -> dict[str, Any]:
    """What two equivalent runs must share: vendor effects and ledger counts, no ids or times."""
    goals = []
    for vendor_goal in vendors.state("bamboohr")["goals"]:
        goals.append((vendor_goal["employeeId"], goal_key_of(vendor_goal), vendor_goal["title"],
                      vendor_goal["closed"], vendor_goal.get("percentComplete"),
                      tuple(sorted(str(c["text"]) for c in vendor_goal["comments"])),
                      tuple(sorted((m["title"], m.get("completedDateTime") is not None)
                                   for m in vendor_goal.get("milestones") or []))))
    enrollments = sorted((e["user_id"], e["course_id"])
                         for e in vendors.state("talentlms")["enrollments"])
    with store.engine.connect() as conn:
        # A directory read is a snapshot of a live system: how many change events it yields
        # depends on when it was taken (a person linked before their manager is linked reads
        # once with no manager, and again with one), and a restart reads it once more. So
        # directory events and their jobs are not counted; what they leave behind is: every
        # identity, its LMS match and its state, below.
        inbox_counts = sorted((r.source, r.kind, r.n) for r in conn.execute(
            select(inbox.c.source, inbox.c.kind, func.count().label("n"))
            .where(inbox.c.kind != "employee")
            .group_by(inbox.c.source, inbox.c.kind)))
        job_counts = sorted((r.kind, r.state, r.n) for r in conn.execute(
            select(jobs.c.kind, jobs.c.state, func.count().label("n"))
            .where(jobs.c.kind != "employee")
            .group_by(jobs.c.kind, jobs.c.state)))
    ledger = ledger_goals(store)
    return {
        "enrollments": enrollments,
        "goals": sorted(goals, key=repr),
        "ledger": {
            "identities": sorted((r.employee_id, r.lms_user_id, r.match_state)
                                 for r in store.all_identities()),
            "goals": sorted((k, g.state, g.progress) for k, g in ledger.items()),
            "assignments": sorted((a.employee_id, a.course_id, a.goal_key, a.state)
                                  for a in store.assignments_for()),
            "evidence": sum(len(store.evidence_for(k)) for k in ledger),
            "inbox": inbox_counts,
            "jobs": job_counts,
        },
    }


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two snapshots part, for a readable assertion message."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            extra = [x for x in a if x not in b][:3], [x for x in b if x not in a][:3]
            return f"{path}: {len(a)} vs {len(b)} items; only left {extra[0]}, right {extra[1]}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"
