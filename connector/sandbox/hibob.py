"""A HiBob stand-in: people search, goals, key results, check-ins and goal status, under `/v1`.

It follows HiBob's published definitions (shared/VENDORS-next.md, "HiBob"): Basic auth with a
service user's id and token; per-endpoint-group limits per minute (people search 50/min) with
a 429 over the limit and `X-RateLimit-Limit/-Remaining/-Reset` headers (the header names are
*unconfirmed*); Goals API errors as `{statusCode, timestamp, message}`, other modules as a
simpler `{error}`. The rules themselves live in `connector.sandbox.hibob_state`.

Control endpoints (not HiBob's): `POST /_sandbox/employees` seeds people,
`PATCH /_sandbox/employees/<id>` changes one (`status` for a leaver), `POST /_sandbox/hidden`
hides fields as a service user without the permission would see them, `POST /_sandbox/limits`
sets the per-minute limits, `GET /_sandbox/state`, `POST /_sandbox/reset`, `POST
/_sandbox/faults`.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from connector.sandbox.common import Faults, install_faults, install_state_routes
from connector.sandbox.hibob_state import ApiError, HiBobState


def create_app(*, service_user: str = "sandbox-user", token: str = "sandbox-token",  # noqa: S107 (the stand-in's own)
               faults: Faults | None = None, clock: Callable[[], float] = time.time,
               limits: dict[str, int] | None = None) -> Flask:
    app = Flask("sandbox-hibob")
    state = HiBobState(clock, limits)
    app.config["STATE"] = state
    install_faults(app, faults or Faults())
    expected = "Basic " + base64.b64encode(f"{service_user}:{token}".encode()).decode()

    def goals_error(status: int, message: str) -> Response:
        resp = jsonify({"statusCode": status, "message": message,
                        "timestamp": datetime.fromtimestamp(clock(), UTC).isoformat()})
        resp.status_code = status
        return resp

    def people_error(status: int, message: str) -> Response:
        resp = jsonify({"error": message})
        resp.status_code = status
        return resp

    def group() -> str:
        return "people-search" if request.path.startswith("/v1/people") else "goals"

    def error(status: int, message: str) -> Response:
        return (people_error if group() == "people-search" else goals_error)(status, message)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error(exc.status, exc.message)

    @app.before_request
    def _auth_and_limit() -> Response | None:
        if request.path.startswith("/_sandbox"):
            return None
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return error(401, "Unauthorized: invalid service user credentials")
        with state.lock:
            allowed, limit, remaining, reset = state.take(group())
        headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                   "X-RateLimit-Reset": str(reset)}
        request.environ["hibob.rate"] = headers
        if not allowed:
            resp = error(429, "Too many requests")
            resp.headers.update(headers)
            return resp
        return None

    @app.after_request
    def _rate_headers(resp: Response) -> Response:
        resp.headers.update(request.environ.get("hibob.rate", {}))
        return resp

    def run(operation: str, fn: Callable[[], Any], status: int = 200) -> Response:
        with state.lock:
            state.count(operation)
            result = fn()
        resp = jsonify(result)
        resp.status_code = status
        return resp

    def body() -> Any:
        return request.get_json(silent=True)

    @app.post("/v1/people/search")
    def people_search() -> Response:
        return run("post_people-search", lambda: state.search_people(body()))

    @app.post("/v1/goals/goals")
    def create_goals() -> Response:
        return run("post_goals-goals", lambda: state.create_goals(body()))

    @app.post("/v1/goals/goals/search")
    def search_goals() -> Response:
        return run("post_goals-goals-search", lambda: state.search_goals(body()))

    @app.patch("/v1/goals/goals/<gid>")
    def update_goal(gid: str) -> Response:
        return run("patch_goals-goals-goalid", lambda: state.update_goal(gid, body()))

    @app.patch("/v1/goals/goals/<gid>/status")
    def goal_status(gid: str) -> Response:
        return run("patch_goals-goals-goalid-status", lambda: state.set_status(gid, body()))

    @app.post("/v1/goals/goals/<gid>/key-results")
    def create_key_results(gid: str) -> Response:
        return run("post_goals-goals-goalid-key-results",
                   lambda: state.create_key_results(gid, body()))

    @app.post("/v1/goals/goals/key-results/search")
    def search_key_results() -> Response:
        return run("post_goals-goals-key-results-search",
                   lambda: state.search_key_results(body()))

    @app.patch("/v1/goals/goals/<gid>/key-results/progress")
    def check_in(gid: str) -> Response:
        return run("patch_goals-goals-goalid-key-results-progress",
                   lambda: state.check_in(gid, body()))

    # -- control endpoints --

    @app.post("/_sandbox/employees")
    def seed() -> Response:
        people = request.get_json(force=True)
        with state.lock:
            state.seed(people if isinstance(people, list) else [people])
        return jsonify({"ok": True})

    @app.patch("/_sandbox/employees/<pid>")
    def change(pid: str) -> Response | tuple[Response, int]:
        with state.lock:
            known = state.change_employee(pid, request.get_json(force=True) or {})
        return (jsonify({"ok": True}), 200) if known else (jsonify({"error": "unknown"}), 404)

    @app.post("/_sandbox/hidden")
    def hidden() -> Response:
        with state.lock:
            state.hidden_fields = set(request.get_json(force=True).get("fields", []))
        return jsonify({"ok": True})

    @app.post("/_sandbox/limits")
    def set_limits() -> Response:
        with state.lock:
            state.limits.update({str(k): int(v) for k, v in request.get_json(force=True).items()})
        return jsonify({"ok": True})

    install_state_routes(app, state, resettable=True)
    return app
