"""Benchmark: one cycle of 10,000 new assignments for 4,000 existing TalentLMS learners.

Runs the real adapter against the simulator on loopback, twice:

- API v1: learners prefetched once (`GET users`), the catalogue read once, then one
  `POST addusertocourse` per assignment. Target: <= 1.05 calls per assignment.
- API v2: the same, but enrollments go 100 at a time through `POST /api/v2/batch/enrollments`
  and one task check each. Target: <= 0.03 calls per assignment.

The v1 run is made under the Core plan's 2,000 calls per hour, time-scaled so the hours pass
in seconds, and reports the 429s seen (target 0: the client paces itself from the
`X-RateLimit-*` headers) and the share of the allowed rate it used (target >= 90 %). The
client's burst cap and the v2 task-poll interval are scaled by the same factor as the clock.

Usage: .venv/bin/python bench/talentlms.py [--time-scale 360] [--assignments 10000]
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.models import Employee, LearnerRef
from connector.sandbox.common import serve
from connector.sandbox.talentlms import create_app
from connector.vendors.talentlms.lms import TALENTLMS_BURST, TalentLMS

KEY = "bench-key"
BATCH = 1000  # assignments handed to enroll_many at a time (the executor's batch)


@dataclass
class Run:
    api: str
    assignments: int
    calls: int
    throttled: int
    enrolled: int
    failures: int
    seconds: float
    simulated_hours: float
    hourly_limit: int

    @property
    def per_assignment(self) -> float:
        return self.calls / self.assignments

    @property
    def rate_used(self) -> float:
        """Calls made per simulated hour, as a share of the hourly limit."""
        return self.calls / self.simulated_hours / self.hourly_limit


def plan(assignments: int, learners: int, courses: int) -> list[tuple[Employee, str]]:
    """Distinct (employee, course id) pairs: each learner gets about assignments/learners."""
    out = []
    for k in range(assignments):
        learner = k % learners
        course = (learner + k // learners) % courses + 1
        out.append((Employee(employee_id=f"E{learner}", email=f"learner{learner}@example.com"),
                    str(course)))
    return out


def run(api: str, args: argparse.Namespace) -> Run:
    app = create_app(api_key=KEY, hourly_limit=args.hourly_limit, time_scale=args.time_scale)
    sim = serve(app, f"talentlms-bench-{api}")
    try:
        requests.post(f"{sim.url}/_sandbox/users", timeout=60, json=[
            {"email": f"learner{i}@example.com", "login": f"learner{i}", "first_name": "L",
             "last_name": str(i)} for i in range(args.learners)]).raise_for_status()
        requests.post(f"{sim.url}/_sandbox/courses", timeout=60, json=[
            {"id": c, "name": f"Course {c}"} for c in range(1, args.courses + 1)]
        ).raise_for_status()
        assignments = plan(args.assignments, args.learners, args.courses)
        lms = TalentLMS(sim.url, KEY, api=api, v2_api_key=KEY,
                        burst=int(TALENTLMS_BURST * args.time_scale),
                        v2_poll_interval=1.0 / args.time_scale, max_wait=60.0)
        started = time.monotonic()
        lms.prefetch_learners()
        lms.list_courses()
        failures = 0
        for start in range(0, len(assignments), BATCH):
            pairs: list[tuple[LearnerRef, str]] = []
            for employee, course_id in assignments[start:start + BATCH]:
                learner = lms.find_learner(employee)
                if learner is None:
                    failures += 1
                    continue
                pairs.append((learner, course_id))
            results = lms.enroll_many(pairs)
            failures += sum(1 for error in results.values() if error is not None)
        seconds = time.monotonic() - started
        state = requests.get(f"{sim.url}/_sandbox/state", timeout=60).json()["counts"]
    finally:
        sim.stop()
    return Run(api=api, assignments=args.assignments, calls=lms.calls,
               throttled=state["throttled"], enrolled=state["enrollments"], failures=failures,
               seconds=seconds, simulated_hours=seconds * args.time_scale / 3600,
               hourly_limit=args.hourly_limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", type=int, default=10_000)
    parser.add_argument("--learners", type=int, default=4_000)
    parser.add_argument("--courses", type=int, default=40)
    parser.add_argument("--hourly-limit", type=int, default=2_000)
    parser.add_argument("--time-scale", type=float, default=360.0,
                        help="simulated seconds per real second (default 360: 2,000 calls an "
                             "hour is 200 calls a real second)")
    args = parser.parse_args(argv)

    v1, v2 = run("v1", args), run("v2", args)
    print(f"TalentLMS: {args.assignments} new assignments, {args.learners} learners, "
          f"{args.courses} courses, limit {args.hourly_limit}/h, time x{args.time_scale:g}")
    print(f"{'api':<4} {'calls':>7} {'per assignment':>15} {'429s':>5} {'enrolled':>9} "
          f"{'failed':>7} {'seconds':>8} {'sim hours':>10} {'rate used':>10}")
    for r in (v1, v2):
        print(f"{r.api:<4} {r.calls:>7} {r.per_assignment:>15.4f} {r.throttled:>5} "
              f"{r.enrolled:>9} {r.failures:>7} {r.seconds:>8.1f} {r.simulated_hours:>10.2f} "
              f"{r.rate_used:>10.1%}")
    checks = {
        "v1 calls per assignment <= 1.05": v1.per_assignment <= 1.05,
        "v2 calls per assignment <= 0.03": v2.per_assignment <= 0.03,
        "no 429s": v1.throttled == 0 and v2.throttled == 0,
        "v1 used >= 90 % of the hourly rate": v1.rate_used >= 0.9,
        "every assignment enrolled": v1.failures == v2.failures == 0
        and v1.enrolled == v2.enrolled == args.assignments,
    }
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'MISS'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
