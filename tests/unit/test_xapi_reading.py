"""What one xAPI statement means for its course: the plain reading, cmi5 moveOn per course
(shared/VENDORS-next.md, "cmi5 moveOn", AICC cmi5 §13.1.4) and voiding (xAPI §Voiding), read
by the one parser both the push and the pull path use."""

from __future__ import annotations

from typing import Any

import pytest

from connector.models import Outcome
from webhooks.decoding import PayloadError
from webhooks.dispatch import declared_sources, events_from_body
from webhooks.xapi_body import XapiOptions, parse_move_on, parse_xapi

ADL = "http://adlnet.gov/expapi/verbs/"
SATISFIED = "https://w3id.org/xapi/adl/verbs/satisfied"


def st(verb: str, **result: Any) -> dict[str, Any]:
    iri = verb if verb.startswith("http") else ADL + verb
    return {"id": f"id-{verb[-6:]}-{sorted(result.items())}", "actor": {"mbox": "mailto:a@b.c"},
            "verb": {"id": iri}, "object": {"id": "101"},
            "timestamp": "2026-03-01T10:00:00Z", **({"result": result} if result else {})}


def read(statement: dict[str, Any], move_on: str = "") -> Outcome | None:
    options = XapiOptions(move_on=parse_move_on(f"101={move_on}") if move_on else {})
    events = parse_xapi(statement, source="xapi", options=options).events
    return events[0].outcome if events else None


@pytest.mark.parametrize(("move_on", "verb", "result", "expected"), [
    ("", "completed", {}, Outcome.PASSED),
    ("", "completed", {"success": False}, Outcome.FAILED),
    ("", "passed", {}, Outcome.PASSED),
    ("", "failed", {}, Outcome.FAILED),
    ("", SATISFIED, {}, None),  # only read where moveOn is declared
    ("Passed", "completed", {}, Outcome.IN_PROGRESS),
    ("Passed", "passed", {}, Outcome.PASSED),
    ("Completed", "passed", {}, Outcome.IN_PROGRESS),
    ("Completed", "completed", {}, Outcome.PASSED),
    ("CompletedOrPassed", "passed", {}, Outcome.PASSED),
    ("CompletedOrPassed", "completed", {}, Outcome.PASSED),
    ("CompletedOrPassed", "failed", {}, Outcome.FAILED),  # never satisfies
    ("CompletedAndPassed", "completed", {}, Outcome.IN_PROGRESS),
    ("CompletedAndPassed", "passed", {}, Outcome.IN_PROGRESS),
    ("CompletedAndPassed", "completed", {"success": True}, Outcome.PASSED),
    ("CompletedAndPassed", "passed", {"completion": True}, Outcome.PASSED),
    ("CompletedAndPassed", SATISFIED, {}, Outcome.PASSED),  # the LMS's judgement
    ("NotApplicable", "completed", {}, Outcome.IN_PROGRESS),
])
def test_move_on_reading(move_on: str, verb: str, result: dict[str, Any],
                         expected: Outcome | None) -> None:
    assert read(st(verb, **result), move_on) is expected


def test_completed_and_passed_names_the_missing_half() -> None:
    options = XapiOptions(move_on={"101": "CompletedAndPassed"})
    batch = parse_xapi([st("completed"), st("passed")], source="xapi", options=options)
    assert [u.missing for u in batch.unsatisfied] == [ADL + "passed", ADL + "completed"]


def test_a_voiding_statement_names_its_target_and_not_the_voider() -> None:
    void = {"id": "v1", "actor": {"mbox": "mailto:admin@lrs.example"},
            "verb": {"id": ADL + "voided"}, "timestamp": "2026-03-02T10:00:00Z",
            "object": {"objectType": "StatementRef", "id": "s1"}}
    (event,) = parse_xapi(void, source="xapi").events
    assert (event.outcome, event.voids, event.email, event.event_id) == (
        Outcome.VOIDED, "s1", None, "v1")


def test_a_voiding_statement_must_reference_a_statement() -> None:
    void = {"id": "v1", "actor": {"mbox": "mailto:a@b.c"}, "verb": {"id": ADL + "voided"},
            "timestamp": "2026-03-02T10:00:00Z", "object": {"objectType": "Activity", "id": "x"}}
    with pytest.raises(PayloadError) as caught:
        parse_xapi(void, source="xapi")
    assert "StatementRef" in str(caught.value.errors)


def test_move_on_settings_name_every_mistake() -> None:
    assert parse_move_on(" 101=Passed , 102=CompletedAndPassed") == {
        "101": "Passed", "102": "CompletedAndPassed"}
    with pytest.raises(ValueError, match=r"'101=Sometimes'.*'102'"):
        parse_move_on("101=Sometimes, 102")


def test_a_pushed_source_declares_move_on_too() -> None:
    (source,) = declared_sources('[{"name": "lrs", "kind": "xapi", '
                                 '"xapi_move_on": "101=Passed"}]', environ={})
    assert source.xapi.move_on == {"101": "Passed"}


def test_the_push_path_queues_a_void_as_a_completion_job() -> None:
    (source,) = declared_sources('[{"name": "lrs", "kind": "xapi"}]', environ={})
    void = {"id": "v9", "actor": {"mbox": "mailto:admin@lrs.example"},
            "verb": {"id": ADL + "voided"}, "timestamp": "2026-03-02T10:00:00Z",
            "object": {"objectType": "StatementRef", "id": "s9"}}
    (event,) = events_from_body(source, void, b"{}", None)
    assert (event.event_id, event.kind, event.employee_id) == ("v9", "completion", None)
    assert event.payload["voids"] == "s9" and event.payload["outcome"] == "voided"
