"""Retention and erasure in a running `connector serve`, webhooks through the real receiver.

The schedule prunes by itself (retention periods of a couple of seconds here); a redelivery
of a pruned webhook is still answered "duplicate" and applied once. An employee erased with
`connector erase` while the service runs stays erased: their BambooHR change and their LMS
completion are dropped at the receiver with an audit note, and the directory, which still
lists them, does not bring them back; no table holds their name or email afterwards.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import MetaData, select

from connector.demo.sandboxes import seed_organisation
from connector.store import Store
from connector.vendors.bamboohr.sandbox import ID_BASE as BAMBOOHR_ID_BASE
from tests.support.e2e import (
    ConnectorProcess,
    Vendors,
    WebhookSender,
    connector_env,
    engine_name,
    jobs_idle,
    lms_completion,
    open_ledger,
    run_cli,
    wait_until,
)

pytestmark = pytest.mark.slow

EMPLOYEES = 4
PHASE_TIMEOUT = 90.0
SECONDS = 1 / 86400  # a retention period of one second, in days
COMPLETED_AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)


def text_cells(store: Store, pattern: re.Pattern[str]) -> list[str]:
    """Every text or bytes cell, in every table the database has, that matches."""
    meta = MetaData()
    meta.reflect(store.engine)
    found = []
    with store.engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    text = bytes(value).decode("utf-8", "replace") \
                        if isinstance(value, bytes | memoryview) else value
                    if isinstance(text, str) and pattern.search(text):
                        found.append(f"{name}.{column}: {text[:100]}")
    return found


def raw_bodies(store: Store, source: str) -> list[Any]:
    meta = MetaData()
    meta.reflect(store.engine, only=["inbox"])
    inbox = meta.tables["inbox"]
    with store.engine.connect() as conn:
        return list(conn.execute(select(inbox.c.raw).where(inbox.c.source == source)).scalars())


def test_pruned_deliveries_stay_duplicates_and_an_erased_person_stays_out(
        vendors: Vendors, database_url: str, mapping_file: Path, e2e_log_dir: Path) -> None:
    engine = engine_name(database_url)
    seed_organisation(vendors.as_sandboxes(), employees=EMPLOYEES, seed=5, missing_learners=0)
    env = connector_env(vendors, database_url, mapping_file,
                        retention_raw_body_days=2 * SECONDS, retention_job_days=2 * SECONDS,
                        retention_prune_hours=1 / 3600)  # prune every second
    proc = ConnectorProcess(env, e2e_log_dir, f"retention-{engine}")
    proc.start()
    sender = WebhookSender(proc.url)
    try:
        with open_ledger(database_url) as store:
            wait_until(lambda: store.inbox_count("orangehrm") == EMPLOYEES and jobs_idle(store),
                       PHASE_TIMEOUT, "every review carried out")
            learners = {r.employee_id: r for r in store.all_identities()}
            enrolled = sorted({(learners[a.employee_id].lms_user_id, a.course_id)
                               for a in store.assignments_for(state="enrolled")})
            deliveries = [(f"msg_{user}_{course}",
                           lms_completion(str(user), course, COMPLETED_AT.isoformat()))
                          for user, course in enrolled[:4]]
            stamp = int(time.time())
            for msg_id, body in deliveries:
                answer = sender.standard("lms", body, msg_id, timestamp=stamp)
                assert (answer.status_code, answer.json()["status"]) == (202, "accepted")

            # 1. The schedule empties the raw bodies once they are older than the setting.
            wait_until(lambda: jobs_idle(store) and store.inbox_count("lms") == len(deliveries)
                       and all(raw is None for raw in raw_bodies(store, "lms")),
                       PHASE_TIMEOUT, "the scheduled prune of the webhook bodies")
            assert store.audit_events("retention.pruned")
            evidence = len(store.audit_events("goal.evidence"))
            # ... and a redelivery of a pruned webhook is still a duplicate, applied once.
            for msg_id, body in deliveries:
                answer = sender.standard("lms", body, msg_id, timestamp=stamp)
                assert (answer.status_code, answer.json()["status"]) == (202, "duplicate")
            assert store.inbox_count("lms") == len(deliveries)

            # 2. Erase one employee while the service runs.
            person = learners[sorted(learners)[0]]
            assert person.email and person.first_name and person.last_name
            trace = re.compile(rf"{re.escape(person.email)}|\b{re.escape(person.first_name)}\b"
                               rf"|\b{re.escape(person.last_name)}\b", re.I)
            done = run_cli(env, e2e_log_dir, "erase", person.employee_id, "--by", "dpo",
                           "--json")
            assert done.returncode == 0, done.stderr
            pseudonym = json.loads(done.stdout)["pseudonym"]
            assert text_cells(store, trace) == []

            # Their changes arrive anyway: dropped at the receiver, never stored.
            bamboo_id = BAMBOOHR_ID_BASE + int(person.employee_id)
            change = {"employees": [{"id": str(bamboo_id), "action": "updated",
                                     "timestamp": "2026-01-05T10:00:00Z",
                                     "fields": {"workEmail": person.email},
                                     "changedFields": ["workEmail"]}]}
            assert sender.bamboohr(json.dumps(change).encode()).status_code == 202
            late = lms_completion(str(person.lms_user_id), enrolled[0][1],
                                  COMPLETED_AT.isoformat())
            assert sender.standard("lms", late, "msg_after_erase").status_code == 202
            polled_at = {p.name: p.last_success_at for p in store.pollers()}
            # The directory, which still lists them, is read again.
            wait_until(lambda: {p.name: p.last_success_at for p in store.pollers()}
                       .get("bamboohr.directory") != polled_at.get("bamboohr.directory")
                       and jobs_idle(store), PHASE_TIMEOUT, "a directory read after the erase")
            assert text_cells(store, trace) == []
            dropped = store.audit_events("erasure.event_dropped")
            assert dropped and {r.employee_id for r in dropped} == {pseudonym}
            assert len(store.audit_events("goal.evidence")) == evidence
            requests.get(f"{proc.url}/readyz", timeout=5).raise_for_status()
    finally:
        proc.stop()
