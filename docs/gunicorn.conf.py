"""Gunicorn settings for the webhook receiver.

    gunicorn -c docs/gunicorn.conf.py webhooks.wsgi:app

The receiver only verifies, stores and acknowledges: each request is one signature check and
one short database transaction. So a few processes with a few threads each carry a lot, and a
request that takes longer than the timeout means the database is in trouble, not that the
work is heavy. Everything can be overridden from the environment:

- GUNICORN_BIND: where to listen (default 127.0.0.1:8080, behind a TLS reverse proxy). When
  PORT is set (platforms that run a Procfile set it), 0.0.0.0:$PORT.
- WEB_CONCURRENCY: processes (default CPUs + 1, at most 8). Each opens its own database
  pool, up to 15 PostgreSQL connections; size `max_connections` for all of them. Not the
  classic 2 x CPUs + 1 (that is for one request per process): with 4 threads each, CPUs + 1
  processes keep the cores busy, and on 2 cores bench/webhooks.py measured 10-20 % more
  deliveries per second on PostgreSQL with 3 processes than with 5 (fewer processes and
  database backends fighting for the same cores).
- GUNICORN_THREADS: threads per process (default 4).
- GUNICORN_TIMEOUT: seconds before a stuck process is restarted (default 30).

Metrics: with several processes, set PROMETHEUS_MULTIPROC_DIR to an empty directory for this
service (docs/production.md). Every process then writes its counters there and any process's
/metrics answers the sum; `child_exit` below tells prometheus_client a worker is gone.

Gunicorn's access log stays off: the app logs one JSON line per request itself, with a request
id, the source, the outcome and the duration, and never a body, a signature or a secret.
"""

import multiprocessing
import os
from typing import Any


def _int_from_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise SystemExit(f"{name} must be at least 1, got {number}")
    return number


_port = os.environ.get("PORT", "").strip()
# Binding every interface only where a platform routes traffic to $PORT.
bind = [os.environ.get("GUNICORN_BIND") or (f"0.0.0.0:{_port}" if _port else "127.0.0.1:8080")]

workers = _int_from_env("WEB_CONCURRENCY", min(multiprocessing.cpu_count() + 1, 8))
worker_class = "gthread"
threads = _int_from_env("GUNICORN_THREADS", 4)

timeout = _int_from_env("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30  # on SIGTERM, requests in flight finish (their events are stored) first
keepalive = 5

# Webhook bodies are capped by CONNECTOR_WEBHOOK_MAX_BYTES in the app; keep headers sane too.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

accesslog = None  # the app writes its own request log (JSON, with a request id)
errorlog = "-"
loglevel = os.environ.get("CONNECTOR_LOG_LEVEL", "info").lower()
capture_output = False

# No preloading: every process builds its own app and opens its own database connections
# after the fork, so no connection is ever shared between processes.
preload_app = False
proc_name = "connector-receiver"


def child_exit(server: Any, worker: Any) -> None:
    """A worker process ended: drop its live multiprocess files (its counted totals stay)."""
    from connector.observability.metrics import mark_process_dead

    mark_process_dead(worker.pid)
