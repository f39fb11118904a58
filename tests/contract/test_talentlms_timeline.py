"""TalentLMS completion poller: timeline requests, events, the cursor and overflow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses

from connector.models import Outcome
from connector.vendors.talentlms import TalentLMS
from connector.vendors.talentlms.timeline import TimelineCursor

ROOT = "https://acme.talentlms.com"
COMPLETIONS = f"{ROOT}/api/v1/gettimeline/event_type:course_completion"
FAILURES = f"{ROOT}/api/v1/gettimeline/event_type:course_failure"


def lms() -> TalentLMS:
    return TalentLMS(ROOT, "key-123456", sleep=lambda _s: None, jitter=lambda: 0.0)


def event(user: int, course: int, ts: int, action: str = "course_completion"
          ) -> dict[str, str]:
    return {"action": action, "message": "m", "timestamp": "25/12/2019, 03:58:50",
            "unix_timestamp": str(ts), "user_id": str(user), "user_username": f"u{user}",
            "user_email": f"u{user}@example.com", "user_fullname": "U", "object_id": str(course),
            "object_name": f"Course {course}"}


def timeline(completions: list[dict[str, str]], failures: list[dict[str, str]]) -> None:
    """Register one answer per event type, newest first like TalentLMS."""
    def newest_first(events: list[dict[str, str]]) -> list[dict[str, str]]:
        return sorted(events, key=lambda e: -int(e["unix_timestamp"] or 0))

    responses.get(COMPLETIONS, json=newest_first(completions))
    responses.get(FAILURES, json=newest_first(failures))


@responses.activate
def test_first_poll_reads_both_types_and_maps_events() -> None:
    timeline([event(7, 12, 1_700_000_100), event(8, 12, 1_700_000_050)],
             [event(9, 13, 1_700_000_070, "course_failure")])
    events, cursor, overflowed = lms().completions_since(None)
    assert [c.request.url for c in responses.calls] == [COMPLETIONS, FAILURES]
    assert [e.event_id for e in events] == [
        "8:12:1700000050", "9:13:1700000070:failed", "7:12:1700000100"]
    first, failed = events[0], events[1]
    assert first.source == "talentlms" and first.course_id == "12"
    assert first.lms_user_id == "8" and first.email == "u8@example.com"
    assert first.course_name == "Course 12" and first.outcome is Outcome.PASSED
    assert first.completed_at == datetime.fromtimestamp(1_700_000_050, tz=UTC)
    assert failed.outcome is Outcome.FAILED
    assert TimelineCursor.parse(cursor) == TimelineCursor(1_700_000_100,
                                                          frozenset({"7:12:1700000100"}))
    assert overflowed is False


@responses.activate
def test_events_at_or_below_the_cursor_are_skipped_unless_unseen_in_the_same_second() -> None:
    cursor = TimelineCursor(1_700_000_100, frozenset({"7:12:1700000100"})).dump()
    timeline([event(7, 12, 1_700_000_100), event(8, 12, 1_700_000_100),
              event(5, 12, 1_700_000_099), event(6, 14, 1_700_000_101)], [])
    events, new_cursor, overflowed = lms().completions_since(cursor)
    assert [e.event_id for e in events] == ["8:12:1700000100", "6:14:1700000101"]
    assert TimelineCursor.parse(new_cursor) == TimelineCursor(
        1_700_000_101, frozenset({"6:14:1700000101"}))
    assert overflowed is False


@responses.activate
def test_same_second_ids_accumulate_and_an_empty_poll_keeps_the_cursor() -> None:
    start = TimelineCursor(1_700_000_100, frozenset({"7:12:1700000100"})).dump()
    timeline([event(7, 12, 1_700_000_100), event(8, 12, 1_700_000_100)], [])
    timeline([], [])
    adapter = lms()
    _, cursor, _ = adapter.completions_since(start)
    assert TimelineCursor.parse(cursor).seen == {"7:12:1700000100", "8:12:1700000100"}
    events, again, overflowed = adapter.completions_since(cursor)
    assert events == [] and again == cursor and overflowed is False


@responses.activate
def test_a_full_page_of_new_events_is_an_overflow() -> None:
    page = [event(u, 12, 1_700_001_000 + u) for u in range(200)]
    timeline(page, [])
    events, cursor, overflowed = lms().completions_since(str(1_700_000_999))
    assert len(events) == 200 and overflowed is True
    assert TimelineCursor.parse(cursor).timestamp == 1_700_001_199


@responses.activate
def test_a_full_page_reaching_back_to_the_cursor_is_no_overflow() -> None:
    page = [event(u, 12, 1_700_001_000 + u) for u in range(200)]
    timeline(page, [])
    cursor = TimelineCursor(1_700_001_000, frozenset({"0:12:1700001000"})).dump()
    events, _, overflowed = lms().completions_since(cursor)
    assert len(events) == 199 and overflowed is False


@responses.activate
def test_malformed_and_duplicate_events_are_skipped() -> None:
    broken = {**event(7, 12, 0), "unix_timestamp": ""}
    timeline([event(7, 12, 1_700_000_000), event(7, 12, 1_700_000_000), broken], [])
    events, _, _ = lms().completions_since(None)
    assert [e.event_id for e in events] == ["7:12:1700000000"]


def test_cursor_round_trip_and_bad_cursor() -> None:
    cursor = TimelineCursor(5, frozenset({"a", "b"}))
    assert TimelineCursor.parse(cursor.dump()) == cursor
    assert TimelineCursor.parse("42") == TimelineCursor(42)
    assert TimelineCursor.parse(None) == TimelineCursor()
    with pytest.raises(ValueError, match="not a TalentLMS timeline cursor"):
        TimelineCursor.parse("yesterday")


@responses.activate
def test_a_failure_and_a_pass_in_the_same_second_are_two_events() -> None:
    timeline([event(7, 12, 1_700_000_100)], [event(7, 12, 1_700_000_100, "course_failure")])
    events, _, _ = lms().completions_since(None)
    assert sorted((e.event_id, e.outcome) for e in events) == [
        ("7:12:1700000100", Outcome.PASSED), ("7:12:1700000100:failed", Outcome.FAILED)]
