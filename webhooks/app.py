"""The Flask adapter around `WebhookDispatcher`, plus health, readiness and metrics endpoints.

Flask only moves bytes: it caps the body size before reading it, hands the raw bytes and headers
to the framework-free dispatcher and turns its answer into JSON. Every error, including
Flask's own 400/404/405/413, is answered as JSON. One structured log line per request carries
a request id (the caller's `X-Request-Id` when it is sane, else a new one) but never a secret,
a signature or a payload.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CollectorRegistry
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from connector.observability.metrics import (
    CONTENT_TYPE,
    METRICS,
    exposition,
    scrape_registry,
    webhook_metrics,
)
from connector.settings import Settings, load_settings
from webhooks.dispatch import (
    Inbox,
    InboxOrFactory,
    SourceConfig,
    WebhookDispatcher,
    WebhookResponse,
    sources_from_settings,
)

log = logging.getLogger("webhooks.app")
ReadyCheck = Callable[[], tuple[bool, str]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
def _unwired_inbox() -> Inbox:
    """Placeholder until the store's inbox is wired in (pass `inbox=` or a factory)."""
    raise RuntimeError("no inbox configured")


def _json(response: WebhookResponse) -> Response:
    # What jsonify writes (sorted keys, compact, a final newline), without its per-call
    # lookups: this answers every delivery.
    body = json.dumps(response.body, sort_keys=True, separators=(",", ":")) + "\n"
    return Response(body, status=response.status, headers=response.headers,
                    mimetype="application/json")


def create_app(
    inbox: InboxOrFactory | None = None,
    settings: Settings | None = None,
    sources: Mapping[str, SourceConfig] | None = None,
    ready_check: ReadyCheck | None = None,
    *,
    clock: Callable[[], float] = time.time,
    registry: CollectorRegistry | None = None,
) -> Flask:
    """The receiver app. `inbox` may be an Inbox or a zero-argument factory called on first
    use; `ready_check() -> (ok, detail)` defaults to "the inbox can be built".

    `registry` (for tests) both holds the receiver's series and is what `/metrics` serves;
    by default they go to the process's registry and `/metrics` serves every series the
    process (or, in multiprocess mode, every process sharing the directory) records."""
    settings = settings or load_settings()
    sources = sources if sources is not None else sources_from_settings(settings)
    scraped = registry or scrape_registry()
    max_bytes = settings.webhook_max_bytes
    dispatcher = WebhookDispatcher(
        sources,
        inbox if inbox is not None else _unwired_inbox,
        max_bytes=max_bytes,
        clock=clock,
        metrics=webhook_metrics(registry or METRICS),
    )
    check = ready_check or dispatcher.ready

    app = Flask("webhooks")
    # Werkzeug refuses a longer Content-Length outright, but a chunked body is silently cut at
    # the limit; one byte of slack lets the dispatcher see that it was too long (413, not 401).
    app.config["MAX_CONTENT_LENGTH"] = max_bytes + 1
    app.extensions["webhook_dispatcher"] = dispatcher

    @app.before_request
    def _start() -> None:
        offered = request.headers.get("X-Request-Id", "")
        g.request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.log_fields = {}

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        started = getattr(g, "started", time.perf_counter())
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path[:200],
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                **getattr(g, "log_fields", {}),
            },
        )
        return response

    @app.post("/webhooks/<source>")
    def receive(source: str) -> Response:
        length = request.content_length
        if length is not None and length > max_bytes:
            result = dispatcher.refuse_oversize(source)  # without reading a byte of it
        else:
            raw = request.get_data(cache=False)
            headers = {name.lower(): value for name, value in request.headers.items()}
            result = dispatcher.dispatch(source, raw, headers, request.content_type)
        g.log_fields = {
            "source": source if source in dispatcher.sources else "_unknown",
            "reason": result.reason,
            "event_id": result.body.get("event_id"),
        }
        return _json(result)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            ok, detail = check()
        except Exception as exc:  # noqa: BLE001 - a broken check means "not ready", not 500
            ok, detail = False, f"ready check failed ({type(exc).__name__})"
        return jsonify({"status": "ok" if ok else "unavailable", "detail": detail}), (
            200 if ok else 503
        )

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(exposition(scraped), status=200, content_type=CONTENT_TYPE)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        name = re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")
        out = jsonify({"error": name})
        out.status_code = exc.code or 500
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            out.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return out

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        return jsonify({"error": "internal_error"}), 500

    return app

