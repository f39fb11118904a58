"""Contract tests for the xAPI LRS pull, HTTP faked with `responses`; each test names the
shared/VENDORS-next.md section ("xAPI §…") of the facts it checks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connector.errors import ConfigError
from connector.models import Outcome
from connector.ports import CompletionSource
from connector.settings import Settings
from connector.vendors.xapi_lrs.statements import XapiLrs

ENDPOINT = "https://lrs.acme-learning.com/xapi"
STATEMENTS = f"{ENDPOINT}/statements"
ADL = "http://adlnet.gov/expapi/verbs/"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def make(**options: Any) -> XapiLrs:
    settings = Settings(_env_file=None, xapi_lrs_endpoint=ENDPOINT, xapi_lrs_key="lrs-key",
                        xapi_lrs_secret="lrs-secret-9876",
                        xapi_lrs_course_prefix="https://lms.example/course/", **options)
    lrs = XapiLrs.from_settings(settings, sleep=lambda s: None, clock=lambda: 0.0,
                                jitter=lambda: 0.0, max_attempts=2)
    lrs._now = lambda: NOW  # the first poll's start, pinned
    return lrs


def statement(sid: str, verb: str, course: str = "101", *, stored: str = "2026-03-10T10:00:00Z",
              **extra: Any) -> dict[str, Any]:
    return {"id": sid, "actor": {"mbox": "mailto:ann@example.com"},
            "verb": {"id": ADL + verb},
            "object": {"id": f"https://lms.example/course/{course}"},
            "timestamp": stored, "stored": stored, **extra}


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def answer(statements: list[dict[str, Any]], more: str = "",
           through: str = "2026-03-10T11:00:00.000Z") -> dict[str, Any]:
    return {"json": {"statements": statements, "more": more},
            "headers": {"X-Experience-API-Consistent-Through": through}}


def test_it_is_a_completion_source_and_settings_are_checked() -> None:
    assert isinstance(make(), CompletionSource)
    with pytest.raises(ConfigError, match="CONNECTOR_XAPI_LRS_MOVE_ON"):
        make(xapi_lrs_move_on="101=Sometimes")
    with pytest.raises(ConfigError, match="CONNECTOR_XAPI_LRS_ENDPOINT"):
        XapiLrs.from_settings(Settings(_env_file=None, xapi_lrs_key="k", xapi_lrs_secret="s"))


@responses.activate
def test_each_verb_and_voided_is_queried_with_since_and_the_version_header() -> None:
    # xAPI §GET /statements: `verb`, `since` (stored, exclusive), `ascending`; §Version
    # header 1.0.3 on every request; §Voiding: voided statements vanish, so watch `voided`.
    for _ in range(4):
        responses.get(STATEMENTS, **answer([]))
    events, cursor, overflowed = make().completions_since("2026-03-09T00:00:00.000Z")
    verbs = [query(c)["verb"] for c in responses.calls]
    assert verbs == [ADL + "completed", ADL + "passed", ADL + "failed", ADL + "voided"]
    for call in responses.calls:
        assert call.request.headers["X-Experience-API-Version"] == "1.0.3"
        assert call.request.headers["Authorization"] == "Basic " + base64.b64encode(
            b"lrs-key:lrs-secret-9876").decode()
        assert query(call)["since"] == "2026-03-09T00:00:00.000Z"
        assert query(call)["ascending"] == "true"
    assert events == [] and overflowed is False
    assert cursor == "2026-03-10T11:00:00.000Z"  # the consistent-through, not "now"


@responses.activate
def test_the_cursor_is_the_smallest_consistent_through_seen() -> None:
    # xAPI §X-Experience-API-Consistent-Through: poll `since` no later than the header.
    for through in ("2026-03-10T11:00:00.000Z", "2026-03-10T10:30:00.000Z",
                    "2026-03-10T11:05:00.000Z", "2026-03-10T11:00:00.000Z"):
        responses.get(STATEMENTS, **answer([], through=through))
    _, cursor, _ = make().completions_since("2026-03-09T00:00:00.000Z")
    assert cursor == "2026-03-10T10:30:00.000Z"


@responses.activate
def test_more_is_followed_and_statements_are_deduplicated_on_id() -> None:
    # xAPI §StatementResult: `more` is a relative IRL (path and query), "" at the end.
    responses.get(STATEMENTS, **answer([statement("s1", "completed")],
                                       more="/xapi/statements/more/abc"))
    responses.get("https://lrs.acme-learning.com/xapi/statements/more/abc",
                  **answer([statement("s1", "completed"), statement("s2", "completed", "102")]))
    for _ in range(3):
        responses.get(STATEMENTS, **answer([]))
    events, _, _ = make().completions_since(None)
    assert [e.event_id for e in events] == ["s1", "s2"]
    assert [e.course_id for e in events] == ["101", "102"]
    assert responses.calls[1].request.url == "https://lrs.acme-learning.com/xapi/statements/more/abc"
    assert query(responses.calls[0])["since"] == "2026-02-08T12:00:00.000Z"  # 30 days back


@responses.activate
def test_a_verb_cut_short_holds_the_cursor_before_its_last_statement() -> None:
    # xAPI §StatementResult: `more` pages; with `max_pages` reached the rest is read next time.
    responses.get(STATEMENTS, **answer([statement("s1", "completed",
                                                  stored="2026-03-10T09:00:00.000Z")],
                                       more="/xapi/statements/more/x"))
    for _ in range(3):
        responses.get(STATEMENTS, **answer([]))
    _, cursor, _ = make(xapi_lrs_max_pages=1).completions_since("2026-03-09T00:00:00.000Z")
    assert cursor == "2026-03-10T08:59:59.999Z"


@responses.activate
def test_passed_failed_completed_and_voided_are_read_by_the_one_parser() -> None:
    # xAPI §Verbs and result; §Voiding (StatementRef object).
    responses.get(STATEMENTS, **answer([statement("c1", "completed",
                                                  result={"success": False})]))
    responses.get(STATEMENTS, **answer([statement("p1", "passed",
                                                  result={"score": {"scaled": 0.8}})]))
    responses.get(STATEMENTS, **answer([statement("f1", "failed")]))
    responses.get(STATEMENTS, **answer([{
        "id": "v1", "actor": {"mbox": "mailto:admin@lrs.example"},
        "verb": {"id": ADL + "voided"}, "stored": "2026-03-10T10:05:00Z",
        "object": {"objectType": "StatementRef", "id": "p0"}}]))
    events, _, _ = make().completions_since(None)
    by_id = {e.event_id: e for e in events}
    assert by_id["c1"].outcome is Outcome.FAILED
    assert by_id["p1"].outcome is Outcome.PASSED and by_id["p1"].score == pytest.approx(80)
    assert by_id["f1"].outcome is Outcome.FAILED
    assert by_id["v1"].outcome is Outcome.VOIDED and by_id["v1"].voids == "p0"
    assert by_id["v1"].email is None  # the voider is not the learner


@responses.activate
def test_completed_and_passed_asks_the_lrs_for_the_other_half() -> None:
    # xAPI cmi5 moveOn §13.1.4: CompletedAndPassed needs both, in any order; xAPI §GET
    # /statements filters `agent` (JSON), `verb`, `activity`.
    responses.get(STATEMENTS, **answer([statement("c1", "completed")]))
    responses.get(STATEMENTS, **answer([]))  # passed
    responses.get(STATEMENTS, **answer([]))  # failed
    responses.get(STATEMENTS, **answer([]))  # satisfied (queried where moveOn is declared)
    responses.get(STATEMENTS, **answer([]))  # voided
    responses.get(STATEMENTS, **answer([statement("p0", "passed",
                                                  stored="2026-03-01T10:00:00Z")]))
    events, _, _ = make(xapi_lrs_move_on="101=CompletedAndPassed").completions_since(None)
    verbs = [query(c)["verb"] for c in responses.calls]
    assert "https://w3id.org/xapi/adl/verbs/satisfied" in verbs
    lookup = query(responses.calls[-1])
    assert lookup["verb"] == ADL + "passed"
    assert lookup["activity"] == "https://lms.example/course/101"
    assert json.loads(lookup["agent"]) == {"mbox": "mailto:ann@example.com"}
    (event,) = events
    assert event.outcome is Outcome.PASSED and event.event_id == "c1"


@responses.activate
def test_completed_and_passed_without_the_other_half_stays_in_progress() -> None:
    responses.get(STATEMENTS, **answer([statement("c1", "completed")]))
    for _ in range(4):  # passed, failed, satisfied, voided
        responses.get(STATEMENTS, **answer([]))
    responses.get(STATEMENTS, **answer([]))  # the other half: none
    events, _, _ = make(xapi_lrs_move_on="101=CompletedAndPassed").completions_since(None)
    assert [e.outcome for e in events] == [Outcome.IN_PROGRESS]
