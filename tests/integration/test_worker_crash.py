"""Crash safety: a worker process killed with SIGKILL at random moments loses nothing and
repeats nothing.

The vendors are the TalentLMS and BambooHR simulators, served from this (the test) process so
they outlive every worker; the worker is the real one in a subprocess
(`tests/support/crash_worker.py`) with the real adapters over HTTP. After 20 kills and a final
clean run, every enrollment, goal and piece of evidence exists exactly once, both in the
vendors and in the ledger.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from connector.models import CompletionEvent, Employee, GoalKey, Rating, Review
from connector.sandbox import bamboohr as bamboohr_sandbox
from connector.sandbox import talentlms as talentlms_sandbox
from connector.sandbox.common import RunningSimulator, serve
from connector.store import ActionState, Store
from connector.store.schema import jobs
from connector.vendors.bamboohr.goals import goal_marker

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EMPLOYEES = 100
KILLS = 20
SEED = int(os.environ.get("CRASH_SEED", "20260301"))
LMS_KEY, HR_KEY = "crash-lms-key", "crash-hr-key"
REVIEWED = datetime(2026, 3, 1, tzinfo=UTC)
PASSED = datetime(2026, 3, 10, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
# Two gaps per employee: negotiation (3 courses) and communication (2): 5 assignments each.
NEGOTIATION, COMMUNICATION = ["101", "102", "103"], ["104", "105"]
PASSES = ["101", "104", "105"]  # closes every communication goal, half-fills negotiation
MAPPING = """
[targets]
default = 4

[[skills]]
id = "negotiation"
aliases = ["Negotiation"]

[[skills]]
id = "communication"
aliases = ["Communication"]

[[rules]]
skill = "negotiation"
courses = ["101", "102", "103"]
priority = 2

[[rules]]
skill = "communication"
courses = ["104", "105"]
priority = 1

[limits]
max_courses_per_review = 5
"""


@pytest.fixture
def vendors() -> Iterator[tuple[RunningSimulator, RunningSimulator]]:
    lms = serve(talentlms_sandbox.create_app(api_key=LMS_KEY, hourly_limit=1_000_000,
                                             time_scale=1000.0), "talentlms")
    hr = serve(bamboohr_sandbox.create_app(api_key=HR_KEY), "bamboohr")
    try:
        yield lms, hr
    finally:
        lms.stop()
        hr.stop()


def control(sim: RunningSimulator, path: str, body: Any = None) -> Any:
    url = f"{sim.url}/_sandbox/{path}"
    response = (requests.post(url, json=body, timeout=10) if body is not None
                else requests.get(url, timeout=10))
    response.raise_for_status()
    return response.json()


def employee(n: int) -> Employee:
    return Employee(employee_id=str(n), email=f"person{n}@example.com", first_name=f"P{n}",
                    last_name="Crash")


def seed(lms: RunningSimulator, hr: RunningSimulator, store: Store) -> None:
    control(lms, "users", [{"email": f"person{n}@example.com", "login": f"person{n}",
                            "first_name": f"P{n}", "last_name": "Crash"}
                           for n in range(1, EMPLOYEES + 1)])
    control(lms, "courses", [{"id": int(c), "name": f"Course {c}"}
                             for c in NEGOTIATION + COMMUNICATION])
    control(hr, "employees", [{"id": str(n), "firstName": f"P{n}", "lastName": "Crash",
                               "workEmail": f"person{n}@example.com"}
                              for n in range(1, EMPLOYEES + 1)])
    for n in range(1, EMPLOYEES + 1):
        review = Review(review_id=f"R{n}", source="csv", cycle="2026", employee=employee(n),
                        completed_at=REVIEWED,
                        ratings=(Rating(skill_key="Negotiation", value=2),
                                 Rating(skill_key="Communication", value=3)))
        assert store.ingest("csv", review.review_id, "review",
                            {"review": review.model_dump(mode="json")}, employee_id=str(n))
    # The passes are queued behind their employee's review, as a webhook would queue them.
    for n in range(1, EMPLOYEES + 1):
        for course in PASSES:
            event = CompletionEvent(source="talentlms", event_id=f"{n}-{course}",
                                    course_id=course, employee_id=str(n),
                                    completed_at=PASSED, score=80)
            assert store.ingest("talentlms", event.event_id, "completion",
                                {"completion": event.model_dump(mode="json")},
                                employee_id=str(n))


def start_worker(config: Path, log: Path) -> subprocess.Popen[str]:
    with log.open("a") as err:
        proc = subprocess.Popen([sys.executable, "-m", "tests.support.crash_worker", str(config)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        proc.wait()
        pytest.fail(f"crash worker did not start ({line!r}); see {log}:\n{log.read_text()[-2000:]}")
    return proc


def test_sigkill_at_random_moments_loses_nothing_and_repeats_nothing(
        vendors: tuple[RunningSimulator, RunningSimulator], tmp_path: Path) -> None:
    lms, hr = vendors
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    store = Store.open(url)
    seed(lms, hr, store)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING)
    config = tmp_path / "worker.json"
    config.write_text(json.dumps({
        "database_url": url, "talentlms_url": lms.url, "talentlms_key": LMS_KEY,
        "bamboohr_url": hr.url, "bamboohr_key": HR_KEY, "mapping": str(mapping),
        "now": NOW.isoformat(), "lease_seconds": 1.5}))
    log = tmp_path / "worker.log"
    rng = random.Random(SEED)

    killed_mid_work = 0
    for _ in range(KILLS):
        proc = start_worker(config, log)
        time.sleep(rng.uniform(0.02, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_work += 1
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    left = store.jobs.counts()
    assert killed_mid_work == KILLS, f"the queue ran dry too early (seed {SEED})"
    assert left.get("pending", 0) + left.get("running", 0) > 0, "every kill came too late"

    final = start_worker(config, log)
    assert final.stdout is not None
    out, _ = final.communicate(timeout=90)
    assert final.returncode == 0, log.read_text()[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["dead"] == 0, summary

    try:
        check_exactly_once(store, control(lms, "state"), control(hr, "state"))
        # The kills did land in the middle of jobs: those were claimed again after their
        # lease expired (and some effects were found already done at the vendor).
        with store.engine.connect() as conn:
            reclaimed = conn.execute(select(func.count()).where(jobs.c.attempts > 1)).scalar()
        recovered = (store.audit_events("goal.open.recovered")
                     + store.audit_events("goal.evidence.recovered"))
        print(f"seed {SEED}: {reclaimed} jobs re-claimed after a kill, "
              f"{len(recovered)} effects recovered from the vendor")
        assert reclaimed is not None
        assert reclaimed >= KILLS // 4
    finally:
        store.close()


def check_exactly_once(store: Store, lms_state: dict[str, Any],
                       hr_state: dict[str, Any]) -> None:
    people = [str(n) for n in range(1, EMPLOYEES + 1)]
    assert store.jobs.counts() == {"done": EMPLOYEES * (1 + len(PASSES))}
    assert store.jobs.dead_letters() == []

    # Enrollments: 500, each once, in the LMS and in the ledger.
    enrolled = Counter((e["user_id"], e["course_id"]) for e in lms_state["enrollments"])
    assert len(enrolled) == EMPLOYEES * 5
    assert set(enrolled.values()) == {1}
    ledger = store.assignments_for()
    assert len(ledger) == EMPLOYEES * 5
    assert Counter((a.employee_id, a.course_id) for a in ledger) == Counter(
        {(p, c): 1 for p in people for c in NEGOTIATION + COMMUNICATION})
    identities = {p: store.identity(p) for p in people}
    assert {(identities[a.employee_id].lms_user_id, a.course_id)  # type: ignore[union-attr]
            for a in ledger} == set(enrolled)

    # Goals: 200, each once (by its marker), and the ledger points at the vendor's goal.
    goals = hr_state["goals"]
    assert len(goals) == EMPLOYEES * 2
    markers = Counter(line.strip() for g in goals for line in g["description"].splitlines())
    by_vendor_id = {f"{g['employeeId']}:{g['id']}": g for g in goals}
    for p in people:
        for skill, courses in (("negotiation", NEGOTIATION), ("communication", COMMUNICATION)):
            row = store.goal(f"{p}/{skill}/2026")
            assert row is not None
            vendor_goal = by_vendor_id[row.goal_id]
            key = GoalKey(employee_id=p, skill_id=skill, cycle="2026")
            assert markers[goal_marker(key)] == 1
            assert str(vendor_goal["employeeId"]) == p
            assert sorted(row.milestone_ids) == courses
            passed = [c for c in courses if c in PASSES]
            comments = [c["text"] for c in vendor_goal["comments"]]
            for course in passed:
                tag = f"[evidence {course} {PASSED.date().isoformat()}]"
                assert sum(tag in text for text in comments) == 1, (p, skill, comments)
            assert len(comments) == len(passed)
            assert sorted(e.course_id for e in store.evidence_for(row.goal_key)) == passed
            done = sorted(str(m["title"]) for m in vendor_goal.get("milestones") or []
                          if m.get("completedDateTime"))
            assert done == [f"Course {c}" for c in passed], (p, skill, vendor_goal)
            closed = set(courses) <= set(PASSES)
            assert vendor_goal["closed"] is closed
            assert row.state == ("closed" if closed else "open")

    # Every effect in the ledger is done; none is stuck half way.
    for p in people:
        assert store.actions_for(
            p, (ActionState.PLANNED, ActionState.INTENT, ActionState.WAITING)) == []
    assert {a.key for p in people for a in store.actions_for(p, (ActionState.DONE,))}
