"""Benchmark: review file → plan, streaming, against a bare csv.reader baseline.

Generates a long-form CSV of N reviews x 8 ratings in a temporary directory, then times, in
alternating rounds (so both see the same load on a shared machine):
(1) a bare `csv.reader` pass over the file (the floor: what reading alone costs), and
(2) `read_reviews` + `Planner.plan_review` for every review, as the worker does, with a
    consumer that walks every action of every plan (kind, employee, course, goal, due date,
    causes), so nothing the planner returns goes untouched.
Each figure is the best round (the least disturbed by other processes), as wall-clock time and
as this process's CPU time; the load average is printed with them. Peak memory is the process's
peak RSS after planning (the file is streamed, so it must stay flat as N grows).

    .venv/bin/python bench/planner.py [--reviews 100000] [--rounds 3]

Targets: >= 20,000 reviews/s from file to plan (wall clock); peak RSS < 300 MB. The exit
status is 1 when a target is missed. `--max-ratio` (off by default) also fails the run when
planning is more than that many times the baseline's time.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.models import ActionKind  # noqa: E402
from connector.planner import Planner  # noqa: E402
from connector.reviews.file import read_reviews  # noqa: E402
from mappings.loader import load_mapping  # noqa: E402

ROLES = ["Account Executive", "Software Engineer", "Support Specialist", "Analyst"]
SKILLS = ["Negotiation skills", "KPI 3", "Customer focus", "Technical skills",
          "Problem solving", "Time management", "Leadership", "Working with data"]
HEADER = ["employee_id", "email", "first_name", "last_name", "role", "review_id", "cycle",
          "completed_at", "skill", "rating", "scale_min", "scale_max", "rater", "comment"]
TARGET_RATE = 20_000
TARGET_RSS_MB = 300


def generate(path: Path, reviews: int, seed: int = 42) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for n in range(reviews):
            eid = f"E{n:06d}"
            role = ROLES[n % len(ROLES)]
            day = f"2026-03-{1 + n % 28:02d}"
            for skill in SKILLS:
                if n % 10 == 0:
                    value, lo, hi = str(rnd.randint(1, 10)), "1", "10"
                else:
                    value, lo, hi = str(rnd.choice([1, 2, 3, 3, 4, 4, 5])), "", ""
                writer.writerow([eid, f"{eid.lower()}@example.com", "Ann", "Lee", role,
                                 f"R{n}", "2026-H1", day, skill, value, lo, hi, "manager", ""])


def baseline(path: Path) -> int:
    """Read every row with a bare csv.reader; the row count."""
    rows = 0
    with path.open(newline="", encoding="utf-8") as fh:
        for _row in csv.reader(fh):
            rows += 1
    return rows


def plan_file(path: Path) -> Counter[str]:
    """Read and plan every review of the file; what the plans hold."""
    mapping = load_mapping(ROOT / "mappings" / "example.toml")
    planner = Planner(mapping, today=date(2026, 4, 1))
    kinds = dict.fromkeys(ActionKind, 0)
    reviews = gaps = unmapped = skipped = dated = 0
    file = read_reviews(path, skill_matcher=mapping.is_known_skill)
    for review in file:
        plan = planner.plan_review(review)
        reviews += 1
        for action in plan.actions:
            # What the executor reads of every action.
            if action.employee.employee_id and action.causes:
                kinds[action.kind] += 1
            if action.course_id is not None or action.goal is not None:
                dated += action.due_date is not None
        gaps += len(plan.gaps)
        unmapped += len(plan.unmapped)
        skipped += len(plan.skipped)
    if file.errors:
        raise AssertionError(f"rejected rows: {file.errors[:3]}")
    counts = Counter({kind.value: n for kind, n in kinds.items()})
    counts.update(reviews=reviews, gaps=gaps, unmapped=unmapped, skipped=skipped, due=dated)
    return counts


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one call, after a full collection so that no
    garbage from the previous round is paid for here."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reviews", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating baseline/plan rounds; the best of each is reported")
    parser.add_argument("--max-ratio", type=float, default=None,
                        help="also fail when planning takes more than this x the baseline")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also measure Python heap peak (slows the run ~2x)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reviews.csv"
        t0 = time.perf_counter()
        generate(path, args.reviews)
        size_mb = path.stat().st_size / 1e6
        print(f"generated {args.reviews:,} reviews x {len(SKILLS)} ratings "
              f"({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f}s")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        base_wall = base_cpu = plan_wall = plan_cpu = float("inf")
        counts: Counter[str] = Counter()
        for _ in range(args.rounds):
            wall, cpu, rows = timed(lambda: baseline(path))
            assert rows == args.reviews * len(SKILLS) + 1, rows
            base_wall, base_cpu = min(base_wall, wall), min(base_cpu, cpu)
            wall, cpu, counts = timed(lambda: plan_file(path))
            assert counts["reviews"] == args.reviews, counts
            plan_wall, plan_cpu = min(plan_wall, wall), min(plan_cpu, cpu)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        n = args.reviews
        rate, ratio = n / plan_wall, plan_wall / base_wall
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average: {load} ({os.cpu_count()} CPUs); best of {args.rounds} rounds")
        print(f"baseline csv.reader: {base_wall:.2f}s wall ({n / base_wall:,.0f} reviews/s), "
              f"{base_cpu:.2f}s CPU ({n / base_cpu:,.0f} reviews/s)")
        print(f"read + plan:         {plan_wall:.2f}s wall ({rate:,.0f} reviews/s), "
              f"{plan_cpu:.2f}s CPU ({n / plan_cpu:,.0f} reviews/s)")
        print(f"ratio to baseline:   {ratio:.1f}x wall, {plan_cpu / base_cpu:.1f}x CPU")
        print(f"plan: {dict(sorted(counts.items()))}")
        print(f"peak RSS: {rss_after:.0f} MB (before planning {rss_before:.0f} MB)")
        heap_ok = True
        if args.tracemalloc:
            tracemalloc.start()
            plan_file(path)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak Python heap while planning (tracemalloc): {peak / 1e6:.0f} MB")
            heap_ok = peak / 1e6 < TARGET_RSS_MB
        missed = []
        if rate < TARGET_RATE:
            missed.append(f"{rate:,.0f} reviews/s < {TARGET_RATE:,}")
        if rss_after >= TARGET_RSS_MB or not heap_ok:
            missed.append(f"peak memory >= {TARGET_RSS_MB} MB")
        if args.max_ratio is not None and ratio > args.max_ratio:
            missed.append(f"{ratio:.1f}x the baseline > {args.max_ratio:g}x")
        print(f"targets (>= {TARGET_RATE:,} reviews/s, < {TARGET_RSS_MB} MB"
              + (f", <= {args.max_ratio:g}x baseline" if args.max_ratio is not None else "")
              + "): " + ("met" if not missed else "NOT met: " + "; ".join(missed)))
        return 0 if not missed else 1


if __name__ == "__main__":
    raise SystemExit(main())
