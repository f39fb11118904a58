"""BambooHR development goals: course milestones, evidence comments, training records.

Paths, fields and error cases follow the official OpenAPI file
(`shared/vendor-specs/bamboohr-public-api.yaml`). Facts this module relies on:

- Goal lists and comment lists are capped at 50, so "not found" is only proof of absence when
  the list was shorter than the cap; otherwise we look wider or refuse to guess.
- There is no "get one goal" in v1; the documented single-goal read is `…/goals/{id}/aggregate`.
- Creating a goal and posting a comment are not idempotent, so they are never retried blindly;
  the executor asks `find_goal` / `evidence_exists` first, which read the markers we write.

A `GoalRef.goal_id` from this tracker is `"<employeeId>:<goalId>"`: every goal path needs the
owner's id and the port's `GoalRef` has no other place for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from connector.errors import FatalAPIError
from connector.http import VendorHttp
from connector.models import Employee, Evidence, GoalKey, GoalRef
from connector.ports import GoalPresence
from connector.settings import Settings
from connector.vendors.bamboohr.client import VENDOR, BambooHRSettings, bamboohr_http, numeric_id
from connector.vendors.bamboohr.goal_presence import goal_presence

log = logging.getLogger(__name__)

LIST_CAP = 50  # the documented cap on goal and comment lists
GOAL_MARKER = "connector-goal: "
COURSES_MARKER = "connector-courses: "
_GOALS = "/api/v1/performance/employees/{eid}/goals"


def goal_marker(key: GoalKey) -> str:
    return f"{GOAL_MARKER}{key}"


def evidence_tag(evidence: Evidence) -> str:
    """The tag that makes an evidence comment findable again (course and completion day)."""
    return f"[evidence {evidence.course_id} {evidence.completed_at.date().isoformat()}]"


def note_tag(text: str) -> str:
    """The tag that makes a note findable again: the same note text, the same tag."""
    return f"[note {hashlib.sha256(text.encode()).hexdigest()[:12]}]"


def training_tag(evidence: Evidence) -> str:
    day = evidence.completed_at.date().isoformat()
    return f"[connector {evidence.goal} {evidence.course_id} {day}]"


def _split_ref(goal: GoalRef, operation: str) -> tuple[str, str]:
    employee_id, sep, goal_id = goal.goal_id.partition(":")
    if not sep or not employee_id or not goal_id:
        raise FatalAPIError(f"not a BambooHR goal reference: {goal.goal_id!r}",
                            vendor=VENDOR, operation=operation)
    return employee_id, goal_id


def _utc_today() -> date:
    return datetime.now(UTC).date()


def map_milestones(course_ids: Sequence[str], titles: Sequence[str],
                   milestones: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """course_id → milestone id: by title (in course order), then by position for the rest."""
    remaining = [m for m in milestones if m.get("id") is not None]
    mapping: dict[str, str] = {}
    for course_id, title in zip(course_ids, titles, strict=False):
        match = next((m for m in remaining if m.get("title") == title), None)
        if match is not None:
            remaining.remove(match)
            mapping[course_id] = str(match["id"])
    for course_id in course_ids:
        if course_id not in mapping and remaining:
            mapping[course_id] = str(remaining.pop(0)["id"])
    return mapping
class BambooHRGoals:
    """`GoalTracker` on BambooHR goals: one goal per (employee, skill, cycle), one milestone per
    course, one comment per piece of evidence, closed at 100 % unless closing is switched off."""

    name = "bamboohr"

    def __init__(self, http: VendorHttp, *, close_goals: bool = True,
                 training_type_id: int | None = None,
                 today: Callable[[], date] = _utc_today) -> None:
        self.http = http
        self.closes_goals = close_goals
        self.training_type_id = training_type_id
        self._today = today

    def __repr__(self) -> str:
        return f"BambooHRGoals(base_url={self.http.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, *, today: Callable[[], date] = _utc_today,
                      **http_kw: Any) -> BambooHRGoals:
        own = settings.vendor(BambooHRSettings)
        return cls(bamboohr_http(settings, own, **http_kw), close_goals=own.close_goals,
                   training_type_id=own.training_type_id, today=today)

    # -- finding and opening --

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        """Our goal for `key`, found by the marker line in its description (not by title,
        which people may edit). Raises rather than answer "absent" from a capped list."""
        operation = "find goal"
        eid = str(numeric_id(employee.employee_id, operation))
        path = _GOALS.format(eid=eid)
        marker = goal_marker(key)
        capped = False
        for status in ("status-all", "status-inProgress", "status-completed", "status-closed"):
            body = self.http.get_json(path, operation=operation, params={"filter": status})
            goals = body.get("goals") if isinstance(body, dict) else None
            if not isinstance(goals, list):
                raise FatalAPIError("goal list without `goals`", vendor=VENDOR,
                                    operation=operation)
            for goal in goals:
                lines = str(goal.get("description") or "").splitlines()
                if marker in (line.strip() for line in lines):
                    return self._ref_from_goal(eid, goal, lines)
            if status == "status-all" and len(goals) < LIST_CAP:
                return None  # every goal of every status, and ours is not among them
            capped = capped or (status != "status-all" and len(goals) >= LIST_CAP)
        if capped:
            raise FatalAPIError(
                f"employee has {LIST_CAP}+ goals in a status; cannot prove goal {key} is absent",
                vendor=VENDOR, operation=operation)
        return None

    def _ref_from_goal(self, eid: str, goal: Mapping[str, Any], lines: list[str]) -> GoalRef:
        course_ids: list[str] = []
        for line in lines:
            if line.strip().startswith(COURSES_MARKER):
                try:
                    course_ids = [str(c) for c in json.loads(line.strip()[len(COURSES_MARKER):])]
                except ValueError:
                    log.warning("bamboohr goal %s: unreadable course marker", goal.get("id"))
        milestones = goal.get("milestones") or []
        titles = [str(m.get("title")) for m in milestones]
        return GoalRef(tracker=self.name, goal_id=f"{eid}:{goal['id']}",
                       milestone_ids=map_milestones(course_ids, titles, milestones))

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        """Create the goal, shared with the owner and their manager, one milestone per course."""
        operation = "create goal"
        owner = numeric_id(employee.employee_id, operation)
        shared = [owner]
        if employee.manager_id and employee.manager_id.isdigit() and \
                int(employee.manager_id) != owner:
            shared.append(int(employee.manager_id))
        titles = [name.strip() or f"Course {cid}" for cid, name in courses]
        course_ids = [cid for cid, _ in courses]
        description = "\n".join([
            "Development goal opened from a performance review skill gap.",
            *(["Courses:"] + [f"- {t}" for t in titles] if titles else []),
            "",
            goal_marker(key),
            COURSES_MARKER + json.dumps(course_ids),
        ])
        body: dict[str, Any] = {
            "title": title, "description": description, "dueDate": due_date.isoformat(),
            "sharedWithEmployeeIds": shared, "percentComplete": 0,
        }
        if titles:
            body["milestones"] = [{"title": t} for t in titles]
        answer = self.http.post_json(_GOALS.format(eid=owner), operation=operation, json=body)
        goal = answer.get("goal") if isinstance(answer, dict) else None
        if not isinstance(goal, dict) or not goal.get("id"):
            raise FatalAPIError("create answered without a goal id", vendor=VENDOR,
                                operation=operation)
        milestones = goal.get("milestones")
        if titles and not milestones:  # read back when the create answer leaves them out
            milestones = self._aggregate(str(owner), str(goal["id"])).get("goal", {}).get(
                "milestones")
        ref = GoalRef(tracker=self.name, goal_id=f"{owner}:{goal['id']}",
                      milestone_ids=map_milestones(course_ids, titles, milestones or []))
        log.info("bamboohr goal opened goal=%s key=%s milestones=%d", ref.goal_id, key,
                 len(ref.milestone_ids))
        return ref

    def _aggregate(self, eid: str, gid: str) -> dict[str, Any]:
        body = self.http.get_json(f"{_GOALS.format(eid=eid)}/{gid}/aggregate",
                                  operation="read goal")
        return body if isinstance(body, dict) else {}

    def goal_presence(self, goals: Sequence[tuple[str, GoalRef]]) -> dict[str, GoalPresence]:
        """`ReadsGoals`: which of our goals still exist, one list per owner."""
        return goal_presence(self.http, goals)

    # -- evidence and notes --

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool:
        return self._has_comment(goal, evidence_tag(evidence), "the evidence")

    def _has_comment(self, goal: GoalRef, tag: str, what: str) -> bool:
        eid, gid = _split_ref(goal, "list goal comments")
        body = self.http.get_json(f"{_GOALS.format(eid=eid)}/{gid}/comments",
                                  operation="list goal comments")
        comments = body.get("comments") if isinstance(body, dict) else None
        if not isinstance(comments, list):
            raise FatalAPIError("comment list without `comments`", vendor=VENDOR,
                                operation="list goal comments")
        if any(tag in str(c.get("text", "")) for c in comments):
            return True
        if len(comments) < LIST_CAP:
            return False
        # The list is capped at 50; the aggregate read carries the goal's comments too.
        everything = self._aggregate(eid, gid).get("comments") or []
        if any(tag in str(c.get("text", "")) for c in everything):
            return True
        if len(everything) <= LIST_CAP:
            raise FatalAPIError(f"goal has 50+ comments; cannot prove {what} is absent",
                                vendor=VENDOR, operation="list goal comments")
        return False

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        self._comment(goal, f"{evidence.text()}\n{evidence_tag(evidence)}", "add evidence")

    def add_note(self, goal: GoalRef, text: str) -> None:
        """Post the note once. A comment POST is not idempotent and a note has no ledger read
        of its own, so the note carries a tag of its text and a retry after a lost answer (a
        timeout, a dropped connection) finds it instead of posting it again."""
        tag = note_tag(text)
        if self._has_comment(goal, tag, "the note"):
            return
        self._comment(goal, f"{text}\n{tag}", "add note")

    def _comment(self, goal: GoalRef, text: str, operation: str) -> None:
        eid, gid = _split_ref(goal, operation)
        self.http.post_json(f"{_GOALS.format(eid=eid)}/{gid}/comments", operation=operation,
                            json={"text": text})

    # -- progress and closing --

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        """Tick the course's milestone; a goal without milestones gets `percent` instead."""
        eid, gid = _split_ref(goal, "update progress")
        base = f"{_GOALS.format(eid=eid)}/{gid}"
        if goal.milestone_ids:
            milestone = goal.milestone_ids.get(course_id)
            if milestone is None:
                raise FatalAPIError(f"goal has no milestone for course {course_id}",
                                    vendor=VENDOR, operation="update milestone progress")
            self.http.request("PUT", f"{base}/milestones/{milestone}/progress",
                              operation="update milestone progress", json={"complete": True})
            return
        self._set_percent(base, percent)

    def _set_percent(self, base: str, percent: float) -> None:
        value = max(0, min(100, round(percent)))
        body: dict[str, Any] = {"percentComplete": value}
        if value == 100:  # "Required when percentComplete is 100"
            body["completionDate"] = self._today().isoformat()
        self.http.request("PUT", f"{base}/progress", operation="update goal progress", json=body)

    def close_goal(self, goal: GoalRef) -> None:
        """Close the goal; with `close_goals` off, leave it open at 100 %."""
        eid, gid = _split_ref(goal, "close goal")
        base = f"{_GOALS.format(eid=eid)}/{gid}"
        if not self.closes_goals:
            if not goal.milestone_ids:
                self._set_percent(base, 100)
            return
        try:
            # Closing twice closes once: safe to retry.
            self.http.request("POST", f"{base}/close", operation="close goal", idempotent=True)
        except FatalAPIError as exc:
            if exc.status not in (400, 403):
                raise
            # "Goal is not editable" may just mean an earlier attempt already closed it.
            status = self._aggregate(eid, gid).get("goal", {}).get("status")
            if status != "closed":
                raise
            log.info("bamboohr goal %s was already closed", goal.goal_id)

    # -- a completion withdrawn (WithdrawsEvidence) --

    def withdraw_evidence(self, goal: GoalRef, evidence: Evidence, note: str) -> None:
        """The reason as a note (posted once), and the course's milestone unticked; the
        evidence comment stays, as history."""
        self.add_note(goal, note)
        milestone = goal.milestone_ids.get(evidence.course_id)
        if milestone is None:
            return
        eid, gid = _split_ref(goal, "update milestone progress")
        self.http.request("PUT", f"{_GOALS.format(eid=eid)}/{gid}/milestones/{milestone}/progress",
                          operation="update milestone progress", json={"complete": False})

    def reopen_goal(self, goal: GoalRef, note: str) -> None:
        """Reopen a closed goal (`POST …/reopen`); reopening twice reopens once."""
        eid, gid = _split_ref(goal, "reopen goal")
        self.http.request("POST", f"{_GOALS.format(eid=eid)}/{gid}/reopen",
                          operation="reopen goal", idempotent=True)

    # -- training records --

    def record_training(self, employee_id: str, evidence: Evidence) -> str | None:
        """A training record for a completion when a training type is configured (else None).
        A record carrying our tag already is reused, so a retry after a crash adds none."""
        if self.training_type_id is None:
            return None
        operation = "create training record"
        eid = numeric_id(employee_id, operation)
        path = f"/api/v1/training/record/employee/{eid}"
        tag = training_tag(evidence)
        existing = self.http.get_json(path, operation="list training records",
                                      params={"type": self.training_type_id})
        if isinstance(existing, dict):
            for record_id, record in existing.items():
                if isinstance(record, dict) and tag in str(record.get("notes") or ""):
                    return str(record.get("id", record_id))
        body = {"completed": evidence.completed_at.date().isoformat(),
                "type": self.training_type_id, "notes": f"{evidence.text()}\n{tag}"}
        created = self.http.post_json(path, operation=operation, json=body)
        return str(created["id"]) if isinstance(created, dict) and "id" in created else None
