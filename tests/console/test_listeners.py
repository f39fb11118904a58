"""The console is served on its own listener, beside the receiver in `connector serve`, and
never by the receiver's app (`webhooks.wsgi:app` included)."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import pytest
import requests

from connector.errors import ConfigError
from connector.runtime import build_runtime
from connector.service import Service
from connector.settings import Settings
from webhooks.app import create_app as create_receiver


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", lms="none",
                    goal_tracker="none", review_sources="csv", directory="none",
                    console_secret_key="k" * 40)


def test_serve_runs_the_console_beside_the_receiver(tmp_path: Path) -> None:
    rt = build_runtime(_settings(tmp_path))
    service = Service(rt, port=0, console_port=0, poll_seconds=3600)
    try:
        receiver = service.start()
        assert service.console_url is not None and service.console_url != receiver
        page = requests.get(f"{service.console_url}/console/people", timeout=10,
                            allow_redirects=False)
        assert page.status_code == 302
        assert "/console/sign-in" in page.headers["Location"]
        sign_in = requests.get(f"{service.console_url}/console/sign-in", timeout=10)
        assert sign_in.status_code == 200 and "Sign in" in sign_in.text
        assert requests.get(f"{receiver}/console", timeout=10).status_code == 404
        assert requests.get(f"{receiver}/console/sign-in", timeout=10).status_code == 404
    finally:
        service.stop()
        rt.close()


def test_serve_refuses_a_console_without_its_key_before_listening(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(update={"console_secret_key": None})
    rt = build_runtime(settings)
    service = Service(rt, port=0, console_port=0, poll_seconds=3600)
    try:
        with pytest.raises(ConfigError, match="CONNECTOR_CONSOLE_SECRET_KEY: not set"):
            service.start()
        assert service.server is None and not service.threads
    finally:
        rt.close()


def test_serve_without_a_console_port_serves_no_console(tmp_path: Path) -> None:
    rt = build_runtime(_settings(tmp_path))
    service = Service(rt, port=0, poll_seconds=3600)
    try:
        service.start()
        assert service.console_url is None and service.console_server is None
    finally:
        service.stop()
        rt.close()


def test_the_receivers_app_has_no_console_route() -> None:
    app = create_receiver(settings=Settings())
    assert not [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/console")]


def test_the_console_has_its_own_wsgi_entry(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("CONNECTOR_CONSOLE_SECRET_KEY", "k" * 40)
    monkeypatch.delitem(sys.modules, "connector.console.wsgi", raising=False)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # the entry sets up logging
    monkeypatch.setattr(root, "level", root.level)
    module = importlib.import_module("connector.console.wsgi")
    try:
        answer = module.app.test_client().get("/console")
        assert answer.status_code == 302 and "/console/sign-in" in answer.headers["Location"]
    finally:
        module._store.close()
        sys.modules.pop("connector.console.wsgi", None)
