"""A simulated OrangeHRM 5: OAuth tokens, completed reviews with KPI ratings, trackers and logs.

Same paths, field names and envelopes as OrangeHRM 5's API (`{"data", "meta", "rels"}`; dates
"Y-m-d"; list filters `fromDate`/`toDate` on the due date, defaulting to the current year;
`limit`/`offset` paging with `meta.total`; validation errors as 422 `{"error": {"status",
"message", "data": {"invalidParamKeys"}}}`). Tokens expire on a `ScaledClock`. Refresh tokens
rotate on use, like league/oauth2-server's. Control endpoints under `/_sandbox/` seed people,
KPIs and reviews, show state and expire tokens.

The data and the vendor's rules live in `connector.sandbox.orangehrm_state`; this module is the
HTTP face: the bearer-token check, routes, paging and envelopes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from connector.sandbox.common import Faults, ScaledClock, install_faults, install_state_routes
from connector.sandbox.orangehrm_state import ApiError, OAuthError, OrangeHRMState

API = "/web/index.php/api/v2"
TOKEN_PATH = "/web/index.php/oauth2/token"


def _envelope(data: Any, **meta: Any) -> Response:
    return jsonify({"data": data, "meta": meta, "rels": []})


def _error(status: int, message: str,
           invalid: dict[str, str] | None = None) -> tuple[Response, int]:
    error: dict[str, Any] = {"status": str(status), "message": message}
    if invalid:  # as OrangeHRM 5 does: the names only (array_keys of its error bag)
        error["data"] = {"invalidParamKeys": sorted(invalid)}
    return jsonify({"error": error}), status


def _oauth_error(status: int, code: str, description: str) -> tuple[Response, int]:
    return jsonify({"error": code, "error_description": description,
                    "message": description}), status


def _page(items: list[Any]) -> tuple[list[Any], int]:
    limit = request.args.get("limit", default=50, type=int)
    offset = request.args.get("offset", default=0, type=int)
    chosen = items[offset:] if limit == 0 else items[offset: offset + limit]
    return chosen, len(items)


def _rows(payload: Any) -> list[dict[str, Any]]:
    """A control endpoint's body: a list of rows, or one row."""
    return payload if isinstance(payload, list) else [payload]


def create_app(
    *,
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",  # noqa: S107 - the simulator's own test secret
    token_ttl: float = 3600,
    faults: Faults | None = None,
    time_scale: float = 1.0,
    client_credentials: bool = False,
) -> Flask:
    """The OrangeHRM simulator as a Flask app (serve it with `sandbox.common.serve`). Like
    stock OrangeHRM 5 it grants tokens by refresh token only (the admin's one-time consent is
    `POST /_sandbox/oauth/authorize`); `client_credentials=True` is a deployment that enabled
    that grant too."""
    app = Flask("orangehrm-sandbox")
    state = OrangeHRMState(client_id=client_id, client_secret=client_secret,
                           token_ttl=token_ttl, clock=ScaledClock(time_scale),
                           client_credentials=client_credentials)
    app.config["SANDBOX_STATE"] = state
    install_faults(app, faults or Faults())

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return _error(exc.status, exc.message, exc.invalid)

    @app.errorhandler(OAuthError)
    def _oauth_failure(exc: OAuthError) -> tuple[Response, int]:
        return _oauth_error(exc.status, exc.code, exc.description)

    @app.before_request
    def _require_token() -> tuple[Response, int] | None:
        if not request.path.startswith(API):
            return None
        with state.lock:  # every API call, by route, so tests can hold the product to a budget
            state.count_call(request.method, request.url_rule.rule if request.url_rule
                             else request.path)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with state.lock:
            if not state.authorized(token):
                return _oauth_error(401, "access_denied", "The resource owner or "
                                    "authorization server denied the request.")
        return None

    # -- OAuth --

    @app.post(TOKEN_PATH)
    def token() -> Any:
        with state.lock:
            return jsonify(state.grant(request.form))

    # -- reviews and ratings --

    @app.get(f"{API}/performance/manage/reviews")
    def list_reviews() -> Any:
        with state.lock:
            rows = state.list_reviews(
                status=request.args.get("statusId", type=int),
                from_date=request.args.get("fromDate"), to_date=request.args.get("toDate"),
                include=request.args.get("includeEmployees", "onlyCurrent"),
            )
        chosen, total = _page(rows)
        return _envelope(chosen, total=total)

    @app.get(f"{API}/performance/reviews/<int:review_id>/evaluation/final")
    def final_evaluation(review_id: int) -> Any:
        with state.lock:
            return _envelope(state.final_evaluation(review_id))

    def evaluation(review_id: int, group: str) -> Any:
        with state.lock:
            items, kpis, comment = state.evaluation(review_id, group)
        chosen, total = _page(items)
        kpi_page, _ = _page(kpis)
        return _envelope(chosen, total=total, generalComment=comment, kpis=kpi_page,
                         reviewer=None, allowedActions=[])

    @app.get(f"{API}/performance/reviews/<int:review_id>/evaluation/supervisor")
    def supervisor_evaluation(review_id: int) -> Any:
        return evaluation(review_id, "supervisor")

    @app.get(f"{API}/performance/reviews/<int:review_id>/evaluation/employee")
    def employee_evaluation(review_id: int) -> Any:
        return evaluation(review_id, "employee")

    @app.get(f"{API}/performance/kpis")
    def list_kpis() -> Any:
        with state.lock:
            rows = state.list_kpis()
        chosen, total = _page(rows)
        return _envelope(chosen, total=total)

    @app.get(f"{API}/pim/employee/<int:emp_number>/contact-details")
    def contact_details(emp_number: int) -> Any:
        with state.lock:
            details = state.contact_details(emp_number)
        return _envelope(details, empNumber=emp_number)

    # -- trackers and logs --

    @app.get(f"{API}/performance/config/trackers")
    def list_trackers() -> Any:
        with state.lock:
            rows = state.list_trackers(request.args.get("empNumber", type=int))
        chosen, total = _page(rows)
        return _envelope(chosen, total=total)

    @app.post(f"{API}/performance/config/trackers")
    def create_tracker() -> Any:
        body = request.get_json(silent=True) or {}
        with state.lock:
            return _envelope(state.create_tracker(body))

    @app.get(f"{API}/performance/trackers/<int:tracker_id>/logs")
    def list_logs(tracker_id: int) -> Any:
        with state.lock:
            rows = state.list_logs(tracker_id)
        chosen, _ = _page(rows)
        positive = sum(1 for r in rows if r["achievement"] == "1")
        return _envelope(chosen, total=len(rows), positive=positive, negative=len(rows) - positive)

    @app.post(f"{API}/performance/trackers/<int:tracker_id>/logs")
    def add_log(tracker_id: int) -> Any:
        body = request.get_json(silent=True) or {}
        with state.lock:
            return _envelope(state.add_log(tracker_id, body))

    # -- control endpoints --

    @app.post("/_sandbox/employees")
    def seed_employees() -> Any:
        rows = _rows(request.get_json(force=True))
        with state.lock:
            state.seed_employees(rows)
        return jsonify({"ok": True})

    @app.post("/_sandbox/kpis")
    def seed_kpis() -> Any:
        rows = _rows(request.get_json(force=True))
        with state.lock:
            state.seed_kpis(rows)
        return jsonify({"ok": True})

    @app.post("/_sandbox/reviews")
    def seed_reviews() -> Any:
        """Seed reviews: empNumber, reviewPeriodStart/End, dueDate, completedDate, ratings
        [{kpiId, rating, comment, selfRating, selfComment}], optional id, statusId (4),
        reviewerEmpNumber (default the employee's supervisorEmpNumber), jobTitle."""
        rows = _rows(request.get_json(force=True))
        with state.lock:
            ids = state.seed_reviews(rows)
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
            return jsonify({"expired": state.expire_tokens()})

    @app.post("/_sandbox/drift")
    def drift() -> Any:
        """What a person does by hand: `{"delete_trackers": [id]}` (gone from lists, its
        logs answer 404, as OrangeHRM's soft delete does)."""
        body = request.get_json(force=True) or {}
        with state.lock:
            for tracker_id in body.get("delete_trackers", []):
                state.delete_tracker(int(tracker_id))
        return jsonify({"ok": True})

    install_state_routes(app, state)
    return app
