"""A TalentLMS stand-in: the v1 endpoints the adapter uses, v2 batch enrollments, rate limits.

It answers in TalentLMS's documented shapes so the adapter meets the real quirks here first:
ids and numbers as strings, dates as "25/12/2019, 03:58:50" beside `*_timestamp` Unix seconds,
`key:value` parameters in the path, English errors in `{"error":{"message"}}` (v2:
`{"type","message"}`), completion statuses in mixed casing, a timeline that keeps only the
newest 200 events per type, and both rate limits (hourly per plan, 200 calls per 5 seconds)
counted on a `ScaledClock`, with `X-RateLimit-*` headers and 429s.

Time scaling: limits are counted in simulated seconds, but `X-RateLimit-Reset` (a Unix time)
and `Retry-After` (seconds) are given in real time, so a client pacing from the headers keeps
to the scaled limit; with `time_scale != 1` they carry fractions of a second.

Control endpoints under `/_sandbox/` (not TalentLMS API): seed users and courses, enroll
outside the API, mark a completion, read the whole state, change things by hand
(`/_sandbox/drift`: remove an enrollment, deactivate a learner); plus `/_sandbox/faults` from
`install_faults`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, jsonify, request

from connector.sandbox.common import Faults, ScaledClock, install_faults, install_state_routes
from connector.sandbox.talentlms_state import (
    TIMELINE_PAGE,
    ApiError,
    TalentLMSState,
    portal_date,
)

V1, V2 = "/api/v1/", "/api/v2/"


def path_params(resource: str) -> dict[str, str]:
    """`key:value,…` after `resource/`, read from the raw (still encoded) request path."""
    raw = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
              or request.path).split("?", 1)[0]
    marker = f"{V1}{resource}/"
    tail = raw[raw.find(marker) + len(marker):] if marker in raw else ""
    params: dict[str, str] = {}
    for part in filter(None, tail.split(",")):
        key, sep, value = part.partition(":")
        if not sep:
            raise ApiError(400, "Invalid arguments provided")
        params[key] = unquote(value)
    return params


def create_app(*, api_key: str = "sandbox-key", hourly_limit: int = 2000,
               time_scale: float = 1.0, faults: Faults | None = None,
               task_delay: float = 0.5) -> Flask:
    """The simulator; `task_delay` is how long (simulated seconds) a v2 batch task runs."""
    app = Flask("talentlms-sandbox")
    state = TalentLMSState(ScaledClock(time_scale), hourly_limit, task_delay)
    app.extensions["talentlms_state"] = state

    def fail(status: int, message: str) -> Response:
        body: dict[str, Any]
        if request.path.startswith(V2):
            body = {"type": "api_error" if status >= 500 else "invalid_request_error",
                    "message": message}
        else:
            body = {"error": {"message": message}}
        response = jsonify(body)
        response.status_code = status
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return fail(exc.status, exc.message)

    @app.before_request
    def _authenticate_and_limit() -> Response | None:
        if not request.path.startswith((V1, V2)):
            return None
        if request.path.startswith(V2):
            if request.headers.get("X-API-Key") != api_key:
                return fail(401, "Invalid API key provided.")
            if "application/json" not in request.headers.get("Accept", ""):
                return fail(400, "All calls must have an Accept: application/json header")
            if not request.headers.get("X-API-Version"):
                return fail(400, "The X-API-Version header (YYYY-MM-DD) is required")
        else:
            auth = request.authorization
            if auth is None or auth.username != api_key or auth.password:
                return fail(401, "Invalid API key")
        route = request.path.split("/")[3] if request.path.count("/") >= 3 else request.path
        with state.lock:
            wait = state.admit(f"{request.method} {route}")
            if wait is None:
                return None
            response = fail(429, "API rate limit exceeded. Please try again later.")
            response.headers["Retry-After"] = state.seconds_text(state.real_seconds(wait))
            return response

    install_faults(app, faults or Faults())

    @app.after_request
    def _rate_headers(response: Response) -> Response:
        if request.path.startswith((V1, V2)):
            with state.lock:
                state.throttled += response.status_code == 429
                response.headers.update(state.rate_headers())
        return response

    # --- API v1 ---

    @app.get(f"{V1}users")
    def list_users() -> Response:
        with state.lock:
            return jsonify(list(state.users.values()))

    @app.get(f"{V1}users/<path:_params>")
    def get_user(_params: str) -> Response:
        params = path_params("users")
        if len(params) != 1 or next(iter(params)) not in ("id", "email", "username"):
            raise ApiError(400, "Invalid arguments provided")
        (key, value), = params.items()
        with state.lock:
            return jsonify(state.full_user(state.find_user(key, value)))

    @app.post(f"{V1}usersignup")
    def signup() -> Response:
        form = request.form.to_dict()
        if not all(form.get(k) for k in ("first_name", "last_name", "email", "login",
                                           "password")):
            raise ApiError(400, "Invalid arguments provided")
        form.pop("password")
        with state.lock:
            return jsonify(state.add_user(form))

    @app.get(f"{V1}courses")
    def list_courses() -> Response:
        with state.lock:
            return jsonify(list(state.courses.values()))

    @app.get(f"{V1}courses/<path:_params>")
    def get_course(_params: str) -> Response:
        course_id = path_params("courses").get("id", "")
        with state.lock:
            course = state.course(course_id)
            users = [{"id": str(u), "name": state.users[u]["login"], "role": e["role"],
                      **state.status_fields(e)}
                     for (u, c), e in state.enrollments.items() if str(c) == course["id"]]
            return jsonify({**course, "users": users, "units": []})

    @app.post(f"{V1}addusertocourse")
    def add_user_to_course() -> Response:
        form = request.form
        if not form.get("user_id") or not form.get("course_id"):
            raise ApiError(400, "Invalid arguments provided")
        with state.lock:
            return jsonify([state.enroll(form["user_id"], form["course_id"],
                                         form.get("role", "learner"))])

    @app.get(f"{V1}getuserstatusincourse/<path:_params>")
    def user_status(_params: str) -> Response:
        params = path_params("getuserstatusincourse")
        if not params.get("course_id") or not params.get("user_id"):
            raise ApiError(400, "Invalid arguments provided")
        with state.lock:
            return jsonify(state.status_in_course(params["user_id"], params["course_id"]))

    @app.get(f"{V1}removeuserfromcourse/<path:_params>")
    def remove_user_from_course(_params: str) -> Response:
        """A write that is a GET in API v1. Progress in the course is dropped with it."""
        params = path_params("removeuserfromcourse")
        if not params.get("course_id") or not params.get("user_id"):
            raise ApiError(400, "Invalid arguments provided")
        with state.lock:
            return jsonify(state.unenroll(params["user_id"], params["course_id"]))

    @app.get(f"{V1}gettimeline/<path:_params>")
    def timeline(_params: str) -> Response:
        event_type = path_params("gettimeline").get("event_type", "")
        with state.lock:
            events = state.timeline.get(event_type, [])[-TIMELINE_PAGE:]
            return jsonify(list(reversed(events)))

    @app.get(f"{V1}ratelimit")
    def ratelimit() -> Response:
        with state.lock:
            headers = state.rate_headers()
        reset = float(headers["X-RateLimit-Reset"])
        return jsonify({"limit": headers["X-RateLimit-Limit"],
                        "remaining": int(headers["X-RateLimit-Remaining"]),
                        "reset": str(int(reset)), "formatted_reset": portal_date(reset)})

    # --- API v2 ---

    @app.post(f"{V2}batch/enrollments")
    def batch_enrollments() -> Response:
        body = request.get_json(silent=True)
        with state.lock:
            return jsonify(state.batch_enroll(body))

    @app.get(f"{V2}tasks/<task_id>")
    def task(task_id: str) -> Response:
        with state.lock:
            return jsonify(state.task(task_id))

    # --- control endpoints (not TalentLMS) ---

    def _items(key: str) -> list[dict[str, Any]]:
        body = request.get_json(force=True)
        items = body.get(key, [body]) if isinstance(body, dict) else body
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ApiError(400, f"send a {key[:-1]} object, a list of them or {{{key!r}: [...]}}")
        return items

    @app.post("/_sandbox/users")
    def seed_users() -> Response:
        items = _items("users")
        with state.lock:
            return jsonify({"ids": [state.add_user(i)["id"] for i in items]})

    @app.post("/_sandbox/courses")
    def seed_courses() -> Response:
        items = _items("courses")
        with state.lock:
            return jsonify({"ids": [state.add_course(i)["id"] for i in items]})

    @app.post("/_sandbox/enrollments")
    def seed_enrollments() -> Response:
        """Enrollments made in the portal, not through the API (other admins, self-sign-up)."""
        items = _items("enrollments")
        with state.lock:
            return jsonify({"enrolled": [state.enroll(str(i.get("user_id")),
                                                      str(i.get("course_id")))
                                         for i in items]})

    @app.post("/_sandbox/complete")
    def complete() -> Response:
        items = _items("completions")
        with state.lock:
            return jsonify({"completed": [state.complete(i) for i in items]})

    @app.post("/_sandbox/drift")
    def drift() -> Response:
        """What an admin does by hand: `{"unenroll": [{user_id, course_id}], "deactivate":
        [user_id]}` (drift reconciliation's faults)."""
        body = request.get_json(force=True) or {}
        with state.lock:
            for pair in body.get("unenroll", []):
                state.unenroll(str(pair["user_id"]), str(pair["course_id"]))
            for user_id in body.get("deactivate", []):
                state.user_by_id(str(user_id))["status"] = "inactive"
        return jsonify({"ok": True})

    install_state_routes(app, state, show=state.snapshot)
    app.wsgi_app = _slash_tolerant(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _slash_tolerant(wsgi_app: Any) -> Any:
    """TalentLMS serves `ratelimit/` and `users/` as it serves `ratelimit` and `users`
    (TalentLMS's own PHP library always sends the slash): drop one trailing slash."""

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if len(path) > 1 and path.endswith("/"):
            environ["PATH_INFO"] = path[:-1]
        return wsgi_app(environ, start_response)

    return middleware
