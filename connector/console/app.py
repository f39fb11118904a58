"""The console's Flask app: configuration, the sign-in guard on every `/console/…` URL,
CSRF on every POST, security headers and friendly error pages.

The app holds the store and the user directory in `app.extensions["console"]`; the routes
live in `auth.py` (sign-in, sign-out) and `pages.py` (what staff read and decide).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from connector.console import csrf
from connector.console.users import ConsoleUser, UserDirectory, users_from
from connector.errors import ConfigError, ConnectorError, StoreError
from connector.ports import LearningPlatform
from connector.settings import Settings, load_settings
from connector.store import Store
from mappings.schema import Mapping

MIN_SECRET_KEY = 32
PUBLIC_ENDPOINTS = {"console.sign_in", "console.static"}


@dataclass
class ConsoleContext:
    """What every request of the console reads."""

    store: Store
    users: UserDirectory
    session_seconds: float
    login_attempts: int
    login_window_seconds: float
    clock: Callable[[], float]
    settings: Settings
    # The active mapping, read when an action or page needs it (as each CLI run reads it).
    mapping: Callable[[], Mapping]
    # The configured LMS, built once on first use (None: CONNECTOR_LMS=none); `lms_problem`
    # says in plain words why it could not be built.
    lms_factory: Callable[[], LearningPlatform | None]
    _lms: list[LearningPlatform | None] | None = None
    lms_problem: str | None = None

    def lms(self) -> LearningPlatform | None:
        if self._lms is None:
            try:
                self._lms = [self.lms_factory()]
            except ConnectorError as exc:
                self.lms_problem = (f"The LMS could not be set up from the settings: {exc}")
                self._lms = [None]
            if self._lms[0] is None and self.lms_problem is None:
                self.lms_problem = ("No LMS is configured (CONNECTOR_LMS=none), so no LMS user "
                                    "can be looked up.")
        return self._lms[0]


def create_app(store: Store, settings: Settings | None = None, *,
               users: UserDirectory | None = None, demo: bool = False,
               clock: Callable[[], float] = time.time,
               mapping: Callable[[], Mapping] | None = None,
               lms: Callable[[], LearningPlatform | None] | None = None) -> Flask:
    """The console over `store`. Refuses to start without CONNECTOR_CONSOLE_SECRET_KEY
    (a short one too), except for the demo, which makes a random key for its one process.
    `users` defaults to the settings re-read every few seconds (`UserDirectory`); `mapping`
    to the configured mapping file, read on each use; `lms` to the configured LMS."""
    settings = settings or load_settings()
    key = settings.console_secret_key.get_secret_value() if settings.console_secret_key else ""
    if not key and demo:
        key = secrets.token_urlsafe(48)
    if len(key) < MIN_SECRET_KEY:
        raise ConfigError(
            "CONNECTOR_CONSOLE_SECRET_KEY: " + ("not set" if not key else "too short")
            + f"; the console signs its sessions with it: set at least {MIN_SECRET_KEY} "
            "random characters, the same in every console process (docs/console.md)")
    if users is None:
        users_from(settings)  # a bad entry stops the start, naming the entry
        users = UserDirectory(lambda: users_from(load_settings()))
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=key,
        SESSION_COOKIE_NAME="connector_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.console_secure_cookies,
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.console_session_minutes),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.extensions["console"] = ConsoleContext(
        store=store, users=users, session_seconds=settings.console_session_minutes * 60.0,
        login_attempts=settings.console_login_attempts,
        login_window_seconds=float(settings.console_login_window_seconds), clock=clock,
        settings=settings, mapping=mapping or _configured_mapping(settings),
        lms_factory=lms or _configured_lms(settings, store))

    from connector.console import auth, pages

    bp = Blueprint("console", __name__, url_prefix="/console", static_folder="static",
                   static_url_path="/static", template_folder="templates")
    auth.register(bp)
    pages.register(bp)
    app.register_blueprint(bp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("console.overview")))
    app.before_request(_guard)  # app-wide: an unknown /console/… URL is guarded too
    app.after_request(_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreError, _store_error)
    app.context_processor(lambda: {"csrf_token": csrf.token, "user": g.get("user")})
    return app


def _configured_mapping(settings: Settings) -> Callable[[], Mapping]:
    def read() -> Mapping:
        from connector.runtime import resolve_mapping_path
        from mappings.loader import load_mapping

        return load_mapping(resolve_mapping_path(settings))
    return read


def _configured_lms(settings: Settings, store: Store) -> Callable[[], LearningPlatform | None]:
    def build() -> LearningPlatform | None:
        from connector.runtime import build_lms

        return build_lms(settings, store)
    return build


def console() -> ConsoleContext:
    ctx: ConsoleContext = current_app.extensions["console"]
    return ctx


def _guard() -> Response | None:
    """Before every console request: CSRF on a POST, then the signed-in user as the settings
    say now (gone, or a changed password: signed out), and the session's age."""
    if request.method == "POST":
        csrf.check()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = signed_in_user()
    if user is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.sign_in", next=target))
    g.user = user
    return None


def signed_in_user() -> ConsoleUser | None:
    name, fingerprint, at = session.get("user"), session.get("fp"), session.get("at")
    if not (isinstance(name, str) and isinstance(at, int | float)):
        return None
    ctx = console()
    user = ctx.users.get(name)
    fresh = ctx.clock() - at < ctx.session_seconds
    if user is None or user.fingerprint != fingerprint or not fresh:
        session.pop("user", None)
        return None
    return user


def _headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"  # pages carry personal data
    return response


def _http_error(exc: HTTPException) -> Any:
    code = exc.code or 500
    return render_template("error.html", code=code, title=exc.name,
                           description=exc.description), code


def _store_error(exc: StoreError) -> Any:
    return render_template("error.html", code=503, title="Database unavailable",
                           description="The connector's database did not answer; try again "
                                       "in a moment."), 503
