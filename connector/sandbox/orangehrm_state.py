"""The OrangeHRM simulator's state: OAuth tokens, people, KPIs, reviews, trackers and logs.

Kept apart from the Flask routes (`connector.sandbox.orangehrm`) so the vendor's behaviour — its
token grants and refresh-token rotation, its review filters and models, its validation rules
and messages — reads in one place. Every method expects the caller to hold `lock` (the server
is threaded); paging and envelopes are the routes' job.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connector.sandbox.common import ScaledClock

STATUS_NAMES = {1: "Inactive", 2: "Activated", 3: "In Progress", 4: "Completed"}


class ApiError(Exception):
    """An API error answer: `{"error": {"status", "message", "data": {"invalidParamKeys"}}}`."""

    def __init__(self, status: int, message: str, invalid: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.invalid = invalid


class OAuthError(Exception):
    """An OAuth error answer: `{"error", "error_description", "message"}`."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


class OrangeHRMState:
    """Everything the simulator holds, behind one lock."""

    def __init__(self, *, client_id: str, client_secret: str, token_ttl: float,
                 clock: ScaledClock) -> None:
        self.lock = threading.Lock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.clock = clock
        self.access_tokens: dict[str, float] = {}  # token -> expiry (simulated Unix time)
        self.refresh_tokens: set[str] = set()
        self.employees: dict[int, dict[str, Any]] = {}
        self.job_titles: dict[str, int] = {}
        self.kpis: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, dict[str, Any]] = {}
        self.trackers: dict[int, dict[str, Any]] = {}
        self.logs: dict[int, list[dict[str, Any]]] = {}
        self.token_grants = {"client_credentials": 0, "refresh_token": 0}
        self.unauthorized = 0

    # -- OAuth --

    def authorized(self, token: str) -> bool:
        """Whether `token` is a live access token; a refusal is counted."""
        expiry = self.access_tokens.get(token)
        if expiry is None or expiry <= self.clock.now():
            self.unauthorized += 1
            return False
        return True

    def issue(self, with_refresh: bool) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self.access_tokens[token] = self.clock.now() + self.token_ttl
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": int(self.token_ttl),
                                "access_token": token}
        if with_refresh:
            refresh = secrets.token_urlsafe(24)
            self.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        return body

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The token endpoint: client credentials, or a refresh token (rotated on use)."""
        if form.get("client_id") != self.client_id or (
            form.get("client_secret") not in (None, self.client_secret)
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if form.get("client_secret") != self.client_secret:
                raise OAuthError(401, "invalid_client", "Client authentication failed")
            self.token_grants[grant] += 1
            return self.issue(with_refresh=False)
        if grant == "refresh_token":
            presented = form.get("refresh_token", "")
            if presented not in self.refresh_tokens:
                raise OAuthError(400, "invalid_grant", "The refresh token is invalid.")
            self.refresh_tokens.discard(presented)  # rotation: the old one is revoked
            self.token_grants[grant] += 1
            return self.issue(with_refresh=True)
        raise OAuthError(400, "unsupported_grant_type",
                         "The authorization grant type is not supported by the server.")

    def expire_tokens(self) -> int:
        count = len(self.access_tokens)
        self.access_tokens.clear()
        return count

    # -- model pieces --

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), UTC).date().isoformat()

    def job_title(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        if name not in self.job_titles:
            self.job_titles[name] = len(self.job_titles) + 1
        return {"id": self.job_titles[name], "name": name, "deleted": False}

    def employee_ref(self, emp_number: int) -> dict[str, Any]:
        emp = self.employees.get(emp_number, {})
        return {"empNumber": emp_number, "lastName": emp.get("lastName", ""),
                "firstName": emp.get("firstName", ""),
                "terminationId": 1 if emp.get("terminated") else None}

    def review_model(self, review: dict[str, Any]) -> dict[str, Any]:
        reviewer = review.get("reviewerEmpNumber")
        return {
            "id": review["id"],
            "jobTitle": self.job_title(review.get("jobTitle")),
            "subunit": None,
            "reviewPeriodStart": review["reviewPeriodStart"],
            "reviewPeriodEnd": review["reviewPeriodEnd"],
            "dueDate": review["dueDate"],
            "overallStatus": {"statusId": review["statusId"],
                              "statusName": STATUS_NAMES[review["statusId"]]},
            "employee": self.employee_ref(review["empNumber"]),
            "reviewer": {"id": review["id"] * 10,
                         "employee": self.employee_ref(reviewer)} if reviewer else None,
        }

    def tracker_model(self, tracker: dict[str, Any]) -> dict[str, Any]:
        return {"id": tracker["id"], "trackerName": tracker["trackerName"],
                "addedDate": tracker["addedDate"], "modifiedDate": None, "status": 1,
                "employee": self.employee_ref(tracker["empNumber"])}

    # -- reviews and ratings --

    def list_reviews(self, *, status: int | None, from_date: str | None, to_date: str | None,
                     include: str) -> list[dict[str, Any]]:
        """Reviews newest due date first; no dates given means OrangeHRM's current year."""
        if from_date is None and to_date is None:
            year = datetime.fromtimestamp(self.clock.now(), UTC).year
            from_date, to_date = f"{year}-01-01", f"{year}-12-31"
        rows = []
        for review in sorted(self.reviews.values(),
                             key=lambda r: (r["dueDate"], r["id"]), reverse=True):
            terminated = self.employees.get(review["empNumber"], {}).get("terminated")
            if status is not None and review["statusId"] != status:
                continue
            if (from_date and review["dueDate"] < from_date) or (
                to_date and review["dueDate"] > to_date
            ):
                continue
            if (include == "onlyCurrent" and terminated) or (
                include == "onlyPast" and not terminated
            ):
                continue
            rows.append(self.review_model(review))
        return rows

    def _review(self, review_id: int) -> dict[str, Any]:
        review = self.reviews.get(review_id)
        if review is None:
            raise ApiError(404, "Record Not Found")
        return review

    def final_evaluation(self, review_id: int) -> dict[str, Any]:
        review = self._review(review_id)
        if review["statusId"] == 1:
            raise ApiError(403, "Unauthorized")
        model = self.review_model(review)
        model.pop("employee")
        model.pop("reviewer")
        model.update(finalRating=review.get("finalRating"),
                     finalComment=review.get("finalComment"),
                     completedDate=review.get("completedDate"))
        return model

    def evaluation(self, review_id: int, group: str) -> tuple[list[Any], list[Any], Any]:
        """(rating items, their KPIs, the general comment) of the supervisor's or the
        employee's own evaluation."""
        review = self._review(review_id)
        items, kpis = [], []
        for n, rating in enumerate(review.get("ratings", []), start=1):
            kpi = self.kpis.get(int(rating["kpiId"]), {})
            kpis.append({"id": kpi.get("id", rating["kpiId"]), "title": kpi.get("title"),
                         "minRating": kpi.get("minRating"), "maxRating": kpi.get("maxRating")})
            value = rating.get("rating") if group == "supervisor" else rating.get("selfRating")
            comment = (rating.get("comment") if group == "supervisor"
                       else rating.get("selfComment"))
            items.append({"id": review_id * 100 + n, "rating": value, "comment": comment,
                          "kpi": {"id": rating["kpiId"]}})
        return items, kpis, review.get("finalComment")

    def list_kpis(self) -> list[dict[str, Any]]:
        return [{"id": k["id"], "title": k["title"],
                 "jobTitle": self.job_title(k.get("jobTitle")),
                 "minRating": k["minRating"], "maxRating": k["maxRating"],
                 "isDefault": False, "deletable": True}
                for k in sorted(self.kpis.values(), key=lambda k: k["id"])
                if not k.get("deleted")]

    def contact_details(self, emp_number: int) -> dict[str, Any]:
        emp = self.employees.get(emp_number)
        if emp is None:
            raise ApiError(404, "Record Not Found")
        return {"empNumber": emp_number, "workEmail": emp.get("email"), "otherEmail": None}

    # -- trackers and logs --

    def list_trackers(self, emp_number: int | None) -> list[dict[str, Any]]:
        return [self.tracker_model(t)
                for t in sorted(self.trackers.values(), key=lambda t: t["id"])
                if (emp_number is None or t["empNumber"] == emp_number)
                and not t.get("deleted")]

    def delete_tracker(self, tracker_id: int) -> None:
        """OrangeHRM's DELETE is soft: the tracker leaves every list and read (ids stay
        taken)."""
        if tracker_id in self.trackers:
            self.trackers[tracker_id]["deleted"] = True

    def create_tracker(self, body: dict[str, Any]) -> dict[str, Any]:
        invalid = {}
        name = body.get("trackerName")
        if not isinstance(name, str) or not name or len(name) > 200:
            invalid["trackerName"] = "Invalid string length"
        reviewers = body.get("reviewerEmpNumbers")
        if not isinstance(reviewers, list) or not all(isinstance(r, int) for r in reviewers):
            invalid["reviewerEmpNumbers"] = "Expecting array of integers"
            reviewers = []
        if body.get("empNumber") not in self.employees:
            invalid["empNumber"] = "Invalid parameter"
        if invalid:
            raise ApiError(422, "Invalid Parameter", invalid)
        tracker_id = len(self.trackers) + 1
        tracker = {"id": tracker_id, "trackerName": name, "empNumber": body["empNumber"],
                   "reviewers": list(reviewers), "addedDate": self._today()}
        self.trackers[tracker_id] = tracker
        self.logs[tracker_id] = []
        model = self.tracker_model(tracker)
        model["reviewers"] = [{"empNumber": r} for r in reviewers]
        return model

    def list_logs(self, tracker_id: int) -> list[dict[str, Any]]:
        if tracker_id not in self.trackers or self.trackers[tracker_id].get("deleted"):
            raise ApiError(404, "Record Not Found")
        return list(self.logs[tracker_id])

    def add_log(self, tracker_id: int, body: dict[str, Any]) -> dict[str, Any]:
        invalid = {}
        if not isinstance(body.get("log"), str) or len(body["log"]) > 150:
            invalid["log"] = "Invalid string length"
        if not isinstance(body.get("comment"), str) or len(body["comment"]) > 3000:
            invalid["comment"] = "Invalid string length"
        if body.get("achievement") not in (1, 2):
            invalid["achievement"] = "Invalid parameter"
        if tracker_id not in self.trackers or self.trackers[tracker_id].get("deleted"):
            raise ApiError(404, "Record Not Found")
        if invalid:
            raise ApiError(422, "Invalid Parameter", invalid)
        entry = {"id": sum(len(v) for v in self.logs.values()) + 1, "log": body["log"],
                 "comment": body["comment"], "achievement": str(body["achievement"]),
                 "addedDate": self._today(), "modifiedDate": None, "reviewer": None,
                 "editable": True}
        self.logs[tracker_id].append(entry)
        return entry

    # -- control operations (the `/_sandbox/` endpoints) --

    def seed_employees(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.employees[int(row["empNumber"])] = dict(row)

    def seed_kpis(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            kpi = {"minRating": 1, "maxRating": 5, **row}
            self.kpis[int(kpi["id"])] = kpi

    def seed_reviews(self, rows: list[dict[str, Any]]) -> list[Any]:
        """Reviews with defaults from their employee (job title, reviewer); their ids."""
        ids = []
        for row in rows:
            emp = self.employees.get(int(row["empNumber"]), {})
            review = {"statusId": 4, "jobTitle": emp.get("jobTitle"),
                      "reviewerEmpNumber": emp.get("supervisorEmpNumber"),
                      "id": max(self.reviews, default=0) + 1, **row}
            self.reviews[int(review["id"])] = review
            ids.append(review["id"])
        return ids

    def state(self) -> dict[str, Any]:
        trackers = [{**t, "logs": list(self.logs.get(t["id"], []))}
                    for t in sorted(self.trackers.values(), key=lambda t: t["id"])]
        counts = {"employees": len(self.employees), "kpis": len(self.kpis),
                  "reviews": len(self.reviews), "trackers": len(self.trackers),
                  "logs": sum(len(v) for v in self.logs.values()),
                  "token_grants": dict(self.token_grants),
                  "unauthorized": self.unauthorized}
        return {"trackers": trackers, "counts": counts}
