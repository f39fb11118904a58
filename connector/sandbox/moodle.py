"""A Moodle stand-in: core's REST web-service endpoint with the functions the adapter calls.

As in Moodle (../shared/VENDORS-next.md § Moodle 1): one endpoint,
`/webservice/rest/server.php`, taking `wstoken`, `wsfunction` and `moodlewsrestformat` from
the query or the form, and every other parameter as an argument in PHP's bracket form
(`users[0][email]=…`); JSON bodies are not read. Answers are JSON only when
`moodlewsrestformat=json` (XML otherwise, as Moodle's default); **errors are HTTP 200** with
`{"exception", "errorcode", "message"}`: `invalidtoken`, `accessexception` for a function
outside the token's service, `invalidparameter`, and the functions' own codes. The REST
protocol can be switched off (HTTP 403, as newer Moodle answers).

Control endpoints under `/_sandbox/` (not Moodle API): seed users, courses and competencies,
complete a course, fail a function's next calls with an errorcode or lose their answers
after carrying them out, read the whole state; plus
`/_sandbox/faults` from `install_faults` (5xx, drops, latency).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, jsonify, request

from connector.sandbox.common import (
    DroppedConnection,
    Faults,
    install_faults,
    install_state_routes,
)
from connector.sandbox.moodle_state import FUNCTIONS, MoodleError, MoodleState

ENDPOINT = "/webservice/rest/server.php"
SANDBOX_TOKEN = "sandbox-token"  # the simulator's own token: not a real credential
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def php_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[0][b]=x` pairs as PHP builds `$_REQUEST`: nested dicts keyed by strings."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            continue
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out


def create_app(*, token: str = SANDBOX_TOKEN, faults: Faults | None = None,
               allowed: tuple[str, ...] = FUNCTIONS) -> Flask:
    """The simulator. `allowed`: the functions in the token's service (others:
    accessexception)."""
    app = Flask("moodle-sandbox")
    state = MoodleState()
    app.extensions["moodle_state"] = state
    switches: dict[str, Any] = {"rest": True, "allowed": set(allowed), "fail": {}, "lose": {}}

    def moodle_error(exc: MoodleError) -> Response:
        return jsonify({"exception": exc.exception, "errorcode": exc.errorcode,
                        "message": exc.message})

    @app.route(ENDPOINT, methods=["GET", "POST"])
    def _server() -> Response:
        if not switches["rest"]:
            return Response("The web service protocol REST is not enabled", status=403)
        if request.is_json:
            raise_ = MoodleError("invalidparameter", "Invalid parameter value detected",
                                 "invalid_parameter_exception")
            return moodle_error(raise_)  # core REST reads no JSON bodies
        pairs = list(request.args.items(multi=True)) + list(request.form.items(multi=True))
        params = php_params(pairs)
        fmt = params.pop("moodlewsrestformat", "xml")
        given = params.pop("wstoken", None)
        function = str(params.pop("wsfunction", ""))
        if fmt != "json":
            return Response('<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE></RESPONSE>',
                            mimetype="application/xml")
        if given != token:
            return moodle_error(MoodleError("invalidtoken", "Invalid token - token not found"))
        handler = getattr(state, function, None) if function in FUNCTIONS else None
        if handler is None:
            return moodle_error(MoodleError(
                "invalidrecord", "Can't find data record in database table "
                "external_functions.", "dml_missing_record_exception"))
        if function not in switches["allowed"]:
            return moodle_error(MoodleError(
                "accessexception", "Access control exception", "webservice_access_exception"))
        with state.lock:
            state.calls[function] = state.calls.get(function, 0) + 1
            planned = switches["fail"].get(function)
            if planned and planned["times"] > 0:
                planned["times"] -= 1
                return moodle_error(MoodleError(planned["errorcode"], planned["message"]))
            try:
                answer = handler(params)
            except MoodleError as exc:
                return moodle_error(exc)
            if switches["lose"].get(function, 0) > 0:  # done, but the answer never arrives
                switches["lose"][function] -= 1
                state.calls["answers lost"] = state.calls.get("answers lost", 0) + 1
                raise DroppedConnection
        # Functions that return nothing answer the JSON literal null (*unconfirmed*).
        return Response("null" if answer is None else app.json.dumps(answer),
                        mimetype="application/json")

    @app.post("/_sandbox/users")
    def _seed_users() -> Response:
        with state.lock:
            for user in (request.get_json(force=True) or {}).get("users", []):
                state.add_user(user)
        return jsonify({"ok": True})

    @app.post("/_sandbox/courses")
    def _seed_courses() -> Response:
        with state.lock:
            for course in (request.get_json(force=True) or {}).get("courses", []):
                state.add_course(course)
        return jsonify({"ok": True})

    @app.post("/_sandbox/competencies")
    def _seed_competencies() -> Response:
        with state.lock:
            for item in (request.get_json(force=True) or {}).get("competencies", []):
                state.add_competency(item)
        return jsonify({"ok": True})

    @app.post("/_sandbox/complete")
    def _complete() -> Response:
        body = request.get_json(force=True) or {}
        with state.lock:
            state.complete(int(body["user_id"]), int(body["course_id"]),
                           passed=bool(body.get("passed", True)),
                           score=float(body.get("score", 100)), when=body.get("completed_at"))
        return jsonify({"ok": True})

    @app.post("/_sandbox/switches")
    def _switches() -> Response:
        """`{"rest": false}`, `{"allowed": [...]}`, `{"fail": {"fn": {"errorcode",
        "message", "times"}}}`, `{"lose": {"fn": times}}` (the call is carried out, then the
        connection drops), `{"clock_offset": seconds}` (enrolments end in time)."""
        body = request.get_json(force=True) or {}
        with state.lock:
            if "rest" in body:
                switches["rest"] = bool(body["rest"])
            if "allowed" in body:
                switches["allowed"] = set(body["allowed"])
            for function, how in (body.get("fail") or {}).items():
                switches["fail"][function] = {"errorcode": how.get("errorcode", "x"),
                                              "message": how.get("message", "simulated"),
                                              "times": int(how.get("times", 1))}
            for function, times in (body.get("lose") or {}).items():
                switches["lose"][function] = int(times)
            if "clock_offset" in body:
                import time

                offset = float(body["clock_offset"])
                state.now = lambda: time.time() + offset
        return jsonify({"ok": True})

    install_state_routes(app, state, show=state.snapshot)
    install_faults(app, faults or Faults())
    return app
