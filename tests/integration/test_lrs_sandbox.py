"""The LRS simulator against xAPI 1.0.3 (shared/VENDORS-next.md, "xAPI Statements API": each
test names the section), and the pull path against it on both engines: a statement that
becomes visible late (stored before the last consistent-through) is still read, because the
cursor never passes `X-Experience-API-Consistent-Through`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from connector.models import Outcome
from connector.pollers import poll_completions
from connector.settings import Settings
from connector.store import Store
from connector.vendors.xapi_lrs.sandbox import SECRET, LrsSandbox
from connector.vendors.xapi_lrs.statements import XapiLrs

AUTH = "Basic " + base64.b64encode(f"demo-sandbox-key:{SECRET}".encode()).decode()
HEADERS = {"Authorization": AUTH, "X-Experience-API-Version": "1.0.3"}


@pytest.fixture(scope="module")
def lrs() -> Iterator[LrsSandbox]:
    sim = LrsSandbox.start()
    yield sim  # type: ignore[misc]
    sim.stop()


@pytest.fixture(autouse=True)
def _fresh(lrs: LrsSandbox) -> None:
    requests.post(f"{lrs.url}/_sandbox/reset", timeout=5).raise_for_status()


def get(lrs: LrsSandbox, path: str = "/xapi/statements", **params: Any) -> requests.Response:
    return requests.get(f"{lrs.url}{path}", params=params, headers=HEADERS, timeout=5)


def test_version_header_is_required_and_answered(lrs: LrsSandbox) -> None:
    # xAPI §Version header: 1.0 / 1.0.x accepted, earlier or 1.1.0+ refused with 400.
    ok = get(lrs)
    assert ok.status_code == 200 and ok.headers["X-Experience-API-Version"] == "1.0.3"
    assert "X-Experience-API-Consistent-Through" in ok.headers
    for version in ("0.95", "1.1.0", ""):
        bad = requests.get(f"{lrs.url}/xapi/statements", timeout=5,
                           headers={"Authorization": AUTH, "X-Experience-API-Version": version})
        assert bad.status_code == 400
    assert requests.get(f"{lrs.url}/xapi/statements", timeout=5).status_code == 401


def test_voided_statements_leave_queries_and_only_voided_statement_id_finds_them(
        lrs: LrsSandbox) -> None:
    # xAPI §Voiding: never returned by filtered GETs or statementId (404); voidedStatementId
    # fetches them; the voiding statement itself is returned; it must reference a statement.
    (sid,) = lrs.send([lrs.statement("ann@example.com", "101", "completed")])
    void = lrs.void(sid)
    listed = [s["id"] for s in get(lrs).json()["statements"]]
    assert sid not in listed and void in listed
    assert get(lrs, statementId=sid).status_code == 404
    assert get(lrs, voidedStatementId=sid).json()["id"] == sid
    assert get(lrs, statementId=sid, verb="x").status_code == 400
    bad = requests.post(f"{lrs.url}/xapi/statements", headers=HEADERS, timeout=5, json={
        "actor": {"mbox": "mailto:a@b.c"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "Activity", "id": sid}})
    assert bad.status_code == 400
    again = requests.post(f"{lrs.url}/xapi/statements", headers=HEADERS, timeout=5, json={
        "actor": {"mbox": "mailto:a@b.c"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": void}})
    assert again.status_code == 400  # a voiding statement cannot be voided


def test_same_id_with_other_content_is_a_conflict(lrs: LrsSandbox) -> None:
    # xAPI §Writing and de-duplication: same id, different content → 409; same content is
    # accepted without change; two of one id in a batch → 400.
    first = {**lrs.statement("ann@example.com", "101", "completed"), "id": "6c0b4f0e-1"}
    url = f"{lrs.url}/xapi/statements"
    assert requests.post(url, json=first, headers=HEADERS, timeout=5).status_code == 200
    assert requests.post(url, json=first, headers=HEADERS, timeout=5).status_code == 200
    other = {**first, "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"}}
    assert requests.post(url, json=other, headers=HEADERS, timeout=5).status_code == 409
    assert requests.post(url, json=[first, first], headers=HEADERS,
                         timeout=5).status_code == 400
    put = requests.put(url, params={"statementId": "6c0b4f0e-2"}, headers=HEADERS, timeout=5,
                       json=lrs.statement("ann@example.com", "102", "passed"))
    assert put.status_code == 204


def test_paging_with_more_and_since_exclusive(lrs: LrsSandbox) -> None:
    # xAPI §GET /statements: `since` exclusive on stored time, newest first by default,
    # `more` a relative IRL and "" at the end.
    lrs.send([lrs.statement("ann@example.com", str(100 + i), "completed") for i in range(5)],
             stored="2026-03-10T10:00:00.000Z")
    page = get(lrs, limit=2).json()
    assert len(page["statements"]) == 2 and page["more"].startswith("/xapi/statements/more/")
    seen = [s["id"] for s in page["statements"]]
    while page["more"]:
        page = get(lrs, page["more"]).json()
        seen += [s["id"] for s in page["statements"]]
    assert len(set(seen)) == 5 and page["more"] == ""
    assert get(lrs, since="2026-03-10T10:00:00.000Z").json()["statements"] == []


def test_a_late_statement_is_read_because_the_cursor_trails_consistent_through(
        lrs: LrsSandbox, database_url: str) -> None:
    # xAPI §X-Experience-API-Consistent-Through: poll `since` no later than it, or miss
    # statements that arrive late.
    store = Store.open(database_url)
    try:
        settings = Settings(_env_file=None, **lrs.settings())
        pull = XapiLrs.from_settings(settings)
        requests.post(f"{lrs.url}/_sandbox/lag", json={"seconds": 60}, timeout=5)
        lrs.send([lrs.statement("ann@example.com", "101", "completed", passed=True)])
        new, _ = poll_completions(store, pull)
        assert new == 1
        cursor = store.cursor("xapi_lrs.completions")
        assert cursor is not None
        assert datetime.fromisoformat(cursor.replace("Z", "+00:00")) <= \
            datetime.now(UTC) - timedelta(seconds=55)
        # A write that became visible only now, stored 30 s ago (before "now", after the
        # cursor): a puller that moved its cursor to "now" would never see it.
        late = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
        lrs.send([lrs.statement("bob@example.com", "102", "passed")], stored=late)
        new, _ = poll_completions(store, pull)
        assert new == 1  # the late one; the first is de-duplicated by its statement id
        events, _, _ = pull.completions_since(store.cursor("xapi_lrs.completions"))
        assert {e.outcome for e in events} <= {Outcome.PASSED}
    finally:
        store.close()
