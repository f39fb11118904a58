"""The console under gunicorn: `gunicorn 'connector.console.wsgi:app'` (a scaled-out
deployment on the shared PostgreSQL). Every process must share CONNECTOR_CONSOLE_SECRET_KEY;
sign-in limits are counted in the database, so they hold across processes too."""

from __future__ import annotations

from connector.console.app import create_app
from connector.observability.logging import configure_logging
from connector.settings import load_settings
from connector.store import Store

_settings = load_settings()
configure_logging(_settings.log_level, _settings.log_format)
_store = Store.open(_settings.database_url, max_attempts=_settings.job_max_attempts)
app = create_app(_store, _settings)
