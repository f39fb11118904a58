"""Crash: `connector serve` SIGKILLed at random moments of a 300-person cycle ends where a clean
run ends — the same enrollments, goals, comments and closures in the vendors, the same ledger.

One cycle: the directory read, the OrangeHRM review poll and the plan carried out (learners
matched, goals opened, courses enrolled), then LMS completion webhooks delivered at least once
(resent until acknowledged, through the kills) and turned into evidence and closed goals. The
kill moments come from a seeded RNG; each restart has to take over leases of the killed process
and finish interrupted effects without doing any of them twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.demo.sandboxes import seed_organisation
from connector.store.schema import inbox
from tests.support.e2e import (
    ConnectorProcess,
    Vendors,
    WebhookSender,
    connector_env,
    dump_store_text,
    engine_name,
    jobs_idle,
    lms_completion,
    open_ledger,
    start_vendors,
    wait_until,
    write_mapping,
)
from tests.support.e2e_checks import exactly_once_problems, first_difference, semantic_snapshot

pytestmark = pytest.mark.slow

EMPLOYEES = 300
SEED = 20_260_611
CYCLE_TIMEOUT = 240.0
COMPLETED_AT = (datetime.now(UTC) - timedelta(days=1)).replace(
    hour=12, minute=0, second=0, microsecond=0).isoformat()


@dataclass
class CycleRun:
    snapshot: dict[str, Any]
    problems: list[str]
    dead: int
    kills_during_work: int = 0
    seconds: float = 0.0
    completions: int = 0
    notes: list[str] = field(default_factory=list)


def inbox_count(store: Any, kind: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)
                                .where(inbox.c.kind == kind)).scalar_one())


def chosen_completions(store: Any, rng: random.Random) -> list[tuple[str, str]]:
    """About half of the enrolled (learner, course) pairs, chosen reproducibly."""
    learners = {r.employee_id: r.lms_user_id for r in store.all_identities()}
    pairs = sorted({(learners[a.employee_id], a.course_id)
                    for a in store.assignments_for(state="enrolled")})
    return [pair for pair in pairs if rng.random() < 0.5]


def run_cycle(vendors: Vendors, database_url: str, log_dir: Path, name: str, mapping: Path,
              kills: list[float], kills_in_completions: list[float]) -> CycleRun:
    started = time.monotonic()
    seed_organisation(vendors.as_sandboxes(), employees=EMPLOYEES, seed=7)
    env = connector_env(vendors, database_url, mapping, log_level="INFO")
    proc = ConnectorProcess(env, log_dir, name)
    hits = 0

    def kill_after(delay: float, finished: Callable[[Any], bool]) -> None:
        nonlocal hits
        time.sleep(delay)
        with open_ledger(database_url) as store:
            in_flight = not finished(store)
        proc.kill()
        hits += in_flight
        proc.start()

    def reviews_done(store: Any) -> bool:
        return inbox_count(store, "review") == EMPLOYEES and jobs_idle(store)

    proc.start()
    try:
        for delay in kills:
            kill_after(delay, reviews_done)
        with open_ledger(database_url) as store:
            wait_until(lambda: reviews_done(store), CYCLE_TIMEOUT,
                       f"{name}: every review planned and carried out")
            pairs = chosen_completions(store, random.Random(SEED))
        sender = WebhookSender(proc.url)
        deadline = time.monotonic() + CYCLE_TIMEOUT

        def deliver() -> None:
            for user, course in pairs:
                body = lms_completion(user, course, COMPLETED_AT)
                sender.until_acked(partial(sender.standard, "lms", body, f"msg_{user}_{course}"),
                                   deadline)

        def completions_done(store: Any) -> bool:
            return inbox_count(store, "completion") == len(pairs) and jobs_idle(store)

        delivery = threading.Thread(target=deliver, name="lms-webhooks")
        delivery.start()
        for delay in kills_in_completions:
            kill_after(delay, completions_done)
        delivery.join()
        with open_ledger(database_url) as store:
            wait_until(lambda: completions_done(store), CYCLE_TIMEOUT,
                       f"{name}: every completion applied")
            time.sleep(2 * float(env["CONNECTOR_TALENTLMS_POLL_SECONDS"]))  # pollers settle
            wait_until(lambda: jobs_idle(store), 60, f"{name}: quiet again")
            run = CycleRun(snapshot=semantic_snapshot(vendors, store),
                           problems=exactly_once_problems(vendors, store),
                           dead=len(store.jobs.dead_letters()), kills_during_work=hits,
                           seconds=time.monotonic() - started, completions=len(pairs))
            dump_store_text(store, log_dir / f"{name}-store.txt")
    finally:
        proc.stop()
    return run


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory,
              e2e_log_dir: Path) -> Iterator[Future[CycleRun]]:
    """The reference: the same cycle on SQLite with no crash at all. It runs in the background
    while the first crashed cycle runs (both mostly wait on the vendors' rate limits)."""
    where = tmp_path_factory.mktemp("clean")
    vendors = start_vendors()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clean-cycle")
    try:
        yield pool.submit(run_cycle, vendors, f"sqlite:///{where / 'clean.db'}", e2e_log_dir,
                          "crash-clean", write_mapping(where / "mapping.toml"), [], [])
    finally:
        pool.shutdown(wait=True)
        vendors.stop()


def test_sigkill_at_random_moments_ends_like_a_clean_run(
        clean_run: Future[CycleRun], vendors: Vendors, database_url: str, mapping_file: Path,
        e2e_log_dir: Path) -> None:
    rng = random.Random(SEED)
    kills = [rng.uniform(2.0, 7.0) for _ in range(3)]
    kills_in_completions = [rng.uniform(0.5, 3.0) for _ in range(2)]
    engine = engine_name(database_url)
    crashed = run_cycle(vendors, database_url, e2e_log_dir, f"crash-{engine}", mapping_file,
                        kills, kills_in_completions)
    clean = clean_run.result(timeout=2 * CYCLE_TIMEOUT)

    assert clean.problems == []
    assert clean.dead == 0
    assert clean.completions > 100  # the cycle really closes goals
    assert crashed.kills_during_work == len(kills) + len(kills_in_completions), \
        "every kill must land while the cycle is still under way"
    assert crashed.problems == []
    assert crashed.dead == 0
    difference = first_difference(clean.snapshot, crashed.snapshot)
    assert difference is None, f"crashed run differs from the clean run at {difference}"
    print(f"clean cycle {clean.seconds:.1f} s; crashed cycle on {engine} "
          f"{crashed.seconds:.1f} s with {len(kills) + len(kills_in_completions)} SIGKILLs "
          f"({crashed.kills_during_work} during work)")
