"""Which of our BambooHR goals still exist (drift reconciliation), one list read per owner.

`GET …/employees/{id}/goals?filter=status-all` lists every goal of one person, capped at 50:
a goal missing from a list shorter than the cap is proven deleted. When the list is capped,
each goal not in it is read alone (`…/goals/{id}/aggregate`): a 404 proves it deleted. A
person the API user cannot see (403) is left out: absence is not proven.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.errors import AuthenticationError, NotFoundError
from connector.http import VendorHttp
from connector.models import GoalRef
from connector.ports import GoalPresence

LIST_CAP = 50
_GOALS = "/api/v1/performance/employees/{eid}/goals"


def goal_presence(http: VendorHttp, goals: Sequence[tuple[str, GoalRef]]
                  ) -> dict[str, GoalPresence]:
    by_owner: dict[str, list[str]] = {}
    for _, ref in goals:  # our goal ids carry the owner: "<employeeId>:<goalId>"
        eid, sep, gid = ref.goal_id.partition(":")
        if sep and eid and gid:
            by_owner.setdefault(eid, []).append(gid)
    found: dict[str, GoalPresence] = {}
    for eid, wanted in by_owner.items():
        path = _GOALS.format(eid=eid)
        try:
            body = http.get_json(path, operation="list goals", params={"filter": "status-all"})
        except AuthenticationError:
            continue  # cannot see the person: nothing proven
        listed = body.get("goals") if isinstance(body, dict) else None
        if not isinstance(listed, list):
            continue
        status = {str(g.get("id")): str(g.get("status") or "") for g in listed
                  if isinstance(g, dict)}
        for gid in wanted:
            if gid in status:
                found[f"{eid}:{gid}"] = _presence(status[gid])
            elif len(listed) < LIST_CAP:
                found[f"{eid}:{gid}"] = GoalPresence.DELETED
            else:
                alone = _one(http, f"{path}/{gid}/aggregate")
                if alone is not None:
                    found[f"{eid}:{gid}"] = alone
    return found


def _one(http: VendorHttp, path: str) -> GoalPresence | None:
    try:
        body: Any = http.get_json(path, operation="read goal")
    except NotFoundError:
        return GoalPresence.DELETED
    except AuthenticationError:
        return None
    goal = body.get("goal") if isinstance(body, dict) else None
    return _presence(str(goal.get("status") or "")) if isinstance(goal, dict) else None


def _presence(status: str) -> GoalPresence:
    return GoalPresence.CLOSED if status == "closed" else GoalPresence.PRESENT
