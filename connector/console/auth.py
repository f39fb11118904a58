"""Signing in and out. Failed sign-ins are counted in the store per user name and per
client address (`store.logins`), so every console process shares one limit."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from connector.console import csrf
from connector.console.app import console
from connector.console.users import verify

log = logging.getLogger(__name__)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/sign-in", "sign_in", sign_in, methods=["GET", "POST"])
    bp.add_url_rule("/sign-out", "sign_out", sign_out, methods=["POST"])


def _safe_next(target: str | None) -> str:
    """Only a console path of this site: never an address elsewhere (an open redirect)."""
    if target and target.startswith("/console") and "//" not in target and "\\" not in target:
        return target
    return url_for("console.overview")


def sign_in() -> Any:
    ctx = console()
    no_users = not ctx.users.current()
    if request.method == "GET":
        return render_template("sign_in.html", next=request.args.get("next", ""),
                               no_users=no_users, error=None)
    name = request.form.get("name", "").strip()[:200]
    password = request.form.get("password", "")
    subjects = [f"user:{name}", f"address:{request.remote_addr or '-'}"]
    window = ctx.login_window_seconds
    if any(ctx.store.logins.failures(s, window_seconds=window) >= ctx.login_attempts
           for s in subjects):
        log.warning("console sign-in refused: too many failures", extra={"user": name})
        abort(429, description="Too many failed sign-ins. Wait a few minutes and try again, "
                               "or ask an administrator.")
    user = ctx.users.get(name)
    if not verify(user, password) or user is None:
        ctx.store.logins.record_failure(subjects, window_seconds=window)
        log.info("console sign-in failed", extra={"user": name})
        return render_template("sign_in.html", next=request.form.get("next", ""),
                               no_users=no_users,
                               error="That name and password do not match."), 401
    ctx.store.logins.clear(subjects[0])
    session.clear()  # a fresh session (and CSRF token) at every sign-in
    session.permanent = True
    session.update(user=user.name, fp=user.fingerprint, at=ctx.clock())
    csrf.token()
    log.info("console sign-in", extra={"user": user.name, "role": str(user.role)})
    return redirect(_safe_next(request.form.get("next")))


def sign_out() -> Any:
    session.clear()
    return redirect(url_for("console.sign_in"))
