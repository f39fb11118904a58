"""OrangeHRM 5 performance trackers and their logs, as a `GoalTracker`.

Contract checked against OrangeHRM 5's source (orangehrm/orangehrm,
`src/plugins/orangehrmPerformancePlugin/Api`):

- Trackers (`PerformanceTrackerAPI`): POST `/api/v2/performance/config/trackers`
  `{trackerName (≤200), empNumber, reviewerEmpNumbers}`; GET lists with `empNumber`; PUT only
  renames / changes reviewers; DELETE is a soft delete. There is no status, archive or close.
- Logs (`PerformanceTrackerLogAPI`): POST `/api/v2/performance/trackers/{id}/logs`
  `{log (≤150), comment (≤3000), achievement (1 positive, 2 negative)}`; GET lists them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from connector.errors import ConfigError
from connector.http import VendorHttp
from connector.models import Employee, Evidence, GoalKey, GoalRef, Outcome
from connector.ports import GoalPresence
from connector.settings import Settings
from connector.vendors.orangehrm.client import API, VENDOR, iter_pages, orangehrm_http

log = logging.getLogger(__name__)

ACHIEVEMENT_POSITIVE = 1
ACHIEVEMENT_NEGATIVE = 2
LOG_MAX = 150
COMMENT_MAX = 3000
TRACKER_NAME_MAX = 200


def goal_marker(key: GoalKey) -> str:
    """A short, stable tag in the tracker name so the tracker can be found after a crash."""
    return "[sg:" + hashlib.sha256(str(key).encode()).hexdigest()[:12] + "]"


def evidence_marker(evidence: Evidence) -> str:
    when = evidence.completed_at.isoformat()
    raw = f"{evidence.goal}|{evidence.course_id}|{when}|{evidence.outcome}"
    return "[sg-evidence:" + hashlib.sha256(raw.encode()).hexdigest()[:12] + "]"


CLOSED_MARKER = "[sg-closed]"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class OrangeHRMTrackers:
    """Development goals as OrangeHRM performance trackers, evidence as tracker logs.

    One tracker per goal, named "<title> [sg:<hash of the goal key>]" so `find_goal` can match
    it after a crash. OrangeHRM trackers have no milestones, progress or close: a course
    completion is a positive log (`complete_course` adds nothing more), a failed attempt or a
    note is a negative log (OrangeHRM has no neutral one), and `close_goal` posts a final
    positive "Goal complete" log (trackers cannot be archived through the API; DELETE would
    hide the history). The API user must be a reviewer on the tracker to post logs: reviewers
    are `reviewer_emp_numbers`, else the employee's manager.
    """

    name = VENDOR
    closes_goals = True  # "closing" posts a final "Goal complete" log

    def __init__(self, http: VendorHttp, *, reviewer_emp_numbers: Sequence[int] = (),
                 page_size: int = 50) -> None:
        self.http = http
        self.reviewer_emp_numbers = [int(n) for n in reviewer_emp_numbers]
        self.page_size = page_size

    @classmethod
    def from_settings(cls, settings: Settings, *, http: VendorHttp | None = None,
                      **kw: Any) -> OrangeHRMTrackers:
        return cls(http or orangehrm_http(settings), **kw)

    def _ref(self, tracker_id: Any) -> GoalRef:
        return GoalRef(tracker=VENDOR, goal_id=str(tracker_id))

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        marker = goal_marker(key)
        for item, _ in iter_pages(self.http, f"{API}/performance/config/trackers",
                                  operation="list trackers",
                                  params={"empNumber": int(employee.employee_id)},
                                  page_size=self.page_size):
            if str(item.get("trackerName", "")).endswith(marker):
                return self._ref(item["id"])
        return None

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        reviewers = self.reviewer_emp_numbers or (
            [int(employee.manager_id)] if employee.manager_id else []
        )
        if not reviewers:
            raise ConfigError(
                f"orangehrm: no tracker reviewer for employee {employee.employee_id}: set "
                "reviewer_emp_numbers (the API user's own empNumber) or give the manager")
        marker = goal_marker(key)
        name = _shorten(title, TRACKER_NAME_MAX - len(marker) - 1) + " " + marker
        body = self.http.post_json(
            f"{API}/performance/config/trackers", operation="create tracker",
            json={"trackerName": name, "empNumber": int(employee.employee_id),
                  "reviewerEmpNumbers": reviewers})
        return self._ref(body["data"]["id"])

    def goal_presence(self, goals: Sequence[tuple[str, GoalRef]]) -> dict[str, GoalPresence]:
        """`ReadsGoals`: which trackers still exist, one (paged) list per owner. A deleted
        tracker is gone from its owner's complete list (OrangeHRM's DELETE is soft)."""
        by_owner: dict[str, list[str]] = {}
        for owner, ref in goals:
            by_owner.setdefault(owner if owner.isdigit() else "", []).append(ref.goal_id)
        found: dict[str, GoalPresence] = {}
        for owner, wanted in by_owner.items():
            params = {"empNumber": int(owner)} if owner else {}
            listed = {str(item.get("id")) for item, _ in iter_pages(
                self.http, f"{API}/performance/config/trackers", operation="list trackers",
                params=params, page_size=self.page_size)}
            for tracker_id in wanted:
                found[tracker_id] = (GoalPresence.PRESENT if tracker_id in listed
                                     else GoalPresence.DELETED)
        return found

    def _logs(self, goal: GoalRef) -> Iterator[dict[str, Any]]:
        for item, _ in iter_pages(self.http, f"{API}/performance/trackers/{goal.goal_id}/logs",
                                  operation="list tracker logs", page_size=self.page_size):
            yield item

    def _post_log(self, goal: GoalRef, text: str, comment: str, achievement: int) -> None:
        self.http.post_json(
            f"{API}/performance/trackers/{goal.goal_id}/logs", operation="add tracker log",
            json={"log": _shorten(text, LOG_MAX), "comment": _shorten(comment, COMMENT_MAX),
                  "achievement": achievement})

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool:
        marker = evidence_marker(evidence)
        return any(marker in str(item.get("comment") or "") for item in self._logs(goal))

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        text = evidence.text()
        marker = evidence_marker(evidence)
        # The marker goes last and the details are cut first, so it survives the 3000 limit.
        comment = _shorten(text, COMMENT_MAX - len(marker) - 1) + "\n" + marker
        failed = evidence.outcome is Outcome.FAILED
        self._post_log(goal, text, comment,
                       ACHIEVEMENT_NEGATIVE if failed else ACHIEVEMENT_POSITIVE)

    def add_note(self, goal: GoalRef, text: str) -> None:
        self._post_log(goal, text, text, ACHIEVEMENT_NEGATIVE)

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        """No milestones or percentage in OrangeHRM: the evidence log already says it."""
        log.debug("orangehrm tracker %s: course %s done (%.0f%%), nothing to set",
                  goal.goal_id, course_id, percent)

    def close_goal(self, goal: GoalRef) -> None:
        if any(CLOSED_MARKER in str(item.get("comment") or "") for item in self._logs(goal)):
            return
        self._post_log(goal, "Goal complete",
                       f"All linked courses are complete.\n{CLOSED_MARKER}", ACHIEVEMENT_POSITIVE)
