"""Abuse: what an attacker or a broken sender can post is refused with a 4xx and leaves no trace;
and no configured secret appears in anything the connector prints, logs or stores.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from connector.demo.sandboxes import seed_organisation
from connector.sandbox.bamboohr import sign_webhook
from connector.store.schema import completions, inbox, jobs, reviews
from tests.support.e2e import (
    BAMBOOHR_WEBHOOK_SECRET,
    WEBHOOK_SECRET,
    ConnectorProcess,
    Vendors,
    connector_env,
    dump_store_text,
    engine_name,
    jobs_idle,
    lms_completion,
    open_ledger,
    run_cli,
    running,
    secret_forms,
    wait_until,
)
from webhooks.signatures import sign_standard_webhook

pytestmark = pytest.mark.slow

OTHER_SECRET = "whsec_" + base64.b64encode(b"not-the-configured-key").decode()
MAX_BYTES = 256 * 1024


def signed(body: bytes, *, msg_id: str = "msg_abuse", stamp: int | None = None,
           secret: str = WEBHOOK_SECRET, content_type: str = "application/json"
           ) -> dict[str, str]:
    headers = sign_standard_webhook(body, msg_id, int(time.time()) if stamp is None else stamp,
                                    secret)
    return {"Content-Type": content_type, **headers}


def bamboo_signed(body: bytes, stamp: int, secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-BambooHR-Timestamp": str(stamp),
            "X-BambooHR-Signature": sign_webhook(body, str(stamp), secret)}


def abuse_cases() -> list[tuple[str, str, Any, dict[str, str], int]]:
    """(what, source, body, headers, expected status)."""
    now = int(time.time())
    good = json.dumps(lms_completion("1101", "101", "2026-01-05T10:00:00+00:00")).encode()
    other = json.dumps(lms_completion("1101", "102", "2026-01-05T10:00:00+00:00")).encode()
    huge = json.dumps({"type": "course.completed", "pad": "x" * (MAX_BYTES + 10)}).encode()
    nested_list = b"[" * 50_000 + b"]" * 50_000
    nested_obj = b'{"a":' * 2_000 + b"1" + b"}" * 2_000
    bamboo = json.dumps({"employees": [{"id": "101", "action": "updated",
                                        "fields": {"workEmail": "evil@example.com"}}]}).encode()
    return [
        ("unsigned", "lms", good, {"Content-Type": "application/json"}, 401),
        ("signed with another secret", "lms", good, signed(good, secret=OTHER_SECRET), 401),
        ("signature of other bytes", "lms", good, signed(other), 401),
        ("replayed an hour later", "lms", good, signed(good, stamp=now - 3600), 401),
        ("timestamp from the future", "lms", good, signed(good, stamp=now + 3600), 401),
        ("garbage signature", "lms", good,
         {**signed(good), "webhook-signature": "v1,!!!not-base64!!!"}, 401),
        ("overlong webhook-id", "lms", good, signed(good, msg_id="m" * 400), 401),
        ("oversized", "lms", huge, signed(huge), 413),
        ("oversized, chunked", "lms", iter([huge[:100_000], huge[100_000:]]), signed(huge), 413),
        ("malformed JSON", "lms", b'{"type": "course.completed",', signed(b'{"type": '
                                                                         b'"course.completed",'),
         400),
        ("not UTF-8", "lms", b'{"type": "\xff\xfe"}', signed(b'{"type": "\xff\xfe"}'), 400),
        ("NaN", "lms", b'{"type": NaN}', signed(b'{"type": NaN}'), 400),
        ("deeply nested list", "lms", nested_list, signed(nested_list), 422),
        ("deeply nested object", "hr", nested_obj, signed(nested_obj), 422),
        ("wrong shape", "lms", b'{"type": "course.completed", "data": {"course_id": "1"}}',
         signed(b'{"type": "course.completed", "data": {"course_id": "1"}}'), 422),
        ("review without ratings", "hr", b'{"data": {"review_id": "r1"}}',
         signed(b'{"data": {"review_id": "r1"}}'), 422),
        ("not JSON media type", "lms", good, signed(good, content_type="text/plain"), 415),
        ("unknown source", "payroll", good, signed(good), 404),
        ("bamboohr unsigned", "bamboohr", bamboo, {"Content-Type": "application/json"}, 401),
        ("bamboohr wrong secret", "bamboohr", bamboo, bamboo_signed(bamboo, now, "guess"), 401),
        ("bamboohr replayed", "bamboohr", bamboo,
         bamboo_signed(bamboo, now - 3600, BAMBOOHR_WEBHOOK_SECRET), 401),
    ]


def table_counts(database_url: str) -> dict[str, int]:
    with open_ledger(database_url) as store, store.engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (inbox, jobs, completions, reviews)}


@pytest.fixture
def service(vendors: Vendors, database_url: str, mapping_file: Path,
            e2e_log_dir: Path) -> Iterator[ConnectorProcess]:
    engine = engine_name(database_url)
    proc = ConnectorProcess(connector_env(vendors, database_url, mapping_file), e2e_log_dir,
                            f"abuse-{engine}")
    proc.start()
    yield proc
    proc.stop()


def test_hostile_deliveries_are_refused_and_leave_no_trace(
        service: ConnectorProcess, database_url: str) -> None:
    session = requests.Session()
    results = {}
    for what, source, body, headers, _ in abuse_cases():
        answer = session.post(f"{service.url}/webhooks/{source}", data=body, headers=headers,
                              timeout=30)
        results[what] = answer.status_code
        assert answer.headers["Content-Type"].startswith("application/json"), what
        assert WEBHOOK_SECRET not in answer.text
    expected = {what: status for what, _, _, _, status in abuse_cases()}
    assert results == expected
    assert session.get(f"{service.url}/webhooks/lms", timeout=10).status_code == 405
    assert table_counts(database_url) == {"inbox": 0, "jobs": 0, "completions": 0,
                                          "reviews": 0}

    # The receiver is unharmed and the same route does accept an honest delivery.
    assert session.get(f"{service.url}/healthz", timeout=10).status_code == 200
    good = json.dumps(lms_completion("1101", "101", "2026-01-05T10:00:00+00:00")).encode()
    assert session.post(f"{service.url}/webhooks/lms", data=good, headers=signed(good),
                        timeout=10).status_code == 202
    assert table_counts(database_url)["inbox"] == 1


def test_no_configured_secret_in_any_output(
        vendors: Vendors, database_url: str, mapping_file: Path, tmp_path: Path) -> None:
    """Makes its own output, every secret configured and DEBUG logging on, then searches all of
    it: a receiver-and-worker's log through a review cycle (OAuth, API keys and Basic auth on
    real vendor calls), hostile and honest deliveries and a vendor refusing; the CLI's
    answers; and the store's words (audit, job errors, results)."""
    engine = engine_name(database_url)
    seed_organisation(vendors.as_sandboxes(), employees=4, seed=7)
    env = connector_env(vendors, database_url, mapping_file)
    proc = ConnectorProcess(env, tmp_path, f"secrets-{engine}")
    with running(proc), open_ledger(database_url) as store:
        wait_until(lambda: store.inbox_count("orangehrm") >= 4 and jobs_idle(store), 180,
                   "the review cycle carried out")
        session = requests.Session()
        for _what, source, body, headers, _status in abuse_cases():
            session.post(f"{proc.url}/webhooks/{source}", data=body, headers=headers,
                         timeout=30)
        enrolled = store.assignments_for(state="enrolled")
        assert enrolled, "the cycle enrolled nobody: nothing below would call a vendor"
        learner = {r.employee_id: r.lms_user_id for r in store.all_identities()}
        vendors.refusals.active = True  # BambooHR refuses the evidence: an error to log
        first = enrolled[0]
        done_at = datetime.now(UTC).replace(microsecond=0).isoformat()  # after the enrolment
        body = json.dumps(lms_completion(learner[first.employee_id], first.course_id,
                                         done_at)).encode()
        assert session.post(f"{proc.url}/webhooks/lms", data=body, headers=signed(body),
                            timeout=10).status_code == 202
        wait_until(lambda: bool(store.jobs.dead_letters()) and jobs_idle(store), 120,
                   "the refused completion dead-lettered")
        vendors.refusals.active = False
        for args in (("status",), ("check", "--online"), ("dead-letters", "list", "--json")):
            run_cli(env, tmp_path, *args)
        dump_store_text(store, tmp_path / f"secrets-{engine}-store.txt")

    files = sorted(p for p in tmp_path.iterdir() if p.is_file())
    leaks = []
    text_seen = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        text_seen += len(text)
        leaks += [f"{path.name}: {name}" for name, value in secret_forms().items()
                  if value in text]
    assert leaks == []
    # The search read real output: request logs, vendor calls, the CLI's and the store's.
    joined = proc.log_path.read_text(errors="replace")
    assert '"msg": "request"' in joined
    assert "HTTP 400" in (tmp_path / f"secrets-{engine}-store.txt").read_text()
    assert len([p for p in files if p.name.startswith("cli-")]) == 3
    assert text_seen > 10_000
