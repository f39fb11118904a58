"""The BambooHR simulator's state: people, goals, comments, training records, the throttle.

Kept apart from the Flask routes (`connector.sandbox.bamboohr`) so the vendor's behaviour — its
validation rules and English error messages, its 50-item caps, how goal progress is recomputed,
its webhook body shapes — reads in one place. Every method expects the caller to hold `lock`
(the server is threaded).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

LIST_CAP = 50  # goals and comments: "Results are capped at 50"
API_USER_ID = 1  # the user the sandbox API key belongs to (comment author)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STATUS_FILTERS = {
    "status-inProgress": {"in_progress"},
    "status-completed": {"completed"},
    "status-closed": {"closed"},
    "status-all": {"in_progress", "completed", "closed"},
}
_DIRECTORY_FIELDS = [
    {"id": "displayName", "type": "text", "name": "Display name"},
    {"id": "firstName", "type": "text", "name": "First name"},
    {"id": "lastName", "type": "text", "name": "Last name"},
    {"id": "jobTitle", "type": "list", "name": "Job title"},
    {"id": "workEmail", "type": "email", "name": "Work Email"},
    {"id": "department", "type": "list", "name": "Department"},
    {"id": "supervisor", "type": "employee", "name": "Supervisor"},
]


class ApiError(Exception):
    """A documented error answer: status plus the header message, empty body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _valid_date(value: object) -> bool:
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


class BambooHRState:
    """Everything the simulated company holds; every method takes the lock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.clear()

    def clear(self) -> None:
        """Back to an empty company (the caller holds the lock, or nobody else can yet)."""
        self.employees: dict[str, dict[str, Any]] = {}
        self.goals: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.trainings: dict[int, dict[str, Any]] = {}
        self.training_types: set[int] = {1}
        self.webhooks_sent: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self._next_goal = 100
        self._next_milestone = 500
        self._next_comment = 900
        self._next_training = 1
        # Throttle: at most `limit` API calls per `window` seconds, then 503 or 429.
        self.throttle: dict[str, Any] = {"limit": None, "window": 1.0, "mode": "503",
                                         "retry_after": 1}
        self._window_start = 0.0
        self._window_calls = 0

    # -- helpers (callers hold the lock) --

    def _iso_now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def count(self, operation: str) -> None:
        self.counts[operation] = self.counts.get(operation, 0) + 1

    def throttled(self) -> tuple[int, int] | None:
        limit = self.throttle["limit"]
        if limit is None:
            return None
        now = self.clock()
        if now - self._window_start >= float(self.throttle["window"]):
            self._window_start, self._window_calls = now, 0
        self._window_calls += 1
        if self._window_calls <= int(limit):
            return None
        return (429 if self.throttle["mode"] == "429" else 503), int(self.throttle["retry_after"])

    def employee(self, employee_id: str) -> dict[str, Any]:
        person = self.employees.get(employee_id)
        if person is None:
            # BambooHR answers 403 for people the API user cannot see (or who do not exist).
            raise ApiError(403, "The API user does not have permission to view this employee.")
        return person

    def goal_of(self, employee_id: str, goal_id: str) -> dict[str, Any]:
        self.employee(employee_id)
        try:
            goal = self.goals[int(goal_id)]
        except (ValueError, KeyError):
            raise ApiError(404, "The goal specified by the given goalId was not found.") from None
        if goal["employeeId"] != employee_id:
            raise ApiError(400, "The specified employee is not associated with this goal.")
        return goal

    def goal_json(self, goal: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in goal.items() if k != "employeeId"}
        body["id"] = str(goal["id"])
        if goal["milestones"] is None:
            body.pop("milestones")
            body.pop("actions")
        else:
            body["milestones"] = [
                {k: v for k, v in m.items() if v is not None} for m in goal["milestones"]
            ]
        return body

    def _recompute(self, goal: dict[str, Any]) -> None:
        milestones = goal["milestones"]
        if milestones:
            done = sum(1 for m in milestones if m["completedDateTime"] is not None)
            goal["percentComplete"] = round(100 * done / len(milestones))
        if goal["status"] != "closed":
            complete = goal["percentComplete"] >= 100
            goal["status"] = "completed" if complete else "in_progress"
            goal["completionDate"] = (goal["completionDate"] or self._iso_now()) if complete \
                else None
        goal["lastChangedDateTime"] = self._iso_now()

    # -- goals --

    def list_goals(self, employee_id: str, status_filter: str | None) -> list[dict[str, Any]]:
        self.employee(employee_id)
        # "Unrecognized values are treated the same as omitting the parameter."
        wanted = _STATUS_FILTERS.get(status_filter or "", {"in_progress", "completed"})
        mine = [g for _, g in sorted(self.goals.items())
                if g["employeeId"] == employee_id and g["status"] in wanted]
        return [self.goal_json(g) for g in mine[:LIST_CAP]]

    def create_goal(self, employee_id: str, body: Any) -> dict[str, Any]:
        self.employee(employee_id)
        if not isinstance(body, dict):
            raise ApiError(400, "The request body is invalid.")
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ApiError(400, "Missing required field: title")
        if "dueDate" not in body:
            raise ApiError(400, "Missing required field: dueDate")
        if not _valid_date(body["dueDate"]):
            raise ApiError(400, "Invalid dueDate; expected YYYY-MM-DD")
        shared = body.get("sharedWithEmployeeIds")
        if not isinstance(shared, list) or not all(isinstance(i, int) for i in shared):
            raise ApiError(400, "sharedWithEmployeeIds must be an array of employee ids")
        if int(employee_id) not in shared:
            raise ApiError(400, "sharedWithEmployeeIds must include the goal owner")
        percent = body.get("percentComplete", 0)
        if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
            raise ApiError(400, "percentComplete must be an integer from 0 to 100")
        completion = body.get("completionDate")
        if completion is not None and (percent != 100 or not _valid_date(completion)):
            raise ApiError(400, "completionDate is only valid when percentComplete is 100")
        raw_milestones = body.get("milestones")
        if raw_milestones is not None and (
            not isinstance(raw_milestones, list)
            or not all(isinstance(m, dict) and isinstance(m.get("title"), str)
                       for m in raw_milestones)
        ):
            raise ApiError(400, "milestones must be a list of {title}")
        goal_id = self._next_goal
        self._next_goal += 1
        milestones = None
        if raw_milestones:
            milestones = []
            for m in raw_milestones:
                milestones.append({
                    "id": self._next_milestone, "employeeGoalId": goal_id, "title": m["title"],
                    "currentValue": None, "startValue": None, "endValue": None,
                    "completedDateTime": None, "lastUpdateDateTime": self._iso_now(),
                    "lastUpdateUserId": API_USER_ID,
                })
                self._next_milestone += 1
        goal = {
            "id": goal_id, "employeeId": employee_id, "title": title,
            "description": body.get("description") or "", "percentComplete": percent,
            "alignsWithOptionId": None, "sharedWithEmployeeIds": list(shared),
            "dueDate": body["dueDate"], "completionDate": None, "lastChangedDateTime": None,
            "status": "in_progress", "milestones": milestones,
            "actions": {"canEditGoalProgressBar": not milestones,
                        "canEditGoalMilestoneProgressBar": bool(milestones)},
        }
        if milestones:
            goal["percentComplete"] = 0
        self.goals[goal_id] = goal
        self.comments[goal_id] = []
        self._recompute(goal)
        return {"goal": self.goal_json(goal)}

    def goal_progress(self, employee_id: str, goal_id: str, body: Any) -> dict[str, Any]:
        goal = self.goal_of(employee_id, goal_id)
        if goal["milestones"]:
            raise ApiError(400, "This goal has milestones; update milestone progress instead.")
        percent = body.get("percentComplete") if isinstance(body, dict) else None
        if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
            raise ApiError(400, "percentComplete must be an integer from 0 to 100")
        completion = body.get("completionDate")
        if percent == 100 and not _valid_date(completion):
            raise ApiError(400, "completionDate is required when percentComplete is 100")
        goal["percentComplete"] = percent
        if percent == 100:
            goal["completionDate"] = f"{completion}T00:00:00Z"
        self._recompute(goal)
        return {"goal": self.goal_json(goal)}

    def milestone_progress(self, employee_id: str, goal_id: str, milestone_id: str,
                           body: Any) -> dict[str, Any]:
        goal = self.goal_of(employee_id, goal_id)
        found = [m for m in goal["milestones"] or [] if str(m["id"]) == milestone_id]
        if not found:
            raise ApiError(404, "Goal or milestone not found")
        complete = body.get("complete") if isinstance(body, dict) else None
        if not isinstance(complete, bool):
            raise ApiError(400, "complete must be true or false")
        milestone = found[0]
        if complete and milestone["completedDateTime"] is None:
            milestone["completedDateTime"] = self._iso_now()
        elif not complete:
            milestone["completedDateTime"] = None
        milestone["lastUpdateDateTime"] = self._iso_now()
        self._recompute(goal)
        return {"goal": self.goal_json(goal)}

    def list_comments(self, employee_id: str, goal_id: str) -> dict[str, Any]:
        try:
            goal = self.goal_of(employee_id, goal_id)
        except ApiError as exc:
            if exc.status == 400:  # the list answers 403 for a goal of someone else
                raise ApiError(403, "The goal does not belong to this employee.") from None
            raise
        return {"comments": list(self.comments[goal["id"]][:LIST_CAP])}

    def add_comment(self, employee_id: str, goal_id: str, text: Any) -> dict[str, Any]:
        goal = self.goal_of(employee_id, goal_id)
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "The comment text is blank.")
        comment = {"id": str(self._next_comment), "authorUserId": API_USER_ID,
                   "createdAt": self._iso_now(), "text": text, "canEdit": True,
                   "canDelete": True}
        self._next_comment += 1
        self.comments[goal["id"]].append(comment)
        return comment

    def set_closed(self, employee_id: str, goal_id: str, closed: bool,
                   comment: Any = None) -> dict[str, Any]:
        goal = self.goal_of(employee_id, goal_id)
        if closed and isinstance(comment, str) and comment.strip():
            self.add_comment(employee_id, goal_id, comment)
        goal["status"] = "closed" if closed else "in_progress"
        self._recompute(goal)
        return {"goal": self.goal_json(goal)}

    def aggregate(self, employee_id: str, goal_id: str) -> dict[str, Any]:
        goal = self.goal_of(employee_id, goal_id)
        return {"goal": self.goal_json(goal), "canAlign": False, "canCreateGoals": True,
                "alignsWithOptions": [], "comments": list(self.comments[goal["id"]]),
                "persons": []}

    # -- training and directory --

    def add_training(self, employee_id: str, body: Any) -> dict[str, Any]:
        self.employee(employee_id)
        if not isinstance(body, dict) or not _valid_date(body.get("completed")):
            raise ApiError(400, "completed is required and must be in yyyy-mm-dd format")
        kind = body.get("type")
        if not isinstance(kind, int) or kind not in self.training_types:
            raise ApiError(400, "type must be an existing training type id")
        record = {"id": self._next_training, "employeeId": employee_id,
                  "completed": body["completed"], "notes": body.get("notes"),
                  "instructor": body.get("instructor"), "credits": None, "hours": None,
                  "cost": None, "type": kind}
        self._next_training += 1
        self.trainings[record["id"]] = record
        return record

    def list_trainings(self, employee_id: str, kind: str | None) -> Any:
        self.employee(employee_id)
        records = {str(r["id"]): {**r, "type": str(r["type"])} for r in self.trainings.values()
                   if r["employeeId"] == employee_id and (kind is None or str(r["type"]) == kind)}
        return records or []

    def read_employee(self, employee_id: str, fields: str | None) -> dict[str, Any]:
        """`GET /api/v1/employees/{id}`: the asked fields (default first and last name) as
        stored now; 404 for someone who does not exist, as the spec documents."""
        person = self.employees.get(employee_id)
        if person is None:
            raise ApiError(404, "The employee does not exist.")
        names = [f.strip() for f in (fields or "firstName,lastName").split(",") if f.strip()]
        aliases = {"supervisorEId": "supervisorId"}
        answer: dict[str, Any] = {"id": employee_id}
        for name in names:
            value = person.get(name, person.get(aliases.get(name, name)))
            answer[name] = None if value is None else str(value)
        return answer

    def directory(self) -> dict[str, Any]:
        people = [e for _, e in sorted(self.employees.items(), key=lambda kv: int(kv[0]))
                  if e.get("status", "Active") == "Active"]
        if not people:
            raise ApiError(404, "The directory is empty.")
        names = {e["id"]: f"{e.get('firstName', '')} {e.get('lastName', '')}".strip()
                 for e in self.employees.values()}
        rows = []
        for e in people:
            rows.append({
                "id": e["id"], "displayName": names[e["id"]], "firstName": e.get("firstName"),
                "lastName": e.get("lastName"), "jobTitle": e.get("jobTitle"),
                "workEmail": e.get("workEmail"), "department": e.get("department"),
                "supervisor": names.get(str(e.get("supervisorId") or "")) or None,
                "canUploadPhoto": 0,
            })
        return {"fields": _DIRECTORY_FIELDS, "employees": rows}

    def state(self) -> dict[str, Any]:
        goals = []
        for goal_id, goal in sorted(self.goals.items()):
            goals.append({**self.goal_json(goal), "employeeId": goal["employeeId"],
                          "closed": goal["status"] == "closed",
                          "comments": list(self.comments[goal_id])})
        return {"employees": list(self.employees.values()), "goals": goals,
                "training_records": list(self.trainings.values()),
                "webhooks_sent": list(self.webhooks_sent), "counts": dict(self.counts)}

    # -- control operations (the `/_sandbox/` endpoints) --

    def seed(self, people: list[dict[str, Any]]) -> None:
        for person in people:
            eid = str(person["id"])
            self.employees[eid] = {"status": "Active", **person, "id": eid}

    def change_employee(self, employee_id: str, changes: dict[str, Any]) -> bool:
        """Apply `changes` and remember their names for the next `updated` webhook."""
        if employee_id not in self.employees:
            return False
        self.employees[employee_id].update(changes)
        self.employees[employee_id]["_changed"] = sorted(changes)
        return True

    def set_throttle(self, changes: dict[str, Any]) -> None:
        """New throttle settings, counted from a fresh window starting now."""
        self.throttle.update(changes)
        self._window_start, self._window_calls = self.clock(), 0

    def webhook_bodies(self, action: str, employee_ids: list[str],
                       shape: str) -> list[dict[str, Any]]:
        """Modern `employee.*` events (one per employee, as the spec documents), or the legacy
        `employee_with_fields.*` batch (`{"employees": [...]}`, from the vendor's web docs)."""
        now = self._iso_now()
        if shape == "legacy":
            rows = []
            for eid in employee_ids:
                person = self.employees.get(eid, {"id": eid})
                fields = {k: v for k, v in person.items() if k != "id" and not k.startswith("_")}
                rows.append({"id": eid, "action": action.capitalize(), "timestamp": now,
                             "fields": fields if action != "deleted" else {},
                             "changedFields": sorted(fields) if action == "updated" else []})
            return [{"employees": rows}]
        bodies = []
        for eid in employee_ids:
            data: dict[str, Any] = {"companyId": "1", "employeeId": eid}
            if action == "updated":
                data["changedFields"] = sorted(self.employees.get(eid, {}).get("_changed", []))
            bodies.append({"type": f"employee.{action}", "timestamp": now, "data": data})
        return bodies
