"""CSRF tokens: one random token per session, sent back by every form and compared in
constant time. The session cookie is signed, so the token cannot be planted from outside;
SameSite=Lax is the second line. Small enough not to need a form library."""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

FIELD = "csrf_token"


def token() -> str:
    """This session's token (made on first use)."""
    value = session.get(FIELD)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[FIELD] = value
    return value


def check() -> None:
    """Refuse a state change without the session's token: 400 missing, 403 wrong."""
    sent = request.form.get(FIELD)
    if not sent:
        abort(400, description="the form was sent without its security token; reload the "
                               "page and try again")
    expected = session.get(FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(403, description="the form's security token does not match this session "
                               "(an old page, or a session that ended); reload and try again")
