"""Notifications as operators meet them: `serve` sends on its own, `connector notify test`
proves a channel, `notify send --dry-run` shows what would go, and with no channel set the
command says which settings switch them on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from connector.cli import main
from connector.demo.sandboxes import sandbox_settings, start_sandboxes
from connector.runtime import build_runtime
from connector.service import Service
from connector.store import Store
from tests.support.ledger_states import dead_letter
from tests.support.notify_receivers import Hook


def test_serve_sends_what_waits_on_its_own(tmp_path: Path, hook: Hook) -> None:
    sb = start_sandboxes()
    rt = build_runtime(sandbox_settings(sb, f"sqlite:///{tmp_path / 'c.db'}",
                                        notify_webhook_url=hook.url, notify_every_seconds=0.2,
                                        console_url="https://hr-console.example.com"))
    try:
        job_id = dead_letter(rt.store)
        service = Service(rt, port=0, poll_seconds=3600)
        service.start()
        try:
            started = time.monotonic()
            while not hook.bodies:
                assert time.monotonic() - started < 5, "serve sent no notification in 5 s"
                time.sleep(0.05)
            time.sleep(0.5)  # two more rounds: nothing more to say
        finally:
            service.stop()
    finally:
        rt.close()
        sb.stop()
    [body] = hook.bodies
    assert f"job #{job_id}" in body["text"]
    assert "https://hr-console.example.com/console/dead-letters" in body["text"]


def test_the_commands(tmp_path: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    assert main(["notify", "test"]) == 2
    assert "CONNECTOR_NOTIFY_WEBHOOK_URL" in capsys.readouterr().err

    monkeypatch.setenv("CONNECTOR_NOTIFY_WEBHOOK_URL", hook.url)
    assert main(["notify", "test"]) == 0
    assert "✔ webhook: sent" in capsys.readouterr().out
    assert hook.texts() == ["test message\nNotifications reach you from here.\n"
                            "Open: http://127.0.0.1:8081/console"]

    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        job_id = dead_letter(store)
    finally:
        store.close()
    assert main(["notify", "send", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "webhook": {"dead_letter": [f"job #{job_id} (nonsense)"]}}
    assert len(hook.bodies) == 1  # a dry run sends nothing
    assert main(["notify", "send"]) == 0
    assert "sent 1 webhook:dead_letter" in capsys.readouterr().out
    assert main(["notify", "send"]) == 0
    assert "nothing new to send" in capsys.readouterr().out

    hook.status = 404
    assert main(["notify", "test"]) == 1
    out = capsys.readouterr().out
    assert "✘ webhook: notification webhook at 127.0.0.1 answered 404" in out
    assert "s3cr3t" not in out
