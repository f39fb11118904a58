"""TalentLMS completions from its timeline: events, the cursor, and overflow detection.

TalentLMS sends no webhooks; `GET gettimeline/event_type:…` returns only the newest 200 events
of one type. So the poller keeps a cursor — the highest `unix_timestamp` read plus the event
ids already seen at that second (several completions can share a second) — and reports an
overflow when a full page of 200 is entirely newer than the cursor: events may have fallen
off the end between polls and the caller must reconcile open assignments with `progress()`.

The value helpers at the top also serve the adapter: TalentLMS v1 sends numbers as strings and
dates as "", null or Unix seconds in `*_timestamp` fields.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.models import CompletionEvent, Outcome, completion_event_id

log = logging.getLogger(__name__)

SOURCE = "talentlms"
TIMELINE_PAGE = 200  # the timeline answers at most this many events per type
EVENT_OUTCOMES = {"course_completion": Outcome.PASSED, "course_failure": Outcome.FAILED}


# --- TalentLMS value helpers -----------------------------------------------------------------

def text(value: Any) -> str | None:
    """A trimmed string, or None for "", null and whitespace."""
    if value is None:
        return None
    result = str(value).strip()
    return result or None


def number(value: Any) -> float | None:
    """A number sent as a string ("100", "87.5"), or None when empty or not a number."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return float(raw.rstrip("%"))
    except ValueError:
        return None


def unix_time(value: Any) -> datetime | None:
    """A UTC time from Unix seconds sent as a string or a number; None for "" / null / "0"."""
    seconds = number(value)
    if seconds is None or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


# --- the cursor ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineCursor:
    """The highest second read and the event ids already seen at exactly that second."""

    timestamp: int = 0
    seen: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, raw: str | None) -> TimelineCursor:
        """From its stored string; a bare number (seconds) is accepted too."""
        if not raw:
            return cls()
        raw = raw.strip()
        if raw.isdigit():
            return cls(int(raw))
        try:
            body = json.loads(raw)
            return cls(int(body["t"]), frozenset(str(s) for s in body.get("seen", ())))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"not a TalentLMS timeline cursor: {raw[:80]!r}") from None

    def dump(self) -> str:
        return json.dumps({"t": self.timestamp, "seen": sorted(self.seen)}, separators=(",", ":"))

    def is_new(self, timestamp: int, event_id: str) -> bool:
        if timestamp != self.timestamp:
            return timestamp > self.timestamp
        return event_id not in self.seen

    def advanced(self, read: Iterable[tuple[int, str]]) -> TimelineCursor:
        """The cursor after reading these (timestamp, event id) pairs; never past them."""
        top, seen = self.timestamp, set(self.seen)
        for timestamp, event_id in read:
            if timestamp > top:
                top, seen = timestamp, {event_id}
            elif timestamp == top:
                seen.add(event_id)
        return TimelineCursor(top, frozenset(seen))


# --- events ------------------------------------------------------------------------------------

def event_from_timeline(raw: Mapping[str, Any], event_type: str) -> CompletionEvent | None:
    """One timeline entry as a `CompletionEvent`; None (logged) when it lacks what we need."""
    timestamp = number(raw.get("unix_timestamp"))
    user_id, course_id = text(raw.get("user_id")), text(raw.get("object_id"))
    if timestamp is None or user_id is None or course_id is None:
        log.warning("skipping a TalentLMS %s event without user, course or time", event_type)
        return None
    seconds = int(timestamp)
    outcome = EVENT_OUTCOMES.get(event_type, Outcome.PASSED)
    return CompletionEvent(
        source=SOURCE,
        event_id=completion_event_id(user_id, course_id, seconds, outcome),
        course_id=course_id,
        lms_user_id=user_id,
        email=text(raw.get("user_email")),
        completed_at=datetime.fromtimestamp(seconds, tz=UTC),
        outcome=outcome,
        course_name=text(raw.get("object_name")),
    )


def new_completions(
    pages: Mapping[str, list[Any]], cursor: str | None
) -> tuple[list[CompletionEvent], str | None, bool]:
    """Select the unseen events from one timeline page per event type.

    Returns (events oldest first, the cursor to store, overflowed). The stored cursor is the
    input cursor when nothing was read, so an empty poll never moves or resets it.
    """
    start = TimelineCursor.parse(cursor)
    events: list[CompletionEvent] = []
    read: list[tuple[int, str]] = []
    taken: set[str] = set()  # an event listed twice is reported once
    overflowed = False
    for event_type, page in pages.items():
        parsed = [e for e in (event_from_timeline(r, event_type) for r in page
                              if isinstance(r, Mapping)) if e is not None]
        stamps = [(int(e.completed_at.timestamp()), e.event_id) for e in parsed]
        read.extend(stamps)
        for event, (stamp, event_id) in zip(parsed, stamps, strict=True):
            if start.is_new(stamp, event_id) and event_id not in taken:
                taken.add(event_id)
                events.append(event)
        if len(page) >= TIMELINE_PAGE and stamps:
            oldest = min(stamps)
            # The whole page is new: older events may have fallen off the 200-event window.
            if start.is_new(*oldest):
                overflowed = True
                log.warning("TalentLMS %s timeline overflowed: %d new events since the cursor",
                            event_type, len(page))
    events.sort(key=lambda e: (e.completed_at, e.event_id))
    if not read:
        return [], cursor, overflowed
    return events, start.advanced(read).dump(), overflowed
