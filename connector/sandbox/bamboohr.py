"""A BambooHR stand-in: goals, goal comments, training records, the employee directory, webhooks.

It follows the official OpenAPI file (`shared/vendor-specs/bamboohr-public-api.yaml`): the same
paths, field names and value types (goal and comment ids are strings, milestone ids integers,
`sharedWithEmployeeIds` integers), the 50-item caps on goal and comment lists, and the documented
400/403 cases answered the way BambooHR answers them: an empty body with the reason in the
`X-BambooHR-Error-Message` header. Throttling is a 503 (today's behaviour) or a 429 with
`Retry-After` (announced from 2026-09-16), switched with `POST /_sandbox/throttle`.

Control endpoints (not BambooHR's): `POST /_sandbox/employees` seeds people,
`PATCH /_sandbox/employees/<id>` changes them, `GET /_sandbox/state` shows everything,
`POST /_sandbox/send-webhook` delivers a signed employee webhook, `POST /_sandbox/throttle`,
`POST /_sandbox/training-types`, `POST /_sandbox/reset`, `POST /_sandbox/drift` (delete a
goal), `POST /_sandbox/faults` (from `install_faults`).

The company's data and the vendor's rules live in `connector.sandbox.bamboohr_state`; this module
is the HTTP face: auth, throttling answers, routes and webhook delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, Response, jsonify, request

from connector.sandbox.bamboohr_state import ApiError, BambooHRState
from connector.sandbox.common import Faults, install_faults, install_state_routes


def sign_webhook(body: bytes, timestamp: str, secret: str) -> str:
    """BambooHR's signature: hex HMAC-SHA256 of the raw body followed by the timestamp."""
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def create_app(*, api_key: str = "sandbox-key", faults: Faults | None = None,
               webhook_secret: str | None = None,
               clock: Callable[[], float] = time.time) -> Flask:
    """The simulator app; `clock` drives timestamps and the throttle window."""
    app = Flask("sandbox-bamboohr")
    state = BambooHRState(clock)
    app.config["STATE"] = state
    install_faults(app, faults or Faults())
    expected_auth = "Basic " + base64.b64encode(f"{api_key}:x".encode()).decode()

    def error(status: int, message: str) -> Response:
        resp = Response(b"", status=status)
        resp.headers["X-BambooHR-Error-Message"] = message
        return resp

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error(exc.status, exc.message)

    @app.before_request
    def _auth_and_throttle() -> Response | None:
        if request.path.startswith("/_sandbox"):
            return None
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected_auth):
            resp = error(401, "Invalid API key")
            resp.headers["WWW-Authenticate"] = 'Basic realm="BambooHR"'
            return resp
        with state.lock:
            limited = state.throttled()
        if limited is not None:
            status, retry_after = limited
            resp = error(status, "Service temporarily unavailable; slow down")
            resp.headers["Retry-After"] = str(retry_after)
            return resp
        return None

    def run(operation: str, fn: Callable[[], Any], status: int = 200) -> Response:
        with state.lock:
            state.count(operation)
            result = fn()
        resp = jsonify(result)
        resp.status_code = status
        return resp

    goals = "/api/v1/performance/employees/<eid>/goals"

    @app.get(goals)
    def list_goals(eid: str) -> Response:
        return run("list-goals", lambda: {"goals": state.list_goals(eid,
                                                                    request.args.get("filter"))})

    @app.post(goals)
    def create_goal(eid: str) -> Response:
        body = request.get_json(silent=True)
        return run("create-goal", lambda: state.create_goal(eid, body), 201)

    @app.get(f"{goals}/<gid>/aggregate")
    def aggregate(eid: str, gid: str) -> Response:
        return run("get-goal-aggregate", lambda: state.aggregate(eid, gid))

    @app.put(f"{goals}/<gid>/progress")
    def goal_progress(eid: str, gid: str) -> Response:
        body = request.get_json(silent=True)
        return run("update-goal-progress", lambda: state.goal_progress(eid, gid, body))

    @app.put(f"{goals}/<gid>/milestones/<mid>/progress")
    def milestone_progress(eid: str, gid: str, mid: str) -> Response:
        body = request.get_json(silent=True)
        return run("update-goal-milestone-progress",
                   lambda: state.milestone_progress(eid, gid, mid, body))

    @app.get(f"{goals}/<gid>/comments")
    def list_comments(eid: str, gid: str) -> Response:
        return run("list-goal-comments", lambda: state.list_comments(eid, gid))

    @app.post(f"{goals}/<gid>/comments")
    def add_comment(eid: str, gid: str) -> Response:
        body = request.get_json(silent=True) or {}
        return run("create-goal-comment", lambda: state.add_comment(eid, gid, body.get("text")),
                   201)

    @app.post(f"{goals}/<gid>/close")
    def close_goal(eid: str, gid: str) -> Response:
        body = request.get_json(silent=True) or {}
        return run("close-goal", lambda: state.set_closed(eid, gid, True, body.get("comment")),
                   201)

    @app.post(f"{goals}/<gid>/reopen")
    def reopen_goal(eid: str, gid: str) -> Response:
        return run("reopen-goal", lambda: state.set_closed(eid, gid, False), 201)

    @app.post("/api/v1/training/record/employee/<eid>")
    def add_training(eid: str) -> Response:
        body = request.get_json(silent=True)
        return run("create-employee-training-record", lambda: state.add_training(eid, body), 201)

    @app.get("/api/v1/training/record/employee/<eid>")
    def list_trainings(eid: str) -> Response:
        return run("list-employee-trainings",
                   lambda: state.list_trainings(eid, request.args.get("type")))

    @app.get("/api/v1/employees/<eid>")
    def get_employee(eid: str) -> Response:
        return run("get-employee", lambda: state.read_employee(eid, request.args.get("fields")))

    @app.get("/api/v1/employees/directory")
    def directory() -> Response:
        if "application/json" not in request.headers.get("Accept", ""):
            # BambooHR answers XML unless JSON is asked for; the adapter must ask.
            return Response(b"<directory/>", status=200, mimetype="application/xml")
        return run("get-employees-directory", state.directory)

    # -- control endpoints --

    @app.post("/_sandbox/employees")
    def seed_employees() -> Response:
        payload = request.get_json(force=True)
        people = payload if isinstance(payload, list) else payload.get("employees", [payload])
        with state.lock:
            state.seed(people)
        return jsonify({"ok": True, "count": len(people)})

    install_state_routes(app, state, resettable=True)  # people, goals, records, throttle
    @app.patch("/_sandbox/employees/<eid>")
    def change_employee(eid: str) -> Response | tuple[Response, int]:
        changes = request.get_json(force=True) or {}
        with state.lock:
            known = state.change_employee(eid, changes)
        if not known:
            return jsonify({"error": "unknown employee"}), 404
        return jsonify({"ok": True})

    @app.post("/_sandbox/training-types")
    def add_training_types() -> Response:
        ids = request.get_json(force=True).get("ids", [])
        with state.lock:
            state.training_types.update(int(i) for i in ids)
        return jsonify({"ok": True})

    @app.post("/_sandbox/throttle")
    def set_throttle() -> Response:
        with state.lock:
            state.set_throttle(request.get_json(force=True) or {})
        return jsonify({"ok": True})

    @app.post("/_sandbox/drift")
    def drift() -> Response:
        """What a person does by hand: `{"delete_goals": [goal_id]}` (a deleted goal answers
        404 "…goalId was not found" from then on)."""
        body = request.get_json(force=True) or {}
        with state.lock:
            for goal_id in body.get("delete_goals", []):
                state.goals.pop(int(goal_id), None)
                state.comments.pop(int(goal_id), None)
        return jsonify({"ok": True})

    @app.post("/_sandbox/send-webhook")
    def send_webhook() -> Response | tuple[Response, int]:
        if not webhook_secret:
            return jsonify({"error": "create_app(webhook_secret=...) first"}), 409
        spec = request.get_json(force=True)
        action = spec.get("action", "updated")
        if action not in {"created", "updated", "deleted"}:
            return jsonify({"error": f"unknown action {action!r}"}), 400
        ids = [str(i) for i in spec.get("employee_ids", [])]
        with state.lock:
            bodies = state.webhook_bodies(action, ids, spec.get("shape", "event"))
        results = []
        for body in bodies:
            raw = json.dumps(body).encode()
            stamp = str(int(clock()))
            headers = {"Content-Type": "application/json", "X-BambooHR-Timestamp": stamp,
                       "X-BambooHR-Signature": sign_webhook(raw, stamp, webhook_secret)}
            try:
                answer = requests.post(spec["url"], data=raw, headers=headers, timeout=10)
                status: int | None = answer.status_code
            except requests.RequestException:
                status = None
            results.append({"status": status})
            with state.lock:
                state.webhooks_sent.append({"body": body, "status": status})
        return jsonify({"deliveries": results})

    return app
