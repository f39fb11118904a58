"""Failed sign-ins are counted in the store, per user name and per client address, so every
console process shares the limit; a success clears the name's count; old failures age out."""

from __future__ import annotations

from flask import Flask

from connector.console import create_app
from connector.settings import Settings
from connector.store import Store
from tests.console.conftest import PASSWORD, Users, csrf_of


def _try(app: Flask, name: str, password: str, address: str = "10.0.0.1") -> int:
    client = app.test_client()
    token = csrf_of(client)
    return client.post("/console/sign-in", data={
        "name": name, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address}).status_code


def _app(store: Store, users: Users, now: list[float]) -> Flask:
    settings = Settings(console_secret_key="k" * 40, console_login_attempts=3,
                        console_login_window_seconds=600)
    return create_app(store, settings, users=users.directory(), clock=lambda: now[0])


def test_the_limit_is_shared_by_every_console_process(database_url: str, users: Users) -> None:
    now = [1_000_000.0]
    one, two = (Store.open(database_url, clock=lambda: now[0]) for _ in range(2))
    try:
        first, second = _app(one, users, now), _app(two, users, now)
        assert [_try(first, "olga", "wrong"), _try(second, "olga", "wrong"),
                 _try(first, "olga", "wrong")] == [401, 401, 401]
        # The fourth try is refused before the password is even checked, in either process.
        assert _try(second, "olga", PASSWORD) == 429
        assert _try(first, "olga", PASSWORD) == 429
        now[0] += 601  # the failures age out of the window
        assert _try(second, "olga", PASSWORD) == 302
        # A success forgot the name's failures.
        assert _try(first, "olga", "wrong") == 401
        assert _try(first, "olga", PASSWORD, address="10.0.0.2") == 302
    finally:
        one.close()
        two.close()


def test_one_address_trying_many_names_is_limited(database_url: str, users: Users) -> None:
    now = [1_000_000.0]
    store = Store.open(database_url, clock=lambda: now[0])
    try:
        app = _app(store, users, now)
        assert [_try(app, name, "wrong") for name in ("a", "b", "c")] == [401] * 3
        assert _try(app, "olga", PASSWORD) == 429
        assert _try(app, "olga", PASSWORD, address="10.0.0.9") == 302
    finally:
        store.close()
