"""Faults: vendors that fail, stall, drop connections and throttle; webhooks that arrive twice
and out of order; a vendor that refuses for a while. Every review and completion still ends in
the right vendor state, exactly once, and what failed for good waits as a dead letter until an
operator replays it.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from connector.demo.sandboxes import seed_organisation
from connector.store.schema import inbox
from connector.vendors.bamboohr.sandbox import ID_BASE as BAMBOOHR_ID_BASE
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
    run_cli,
    wait_until,
)
from tests.support.e2e_checks import exactly_once_problems, ledger_goals, notes_by_goal

pytestmark = pytest.mark.slow

EMPLOYEES = 16
SEED = 4242
FAULTS = {"error_rate": 0.2, "timeout_rate": 0.05, "timeout_seconds": 2.0, "drop_rate": 0.02,
          "storm_429_rate": 0.05, "seed": SEED}
PHASE_TIMEOUT = 180.0
COMPLETED_AT = (datetime.now(UTC) - timedelta(days=1)).replace(
    hour=9, minute=30, second=0, microsecond=0)


def inbox_count(store: Any, source: str, kind: str | None = None) -> int:
    query = select(func.count()).select_from(inbox).where(inbox.c.source == source)
    if kind:
        query = query.where(inbox.c.kind == kind)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def vendor_statuses(url: str) -> dict[str, float]:
    """Vendor call outcomes the connector counted (`/metrics`), by status."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for match in re.finditer(r'^connector_vendor_calls_total\{[^}]*status="([^"]+)"[^}]*\} (\S+)$',
                             text, re.MULTILINE):
        found[match.group(1)] = found.get(match.group(1), 0.0) + float(match.group(2))
    return found


def test_faults_duplicates_and_refusals_end_exactly_once(
        vendors: Vendors, database_url: str, mapping_file: Path, e2e_log_dir: Path) -> None:
    rng = random.Random(SEED)
    engine = engine_name(database_url)
    people = seed_organisation(vendors.as_sandboxes(), employees=EMPLOYEES, seed=11)
    vendors.faults(**FAULTS)
    env = connector_env(vendors, database_url, mapping_file, http_read_timeout=1.0)
    proc = ConnectorProcess(env, e2e_log_dir, f"faults-{engine}")
    proc.start()
    sender = WebhookSender(proc.url)
    try:
        with open_ledger(database_url) as store:
            # 1. The review cycle, through 5xx, timeouts, drops and 429 storms.
            wait_until(lambda: inbox_count(store, "orangehrm", "review") == EMPLOYEES
                       and jobs_idle(store), PHASE_TIMEOUT, "every review carried out")
            assert store.jobs.dead_letters() == [], "a transient fault became a dead letter"
            learners = {r.employee_id: r.lms_user_id for r in store.all_identities()}
            enrolled = sorted({(learners[a.employee_id], a.course_id)
                               for a in store.assignments_for(state="enrolled")})
            assert len(enrolled) > 15
            passes = [p for p in enrolled if rng.random() < 0.6]
            rest = [p for p in enrolled if p not in passes]
            failures = rest[: len(rest) // 2]
            refused = rest[len(rest) // 2:][:6]

            # 2. Completions (passes and failed attempts) and BambooHR employee changes, each
            # delivered twice, all shuffled.
            deliveries: list[tuple[str, Any, str | None]] = []
            for user, course in passes:
                body = lms_completion(user, course, COMPLETED_AT.isoformat())
                deliveries.append(("lms", body, f"msg_pass_{user}_{course}"))
            for user, course in failures:
                body = lms_completion(user, course, (COMPLETED_AT - timedelta(hours=2))
                                      .isoformat(), passed=False, score=40)
                deliveries.append(("lms", body, f"msg_fail_{user}_{course}"))
            moved = [str(p["id"]) for p in people[2:7]]
            for eid in moved:
                email = f"moved.{eid}@example.com"
                bamboo_id = BAMBOOHR_ID_BASE + int(eid)  # BambooHR numbers people its own way
                requests.patch(f"{vendors.bamboohr.url}/_sandbox/employees/{bamboo_id}",
                               json={"workEmail": email}, timeout=10).raise_for_status()
                deliveries.append(("bamboohr", {"employees": [{
                    "id": str(bamboo_id), "action": "updated",
                    "timestamp": "2026-01-05T10:00:00Z",
                    "fields": {"workEmail": email}, "changedFields": ["workEmail"]}]}, None))
            twice = deliveries + deliveries
            rng.shuffle(twice)
            stamp = int(time.time())  # a redelivery is the same bytes, signature and stamp
            answers = []
            for source, body, msg_id in twice:
                if msg_id is None:
                    answer = sender.bamboohr(json.dumps(body).encode(), timestamp=stamp)
                else:
                    answer = sender.standard(source, body, msg_id, timestamp=stamp)
                answers.append((answer.status_code, answer.json().get("status")))
            assert {status for status, _ in answers} == {202}
            assert sum(state == "accepted" for _, state in answers) == len(deliveries)
            assert sum(state == "duplicate" for _, state in answers) == len(deliveries)
            wait_until(lambda: inbox_count(store, "lms") == len(passes) + len(failures)
                       and jobs_idle(store), PHASE_TIMEOUT, "every completion applied")
            assert store.jobs.dead_letters() == []

            # 3. BambooHR refuses comments (400) for a while: those completions dead-letter.
            statuses = vendor_statuses(proc.url)
            vendors.heal()  # only the refusal now: what dies, dies of it
            vendors.refusals.active = True
            for user, course in refused:
                body = lms_completion(user, course, COMPLETED_AT.isoformat())
                assert sender.standard("lms", body, f"msg_late_{user}_{course}").status_code \
                    == 202
            wait_until(lambda: len(store.jobs.dead_letters()) == len(refused)
                       and jobs_idle(store), PHASE_TIMEOUT, "the refused completions dead")
            listed = run_cli(env, e2e_log_dir, "dead-letters", "list", "--json")
            assert listed.returncode == 0, listed.stderr
            dead = json.loads(listed.stdout)
            assert len(dead) == len(refused)
            assert {d["kind"] for d in dead} == {"completion"}
            assert all("HTTP 400" in d["last_error"] for d in dead)
            assert vendors.refusals.refused >= len(refused)

            # 4. The refusal ends; the operator replays; everything completes once.
            vendors.refusals.active = False
            replay = run_cli(env, e2e_log_dir, "dead-letters", "replay", "--all")
            assert replay.returncode == 0, replay.stderr
            assert f"queued {len(refused)} job(s)" in replay.stdout
            wait_until(lambda: jobs_idle(store) and not store.jobs.dead_letters(),
                       PHASE_TIMEOUT, "the replayed completions applied")
            time.sleep(2 * float(env["CONNECTOR_TALENTLMS_POLL_SECONDS"]))
            wait_until(lambda: jobs_idle(store), 60, "quiet again")

            # 5. The vendors' state is the ledger's, exactly once, and the ledger is right.
            assert exactly_once_problems(vendors, store) == []
            assert store.jobs.dead_letters() == []
            by_pair = {(learners[a.employee_id], a.course_id): a
                       for a in store.assignments_for()}
            for pair in [*passes, *refused]:
                assert by_pair[pair].state == "completed", pair
                goal_key = by_pair[pair].goal_key
                assert pair[1] in {e.course_id for e in store.evidence_for(goal_key)}
            for pair in failures:
                assert by_pair[pair].state == "enrolled", pair
            notes = notes_by_goal(store)
            assert sum(notes.values()) == len(failures)
            for pair in failures:
                assert notes[by_pair[pair].goal_key] >= 1, pair
            done = set(passes) | set(refused)
            for key, goal in ledger_goals(store).items():
                eid = goal.employee_id
                all_passed = all((learners[eid], c) in done for c in goal.course_ids)
                assert (goal.state == "closed") == all_passed, key
            identities = {r.employee_id: r for r in store.all_identities()}
            for eid in moved:
                assert identities[eid].email == f"moved.{eid}@example.com"
            assert inbox_count(store, "bamboohr") == len(moved)
            dump_store_text(store, e2e_log_dir / f"faults-{engine}-store.txt")
    finally:
        proc.stop()
    # The faults really reached the connector: server errors, throttling, no answer at all.
    assert statuses.get("429", 0) > 0
    assert sum(statuses.get(s, 0) for s in ("500", "502", "503")) > 0
    assert statuses.get("error", 0) > 0  # timeouts and dropped connections
