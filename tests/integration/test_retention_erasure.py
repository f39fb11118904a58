"""Retention and erasure on both engines, after a real cycle against the sandbox vendors.

`connector prune` empties raw bodies, finished job payloads and old audit detail but keeps
every dedupe key (a late duplicate is still a duplicate), every row, and the audit rows of
an employee whose goal is open; `--dry-run` changes nothing. `connector erase` leaves no
trace of the person's name or email in any table (scanned generically, every text column of
every table the database has), keeps counts and the audit trail's ids, and its tombstone
keeps an import and a directory read from bringing them back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from connector.cli import main
from connector.demo.sandboxes import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.imports import import_reviews
from connector.inbound import queue_completion
from connector.models import utcnow
from connector.operations.retention import prune
from connector.operations.withdraw import withdraw_reviews
from connector.pollers import poll_all
from connector.runtime import Runtime, build_runtime
from connector.sandbox.kit import SANDBOX_KEY
from connector.service import sync_once
from connector.store import Store
from connector.worker import Worker

LATER = timedelta(days=400)  # past every default retention period


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    sb = start_sandboxes()
    seed_organisation(sb, employees=6, missing_learners=0)
    yield sb
    sb.stop()


@pytest.fixture
def rt(sandboxes: Sandboxes, database_url: str, tmp_path: Path,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    values = {"DATABASE_URL": database_url,
              "TALENTLMS_BASE_URL": sandboxes.talentlms.url, "TALENTLMS_API_KEY": SANDBOX_KEY,
              "BAMBOOHR_BASE_URL": sandboxes.bamboohr.url, "BAMBOOHR_API_KEY": SANDBOX_KEY,
              "ORANGEHRM_BASE_URL": sandboxes.orangehrm.url,
              "ORANGEHRM_CLIENT_ID": "demo-client", "ORANGEHRM_CLIENT_SECRET": SANDBOX_KEY,
              "REVIEW_SOURCES": "orangehrm"}
    for name, value in values.items():  # for the CLI
        monkeypatch.setenv(f"CONNECTOR_{name}", value)
    monkeypatch.chdir(tmp_path)
    runtime = build_runtime(sandbox_settings(sandboxes, database_url))
    sync_once(runtime, confirm=True)
    yield runtime
    runtime.close()


# -- reading the database generically: every table it has, every column ----------------------
def dump(store: Store) -> dict[str, list[dict[str, Any]]]:
    meta = MetaData()
    meta.reflect(store.engine)
    with store.engine.connect() as conn:
        return {name: [dict(r) for r in conn.execute(
                    select(table).order_by(*table.primary_key.columns)).mappings()]
                for name, table in sorted(meta.tables.items())}


def counts(store: Store) -> dict[str, int]:
    return {name: len(rows) for name, rows in dump(store).items()}


def cells_matching(store: Store, pattern: re.Pattern[str]) -> list[str]:
    """Every text (or bytes) cell of every table that matches: where, and the cell."""
    found = []
    for name, rows in dump(store).items():
        for row in rows:
            for column, value in row.items():
                text = value.decode("utf-8", "replace") if isinstance(value, bytes | memoryview) \
                    else value
                if isinstance(text, memoryview):
                    text = bytes(text).decode("utf-8", "replace")
                if isinstance(text, str) and pattern.search(text):
                    found.append(f"{name}.{column}: {text[:120]}")
    return found


def deliver_completion(rt: Runtime, employee_id: str, email: str, n: int) -> None:
    """A webhook-style completion with its raw body, processed by the worker."""
    body = {"email": email, "course_id": "999", "outcome": "completed",
            "completed_at": utcnow().isoformat()}
    assert queue_completion(rt.store, {**body, "employee_id": employee_id},
                            source="lms-webhook", event_id=f"delivery-{n}",
                            raw=json.dumps(body).encode())
    Worker(rt.ctx).drain()


def _review_of(rt: Runtime, employee_id: str) -> str:
    rows = dump(rt.store)["reviews"]
    return next(str(r["review_id"]) for r in rows if r["employee_id"] == employee_id)


# -- prune ----------------------------------------------------------------------------------
def test_prune_keeps_dedupe_keys_rows_and_open_goals_story(rt: Runtime) -> None:
    store, settings = rt.store, rt.settings
    person = store.identity("102")
    assert person is not None and person.email
    deliver_completion(rt, "102", person.email, 1)
    # 101's review is withdrawn: no open goal is left to explain, so their detail may go.
    withdraw_reviews(rt.ctx, [_review_of(rt, "101")], by="test")
    open_goals = {g["employee_id"] for g in dump(store)["goals"] if g["state"] == "open"}
    assert "101" not in open_goals and "102" in open_goals
    before = dump(store)

    dry = prune(store, settings, dry_run=True, now=utcnow() + LATER)
    assert dump(store) == before  # a dry run changes nothing
    assert all(dry.counts[name] > 0 for name in
               ("inbox_raw_bodies", "finished_job_payloads", "audit_details")), dry.counts
    assert prune(store, settings, dry_run=True).total == 0  # nothing is old enough today

    done = prune(store, settings, by="test", now=utcnow() + LATER)
    assert done.counts == dry.counts
    after = dump(store)
    assert {n: len(r) for n, r in after.items()} == \
        {n: len(r) + (n == "audit") for n, r in before.items()}  # one row: what it did
    keys = sorted((r["source"], r["event_id"]) for r in after["inbox"])
    assert keys == sorted((r["source"], r["event_id"]) for r in before["inbox"])
    assert all(r["raw"] is None and r["payload"] == "{}" for r in after["inbox"])
    assert all(r["payload"] == "{}" for r in after["jobs"] if r["state"] == "done")
    # A late duplicate of any stored event is still recognised as one.
    for source, event_id in keys:
        assert store.ingest(source, event_id, "completion", {}, b"late") is False
    assert queue_completion(store, {"email": person.email, "course_id": "999"},
                            source="lms-webhook", event_id="delivery-1") is False
    # Open goals' stories are untouched; 101's old detail is gone, their rows are kept.
    audit_before = {r["id"]: r for r in before["audit"]}
    for row in after["audit"]:
        old = audit_before.get(row["id"])
        if old is None:
            assert row["event"] == "retention.pruned"
            assert json.loads(row["cause"])["counts"] == done.counts
        elif row["employee_id"] in open_goals:
            assert row == old
        elif row["employee_id"] == "101":
            assert row["message"] == "(detail pruned)" and row["cause"] is None
            assert (row["event"], row["at"], row["ref"]) == (old["event"], old["at"], old["ref"])
    assert after["goals"] == before["goals"] and after["actions"] == before["actions"]
    # Done: only the prune's own record is left to age.
    assert prune(store, settings, dry_run=True, now=utcnow() + LATER).counts == \
        {"inbox_raw_bodies": 0, "finished_job_payloads": 0, "audit_details": 1}


def test_prune_cli_dry_run_and_json(rt: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    before = dump(rt.store)
    assert main(["prune", "--dry-run", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["dry_run"] is True and document["keep_days"]["inbox_raw_bodies"] == 30
    assert dump(rt.store) == before
    assert main(["prune", "--by", "ops"]) == 0
    assert "emptied 0 inbox raw bodies (kept 30 day(s))" in capsys.readouterr().out
    assert [r.message for r in rt.store.audit_events("retention.pruned")] == \
        ["pruned by ops: 0 inbox raw bodies, 0 finished job payloads, 0 audit row details"]
    assert main(["prune", "--vacuum"]) == 0
    said = capsys.readouterr().out
    if rt.store.engine.dialect.name == "sqlite":
        assert "the database file was compacted (VACUUM)" in said
    else:
        assert "PostgreSQL reuses the space by itself" in said


# -- erase ----------------------------------------------------------------------------------
def test_erase_leaves_no_trace_keeps_counts_and_stays_erased(
        rt: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = rt.store
    person = store.identity("103")
    assert person is not None and person.email and person.first_name and person.last_name
    first, last, email, lms = person.first_name, person.last_name, person.email, \
        person.lms_user_id
    deliver_completion(rt, "103", email, 2)  # a raw body that names them
    trace = re.compile(rf"{re.escape(email)}|\b{re.escape(first)}\b|\b{re.escape(last)}\b",
                       re.I)
    assert cells_matching(store, trace)  # the scan sees them before
    before = dump(store)

    assert main(["erase", "103", "--dry-run", "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["dry_run"] is True and planned["rows"]["identities"] == 1
    assert dump(store) == before

    assert main(["erase", "103", "--by", "dpo", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    pseudonym = result["pseudonym"]
    assert result["rows"] == planned["rows"]
    assert cells_matching(store, trace) == []
    after = dump(store)
    added = {"audit": 1, "erasures": result["tombstones"]}
    assert {n: len(r) for n, r in after.items()} == \
        {n: len(r) + added.get(n, 0) for n, r in before.items()}
    # The trail keeps its ids and order; everyone else's rows are as they were.
    assert [r["id"] for r in after["audit"]][:-1] == [r["id"] for r in before["audit"]]
    assert [r for r in after["audit"] if r["employee_id"] not in ("103", pseudonym)] == \
        [r for r in before["audit"] if r["employee_id"] != "103"]
    assert all(r["employee_id"] != "103" for rows in after.values() for r in rows
               if "employee_id" in r)
    assert all(r["raw"] is None for r in after["inbox"] if r["employee_id"] == pseudonym)
    # Where their data remains: the LMS user, the goals in the tracker, the review.
    goal_ids = [g["goal_id"] for g in before["goals"] if g["employee_id"] == "103"]
    assert goal_ids and all(any(str(g) in line for line in result["in_vendors"])
                            for g in goal_ids)
    assert any(f"LMS user {lms}" in line for line in result["in_vendors"])
    assert any(_review_of_rows(before, "103") in line for line in result["in_vendors"])

    # The tombstone: an import and a directory read do not bring them back.
    reviews = tmp_path / "again.csv"
    reviews.write_text("Employee ID,Email Address,First Name,Last Name,Review ID,Cycle,"
                       "Completed On,Competency,Rating\n"
                       f"103,{email},{first},{last},R-AGAIN,2026-H2,2026-09-01,Communication,1\n",
                       encoding="utf-8")
    import_reviews(store, rt.settings, reviews)
    report = poll_all(rt, only=frozenset({"directory"}))
    assert not report.errors
    Worker(rt.ctx).drain()
    assert cells_matching(store, trace) == []
    assert counts(store)["identity_ids"] == len(after["identity_ids"])
    dropped = store.audit_events("erasure.event_dropped")
    assert [r.employee_id for r in dropped] == [pseudonym]
    assert "dropped, not stored" in dropped[0].message

    assert main(["erase", "103"]) == 0  # a second erase says so and changes nothing
    assert "erased already" in capsys.readouterr().out


def _review_of_rows(rows: dict[str, list[dict[str, Any]]], employee_id: str) -> str:
    return next(str(r["review_id"]) for r in rows["reviews"] if r["employee_id"] == employee_id)


def test_erase_refuses_an_unknown_employee(rt: Runtime,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    before = dump(rt.store)
    assert main(["erase", "nobody-9"]) == 2
    assert "not known to the ledger" in capsys.readouterr().err
    assert dump(rt.store) == before
