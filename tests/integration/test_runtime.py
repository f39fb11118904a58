"""Wiring from settings against the sandbox vendors: what a process start must get right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.cli import main
from connector.demo.sandboxes import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.pollers import poll_reviews
from connector.runtime import build_runtime
from connector.sandbox.kit import SANDBOX_KEY
from connector.store import Store
from connector.vendors.orangehrm import REFRESH_TOKEN

REFRESH_TOKEN_CURSOR = f"_secret.{REFRESH_TOKEN}"  # where the store keeps it

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    sb = start_sandboxes()
    seed_organisation(sb, employees=6)
    yield sb
    sb.stop()


def test_rotated_orangehrm_refresh_tokens_survive_a_restart(sandboxes: Sandboxes,
                                                           tmp_path: Path) -> None:
    """OrangeHRM revokes a refresh token once used: the second process start must continue
    with the rotated one, which the first kept in the store (and never in a log)."""
    consent = requests.post(f"{sandboxes.orangehrm.url}/_sandbox/oauth/authorize", timeout=10)
    refresh_token = consent.json()["refresh_token"]
    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = sandbox_settings(sandboxes, url, orangehrm_refresh_token=refresh_token,
                                orangehrm_client_secret=None)
    for start in range(3):  # three process starts, each refreshing once
        rt = build_runtime(settings)
        [source] = rt.review_sources
        poll_reviews(rt.store, source)
        saved = rt.store.cursor(REFRESH_TOKEN_CURSOR)
        assert saved is not None and refresh_token not in saved, start
        assert all(p.name != REFRESH_TOKEN_CURSOR for p in rt.store.pollers())
        rt.close()
    store = Store.open(url)
    assert store.inbox_count() == 6
    store.close()


def _env(monkeypatch: pytest.MonkeyPatch, sb: Sandboxes, tmp_path: Path, **over: str) -> None:
    values = {"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
              "TALENTLMS_BASE_URL": sb.talentlms.url, "TALENTLMS_API_KEY": SANDBOX_KEY,
              "BAMBOOHR_BASE_URL": sb.bamboohr.url, "BAMBOOHR_API_KEY": SANDBOX_KEY,
              "ORANGEHRM_BASE_URL": sb.orangehrm.url, "ORANGEHRM_CLIENT_ID": "demo-client",
              "ORANGEHRM_CLIENT_SECRET": SANDBOX_KEY,
              "ORANGEHRM_REFRESH_TOKEN": sb.orangehrm.settings()["orangehrm_refresh_token"],
              "REVIEW_SOURCES": "orangehrm", **over}
    for name, value in values.items():
        monkeypatch.setenv(f"CONNECTOR_{name}", value)
    monkeypatch.chdir(tmp_path)


def test_check_online_confirms_keys_and_courses(sandboxes: Sandboxes, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _env(monkeypatch, sandboxes, tmp_path)
    assert main(["check", "--online", "--mapping", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "✔ talentlms: key accepted" in out
    assert "course ids exist" in out and "✘" not in out


def test_check_online_names_a_rejected_key_and_missing_courses(
        sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(EXAMPLE.read_text(encoding="utf-8").replace('"101"', '"9999"', 1),
                       encoding="utf-8")
    _env(monkeypatch, sandboxes, tmp_path)
    assert main(["check", "--online", "--mapping", str(mapping)]) == 1
    assert "do not exist: 9999" in capsys.readouterr().out
    _env(monkeypatch, sandboxes, tmp_path, BAMBOOHR_API_KEY="wrong-key-123")
    assert main(["check", "--online", "--mapping", str(EXAMPLE)]) == 1
    out = capsys.readouterr().out
    assert "✘ bamboohr directory" in out and "wrong-key-123" not in out


def test_demo_refuses_a_foreign_database_without_writing_to_it(tmp_path: Path) -> None:
    """README: the demo "refuses to touch any other" database: not one byte is written."""
    import hashlib
    import sqlite3

    from connector.demo.run import prepare_database
    from connector.errors import InputError

    foreign = tmp_path / "payroll.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO people (name) VALUES ('Ann')")
    before = hashlib.sha256(foreign.read_bytes()).hexdigest()
    with pytest.raises(InputError, match="was not made by the demo"):
        prepare_database(foreign)
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["payroll.db"]  # no -wal, no -shm
    with sqlite3.connect(foreign) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["people"]
    demo = tmp_path / "demo.db"
    prepare_database(demo)
    prepare_database(demo)  # an earlier demo's database is replaced


def test_sync_once_reports_a_directory_stop_after_the_other_streams_ran(
        sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from connector.models import Employee

    # Ids taken as the same everywhere: every ledger person is judged by the directory read.
    _env(monkeypatch, sandboxes, tmp_path, REVIEW_SOURCES="csv", IDENTITY_MATCH_BY="id")
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        assert main(["sync", "--once"]) == 0  # the directory's six people are known
        # Someone the directory no longer lists: 1 of 7 leaving is over the 5 % limit.
        store.upsert_employee(Employee(employee_id="9999", email="gone@example.com"))
        capsys.readouterr()
        assert main(["sync", "--once"]) == 2
        out = capsys.readouterr().out
        assert "safety stop: BambooHR directory read stopped before any change (stop #1)" in out
        assert "1 of 7 employees (14%) would be marked as leavers" in out
        assert "jobs: " in out  # the queue was drained: the other work went ahead
        pollers = {p.name: p for p in store.pollers()}
        assert pollers["talentlms.completions"].last_success_at is not None  # not held up
        assert pollers["talentlms.completions"].last_success_at > \
            pollers["bamboohr.directory"].last_success_at  # its cursor waits with the stop
        identity = store.identity("9999")
        assert identity is not None and identity.active
    finally:
        store.close()
