"""The HiBob stand-in's data and rules: people, goals, key results, check-ins, rate windows.

Rules taken from HiBob's published OpenAPI definitions (shared/VENDORS-next.md, "HiBob"):
at most 25 goals or key results per create call (more fails the whole call with 400);
check-ins move key results and never the goal's status; a status changes only through the
status endpoint (a goal update that names `status` is refused); key-result search needs a
`goalId` filter; search filters combine with AND and pagination is not enforced; people search
lists active people only unless `showInactive`; fields the service user may not see are left
out of a 200 answer (switched with `hidden_fields`); limits are per endpoint group per minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

MAX_ITEMS = 25


class ApiError(Exception):
    """An answer HiBob gives instead of a result: status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _filters(body: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found = []
    for f in body.get("filters") or []:
        if not isinstance(f, dict) or f.get("operator") != "equals" or \
                not isinstance(f.get("values"), list):
            raise ApiError(400, f"unsupported filter {f!r}")
        found.append((str(f.get("fieldPath")), [str(v) for v in f["values"]]))
    return found


class HiBobState:
    def __init__(self, clock: Callable[[], float] = time.time,
                 limits: dict[str, int] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.limits = {"people-search": 50, "goals": 600, **(limits or {})}
        self.clear()

    def clear(self) -> None:
        self.employees: dict[str, dict[str, Any]] = {}
        self.goals: dict[str, dict[str, Any]] = {}
        self.key_results: dict[str, dict[str, Any]] = {}
        self.activity: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.windows: dict[str, tuple[int, int]] = {}  # group → (minute, calls)
        self.hidden_fields: set[str] = set()
        self.next_id = 1000

    def _id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def count(self, operation: str) -> None:
        self.counts[operation] = self.counts.get(operation, 0) + 1

    def take(self, group: str) -> tuple[bool, int, int, int]:
        """One call in `group`'s fixed one-minute window: (allowed, limit, remaining, reset)."""
        now = self.clock()
        minute = int(now // 60)
        start, calls = self.windows.get(group, (minute, 0))
        if start != minute:
            calls = 0
        limit = self.limits.get(group, 10**6)
        allowed = calls < limit
        if allowed:
            calls += 1
        self.windows[group] = (minute, calls)
        return allowed, limit, max(0, limit - calls), (minute + 1) * 60

    # -- people --

    def search_people(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("fields", []), list):
            raise ApiError(400, "body must be an object with a `fields` list")
        show_inactive = body.get("showInactive") is True
        rows = []
        for person in self.employees.values():
            if not show_inactive and person["internal"]["status"] != "Active":
                continue
            rows.append(self._visible(person))
        return {"employees": rows}

    def _visible(self, person: dict[str, Any]) -> dict[str, Any]:
        row = {k: (dict(v) if isinstance(v, dict) else v) for k, v in person.items()}
        for path in self.hidden_fields:  # silent omission: 200, the field simply absent
            head, _, tail = path.partition(".")
            if head == "root":
                row.pop(tail, None)
            elif isinstance(row.get(head), dict):
                row[head].pop(tail, None)
        return row

    def seed(self, people: list[dict[str, Any]]) -> None:
        for p in people:
            pid = str(p["id"])
            self.employees[pid] = {
                "id": pid, "email": p.get("email"), "firstName": p.get("firstName"),
                "surname": p.get("surname"),
                "work": {"title": p.get("title"), "reportsTo": {"id": p.get("reportsTo")}},
                "internal": {"status": p.get("status", "Active")}}

    def change_employee(self, pid: str, changes: dict[str, Any]) -> bool:
        person = self.employees.get(pid)
        if person is None:
            return False
        if "status" in changes:
            person["internal"]["status"] = changes["status"]
        for key in ("email", "firstName", "surname"):
            if key in changes:
                person[key] = changes[key]
        return True

    # -- goals --

    def create_goals(self, body: Any) -> list[str]:
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ApiError(400, "`items` must be a non-empty list")
        if len(items) > MAX_ITEMS:
            raise ApiError(400, f"at most {MAX_ITEMS} goals per request")
        problems = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not str(item.get("title") or "").strip():
                problems.append({"index": i, "message": "title is required"})
            elif str(item.get("ownerId")) not in self.employees:
                problems.append({"index": i, "message": f"unknown owner {item.get('ownerId')}"})
            elif "status" in item:
                problems.append({"index": i, "message": "status is set through check-ins"})
        if problems:
            raise ApiError(400, f"{len(problems)} item(s) failed: {problems[0]['message']}")
        ids = []
        for item in items:
            gid = self._id()
            self.goals[gid] = {"id": gid, "title": item["title"],
                               "description": item.get("description", ""),
                               "ownerId": str(item["ownerId"]), "dueDate": item.get("dueDate"),
                               "goalTypeId": item.get("goalTypeId"), "status": "notStarted",
                               "progress": 0.0}
            ids.append(gid)
        return ids

    def goal(self, gid: str) -> dict[str, Any]:
        found = self.goals.get(gid)
        if found is None:
            raise ApiError(404, f"goal {gid} not found")
        return found

    def search_goals(self, body: Any) -> dict[str, Any]:
        filters = _filters(body if isinstance(body, dict) else {})
        found = [g for g in self.goals.values()
                 if all(str(g.get(path)) in values for path, values in filters)]
        return {"items": [dict(g) for g in found]}

    def update_goal(self, gid: str, body: Any) -> dict[str, Any]:
        goal = self.goal(gid)
        if not isinstance(body, dict) or "status" in body:
            raise ApiError(400, "status cannot be changed here; use the status endpoint")
        for key in ("title", "description", "dueDate"):
            if key in body:
                goal[key] = body[key]
        return dict(goal)

    def set_status(self, gid: str, body: Any) -> dict[str, Any]:
        goal = self.goal(gid)
        if not isinstance(body, dict) or not isinstance(body.get("status"), str):
            raise ApiError(400, "`status` is required")
        goal["status"] = body["status"]
        self.activity.append({"goalId": gid, "kind": "status", "status": body["status"],
                              "comment": body.get("comment")})
        return dict(goal)

    # -- key results --

    def create_key_results(self, gid: str, body: Any) -> list[str]:
        self.goal(gid)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ApiError(400, "`items` must be a non-empty list")
        if len(items) > MAX_ITEMS:
            raise ApiError(400, f"at most {MAX_ITEMS} key results per request")
        for item in items:
            if not isinstance(item, dict) or not item.get("title"):
                raise ApiError(400, "every key result needs a title")
        ids = []
        for item in items:
            kid = self._id()
            self.key_results[kid] = {
                "id": kid, "goalId": gid, "title": item["title"],
                "measureType": item.get("measureType", "percentage"),
                "target": float(item.get("target", 100)),
                "startValue": float(item.get("startValue", 0)), "currentValue": 0.0,
                "progress": 0.0}
            ids.append(kid)
        self._recompute(gid)
        return ids

    def search_key_results(self, body: Any) -> dict[str, Any]:
        filters = dict(_filters(body if isinstance(body, dict) else {}))
        if "goalId" not in filters:
            raise ApiError(400, "a goalId filter is required")
        return {"items": [dict(k) for k in self.key_results.values()
                          if k["goalId"] in filters["goalId"]]}

    def check_in(self, gid: str, body: Any) -> dict[str, Any]:
        """Key results move; the goal's status does not (the documented check-in rule)."""
        self.goal(gid)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ApiError(400, "`items` must be a list")
        for item in items:
            kr = self.key_results.get(str(item.get("id"))) if isinstance(item, dict) else None
            if kr is None or kr["goalId"] != gid:
                raise ApiError(400, f"unknown key result {item!r} for goal {gid}")
            if not isinstance(item.get("currentValue"), int | float):
                raise ApiError(400, "currentValue must be a number")
        for item in items:
            kr = self.key_results[str(item["id"])]
            kr["currentValue"] = float(item["currentValue"])
            span = (kr["target"] - kr["startValue"]) or 1.0
            kr["progress"] = round(100.0 * (kr["currentValue"] - kr["startValue"]) / span, 1)
        self._recompute(gid)
        self.activity.append({"goalId": gid, "kind": "check-in",
                              "comment": body.get("comment"), "items": items})
        return {"goalId": gid}

    def _recompute(self, gid: str) -> None:
        krs = [k for k in self.key_results.values() if k["goalId"] == gid]
        self.goals[gid]["progress"] = round(sum(k["progress"] for k in krs) / len(krs), 1) \
            if krs else 0.0

    def state(self) -> dict[str, Any]:
        return {"employees": list(self.employees.values()), "goals": list(self.goals.values()),
                "key_results": list(self.key_results.values()), "activity": self.activity,
                "counts": dict(self.counts)}
