"""`connector demo`: the whole loop, for real, against the sandbox vendors on loopback.

Starts the TalentLMS, BambooHR and OrangeHRM simulators, seeds an organisation (60 people in
3 roles, one finished review cycle), then runs the product exactly as in production — the
directory read, the review poller, the worker, the completion poller — and ends with a summary,
the trace of one employee and a check of the vendors' end state against the ledger.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from connector.errors import InputError, SafetyStop
from connector.pollers import poll_completions, poll_reviews, sync_directory
from connector.runtime import Runtime, build_runtime
from connector.sandbox import bamboohr as sandbox_bamboohr
from connector.sandbox import orangehrm as sandbox_orangehrm
from connector.sandbox import talentlms as sandbox_talentlms
from connector.sandbox.common import RunningSimulator, serve
from connector.settings import Settings, load_settings
from connector.store import AssignmentState, GoalState, MatchState, Store
from connector.worker import Worker

ROLES = {
    "Account Executive": ["Negotiation", "Customer focus", "Communication", "Time management"],
    "Software Engineer": ["Technical depth", "Problem solving", "Data literacy", "Communication"],
    "Support Specialist": ["Customer focus", "Communication", "Time management",
                           "Problem solving"],
}
FIRST = ["Ann", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon", "Kai", "Lena",
         "Milo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tara"]
LAST = ["Berg", "Costa", "Diaz", "Eng", "Fox", "Gray", "Hale", "Ito", "Jung", "Khan", "Lund",
        "Moss", "Nagy", "Ortiz", "Park"]
SANDBOX_KEY = "demo-sandbox-key"  # the simulators' own key: not a real credential
DEMO_MARKER = "demo.database"


@dataclass
class Sandboxes:
    talentlms: RunningSimulator
    bamboohr: RunningSimulator
    orangehrm: RunningSimulator

    def stop(self) -> None:
        for sim in (self.talentlms, self.bamboohr, self.orangehrm):
            sim.stop()


def start_sandboxes() -> Sandboxes:
    return Sandboxes(
        talentlms=serve(sandbox_talentlms.create_app(api_key=SANDBOX_KEY, hourly_limit=100_000),
                        "talentlms"),
        bamboohr=serve(sandbox_bamboohr.create_app(api_key=SANDBOX_KEY), "bamboohr"),
        orangehrm=serve(sandbox_orangehrm.create_app(client_id="demo-client",
                                                     client_secret=SANDBOX_KEY), "orangehrm"),
    )


def sandbox_settings(sb: Sandboxes, database_url: str, mapping_file: Path | None = None,
                     **extra: Any) -> Settings:
    """Settings that point the real product at the sandboxes."""
    values: dict[str, Any] = {**dict(
        database_url=database_url,
        talentlms_base_url=sb.talentlms.url, talentlms_api_key=SANDBOX_KEY,
        talentlms_hourly_limit=100_000,
        bamboohr_base_url=sb.bamboohr.url, bamboohr_api_key=SANDBOX_KEY,
        orangehrm_base_url=sb.orangehrm.url, orangehrm_client_id="demo-client",
        orangehrm_client_secret=SANDBOX_KEY,
        review_sources="orangehrm", goal_tracker="bamboohr", lms="talentlms"), **extra}
    if mapping_file is not None:
        values["mapping_file"] = mapping_file
    return load_settings(**values)


def seed_organisation(sb: Sandboxes, *, employees: int = 60, seed: int = 7,
                      missing_learners: int = 2, cycle_end: date | None = None
                      ) -> list[dict[str, Any]]:
    """People in three roles in all three systems, and one finished review cycle."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    if cycle_end is None:  # the last half-year that has ended
        cycle_end = date(today.year, 6, 30) if today.month > 6 else date(today.year - 1, 12, 31)
    cycle_start = date(cycle_end.year, 1 if cycle_end.month == 6 else 7, 1)
    completed = min(today - timedelta(days=3), cycle_end + timedelta(days=14))
    roles = list(ROLES)
    people: list[dict[str, Any]] = []
    for i in range(employees):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        people.append({"id": 101 + i, "first": first, "last": last,
                       "email": f"{first}.{last}{i}@example.com".lower(),
                       "role": roles[i % len(roles)]})
    post = requests.post
    post(f"{sb.bamboohr.url}/_sandbox/employees", json=[
        {"id": p["id"], "firstName": p["first"], "lastName": p["last"], "workEmail": p["email"],
         "jobTitle": p["role"], "displayName": f"{p['first']} {p['last']}"} for p in people],
        timeout=10).raise_for_status()
    learners = people[missing_learners:]  # a couple of people have no LMS account yet
    post(f"{sb.talentlms.url}/_sandbox/users", json={"users": [
        {"id": 1000 + p["id"], "email": p["email"], "login": p["email"].split("@")[0],
         "first_name": p["first"], "last_name": p["last"]} for p in learners]},
        timeout=10).raise_for_status()
    post(f"{sb.talentlms.url}/_sandbox/courses", json={"courses": [
        {"id": cid, "name": name} for cid, name in course_catalogue().items()]},
        timeout=10).raise_for_status()
    post(f"{sb.orangehrm.url}/_sandbox/employees", json=[
        {"empNumber": p["id"], "employeeId": f"E{p['id']}", "firstName": p["first"],
         "lastName": p["last"], "jobTitle": p["role"], "email": p["email"]} for p in people],
        timeout=10).raise_for_status()
    kpis: list[dict[str, Any]] = []
    kpi_id = 0
    for role, skills in ROLES.items():
        for skill in skills:
            kpi_id += 1
            kpis.append({"id": kpi_id, "title": skill, "jobTitle": role, "minRating": 1,
                         "maxRating": 5 if role != "Software Engineer" else 10})
    post(f"{sb.orangehrm.url}/_sandbox/kpis", json=kpis, timeout=10).raise_for_status()
    reviews = []
    for p in people:
        ratings = []
        for k in (k for k in kpis if k["jobTitle"] == p["role"]):
            top = k["maxRating"]
            ratings.append({"kpiId": k["id"], "rating": rng.randint(max(1, top // 5), top),
                            "comment": "", "selfRating": top, "selfComment": ""})
        reviews.append({"empNumber": p["id"], "reviewPeriodStart": cycle_start.isoformat(),
                        "reviewPeriodEnd": cycle_end.isoformat(),
                        "dueDate": (cycle_end + timedelta(days=14)).isoformat(),
                        "completedDate": completed.isoformat(),
                        "jobTitle": p["role"], "ratings": ratings})
    post(f"{sb.orangehrm.url}/_sandbox/reviews", json=reviews, timeout=10).raise_for_status()
    return people


def course_catalogue() -> dict[str, str]:
    names = ["Negotiation Fundamentals", "Closing with Confidence", "Clear Business Writing",
             "Presenting with Impact", "Listening for Needs", "Customer Journey Basics",
             "Systems Design I", "Code Review Practice", "Structured Problem Solving",
             "Root Cause Analysis", "Data Literacy 101", "SQL for Everyone",
             "Prioritisation and Focus", "Time Management Essentials", "Difficult Conversations",
             "Feedback that Works", "Advanced Negotiation", "Service Recovery",
             "Debugging Strategies", "Dashboards that Matter"]
    return {str(101 + i): name for i, name in enumerate(names)}


def complete_some_courses(sb: Sandboxes, store: Store, rng: random.Random) -> tuple[int, int]:
    """Learners finish about half of their courses in the LMS; a few fail first."""
    done = failed = 0
    for row in store.assignments_for(state=AssignmentState.ENROLLED):
        identity = store.identity(row.employee_id)
        if not identity or not identity.lms_user_id or rng.random() > 0.55:
            continue
        item = {"user_id": identity.lms_user_id, "course_id": row.course_id,
                "score": rng.randint(70, 100), "passed": True}
        if rng.random() < 0.1:
            requests.post(f"{sb.talentlms.url}/_sandbox/complete",
                          json={**item, "passed": False, "score": 40,
                                "completed_at": int(time.time()) - 3600},
                          timeout=10).raise_for_status()
            failed += 1
        requests.post(f"{sb.talentlms.url}/_sandbox/complete", json=item,
                      timeout=10).raise_for_status()
        done += 1
    return done, failed


def _say(text: str) -> None:
    print(text, flush=True)


def prepare_database(path: Path) -> str:
    """A fresh demo database; an existing non-demo database is never overwritten."""
    url = f"sqlite:///{path}"
    if path.exists():
        store = Store.open(url)
        is_demo = bool(store.audit_events(DEMO_MARKER))
        store.close()
        if not is_demo:
            raise InputError(f"{path} exists and was not made by the demo; move it away or "
                             "pass --database PATH")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store.open(url)
    store.audit(None, None, DEMO_MARKER, "database made by `connector demo` (safe to replace)")
    store.close()
    return url


def run_demo(database: Path, *, keep_running: bool = False, employees: int = 60,
             seed: int = 7) -> int:
    started = time.monotonic()
    url = prepare_database(database)
    _say("▶ starting sandbox TalentLMS, BambooHR and OrangeHRM on loopback")
    sb = start_sandboxes()
    try:
        people = seed_organisation(sb, employees=employees, seed=seed)
        _say(f"  seeded {len(people)} employees in {len(ROLES)} roles, one finished review "
             "cycle, a 20-course catalogue")
        rt = build_runtime(sandbox_settings(sb, url))
        worker = Worker(rt.ctx)
        _say("▶ reading the BambooHR directory")
        queued, _ = sync_directory(rt.store, _require(rt.directory), max_leaver_share=0.05)
        worker.drain()
        _say(f"  {queued} employees known")
        _say("▶ polling OrangeHRM for finished reviews")
        reviews = 0
        for source in rt.review_sources:
            try:
                reviews += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping))
            except SafetyStop as stop:
                _say(f"  ⚠ safety limit: {stop}")
                _say("  (in production a person checks the plan and runs again with --confirm; "
                     "the demo confirms for you)")
                reviews += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping),
                                        confirm=True)
        _say(f"  {reviews} reviews queued; finding gaps, assigning courses, opening goals…")
        stats = worker.drain(concurrency=2)
        _say(f"  {stats.done} jobs done, {stats.retried} retried, {stats.dead} dead")
        _say("▶ learners complete courses in TalentLMS (about half; a few fail first)")
        done, failed = complete_some_courses(sb, rt.store, random.Random(seed))
        _say(f"  {done} completions, {failed} failed attempts")
        _say("▶ polling the TalentLMS timeline; posting evidence, moving and closing goals")
        new, _ = poll_completions(rt.store, _require(rt.lms))
        stats = worker.drain(concurrency=2)
        _say(f"  {new} completion events; {stats.done} jobs done, {stats.dead} dead")
        summary = summarise(rt, sb)
        _say(format_summary(summary))
        _show_trace(rt)
        prefix = "" if database == Path("connector.db") else f"CONNECTOR_DATABASE_URL={url} "
        command = _connector_command()
        _say(f"\nfinished in {time.monotonic() - started:.1f} s. Explore with:\n"
             f"  {prefix}{command} status\n"
             f"  {prefix}{command} trace {summary['example_employee']}")
        ok = summary["checks_ok"]
        if keep_running:
            _keep_running(rt, sb)
        rt.close()
        return 0 if ok else 1
    finally:
        sb.stop()


def _connector_command() -> str:
    """How this user runs `connector`: on PATH, else from the virtualenv we run in."""
    import shutil

    if shutil.which("connector"):
        return "connector"
    local = Path(sys.executable).parent / "connector"
    try:
        return str(local.relative_to(Path.cwd()))
    except ValueError:
        return str(local)


def _require(value: Any) -> Any:
    if value is None:
        raise InputError("the demo needs the LMS and the BambooHR directory configured")
    return value


def summarise(rt: Runtime, sb: Sandboxes) -> dict[str, Any]:
    store = rt.store
    ids = [r.employee_id for r in store.all_identities()]
    goals = [g for eid in ids for g in store.goals_for(eid)]
    assignments = store.assignments_for()
    evidence = sum(len(store.evidence_for(g.goal_key)) for g in goals)
    unmapped = store.audit_events("skill.unmapped")
    bamboo = requests.get(f"{sb.bamboohr.url}/_sandbox/state", timeout=10).json()
    tlms = requests.get(f"{sb.talentlms.url}/_sandbox/state", timeout=10).json()
    vendor_goals = _count(bamboo, "goals")
    vendor_enrollments = _count(tlms, "enrollments")
    closed = [g for g in goals if g.state is GoalState.CLOSED]
    example = (closed or goals)[0].employee_id if goals else (ids[0] if ids else "-")
    checks = {
        "every ledger goal exists once in BambooHR": vendor_goals == len(goals),
        "every assignment exists once in TalentLMS": vendor_enrollments == len(assignments),
        "no dead letters": not store.jobs.dead_letters(),
    }
    return {
        "reviews": len(store.audit_events("gap.found")) and store.review_count(),
        "gaps": len(store.audit_events("gap.found")),
        "assignments": len(assignments),
        "goals_open": len(goals) - len(closed), "goals_closed": len(closed),
        "evidence": evidence,
        "failed_attempts_noted": len(store.audit_events("goal.note")),
        "unmapped": sorted({u.message.split(":")[0] for u in unmapped}),
        "identities_pending": [r.employee_id
                               for r in store.identities_in_state(MatchState.PENDING)],
        "checks": checks, "checks_ok": all(checks.values()), "example_employee": example,
    }


def _count(state: dict[str, Any], key: str) -> int:
    value = state.get(key)
    if isinstance(value, list | dict):
        return len(value)
    counts = state.get("counts") or {}
    return int(counts.get(key, 0))


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


def _show_trace(rt: Runtime) -> None:
    from connector.commands import format_trace, trace_report

    closed = [g for r in rt.store.all_identities()
              for g in rt.store.goals_for(r.employee_id, state=GoalState.CLOSED)]
    if closed:
        _say(f"\n━━ trace of employee {closed[0].employee_id} ━━")
        _say(format_trace(trace_report(rt.store, closed[0].employee_id)))


def _keep_running(rt: Runtime, sb: Sandboxes) -> None:
    from connector.service import Service

    service = Service(rt, port=0, poll_seconds=10)
    url = service.start()
    _say(json.dumps({"connector": url, "talentlms": sb.talentlms.url,
                     "bamboohr": sb.bamboohr.url, "orangehrm": sb.orangehrm.url}, indent=2))
    _say("the sandboxes and the service keep running; Ctrl-C stops")
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    service.stop()
