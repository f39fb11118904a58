"""A simulated OrangeHRM 5: OAuth tokens, completed reviews with KPI ratings, trackers and logs.

Same paths, field names and envelopes as OrangeHRM 5's API (`{"data", "meta", "rels"}`; dates
"Y-m-d"; list filters `fromDate`/`toDate` on the due date, defaulting to the current year;
`limit`/`offset` paging with `meta.total`; validation errors as 422 `{"error": {"status",
"message", "data": {"invalidParamKeys"}}}`). Tokens expire on a `ScaledClock`. Refresh tokens
rotate on use, like league/oauth2-server's. Control endpoints under `/_sandbox/` seed people,
KPIs and reviews, show state and expire tokens.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from connector.sandbox.common import Faults, ScaledClock, install_faults

API = "/web/index.php/api/v2"
TOKEN_PATH = "/web/index.php/oauth2/token"
STATUS_NAMES = {1: "Inactive", 2: "Activated", 3: "In Progress", 4: "Completed"}


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

    # -- helpers (call with the lock held) --

    def job_title(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        if name not in self.job_titles:
            self.job_titles[name] = len(self.job_titles) + 1
        return {"id": self.job_titles[name], "name": name, "deleted": False}

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

    def employee_ref(self, emp_number: int) -> dict[str, Any]:
        emp = self.employees.get(emp_number, {})
        return {"empNumber": emp_number, "lastName": emp.get("lastName", ""),
                "firstName": emp.get("firstName", ""),
                "terminationId": 1 if emp.get("terminated") else None}


def _envelope(data: Any, **meta: Any) -> Response:
    return jsonify({"data": data, "meta": meta, "rels": []})


def _error(status: int, message: str,
           invalid: dict[str, str] | None = None) -> tuple[Response, int]:
    error: dict[str, Any] = {"status": str(status), "message": message}
    if invalid:
        error["data"] = {"invalidParamKeys": invalid}
    return jsonify({"error": error}), status


def _oauth_error(status: int, code: str, description: str) -> tuple[Response, int]:
    return jsonify({"error": code, "error_description": description,
                    "message": description}), status


def _page(items: list[Any]) -> tuple[list[Any], int]:
    limit = request.args.get("limit", default=50, type=int)
    offset = request.args.get("offset", default=0, type=int)
    chosen = items[offset:] if limit == 0 else items[offset: offset + limit]
    return chosen, len(items)


def create_app(
    *,
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",  # noqa: S107 - the simulator's own test secret
    token_ttl: float = 3600,
    faults: Faults | None = None,
    time_scale: float = 1.0,
) -> Flask:
    """The OrangeHRM simulator as a Flask app (serve it with `sandbox.common.serve`)."""
    app = Flask("orangehrm-sandbox")
    clock = ScaledClock(time_scale)
    state = OrangeHRMState(client_id=client_id, client_secret=client_secret,
                           token_ttl=token_ttl, clock=clock)
    app.config["SANDBOX_STATE"] = state
    install_faults(app, faults or Faults())

    @app.before_request
    def _require_token() -> tuple[Response, int] | None:
        if not request.path.startswith(API):
            return None
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        with state.lock:
            expiry = state.access_tokens.get(token)
            if expiry is None or expiry <= clock.now():
                state.unauthorized += 1
                return _oauth_error(401, "access_denied", "The resource owner or "
                                    "authorization server denied the request.")
        return None

    # -- OAuth --

    @app.post(TOKEN_PATH)
    def token() -> Any:
        form = request.form
        if form.get("client_id") != state.client_id or (
            form.get("client_secret") not in (None, state.client_secret)
        ):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        grant = form.get("grant_type")
        with state.lock:
            if grant == "client_credentials":
                if form.get("client_secret") != state.client_secret:
                    return _oauth_error(401, "invalid_client", "Client authentication failed")
                state.token_grants[grant] += 1
                return jsonify(state.issue(with_refresh=False))
            if grant == "refresh_token":
                presented = form.get("refresh_token", "")
                if presented not in state.refresh_tokens:
                    return _oauth_error(400, "invalid_grant", "The refresh token is invalid.")
                state.refresh_tokens.discard(presented)  # rotation: the old one is revoked
                state.token_grants[grant] += 1
                return jsonify(state.issue(with_refresh=True))
        return _oauth_error(400, "unsupported_grant_type",
                            "The authorization grant type is not supported by the server.")

    # -- reviews and ratings --

    def review_model(review: dict[str, Any]) -> dict[str, Any]:
        reviewer = review.get("reviewerEmpNumber")
        return {
            "id": review["id"],
            "jobTitle": state.job_title(review.get("jobTitle")),
            "subunit": None,
            "reviewPeriodStart": review["reviewPeriodStart"],
            "reviewPeriodEnd": review["reviewPeriodEnd"],
            "dueDate": review["dueDate"],
            "overallStatus": {"statusId": review["statusId"],
                              "statusName": STATUS_NAMES[review["statusId"]]},
            "employee": state.employee_ref(review["empNumber"]),
            "reviewer": {"id": review["id"] * 10,
                         "employee": state.employee_ref(reviewer)} if reviewer else None,
        }

    @app.get(f"{API}/performance/manage/reviews")
    def list_reviews() -> Any:
        status = request.args.get("statusId", type=int)
        from_date, to_date = request.args.get("fromDate"), request.args.get("toDate")
        if from_date is None and to_date is None:  # OrangeHRM's default: the current year
            year = datetime.fromtimestamp(clock.now(), UTC).year
            from_date, to_date = f"{year}-01-01", f"{year}-12-31"
        include = request.args.get("includeEmployees", "onlyCurrent")
        with state.lock:
            rows = []
            for review in sorted(state.reviews.values(),
                                 key=lambda r: (r["dueDate"], r["id"]), reverse=True):
                terminated = state.employees.get(review["empNumber"], {}).get("terminated")
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
                rows.append(review_model(review))
        chosen, total = _page(rows)
        return _envelope(chosen, total=total)

    def find_review(review_id: int) -> dict[str, Any] | None:
        with state.lock:
            return state.reviews.get(review_id)

    @app.get(f"{API}/performance/reviews/<int:review_id>/evaluation/final")
    def final_evaluation(review_id: int) -> Any:
        review = find_review(review_id)
        if review is None:
            return _error(404, "Record Not Found")
        if review["statusId"] == 1:
            return _error(403, "Unauthorized")
        with state.lock:
            model = review_model(review)
        model.pop("employee")
        model.pop("reviewer")
        model.update(finalRating=review.get("finalRating"),
                     finalComment=review.get("finalComment"),
                     completedDate=review.get("completedDate"))
        return _envelope(model)

    def evaluation(review_id: int, group: str) -> Any:
        review = find_review(review_id)
        if review is None:
            return _error(404, "Record Not Found")
        with state.lock:
            items, kpis = [], []
            for n, rating in enumerate(review.get("ratings", []), start=1):
                kpi = state.kpis.get(int(rating["kpiId"]), {})
                kpis.append({"id": kpi.get("id", rating["kpiId"]), "title": kpi.get("title"),
                             "minRating": kpi.get("minRating"), "maxRating": kpi.get("maxRating")})
                value = rating.get("rating") if group == "supervisor" else rating.get("selfRating")
                comment = (rating.get("comment") if group == "supervisor"
                           else rating.get("selfComment"))
                items.append({"id": review_id * 100 + n, "rating": value, "comment": comment,
                              "kpi": {"id": rating["kpiId"]}})
        chosen, total = _page(items)
        kpi_page, _ = _page(kpis)
        return _envelope(chosen, total=total, generalComment=review.get("finalComment"),
                         kpis=kpi_page, reviewer=None, allowedActions=[])

    @app.get(f"{API}/performance/reviews/<int:review_id>/evaluation/supervisor")
    def supervisor_evaluation(review_id: int) -> Any:
        return evaluation(review_id, "supervisor")

    @app.get(f"{API}/performance/reviews/<int:review_id>/evaluation/employee")
    def employee_evaluation(review_id: int) -> Any:
        return evaluation(review_id, "employee")

    @app.get(f"{API}/performance/kpis")
    def list_kpis() -> Any:
        with state.lock:
            rows = [{"id": k["id"], "title": k["title"],
                     "jobTitle": state.job_title(k.get("jobTitle")),
                     "minRating": k["minRating"], "maxRating": k["maxRating"],
                     "isDefault": False, "deletable": True}
                    for k in sorted(state.kpis.values(), key=lambda k: k["id"])
                    if not k.get("deleted")]
        chosen, total = _page(rows)
        return _envelope(chosen, total=total)

    @app.get(f"{API}/pim/employee/<int:emp_number>/contact-details")
    def contact_details(emp_number: int) -> Any:
        with state.lock:
            emp = state.employees.get(emp_number)
        if emp is None:
            return _error(404, "Record Not Found")
        return _envelope({"empNumber": emp_number, "workEmail": emp.get("email"),
                          "otherEmail": None}, empNumber=emp_number)

    # -- trackers and logs --

    def tracker_model(tracker: dict[str, Any]) -> dict[str, Any]:
        return {"id": tracker["id"], "trackerName": tracker["trackerName"],
                "addedDate": tracker["addedDate"], "modifiedDate": None, "status": 1,
                "employee": state.employee_ref(tracker["empNumber"])}

    @app.get(f"{API}/performance/config/trackers")
    def list_trackers() -> Any:
        emp_number = request.args.get("empNumber", type=int)
        with state.lock:
            rows = [tracker_model(t) for t in sorted(state.trackers.values(), key=lambda t: t["id"])
                    if emp_number is None or t["empNumber"] == emp_number]
        chosen, total = _page(rows)
        return _envelope(chosen, total=total)

    @app.post(f"{API}/performance/config/trackers")
    def create_tracker() -> Any:
        body = request.get_json(silent=True) or {}
        invalid = {}
        name = body.get("trackerName")
        if not isinstance(name, str) or not name or len(name) > 200:
            invalid["trackerName"] = "Invalid string length"
        reviewers = body.get("reviewerEmpNumbers")
        if not isinstance(reviewers, list) or not all(isinstance(r, int) for r in reviewers):
            invalid["reviewerEmpNumbers"] = "Expecting array of integers"
            reviewers = []
        with state.lock:
            if body.get("empNumber") not in state.employees:
                invalid["empNumber"] = "Invalid parameter"
            if invalid:
                return _error(422, "Invalid Parameter", invalid)
            tracker_id = len(state.trackers) + 1
            tracker = {"id": tracker_id, "trackerName": name, "empNumber": body["empNumber"],
                       "reviewers": list(reviewers),
                       "addedDate": datetime.fromtimestamp(clock.now(), UTC).date().isoformat()}
            state.trackers[tracker_id] = tracker
            state.logs[tracker_id] = []
            model = tracker_model(tracker)
        model["reviewers"] = [{"empNumber": r} for r in reviewers]
        return _envelope(model)

    @app.get(f"{API}/performance/trackers/<int:tracker_id>/logs")
    def list_logs(tracker_id: int) -> Any:
        with state.lock:
            if tracker_id not in state.trackers:
                return _error(404, "Record Not Found")
            rows = list(state.logs[tracker_id])
        chosen, _ = _page(rows)
        positive = sum(1 for r in rows if r["achievement"] == "1")
        return _envelope(chosen, total=len(rows), positive=positive, negative=len(rows) - positive)

    @app.post(f"{API}/performance/trackers/<int:tracker_id>/logs")
    def add_log(tracker_id: int) -> Any:
        body = request.get_json(silent=True) or {}
        invalid = {}
        if not isinstance(body.get("log"), str) or len(body["log"]) > 150:
            invalid["log"] = "Invalid string length"
        if not isinstance(body.get("comment"), str) or len(body["comment"]) > 3000:
            invalid["comment"] = "Invalid string length"
        if body.get("achievement") not in (1, 2):
            invalid["achievement"] = "Invalid parameter"
        with state.lock:
            if tracker_id not in state.trackers:
                return _error(404, "Record Not Found")
            if invalid:
                return _error(422, "Invalid Parameter", invalid)
            entry = {"id": sum(len(v) for v in state.logs.values()) + 1, "log": body["log"],
                     "comment": body["comment"], "achievement": str(body["achievement"]),
                     "addedDate": datetime.fromtimestamp(clock.now(), UTC).date().isoformat(),
                     "modifiedDate": None, "reviewer": None, "editable": True}
            state.logs[tracker_id].append(entry)
        return _envelope(entry)

    # -- control endpoints --

    @app.post("/_sandbox/employees")
    def seed_employees() -> Any:
        rows = request.get_json(force=True)
        with state.lock:
            for row in rows if isinstance(rows, list) else [rows]:
                state.employees[int(row["empNumber"])] = dict(row)
        return jsonify({"ok": True})

    @app.post("/_sandbox/kpis")
    def seed_kpis() -> Any:
        rows = request.get_json(force=True)
        with state.lock:
            for row in rows if isinstance(rows, list) else [rows]:
                kpi = {"minRating": 1, "maxRating": 5, **row}
                state.kpis[int(kpi["id"])] = kpi
        return jsonify({"ok": True})

    @app.post("/_sandbox/reviews")
    def seed_reviews() -> Any:
        """Seed reviews: empNumber, reviewPeriodStart/End, dueDate, completedDate, ratings
        [{kpiId, rating, comment, selfRating, selfComment}], optional id, statusId (4),
        reviewerEmpNumber (default the employee's supervisorEmpNumber), jobTitle."""
        rows = request.get_json(force=True)
        ids = []
        with state.lock:
            for row in rows if isinstance(rows, list) else [rows]:
                emp = state.employees.get(int(row["empNumber"]), {})
                review = {"statusId": 4, "jobTitle": emp.get("jobTitle"),
                          "reviewerEmpNumber": emp.get("supervisorEmpNumber"),
                          "id": max(state.reviews, default=0) + 1, **row}
                state.reviews[int(review["id"])] = review
                ids.append(review["id"])
        return jsonify({"ids": ids})

    @app.post("/_sandbox/oauth/authorize")
    def authorize() -> Any:
        """Stands in for the admin's one-time browser consent: returns a refresh token."""
        with state.lock:
            body = state.issue(with_refresh=True)
        return jsonify({"refresh_token": body["refresh_token"]})

    @app.post("/_sandbox/expire-tokens")
    def expire_tokens() -> Any:
        with state.lock:
            count = len(state.access_tokens)
            state.access_tokens.clear()
        return jsonify({"expired": count})

    @app.get("/_sandbox/state")
    def show_state() -> Any:
        with state.lock:
            trackers = [{**t, "logs": list(state.logs.get(t["id"], []))}
                        for t in sorted(state.trackers.values(), key=lambda t: t["id"])]
            counts = {"employees": len(state.employees), "kpis": len(state.kpis),
                      "reviews": len(state.reviews), "trackers": len(state.trackers),
                      "logs": sum(len(v) for v in state.logs.values()),
                      "token_grants": dict(state.token_grants),
                      "unauthorized": state.unauthorized}
        return jsonify({"trackers": trackers, "counts": counts})

    return app
