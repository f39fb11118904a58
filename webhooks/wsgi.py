"""The WSGI entry point for production: `gunicorn -c docs/gunicorn.conf.py webhooks.wsgi:app`.

Receivers only verify, store and acknowledge; workers (`connector worker`) do the rest. Each
gunicorn process opens its own connection pool to the shared database, on first use, so a
database that starts after the receiver is reported by /readyz rather than crashing it.

With several processes, set PROMETHEUS_MULTIPROC_DIR (docs/production.md): each process's
/metrics then answers every process's counters summed, and the queue gauges read once.
"""

from __future__ import annotations

import threading

from connector.observability.logging import configure_logging
from connector.observability.metrics import export_queue
from connector.service import StoreInbox
from connector.settings import load_settings
from connector.store import Store
from webhooks.app import create_app

_settings = load_settings()
configure_logging(_settings.log_level, _settings.log_format)
_lock = threading.Lock()
_store: Store | None = None


def _get_store() -> Store:
    global _store  # one store per gunicorn process, made on first use
    with _lock:
        if _store is None:
            _store = Store.open(_settings.database_url,
                                max_attempts=_settings.job_max_attempts)
        return _store


def _ready() -> tuple[bool, str]:
    try:
        return _get_store().ready()
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
        return False, f"database unavailable ({type(exc).__name__})"


export_queue(_get_store)  # read when scraped, so a process that has not stored yet answers too
app = create_app(inbox=lambda: StoreInbox(_get_store(), _settings), settings=_settings,
                 ready_check=_ready)
