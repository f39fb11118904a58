"""Serving a WSGI app from a thread of our own process (the receiver in `serve`, the sandbox
vendors): werkzeug's server without its access log line per request, because our apps log
each request themselves (or, for the simulators, keep the demo's output readable)."""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None
