"""An xAPI learning record store stand-in: the statements resource under `/xapi`.

It behaves like xAPI 1.0.3 says (shared/VENDORS-next.md, "xAPI Statements API"): Basic auth;
`X-Experience-API-Version` required on every request (1.0 or 1.0.x; anything else is a 400)
and sent on every answer; `X-Experience-API-Consistent-Through` on every statements answer;
GET with `statementId`/`voidedStatementId` or the filters (`verb`, `since`, `until`, `agent`,
`activity`, `limit`, `ascending`), paged by `more`; POST (200, the ids) and PUT (204). The
rules live in `connector.sandbox.lrs_state`.

Control endpoints (not xAPI's): `POST /_sandbox/statements` stores statements with a chosen
stored time (`{"statements": […], "stored": "<iso>"}`: a write that became visible late),
`POST /_sandbox/lag` sets how far consistent-through trails the clock, `GET /_sandbox/state`,
`POST /_sandbox/reset`, `POST /_sandbox/faults`.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable

from flask import Flask, Response, jsonify, request

from connector.sandbox.common import Faults, install_faults, install_state_routes
from connector.sandbox.lrs_state import LrsError, LrsState, parse_time

VERSION = "1.0.3"


def create_app(*, key: str = "lrs-key", secret: str = "lrs-secret",  # noqa: S107 (its own)
               faults: Faults | None = None, clock: Callable[[], float] = time.time) -> Flask:
    app = Flask("sandbox-lrs")
    state = LrsState(clock)
    app.config["STATE"] = state
    install_faults(app, faults or Faults())
    expected = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()

    @app.errorhandler(LrsError)
    def _error(exc: LrsError) -> Response:
        resp = jsonify({"error": exc.message})
        resp.status_code = exc.status
        return resp

    @app.before_request
    def _auth_and_version() -> Response | None:
        if request.path.startswith("/_sandbox"):
            return None
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return _error(LrsError(401, "bad credentials"))
        version = request.headers.get("X-Experience-API-Version", "")
        if not (version == "1.0" or version.startswith("1.0.")):
            return _error(LrsError(400, f"unsupported X-Experience-API-Version {version!r}"))
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        if request.path.startswith("/xapi/"):
            resp.headers["X-Experience-API-Version"] = VERSION
            with state.lock:
                resp.headers["X-Experience-API-Consistent-Through"] = state.consistent_through()
        return resp

    @app.get("/xapi/statements")
    def get_statements() -> Response:
        args = dict(request.args.items())
        with state.lock:
            state.count("GET statements")
            if "statementId" in args or "voidedStatementId" in args:
                return jsonify(state.one(args))
            return jsonify(state.query(args))

    @app.get("/xapi/statements/more/<token>")
    def more(token: str) -> Response:
        with state.lock:
            state.count("GET statements (more)")
            return jsonify(state.more(token))

    @app.post("/xapi/statements")
    def post_statements() -> Response:
        with state.lock:
            state.count("POST statements")
            return jsonify(state.store(request.get_json(force=True)))

    @app.put("/xapi/statements")
    def put_statement() -> Response:
        sid = request.args.get("statementId")
        if not sid:
            raise LrsError(400, "statementId is required")
        body = request.get_json(force=True)
        if isinstance(body, dict) and body.get("id", sid) != sid:
            raise LrsError(400, "the statement's id differs from statementId")
        with state.lock:
            state.count("PUT statements")
            state.store({**body, "id": sid})
        return Response(status=204)

    @app.post("/_sandbox/statements")
    def seed() -> Response:
        spec = request.get_json(force=True)
        stored = parse_time(spec["stored"]) if spec.get("stored") else None
        with state.lock:
            return jsonify(state.store(spec["statements"], stored))

    @app.post("/_sandbox/lag")
    def lag() -> Response:
        with state.lock:
            state.consistent_lag = float(request.get_json(force=True).get("seconds", 0))
        return jsonify({"ok": True})

    install_state_routes(app, state, resettable=True)
    return app
