"""What every sandbox vendor shares: fault switches, a scalable clock, serving on loopback.

The simulators stand in for the real vendors in the demo, the integration, fault and
end-to-end tests and the benchmarks. Faults are switched at run time through
`POST /_sandbox/faults` (JSON body of `Faults` fields) so a test can break and heal a vendor
without restarting it. Control endpoints live under `/_sandbox/` and are not part of any
vendor's API.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

from connector.serving import QuietRequestHandler


@dataclass
class Faults:
    """Switches a test flips to make a vendor misbehave. Rates are 0..1 per request."""

    error_rate: float = 0.0  # answer 500/502/503 at random
    timeout_rate: float = 0.0  # sleep `timeout_seconds` before answering (client times out)
    timeout_seconds: float = 2.0
    drop_rate: float = 0.0  # close the connection without an answer
    latency_ms: float = 0.0  # added to every answer
    storm_429_rate: float = 0.0  # answer 429 with Retry-After at random
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def update(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in {"rng"} or not hasattr(self, name):
                raise ValueError(f"unknown fault switch {name!r}")
            setattr(self, name, value)
        if "seed" in values and values["seed"] is not None:
            self.rng.seed(values["seed"])


class ScaledClock:
    """Wall time sped up by `scale`, so an hour of rate limit can pass in seconds."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._start_real = time.monotonic()
        self._start_epoch = time.time()

    def now(self) -> float:
        """Simulated Unix time in seconds."""
        return self._start_epoch + (time.monotonic() - self._start_real) * self.scale


class DroppedConnection(Exception):
    """Raised inside a request to make the server close the socket without answering."""


def install_state_routes(app: Flask, state: Any, *, show: Any = None,
                         resettable: bool = False) -> None:
    """`GET /_sandbox/state`: what the simulator holds, for a test's assertions (`show()`,
    by default `state.state()`); with `resettable`, `POST /_sandbox/reset` forgets it all
    (`state.clear()`) so one server serves many tests. Both hold `state.lock`."""
    read = show or state.state

    @app.get("/_sandbox/state")
    def _show_state() -> Response:
        with state.lock:
            return jsonify(read())

    if resettable:
        @app.post("/_sandbox/reset")
        def _reset() -> Response:
            with state.lock:
                state.clear()
            return jsonify({"ok": True})


def install_faults(app: Flask, faults: Faults, *, exempt_prefix: str = "/_sandbox") -> None:
    """Add the fault switches and their control endpoint to a simulator app."""

    @app.before_request
    def _inject() -> Response | None:
        if request.path.startswith(exempt_prefix):
            return None
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        rng = faults.rng
        if faults.drop_rate and rng.random() < faults.drop_rate:
            raise DroppedConnection
        if faults.timeout_rate and rng.random() < faults.timeout_rate:
            time.sleep(faults.timeout_seconds)
        if faults.storm_429_rate and rng.random() < faults.storm_429_rate:
            resp = jsonify({"error": {"message": "Too many requests"}})
            resp.status_code = 429
            resp.headers["Retry-After"] = "1"
            return resp
        if faults.error_rate and rng.random() < faults.error_rate:
            resp = jsonify({"error": {"message": "Internal server error (simulated)"}})
            resp.status_code = rng.choice([500, 502, 503])
            return resp
        return None

    @app.post(f"{exempt_prefix}/faults")
    def _set_faults() -> tuple[Response, int]:
        try:
            faults.update(request.get_json(force=True) or {})
        except (ValueError, TypeError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"ok": True}), 200

    @app.errorhandler(DroppedConnection)
    def _drop(_: DroppedConnection) -> Response:
        # Werkzeug's dev server closes the socket when the WSGI app raises mid-response;
        # an empty body with a broken Content-Length makes clients see a dropped connection.
        resp = Response(b"", status=200)
        resp.headers["Content-Length"] = "1000"
        resp.headers["Connection"] = "close"
        return resp


@dataclass
class RunningSimulator:
    """A simulator served on a loopback port in a background thread."""

    name: str
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(app: Flask, name: str, port: int = 0, host: str = "127.0.0.1") -> RunningSimulator:
    """Serve `app` on loopback (port 0 picks a free one) until `.stop()`."""
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{name}", daemon=True)
    thread.start()
    url = f"http://{host}:{server.server_port}"
    return RunningSimulator(name=name, url=url, server=server, thread=thread)
