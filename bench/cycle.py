"""Benchmark: a whole first review cycle for N employees through the product, against the sandboxes.

The product runs as `connector sync` and the demo run it (connector/demo/run.py): the directory
read, the review poll, the worker (plan, learners, goals, enrollments), learners finishing
about half of their courses at once (so TalentLMS's 200-event timeline overflows, as it will
at this size), a few failing first, the completion poll with its reconciliation, and the
worker again (evidence, notes, milestones, closing goals). The sandboxes (OrangeHRM reviews,
BambooHR goals and directory, TalentLMS) run in a child process, so the CPU seconds shown
are the product's own.

TalentLMS is the Core plan: 2,000 calls an hour and 200 per 5 seconds, both counted on one
scaled clock (`--time-scale`, simulated seconds per real second, default 120), and the
product is told the same limits on the same scale (its shared budget and burst cap). The
floor is the time those limits need for the calls made: max(calls / 2,000 per hour,
calls / 200 per 5 s), in real seconds at that scale.

Per vendor: calls per assignment, per review read, per goal opened, per piece of evidence,
per failure note, per progress change; 429s; wall time against the floor with the CPU
seconds beside it; the progress ETA (connector/progress.py) against the real finish;
CPU seconds per 1,000 assignments at several sizes; and, at the smallest size, a
recipe-style peer (find the user, find the course, enroll, one item at a time, then one
status read per assignment) against the same sandboxes.

Usage: .venv/bin/python bench/cycle.py [--employees 5000] [--quick] [--json]
Exit status 1 when a target is missed. `--quick` (CI): a small organisation, call-count
targets only (they do not depend on the machine's speed).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import multiprocessing as mp
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.deadlines import VendorSession
from connector.demo.org import make_org
from connector.demo.run import complete_some_courses
from connector.demo.sandboxes import DEFAULT_ROLES, Sandboxes, sandbox_settings
from connector.errors import SafetyStop
from connector.pollers import poll_completions, poll_reviews, sync_directory
from connector.progress import for_run
from connector.runtime import build_runtime
from connector.store import AssignmentState, GoalState
from connector.vendors import registry
from connector.vendors.talentlms.lms import TALENTLMS_BURST
from connector.worker import Worker

HOURLY, BURST, BURST_WINDOW = 2_000, 200, 5.0  # TalentLMS Core
TIME_SCALE = 120.0
CERTIFYING_COURSES = 4  # of the demo's 20: the courses whose pass hands out a certificate
QUICK_EMPLOYEES = 30
PEER_EMPLOYEES = 500
# TalentLMS reads made once per cycle whatever its size: the catalogue, the learner list, the
# first few one-by-one lookups (and those of the learners it does not hold), the two
# timelines, a few certificates.
FIXED_READS = 12
# In the quick run too few employees finish courses to overflow the 200-event timeline, so
# as many learners from outside the company (TalentLMS portals serve partners and
# customers too) finish a course in the same window: the overflow path is what is measured.
QUICK_OUTSIDE = 220
OUTSIDE_ID = 900_000
# The quick run's batch wait (seconds): longer than its whole review drain on a loaded
# machine, so its batches go out full or when the worker has nothing else to run, never
# because a pair waited out the product's default 15 s.
QUICK_BATCH_WAIT = 120.0
TARGETS = {  # name: (figure path, limit)
    "talentlms v1 calls per assignment <= 1.10": (("talentlms", "v1", "calls_per_assignment"),
                                                  1.10),
    "talentlms v2 enrolling calls per assignment <= 0.05": (
        ("talentlms", "v2", "enroll_calls_per_assignment"), 0.05),
    "orangehrm calls per review read <= 2.5": (("orangehrm", "calls_per_review"), 2.5),
    "bamboohr calls per goal opened <= 1": (("bamboohr", "calls_per_goal"), 1.0),
    "bamboohr calls per piece of evidence <= 1": (("bamboohr", "calls_per_evidence"), 1.0),
    "bamboohr calls per failure note <= 1": (("bamboohr", "calls_per_note"), 1.0),
    "bamboohr calls per progress change <= 1": (("bamboohr", "calls_per_progress"), 1.0),
}


# --- the sandboxes, in a child process ---------------------------------------------------------

def _serve_sandboxes(conn: Any, scale: float) -> None:
    """Child process: every sandbox of the default cast, TalentLMS on the Core plan's limits
    on the scaled clock; sends their URLs, serves until told to stop."""
    from connector.sandbox import talentlms
    from connector.sandbox.common import serve
    from connector.sandbox.kit import SANDBOX_KEY

    running = []
    urls = {}
    for name in dict.fromkeys(DEFAULT_ROLES.values()):
        if name == "talentlms":
            app = talentlms.create_app(api_key=SANDBOX_KEY, hourly_limit=HOURLY,
                                       time_scale=scale)
        else:
            app = _simulator(name).create_app()
        sim = serve(app, name)
        running.append(sim)
        urls[name] = sim.url
    conn.send(urls)
    conn.recv()  # stop
    for sim in running:
        sim.stop()


def _simulator(name: str) -> Any:
    plugin = registry.get(name)
    assert plugin.simulator is not None
    return plugin.simulator()


@contextlib.contextmanager
def sandboxes(scale: float) -> Any:
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=_serve_sandboxes, args=(child, scale),
                                           daemon=True)
    proc.start()
    try:
        urls = parent.recv()
        yield Sandboxes.at(urls)
    finally:
        with contextlib.suppress(OSError, BrokenPipeError):
            parent.send("stop")
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()


class CountingSession(VendorSession):
    """The product's HTTP session (connector/deadlines.py), counting each request by vendor
    (from its sandbox's address) and route (numbers and ids replaced by `#`)."""

    def __init__(self, vendors_by_netloc: dict[str, str]) -> None:
        super().__init__()
        self.vendors = vendors_by_netloc
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(url))
        route = re.sub(r"(?<=[/:])[^/,]*\d[^/,]*", "#", parts.path)
        with self._lock:
            self.counts[(self.vendors.get(parts.netloc, parts.netloc), f"{method!s} {route}")] += 1
        return super().request(method, url, *args, **kwargs)

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self.counts)


def delta(after: Counter[tuple[str, str]], before: Counter[tuple[str, str]], vendor: str,
          *patterns: str) -> int:
    """Calls to `vendor` between two snapshots whose route matches any pattern (all: none)."""
    total = 0
    for (name, route), n in after.items():
        if name == vendor and (not patterns or any(re.search(p, route) for p in patterns)):
            total += n - before.get((name, route), 0)
    return total


# --- the machine's speed -------------------------------------------------------------------------

def reference_seconds(rounds: int = 3) -> float:
    """CPU seconds of a fixed piece of pure-Python work (JSON, dicts, strings, sorting: what
    the product's own CPU goes on), the best of a few rounds: the machine's speed now."""
    rows = [{"employee_id": f"E{i:06d}", "course": str(101 + i % 20), "score": i * 0.5,
             "tags": ["learner", "goal", str(i)]} for i in range(2_000)]
    collecting = gc.isenabled()
    gc.disable()  # the speed of the machine, not of collecting what earlier runs left
    try:
        return _best_of(rows, rounds)
    finally:
        if collecting:
            gc.enable()


def _best_of(rows: list[dict[str, Any]], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(40):
            back = json.loads(json.dumps(rows))
            back.sort(key=lambda d: (d["course"], d["employee_id"]))
            {d["employee_id"]: d["tags"][-1].upper() for d in back}
        best = min(best, time.process_time() - start)
    return best


PROBE_EVERY = 2.0  # seconds between two of the speed probe's samples


@contextlib.contextmanager
def speed_probe() -> Any:
    """The machine's speed through a run: a process of its own (so its CPU is not the
    product's) times `reference_seconds(1)` every PROBE_EVERY seconds; the median of its
    samples is yielded's `[0]` once the block ends.

    The reference machine's speed drifts by up to 2.5x within minutes (bench/README.md), so
    CPU per 1,000 assignments is compared across sizes in this unit. A sample before and
    after each run was tried first and was worse than none: the speed changes within a run."""
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); import cycle\n"
            "while True:\n"
            "    print(cycle.reference_seconds(1), flush=True); time.sleep(float(sys.argv[2]))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(Path(__file__).resolve().parent),
                             str(PROBE_EVERY)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    found: list[float] = []
    try:
        yield found
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        samples = sorted(float(line) for line in out.split())
        found.append(samples[len(samples) // 2] if samples else reference_seconds())


# --- one cycle ---------------------------------------------------------------------------------

@dataclass
class EtaCheck:
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # t, share, eta

    def worst(self, finished: float) -> float | None:
        """Largest |predicted finish - real finish| / real duration once 10 % is done."""
        errors = [abs(t + eta - finished) / finished for t, share, eta in self.samples
                  if share >= 0.1 and share < 1.0]
        return max(errors) if errors else None


    def trace(self) -> list[list[float]]:
        """[seconds, share done, ETA seconds] at about every tenth of the work."""
        out: list[list[float]] = []
        for t, share, eta in self.samples:
            if not out or share - out[-1][1] >= 0.1:
                out.append([round(t, 1), round(share, 3), round(eta, 1)])
        return out


def watch_eta(progress: Any, check: EtaCheck, started: float, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        est = progress.estimate()
        if progress.total and est.eta_seconds is not None:
            check.samples.append((time.monotonic() - started, progress.done / progress.total,
                                  est.eta_seconds))


def seed(sb: Sandboxes, employees: int, outside: int = 0) -> Any:
    """The demo's organisation; `outside` more TalentLMS learners who are not employees
    (customers, contractors), each enrolled in one course."""
    org = make_org(employees=employees, seed=7)
    for sim in sb.sims.values():
        sim.seed(org)
    lms = sb.sims["talentlms"]
    lms.post("/_sandbox/courses", {"courses": [
        {"id": cid, "name": name, "certification": "Classic" if i < CERTIFYING_COURSES else ""}
        for i, (cid, name) in enumerate(org.courses.items())]})
    if outside:
        courses = list(org.courses)
        lms.post("/_sandbox/users", {"users": [
            {"id": OUTSIDE_ID + i, "email": f"guest{i}@partner.example", "login": f"guest{i}",
             "first_name": "Guest", "last_name": str(i)} for i in range(outside)]})
        lms.post("/_sandbox/enrollments", {"enrollments": [
            {"user_id": OUTSIDE_ID + i, "course_id": courses[i % len(courses)]}
            for i in range(outside)]})
    return org


def outside_learners_finish(sb: Sandboxes, org: Any, outside: int) -> None:
    """The outside learners finish their course in the same window as the employees."""
    courses = list(org.courses)
    sb.sims["talentlms"].post("/_sandbox/complete", {"completions": [
        {"user_id": OUTSIDE_ID + i, "course_id": courses[i % len(courses)], "score": 90,
         "passed": True} for i in range(outside)]})


def run_cycle(api: str, employees: int, scale: float, workdir: Path, *,
              outside: int = 0, batch_wait: float | None = None) -> dict[str, Any]:
    """One first cycle. `batch_wait`: how long an enrollment may wait for its batch (the
    product's default unless given; the quick run gives a longer one so that its count of
    batch calls does not depend on how fast a loaded CI machine drains the reviews)."""
    with speed_probe() as reference, sandboxes(scale) as sb:
        org = seed(sb, employees, outside)
        url = f"sqlite:///{workdir / f'cycle-{api}-{employees}.db'}"
        settings = sandbox_settings(
            sb, url, talentlms_api=api, talentlms_hourly_limit=int(HOURLY * scale),
            talentlms_v2_task_poll_seconds=1.0 / scale)
        netlocs = {urlsplit(sim.url).netloc: name for name, sim in sb.sims.items()}
        session = CountingSession(netlocs)
        rt = build_runtime(settings, http_kw={"session": session,
                                              "burst": int(TALENTLMS_BURST * scale)})
        worker = (Worker(rt.ctx) if batch_wait is None else
                  Worker(rt.ctx, lease_seconds=4 * batch_wait, batch_wait=batch_wait))
        cpu0, t0 = time.process_time(), time.monotonic()
        s0 = session.snapshot()
        if rt.directory is not None:
            sync_directory(rt.store, rt.directory, max_leaver_share=0.05,
                           id_spaces=rt.ctx.id_spaces)
            worker.drain()
        s1 = session.snapshot()
        reviews = 0
        for source in rt.review_sources:
            try:
                reviews += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping))
            except SafetyStop:
                reviews += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping),
                                        confirm=True)
        s2 = session.snapshot()
        eta = EtaCheck()
        drain_started = time.monotonic()
        with for_run("reviews", "jobs", rt.store, stream=io.StringIO()) as progress:
            progress.interactive = False
            stop = threading.Event()
            watcher = threading.Thread(target=watch_eta,
                                       args=(progress, eta, drain_started, stop), daemon=True)
            watcher.start()
            worker.drain(concurrency=2, progress=progress)
            stop.set()
            watcher.join()
        drain_seconds = time.monotonic() - drain_started
        s3 = session.snapshot()
        t_mid, cpu_mid = time.monotonic(), time.process_time()
        done, failed = complete_some_courses(sb, rt.store, random.Random(7))
        if outside:
            outside_learners_finish(sb, org, outside)
        t_mid2, cpu_mid2 = time.monotonic(), time.process_time()  # learners, not the product
        assert rt.lms is not None
        new, reconciled = poll_completions(rt.store, rt.lms)
        worker.drain(concurrency=2)
        wall = (time.monotonic() - t_mid2) + (t_mid - t0)
        print(f"[{api} {employees}] directory+poll {drain_started - t0:.1f} s, review drain "
              f"{drain_seconds:.1f} s, learners {t_mid2 - t_mid:.1f} s, completions "
              f"{time.monotonic() - t_mid2:.1f} s", file=sys.stderr, flush=True)
        cpu = (time.process_time() - cpu_mid2) + (cpu_mid - cpu0)
        s4 = session.snapshot()
        store = rt.store
        assignments = len(store.assignments_for())
        goals = sum(len(store.goals_for(r.employee_id)) for r in store.all_identities())
        evidence = sum(len(store.evidence_for(g.goal_key)) for r in store.all_identities()
                       for g in store.goals_for(r.employee_id))
        closed = sum(len(store.goals_for(r.employee_id, state=GoalState.CLOSED))
                     for r in store.all_identities())
        still_open = len(store.assignments_for(state=AssignmentState.ENROLLED))
        dead = store.jobs.counts().get("dead", 0)
        tl_state = sb.sims["talentlms"].state()
        rt.close()
    tl_calls = delta(s4, s0, "talentlms")
    enroll_calls = delta(s4, s0, "talentlms", r"addusertocourse", r"batch/enrollments",
                         r"tasks/")
    floor = max(tl_calls / HOURLY * 3600.0, tl_calls / BURST * BURST_WINDOW) / scale
    bh = "bamboohr"
    review_phase_bh = delta(s3, s2, bh) - delta(s3, s2, bh, r"employees/directory")
    completion_notes = failed
    milestones = delta(s4, s3, bh, r"milestones/#/progress", r"goals/#/progress")
    comments = delta(s4, s3, bh, r"comments")
    closes = delta(s4, s3, bh, r"/close")
    trainings = delta(s4, s3, bh, r"training")
    completion_bh = delta(s4, s3, bh)
    other = completion_bh - milestones - closes - trainings - comments
    worst_eta = eta.worst(drain_seconds)
    return {
        "employees": employees, "api": api, "assignments": assignments, "goals": goals,
        "catalogue": len(org.courses),
        "reviews": reviews, "evidence": evidence, "failure_notes": completion_notes,
        "completions": done, "closed_goals": closed, "open_assignments_left": still_open,
        "dead_jobs": dead, "completion_events": new, "reconciled": reconciled,
        "talentlms": {
            "calls": tl_calls, "calls_per_assignment": _per(tl_calls, assignments),
            "enroll_calls": enroll_calls,
            "enroll_calls_per_assignment": _per(enroll_calls, assignments),
            "completion_calls": delta(s4, s3, "talentlms"),
            "responses_429": tl_state["counts"]["throttled"],
            "wall_seconds": round(wall, 2), "floor_seconds": round(floor, 2),
            "wall_over_floor": round(wall / floor, 2) if floor else None,
            # The product's own work sets a floor too: its CPU seconds (one core's worth:
            # Python runs one thread at a time).
            "wall_over_floor_or_cpu": round(wall / max(floor, cpu), 2),
            "cpu_seconds": round(cpu, 2),
            "batch_pairs_sent": tl_state["counts"].get("batch_pairs", 0),
            "vendor_enrollments": tl_state["counts"]["enrollments"],
            "routes": {r: n - s0.get((v, r), 0) for (v, r), n in s4.items() if v == "talentlms"},
        },
        "orangehrm": {"calls": delta(s4, s0, "orangehrm"),
                      "calls_per_review": _per(delta(s2, s1, "orangehrm")
                                               + delta(s4, s2, "orangehrm"), reviews),
                      # A first review of someone the connector has never seen needs their
                      # e-mail (a contact-details read); see bench/README.md.
                      "contact_reads_per_review": _per(
                          delta(s4, s1, "orangehrm", r"contact-details"), reviews),
                      # What each review costs itself (its evaluations and, on first sight,
                      # the contact read); the rest is per poll (list pages, KPIs, token).
                      "per_review_reads": _per(
                          delta(s4, s1, "orangehrm", r"/evaluation/", r"contact-details"),
                          reviews),
                      "routes": {r: n - s0.get((v, r), 0) for (v, r), n in s4.items()
                                 if v == "orangehrm"}},
        "bamboohr": {
            "directory_calls": delta(s1, s0, bh),
            "calls_per_goal": _per(review_phase_bh, goals),
            # Inside a new database's adoption window each goal is looked up before it is
            # made (a goal list read): the rest is the goal's own call.
            "adoption_lookups_per_goal": _per(
                delta(s3, s2, bh, r"^GET .*/goals$"), goals),
            "calls_per_evidence": _per(comments - completion_notes + other, evidence),
            "calls_per_note": _per(completion_notes, completion_notes) if completion_notes
            else None,
            "calls_per_progress": _per(milestones, evidence),
            "routes": {r: n - s0.get((v, r), 0) for (v, r), n in s4.items() if v == bh},
        },
        "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
        "cpu_per_1000_assignments": _per(cpu * 1000, assignments),
        # The machine's speed through this run (speed_probe), and the CPU per 1,000
        # assignments in that unit: what is compared across sizes.
        "reference_seconds": round(reference[0], 4),
        "cpu_per_1000_in_reference": _per(cpu * 1000 / reference[0], assignments),
        "eta": {"worst_error": None if worst_eta is None else round(worst_eta, 3),
                "samples": len(eta.samples), "drain_seconds": round(drain_seconds, 2),
                "trace": eta.trace()},
    }


def _per(n: float, d: float) -> float | None:
    return round(n / d, 4) if d else None


# --- the recipe-style peer -----------------------------------------------------------------------

def run_peer(employees: int, scale: float) -> dict[str, Any]:
    """What an iPaaS recipe does per assignment: find the user by email, find the course,
    enroll; later one status read per assignment. Same plan (the demo mapping's courses for
    the same reviews, taken from a product run's ledger is not needed: the same count of
    assignments per person is drawn from the same catalogue), same limits."""
    from connector.sandbox.kit import SANDBOX_KEY
    from connector.vendors.talentlms.lms import v1_path

    with sandboxes(scale) as sb:
        org = seed(sb, employees)
        base = f"{sb.sims['talentlms'].url}/api/v1"
        http = requests.Session()
        http.auth = (SANDBOX_KEY, "")
        calls = 0

        def call(method: str, path: str, **kw: Any) -> requests.Response:
            nonlocal calls
            while True:
                calls += 1
                answer = http.request(method, f"{base}/{path}", timeout=30, **kw)
                if answer.status_code != 429:
                    return answer
                time.sleep(float(answer.headers.get("Retry-After", "1")))

        rng = random.Random(7)
        courses = list(org.courses)
        plan = [(p.email, c) for p in org.people[org.missing_learners:]
                for c in rng.sample(courses, 2 + (p.id % 2))]
        cpu0, t0 = time.process_time(), time.monotonic()
        for email, course in plan:
            user = call("GET", v1_path("users", email=email)).json()
            call("GET", v1_path("courses", id=course))
            call("POST", "addusertocourse", data={"user_id": user["id"], "course_id": course,
                                                  "role": "learner"})
        for email, course in plan:  # the completion check, per assignment
            user = call("GET", v1_path("users", email=email)).json()
            call("GET", v1_path("getuserstatusincourse", course_id=course, user_id=user["id"]))
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
        throttled = sb.sims["talentlms"].state()["counts"]["throttled"]
    floor = max(calls / HOURLY * 3600.0, calls / BURST * BURST_WINDOW) / scale
    return {"employees": employees, "assignments": len(plan), "calls": calls,
            "calls_per_assignment": _per(calls, len(plan)), "responses_429": throttled,
            "wall_seconds": round(wall, 2), "floor_seconds": round(floor, 2),
            "cpu_seconds": round(cpu, 2), "cpu_per_1000_assignments": _per(cpu * 1000,
                                                                          len(plan))}


# --- the report --------------------------------------------------------------------------------

def figure(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = doc
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true",
                        help=f"CI: {QUICK_EMPLOYEES} employees, call-count targets only")
    parser.add_argument("--time-scale", type=float, default=TIME_SCALE)
    parser.add_argument("--cpu-sizes", type=int, nargs="*", default=[500, 2_000],
                        help="extra sizes (v1) for CPU per 1,000 assignments; the main size "
                             "is added")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    employees = QUICK_EMPLOYEES if args.quick else args.employees
    scale = args.time_scale
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cycle-bench-") as tmp:
        work = Path(tmp)
        outside = QUICK_OUTSIDE if args.quick else 0
        wait = QUICK_BATCH_WAIT if args.quick else None
        v1 = run_cycle("v1", employees, scale, work, outside=outside, batch_wait=wait)
        v2 = run_cycle("v2", employees, scale, work, outside=outside, batch_wait=wait)
        sizes: dict[int, dict[str, Any]] = {employees: v1}
        peer = None
        if not args.quick:
            for size in sorted(set(args.cpu_sizes) - {employees}):
                sizes[size] = run_cycle("v1", size, scale, work)
            if not args.skip_peer:
                peer = run_peer(PEER_EMPLOYEES if PEER_EMPLOYEES in sizes else min(sizes), scale)
    doc = report(v1, v2, sizes, peer, quick=args.quick, scale=scale,
                 seconds=time.monotonic() - started)
    if args.json:
        print(json.dumps(doc, indent=1, default=str))
    else:
        print_text(doc)
    return 0 if doc["ok"] else 1


def report(v1: dict[str, Any], v2: dict[str, Any], sizes: dict[int, dict[str, Any]],
           peer: dict[str, Any] | None, *, quick: bool, scale: float,
           seconds: float) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bench": "cycle", "employees": v1["employees"], "time_scale": scale,
        "limits": f"{HOURLY} calls/h and {BURST} per {BURST_WINDOW:g} s (TalentLMS Core)",
        "talentlms": {"v1": v1["talentlms"], "v2": v2["talentlms"]},
        "orangehrm": v1["orangehrm"], "bamboohr": v1["bamboohr"],
        "cycle": {k: v1[k] for k in ("assignments", "goals", "reviews", "evidence",
                                      "failure_notes", "completions", "closed_goals",
                                      "open_assignments_left", "dead_jobs",
                                      "completion_events", "reconciled")},
        "eta": {"v1": v1["eta"], "v2": v2["eta"]},
        "cpu_per_1000_assignments": {str(n): r["cpu_per_1000_assignments"]
                                     for n, r in sorted(sizes.items())},
        "reference_seconds": {str(n): r["reference_seconds"] for n, r in sorted(sizes.items())},
        "cpu_per_1000_in_reference": {str(n): r["cpu_per_1000_in_reference"]
                                      for n, r in sorted(sizes.items())},
        "peer": peer, "seconds": round(seconds, 1),
    }
    checks: dict[str, bool] = {}
    for name, (path, limit) in TARGETS.items():
        value = figure(doc, path)
        checks[name] = value is not None and value <= limit
    t1 = v1["talentlms"]
    beyond = t1["calls"] - t1["enroll_calls"]
    doc["talentlms"]["v1"]["calls_beyond_enrolling"] = beyond
    # Whatever the size: enrolling is one call per assignment (v1 has no batch) and the rest
    # is a fixed few reads plus at most one per catalogue course: nothing per assignment.
    checks[f"talentlms v1 calls beyond enrolling <= {FIXED_READS} + catalogue size"] = (
        t1["enroll_calls_per_assignment"] == 1.0
        and beyond <= FIXED_READS + v1["catalogue"])
    if quick:  # too few assignments for the per-assignment share of the fixed reads
        checks.pop("talentlms v1 calls per assignment <= 1.10")
    checks["no 429s"] = (v1["talentlms"]["responses_429"] == 0
                         and v2["talentlms"]["responses_429"] == 0)
    checks["v2 enrolled each pair once (pairs sent = assignments)"] = (
        v2["talentlms"]["batch_pairs_sent"] == v2["assignments"])
    # Where a target cannot hold on a new database's first cycle (bench/README.md), the
    # target that can, counted like the others.
    ohrm = v1["orangehrm"]
    checks["orangehrm reads of a review itself <= 3 on a first cycle (proposed)"] = (
        ohrm["per_review_reads"] <= 3.0)
    checks["orangehrm reads of a review itself <= 2 once its e-mail is known (proposed)"] = (
        ohrm["per_review_reads"] - ohrm["contact_reads_per_review"] <= 2.0)
    bamboo = v1["bamboohr"]
    checks["bamboohr calls per goal <= 1 besides the adoption lookup (proposed)"] = (
        bamboo["calls_per_goal"] - bamboo["adoption_lookups_per_goal"] <= 1.0)
    checks["no dead jobs"] = v1["dead_jobs"] == 0 and v2["dead_jobs"] == 0
    checks["every finished course reached its goal"] = (
        v1["open_assignments_left"] == v1["assignments"] - v1["completions"]
        and v2["open_assignments_left"] == v2["assignments"] - v2["completions"])
    if not quick:
        ratio = v2["talentlms"]["wall_over_floor"]
        checks["v2 wall time within 1.2x its floor"] = ratio is not None and ratio <= 1.2
        checks["v2 adds no waiting: its wall over max(floor, CPU) within 1.1x v1's (proposed)"] = (
            v2["talentlms"]["wall_over_floor_or_cpu"]
            <= 1.1 * v1["talentlms"]["wall_over_floor_or_cpu"])
        for api, run in (("v1", v1), ("v2", v2)):
            worst = run["eta"]["worst_error"]
            checks[f"{api} ETA within 25 % once a tenth is done"] = (worst is not None
                                                                     and worst <= 0.25)
        # In the machine's speed of the moment, not raw seconds (reference_seconds).
        per = [r["cpu_per_1000_in_reference"] for r in sizes.values()
               if r["cpu_per_1000_in_reference"]]
        if len(per) > 1:
            doc["cpu_growth"] = round(max(per) / min(per) - 1, 3)
            checks["CPU per 1,000 assignments flat within 20 %"] = doc["cpu_growth"] <= 0.2
        if peer:
            ours = sizes[peer["employees"]]
            doc["peer_ratio"] = {
                "calls": _per(peer["calls_per_assignment"] or 0,
                              ours["talentlms"]["calls_per_assignment"] or 1),
                "cpu": _per(peer["cpu_per_1000_assignments"] or 0,
                            ours["cpu_per_1000_assignments"] or 1)}
    doc["checks"] = checks
    doc["ok"] = all(checks.values())
    doc["rows"] = rows(doc)
    doc["arithmetic"] = arithmetic(doc)
    return doc


def _routes(routes: dict[str, int], *patterns: str) -> int:
    return sum(n for route, n in routes.items() if any(re.search(p, route) for p in patterns))


def arithmetic(doc: dict[str, Any]) -> list[str]:
    """Why each target the vendors' APIs rule out on a first cycle is missed, in this run's
    own counts, and the target proposed in its place (bench/README.md gives the reasons)."""
    c, lines = doc["cycle"], []
    v1, v2 = doc["talentlms"]["v1"], doc["talentlms"]["v2"]
    if v2["floor_seconds"]:
        lines.append(
            f"TalentLMS v2 wall time: the floor is max({v2['calls']:,} calls / {HOURLY:,} per "
            f"hour, {v2['calls']:,} / {BURST} per {BURST_WINDOW:g} s) / {doc['time_scale']:g} = "
            f"{v2['floor_seconds']:g} s, while the product's own work for the same cycle is "
            f"{v2['cpu_seconds']:g} CPU s: a v2 cycle is bound by the product's CPU, not by "
            f"TalentLMS. Its wall time, {v2['wall_seconds']:g} s, is "
            f"{v2['wall_over_floor_or_cpu']:g}x max(floor, CPU) (v1: "
            f"{v1['wall_over_floor_or_cpu']:g}x). Proposed: v2's wall over max(floor, CPU) "
            "within 1.1x v1's (batching adds no waiting of its own).")
    ohrm, reviews = doc["orangehrm"], c["reviews"]
    if reviews:
        routes = ohrm["routes"]
        final = _routes(routes, r"/evaluation/final")
        supervisor = _routes(routes, r"/evaluation/supervisor")
        own = _routes(routes, r"/evaluation/employee")
        contact = _routes(routes, r"contact-details")
        # The poll's calls as calls_per_review counts them (the review phase's alone).
        per_poll = round(ohrm["calls_per_review"] * reviews) - final - supervisor - own - contact
        self_part = f" + {own:,} evaluation/employee" if own else ""
        lines.append(
            f"OrangeHRM per review read: {final:,} evaluation/final + {supervisor:,} "
            f"evaluation/supervisor{self_part} + {contact:,} contact-details (first sight of "
            f"the person: the review list carries no e-mail) = "
            f"{(final + supervisor + own + contact) / reviews:.2f} per review; the review list "
            f"pages, KPIs and token add {per_poll:,} calls for the poll ({per_poll / reviews:.2f} "
            f"per review): {ohrm['calls_per_review']:g} in all. Once the e-mail is in the identity "
            f"ledger the contact read goes: {ohrm['calls_per_review'] - contact / reviews:.2f}. "
            "Proposed: a review's own reads <= 3 on a first cycle and <= 2 once its e-mail is "
            "known.")
    bamboo, goals = doc["bamboohr"], c["goals"]
    if goals:
        lookups = round(bamboo["adoption_lookups_per_goal"] * goals)
        outside = bamboo["calls_per_goal"] - bamboo["adoption_lookups_per_goal"]
        lines.append(
            f"BambooHR per goal opened: {goals:,} goal creates + {lookups:,} goal-list reads "
            "(a new database's adoption window: a goal an earlier installation made is adopted, "
            f"not made twice) = {bamboo['calls_per_goal']:g} per goal; once the window closes "
            f"after one full cycle, {outside:g}. Proposed: <= 1 per goal outside the adoption "
            "window, <= 2 inside it.")
    return lines


def rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The shared shape bench/run reads."""
    out: list[dict[str, Any]] = []

    def add(name: str, value: Any, unit: str = "", target: str = "", met: bool | None = None,
            baseline: Any = None, ratio: Any = None) -> None:
        out.append({"name": name, "value": value, "unit": unit, "target": target, "met": met,
                    "baseline": baseline, "ratio": ratio})

    checks = doc["checks"]
    for api in ("v1", "v2"):
        t = doc["talentlms"][api]
        add(f"TalentLMS {api}: calls per assignment", t["calls_per_assignment"], "calls",
            "<= 1.10" if api == "v1" else "",
            checks.get("talentlms v1 calls per assignment <= 1.10") if api == "v1" else None)
        add(f"TalentLMS {api}: enrolling calls per assignment",
            t["enroll_calls_per_assignment"], "calls", "<= 0.05" if api == "v2" else "",
            checks.get("talentlms v2 enrolling calls per assignment <= 0.05")
            if api == "v2" else None)
        add(f"TalentLMS {api}: 429 answers", t["responses_429"], "answers", "0",
            t["responses_429"] == 0)
        add(f"TalentLMS {api}: wall time (floor as baseline)", t["wall_seconds"], "s",
            "<= 1.2x floor" if api == "v2" else "",
            checks.get("v2 wall time within 1.2x its floor") if api == "v2" else None,
            t["floor_seconds"], t["wall_over_floor"])
        add(f"TalentLMS {api}: CPU seconds", t["cpu_seconds"], "s")
        eta = doc["eta"][api]["worst_error"]
        if eta is not None:
            add(f"{api}: worst ETA error once 10 % done", round(100 * eta, 1), "%", "<= 25 %",
                checks.get(f"{api} ETA within 25 % once a tenth is done"))
    add("OrangeHRM: calls per review read", doc["orangehrm"]["calls_per_review"], "calls",
        "<= 2.5", checks["orangehrm calls per review read <= 2.5"])
    for key, label in (("calls_per_goal", "goal opened"),
                       ("calls_per_evidence", "piece of evidence"),
                       ("calls_per_note", "failure note"),
                       ("calls_per_progress", "progress change")):
        name = next(n for n in TARGETS if n.startswith(f"bamboohr calls per {label}"))
        add(f"BambooHR: calls per {label}", doc["bamboohr"][key], "calls", "<= 1",
            checks[name])
    for size, value in doc["cpu_per_1000_assignments"].items():
        # The baseline is the reference work's CPU seconds around the run; the ratio is
        # the figure compared across sizes (the machine's speed drifts between them).
        add(f"CPU per 1,000 assignments at {int(size):,} employees", value, "s",
            baseline=doc["reference_seconds"][size],
            ratio=doc["cpu_per_1000_in_reference"][size])
    if "cpu_growth" in doc:
        add("CPU per 1,000 assignments (in reference units): growth, smallest to largest",
            round(100 * doc["cpu_growth"], 1), "%", "<= 20 %",
            checks["CPU per 1,000 assignments flat within 20 %"])
    if doc.get("peer"):
        p = doc["peer"]
        add(f"recipe-style peer at {p['employees']:,}: calls per assignment",
            p["calls_per_assignment"], "calls", ratio=doc["peer_ratio"]["calls"])
        add(f"recipe-style peer at {p['employees']:,}: CPU per 1,000 assignments",
            p["cpu_per_1000_assignments"], "s", ratio=doc["peer_ratio"]["cpu"])
        add(f"recipe-style peer at {p['employees']:,}: wall time (floor as baseline)",
            p["wall_seconds"], "s", baseline=p["floor_seconds"])
    shown = {"talentlms v1 calls per assignment <= 1.10",
             "talentlms v2 enrolling calls per assignment <= 0.05",
             "v2 wall time within 1.2x its floor", "CPU per 1,000 assignments flat within 20 %",
             "v1 ETA within 25 % once a tenth is done", "v2 ETA within 25 % once a tenth is done",
             "orangehrm calls per review read <= 2.5"} | {n for n in TARGETS
                                                          if n.startswith("bamboohr")}
    for name, ok in checks.items():
        if name not in shown:
            add(name, "", "", "as named", ok)
    return out


def print_text(doc: dict[str, Any]) -> None:
    c = doc["cycle"]
    print(f"cycle: {doc['employees']:,} employees, {c['reviews']:,} reviews, "
          f"{c['assignments']:,} assignments, {c['goals']:,} goals, {c['completions']:,} "
          f"completions ({c['failure_notes']} failed first), {c['evidence']:,} evidence, "
          f"{c['reconciled']:,} found by reconciliation; time x{doc['time_scale']:g}, "
          f"{doc['limits']}")
    for r in doc["rows"]:
        met = "" if r["met"] is None else ("  ok" if r["met"] else "  MISS")
        base = f" (baseline {r['baseline']}, ratio {r['ratio']})" if r["baseline"] else (
            f" (ratio {r['ratio']})" if r["ratio"] else "")
        print(f"  {r['name']}: {r['value']} {r['unit']}{base} {r['target']}{met}")
    for name, ok in doc["checks"].items():
        print(f"  {'ok ' if ok else 'MISS'} {name}")
    for line in doc["arithmetic"]:
        print(f"  * {line}")
    print(f"finished in {doc['seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
