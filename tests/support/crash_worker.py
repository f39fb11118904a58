"""Worker processes for the crash and PostgreSQL concurrency tests.

Crash test: `python -m tests.support.crash_worker CONFIG.json` builds the TalentLMS and
BambooHR adapters against the sandbox simulators (which live in the test process, so they
outlive this one), prints `ready` once it is about to work, then drains the queue until
nothing is pending or running. The test kills it with SIGKILL at random moments and starts
it again; the ledger and the vendors must end up with every effect exactly once.

Concurrency test: `recording_worker` (a multiprocessing target) drains `record` jobs whose
handler writes one row per run into `effect_log`, with its start and end times, so the test
can prove each job ran once and one employee's jobs never overlapped or ran out of order.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from datetime import datetime

from sqlalchemy import text

from connector.executor import Context
from connector.settings import Settings
from connector.store import Store
from connector.store.engine import make_engine
from connector.store.jobs import Job
from connector.vendors.bamboohr.goals import BambooHRGoals
from connector.vendors.talentlms import TalentLMS
from connector.worker import Worker
from mappings.loader import load_mapping
from mappings.schema import Mapping

EFFECT_LOG = """CREATE TABLE IF NOT EXISTS effect_log (
    job_id INTEGER NOT NULL, employee_id TEXT, worker TEXT NOT NULL,
    started DOUBLE PRECISION NOT NULL, finished DOUBLE PRECISION NOT NULL)"""


def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as fh:
        config = json.load(fh)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    now = datetime.fromisoformat(config["now"])
    store = Store.open(config["database_url"], backoff_base=0.05, jitter=lambda: 1.0)
    lms = TalentLMS(config["talentlms_url"], config["talentlms_key"], burst=10_000,
                    jitter=lambda: 0.0, max_wait=1.0, read_timeout=10.0)
    settings = Settings(_env_file=None, bamboohr_base_url=config["bamboohr_url"],
                        bamboohr_api_key=config["bamboohr_key"])
    goals = BambooHRGoals.from_settings(settings, today=now.date, burst=10_000,
                                        jitter=lambda: 0.0, max_wait=1.0)
    ctx = Context(store=store, mapping=load_mapping(config["mapping"]), lms=lms, goals=goals,
                  now=lambda: now)
    worker = Worker(ctx, lease_seconds=float(config["lease_seconds"]))
    print("ready", flush=True)
    stats = worker.drain(wait_for_retries=True)
    print(json.dumps({"done": stats.done, "retried": stats.retried, "dead": stats.dead,
                      "errors": stats.errors[:5]}), flush=True)
    store.close()
    return 0


def record_run(ctx: Context, job: Job) -> str:
    """The effect: one row per run, stamped before and after a short random pause."""
    started = time.time()
    time.sleep(random.random() * 0.002)
    finished = time.time()
    with ctx.store.engine.begin() as conn:
        conn.execute(text("INSERT INTO effect_log VALUES (:j, :e, :w, :s, :f)"),
                      {"j": job.id, "e": job.employee_id, "w": job.lease_owner, "s": started,
                       "f": finished})
    return "recorded"


def recording_worker(url: str, name: str, go: object) -> None:
    """Drain `record` jobs until none is pending or running (a multiprocessing target)."""
    store = Store(make_engine(url, pool_size=2))
    worker = Worker(Context(store=store, mapping=Mapping()), handlers={"record": record_run},
                    owner=name)
    store.jobs.counts()  # connect before the start signal
    go.wait()  # type: ignore[attr-defined]
    try:
        worker.drain(wait_for_retries=True, idle_sleep=0.002)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
