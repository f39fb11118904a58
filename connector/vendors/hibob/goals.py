"""HiBob development goals: one key result per course, check-ins as evidence, status at the end.

Facts this module relies on (shared/VENDORS-next.md, "HiBob" §2, from HiBob's published
OpenAPI definitions):

- Goals and key results are created in batches of at most 25 (`MAX_ITEMS_PER_CREATE`); more
  fails the whole call, so key results are sent in chunks of 25.
- A check-in (`PATCH …/key-results/progress`) moves key results and never the goal's status;
  its goal-level `comment` and per-key-result `notes` live in the activity log only and are
  never returned by a search. So the evidence cannot be read back: whether it was posted is
  read from the course's key result (`currentValue` at its target), which the same call sets.
- The status changes only through `PATCH /goals/goals/{id}/status` (with a comment).
- Key-result search needs a `goalId` filter; searches accept pagination but do not enforce it.

Assumed, *unconfirmed* (either answer is easy to change here): the goal item's field names
(`title`, `description`, `ownerId`, `dueDate`, `goalTypeId`), the filter shape `{fieldPath,
operator, values}`, the key result's `measureType: "percentage"` with `target` 100, answers
as a list or under `items`, and the status values (settings `CONNECTOR_HIBOB_DONE_STATUS`,
`CONNECTOR_HIBOB_OPEN_STATUS`).

A goal is always opened in HiBob's own id space: the owner is the `Employee` the executor
resolved through the id-space linking (connector/id_spaces.py), never the review source's id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from connector.errors import FatalAPIError
from connector.http import VendorHttp
from connector.models import Employee, Evidence, GoalKey, GoalRef
from connector.settings import Settings
from connector.vendors.hibob.client import (
    GOALS_BUCKET,
    MAX_ITEMS_PER_CREATE,
    VENDOR,
    HiBobSettings,
    hibob_http,
    items_of,
)

log = logging.getLogger(__name__)

GOAL_MARKER = "connector-goal: "
COURSES_MARKER = "connector-courses: "
TITLES_MARKER = "connector-key-results: "  # the key results' titles, in course order
TARGET = 100.0
_GOALS = "/goals/goals"


def goal_marker(key: GoalKey) -> str:
    return f"{GOAL_MARKER}{key}"


def _equals(field: str, value: str) -> dict[str, Any]:
    return {"fieldPath": field, "operator": "equals", "values": [value]}


def map_key_results(course_ids: Sequence[str], titles: Sequence[str],
                    key_results: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """course_id → key result id: by title (in course order), then by position for the rest."""
    remaining = [k for k in key_results if k.get("id") is not None]
    mapping: dict[str, str] = {}
    for course_id, title in zip(course_ids, titles, strict=False):
        match = next((k for k in remaining if k.get("title") == title), None)
        if match is not None:
            remaining.remove(match)
            mapping[course_id] = str(match["id"])
    for course_id in course_ids:
        if course_id not in mapping and remaining:
            mapping[course_id] = str(remaining.pop(0)["id"])
    return mapping


def chunks(items: Sequence[Any], size: int = MAX_ITEMS_PER_CREATE) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class HiBobGoals:
    """`GoalTracker` on HiBob's Goals API (+ `WithdrawsEvidence`): a goal per (employee,
    skill, cycle) with one percentage key result per course; a completion is a check-in of
    that key result to 100 with the evidence as its notes and comment; done is a status."""

    name = "hibob"

    def __init__(self, http: VendorHttp, *, close_goals: bool = True,
                 goal_type_id: str | None = None, done_status: str = "completed",
                 open_status: str = "inProgress") -> None:
        self.http = http
        self.closes_goals = close_goals
        self.goal_type_id = goal_type_id
        self.done_status = done_status
        self.open_status = open_status

    def __repr__(self) -> str:
        return f"HiBobGoals(base_url={self.http.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, **http_kw: Any) -> HiBobGoals:
        own = settings.vendor(HiBobSettings)
        return cls(hibob_http(settings, own, GOALS_BUCKET, **http_kw),
                   close_goals=own.close_goals, goal_type_id=own.goal_type_id,
                   done_status=own.done_status, open_status=own.open_status)

    # -- finding and opening --

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        """Our goal for `key`: the owner's goals (one search; pagination is not enforced),
        recognised by the marker line in the description, not by the editable title."""
        body = self.http.post_json(f"{_GOALS}/search", operation="search goals", idempotent=True,
                                   json={"fields": ["id", "title", "description", "ownerId"],
                                         "filters": [_equals("ownerId", employee.employee_id)]})
        goals = items_of(body, "items", "results", "goals")
        if goals is None:
            raise FatalAPIError("goal search answered without a list", vendor=VENDOR,
                                operation="search goals")
        marker = goal_marker(key)
        for goal in goals:
            if not isinstance(goal, dict) or goal.get("id") is None:
                continue
            lines = [line.strip() for line in str(goal.get("description") or "").splitlines()]
            if marker in lines:
                courses = _marked(lines, COURSES_MARKER)
                titles = _marked(lines, TITLES_MARKER)
                gid = str(goal["id"])
                return GoalRef(tracker=self.name, goal_id=gid,
                               milestone_ids=self._key_result_ids(gid, courses, titles))
        return None

    def _key_results(self, gid: str) -> list[dict[str, Any]]:
        body = self.http.post_json(f"{_GOALS}/key-results/search", idempotent=True,
                                   operation="search key results",
                                   json={"filters": [_equals("goalId", gid)]})
        found = items_of(body, "items", "results", "keyResults")
        if found is None:
            raise FatalAPIError("key-result search answered without a list", vendor=VENDOR,
                                operation="search key results")
        return [k for k in found if isinstance(k, dict)]

    def _key_result_ids(self, gid: str, course_ids: list[str],
                        titles: Sequence[str] = ()) -> dict[str, str]:
        found = self._key_results(gid)
        names = list(titles) or [str(k.get("title")) for k in found]
        return map_key_results(course_ids, names, found)

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        """Create the goal (one item), then its key results in chunks of 25."""
        operation = "create goal"
        titles = [name.strip() or f"Course {cid}" for cid, name in courses]
        course_ids = [cid for cid, _ in courses]
        description = "\n".join([
            "Development goal opened from a performance review skill gap.",
            "", goal_marker(key), COURSES_MARKER + json.dumps(course_ids),
            TITLES_MARKER + json.dumps(titles)])
        item: dict[str, Any] = {"title": title, "description": description,
                                "ownerId": employee.employee_id,
                                "dueDate": due_date.isoformat()}
        if self.goal_type_id:
            item["goalTypeId"] = self.goal_type_id
        answer = self.http.post_json(_GOALS, operation=operation, json={"items": [item]})
        ids = _created_ids(answer, operation)
        if len(ids) != 1:
            raise FatalAPIError(f"create answered {len(ids)} goal ids for one goal",
                                vendor=VENDOR, operation=operation)
        gid = ids[0]
        created: list[str] = []
        for part in chunks(titles):
            body = {"items": [{"title": t, "measureType": "percentage", "startValue": 0,
                               "target": TARGET} for t in part]}
            created += _created_ids(self.http.post_json(
                f"{_GOALS}/{gid}/key-results", operation="create key results", json=body),
                "create key results")
        if len(created) == len(course_ids):
            milestones = dict(zip(course_ids, created, strict=True))
        else:  # an answer without ids: read them back, matched by title
            milestones = self._key_result_ids(gid, course_ids, titles)
        log.info("hibob goal opened goal=%s key=%s key_results=%d", gid, key, len(milestones))
        return GoalRef(tracker=self.name, goal_id=gid, milestone_ids=milestones)

    # -- evidence, notes, progress --

    def _course_key_result(self, goal: GoalRef, course_id: str, evidence: Evidence) -> str:
        """The course's key result; a course linked after the goal opened gets one now."""
        known = goal.milestone_ids.get(course_id)
        if known:
            return known
        title = evidence.course_name or f"Course {course_id}"
        for kr in self._key_results(goal.goal_id):
            if kr.get("title") == title and kr.get("id") is not None:
                return str(kr["id"])
        ids = _created_ids(self.http.post_json(
            f"{_GOALS}/{goal.goal_id}/key-results", operation="create key results",
            json={"items": [{"title": title, "measureType": "percentage", "startValue": 0,
                             "target": TARGET}]}), "create key results")
        if not ids:
            raise FatalAPIError("create answered without a key result id", vendor=VENDOR,
                                operation="create key results")
        return ids[0]

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool:
        """Posted when the course's key result stands at its target: the check-in that
        carries the evidence is the only call that sets it (its notes cannot be read back)."""
        kr_id = goal.milestone_ids.get(evidence.course_id)
        title = evidence.course_name or f"Course {evidence.course_id}"
        for kr in self._key_results(goal.goal_id):
            if (kr_id is not None and str(kr.get("id")) == kr_id) or \
                    (kr_id is None and kr.get("title") == title):
                return _number(kr.get("currentValue")) >= _number(kr.get("target"), TARGET)
        return False

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        """One check-in: the course's key result to 100, the evidence as notes and comment."""
        kr_id = self._course_key_result(goal, evidence.course_id, evidence)
        self._check_in(goal, [(kr_id, TARGET, evidence.text())], evidence.text(),
                       "check in evidence")

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        """Nothing more to do: the evidence check-in already moved the key result, and HiBob
        computes the goal's progress from its key results."""

    def add_note(self, goal: GoalRef, text: str) -> None:
        """A note is a check-in comment; HiBob's check-in takes key results, so each is sent
        again at the value it stands at (read first), changing nothing but the log."""
        current = [(str(k["id"]), _number(k.get("currentValue")), None)
                   for k in self._key_results(goal.goal_id) if k.get("id") is not None]
        self._check_in(goal, current, text, "add note")

    def _check_in(self, goal: GoalRef, values: Sequence[tuple[str, float, str | None]],
                  comment: str, operation: str) -> None:
        items = []
        for kr_id, value, notes in values:
            item: dict[str, Any] = {"id": kr_id, "currentValue": value}
            if notes:
                item["notes"] = notes
            items.append(item)
        # A check-in sets values, so sending it twice leaves the same values: safe to retry
        # (a repeated comment in the activity log is the only trace).
        self.http.request("PATCH", f"{_GOALS}/{goal.goal_id}/key-results/progress",
                          operation=operation, idempotent=True,
                          json={"comment": comment, "items": items})

    # -- status --

    def close_goal(self, goal: GoalRef) -> None:
        """Done at 100 %: the status endpoint (check-ins never change it). With closing off,
        the goal stays as it is, its key results at 100."""
        if not self.closes_goals:
            return
        self._status(goal, self.done_status, "Every linked course is complete.", "close goal")

    def _status(self, goal: GoalRef, status: str, comment: str, operation: str) -> None:
        self.http.request("PATCH", f"{_GOALS}/{goal.goal_id}/status", operation=operation,
                          idempotent=True, json={"status": status, "comment": comment})

    # -- a completion withdrawn (WithdrawsEvidence) --

    def withdraw_evidence(self, goal: GoalRef, evidence: Evidence, note: str) -> None:
        """The course's key result back to 0, the reason as notes and comment (the earlier
        check-in stays in HiBob's activity log: history is never deleted)."""
        kr_id = self._course_key_result(goal, evidence.course_id, evidence)
        self._check_in(goal, [(kr_id, 0.0, note)], note, "withdraw evidence")

    def reopen_goal(self, goal: GoalRef, note: str) -> None:
        self._status(goal, self.open_status, note, "reopen goal")


def _marked(lines: Sequence[str], prefix: str) -> list[str]:
    """The JSON list on the description line that starts with `prefix` ([] when absent or
    unreadable: the key results are then matched by position)."""
    for line in lines:
        if line.startswith(prefix):
            try:
                found = json.loads(line[len(prefix):])
            except ValueError:
                return []
            return [str(x) for x in found] if isinstance(found, list) else []
    return []


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _created_ids(answer: Any, operation: str) -> list[str]:
    """The ids a create answered (a list, or under `items`/`ids`); per-item failures are an
    error naming the first, since HiBob reports them item by item."""
    if isinstance(answer, dict):
        errors = answer.get("errors") or answer.get("failures")
        if errors:
            first = errors[0] if isinstance(errors, list) else errors
            raise FatalAPIError(f"HiBob refused an item: {str(first)[:200]}", vendor=VENDOR,
                                operation=operation)
    found = items_of(answer, "items", "ids", "results")
    if found is None:
        raise FatalAPIError("create answered without ids", vendor=VENDOR, operation=operation)
    ids = []
    for entry in found:
        value = entry.get("id") if isinstance(entry, dict) else entry
        if value is not None and str(value):
            ids.append(str(value))
    return ids
