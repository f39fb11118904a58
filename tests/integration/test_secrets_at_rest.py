"""Kept credentials are encrypted at rest: the key from settings (with rotation), a generated
key file for SQLite, a refusal on PostgreSQL without a key, and no key in any message."""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connector.cli import main
from connector.errors import ConfigError
from connector.runtime import build_runtime
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.orangehrm import create_app
from connector.secrets import (
    EncryptedSecrets,
    SecretsKey,
    kept_secrets,
    key_file,
    key_from_settings,
)
from connector.store import Store
from tests.integration.test_token_chain import (
    CURSOR,
    consent,
    grants,
    settings_for,
    start_and_poll,
)

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    # some deployments enable client credentials too: with them nothing is kept
    running = serve(create_app(token_ttl=3600, client_credentials=True), "orangehrm")
    yield running
    running.stop()


def test_sqlite_without_a_key_makes_an_owner_only_key_file_once_and_reuses_it(
        sim: RunningSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    settings = settings_for(url, sim, consent(sim), secrets_key=None)
    with caplog.at_level(logging.WARNING, logger="connector.secrets"):
        start_and_poll(settings)
        start_and_poll(settings)
    key_file = tmp_path / "connector.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    announced = [r.getMessage() for r in caplog.records if "secrets key" in r.getMessage()]
    assert len(announced) == 1 and str(key_file) in announced[0]
    key = key_file.read_text().strip()
    assert key not in announced[0]
    assert grants(sim)["refresh_token"] == 1  # the second start decrypted the kept grant
    store = Store.open(url)
    sealed = store.cursor(CURSOR)
    store.close()
    assert sealed is not None
    assert Fernet(key.encode()).decrypt(sealed.encode())  # sealed with the file's key


def test_no_key_file_without_a_secret_to_keep(sim: RunningSimulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    settings = settings_for(url, sim, consent(sim), secrets_key=None,
                            orangehrm_refresh_token=None)  # client credentials: nothing kept
    start_and_poll(settings)
    assert not (tmp_path / "connector.db.key").exists()


def test_postgresql_with_a_token_to_keep_and_no_key_refuses_to_start(
        sim: RunningSimulator, pg_database_url: str) -> None:
    settings = settings_for(pg_database_url, sim, consent(sim), secrets_key=None)
    store = Store.open(pg_database_url)
    try:
        with pytest.raises(ConfigError) as refused:
            build_runtime(settings, store=store)
    finally:
        store.close()
    message = str(refused.value)
    assert "CONNECTOR_SECRETS_KEY is not set" in message
    assert "connector secrets new-key" in message
    assert grants(sim)["refresh_token"] == 0  # refused before any vendor call
    # Without a secret to keep (client credentials), the same deployment starts.
    start_and_poll(settings_for(pg_database_url, sim, consent(sim), secrets_key=None,
                                orangehrm_refresh_token=None))


def test_key_rotation_first_key_encrypts_all_decrypt_and_old_values_are_resealed(
        sim: RunningSimulator, database_url: str) -> None:
    refresh = consent(sim)
    start_and_poll(settings_for(database_url, sim, refresh, secrets_key=OLD))
    start_and_poll(settings_for(database_url, sim, refresh, secrets_key=f"{NEW}, {OLD}"))
    store = Store.open(database_url)
    sealed = store.cursor(CURSOR)
    store.close()
    assert sealed is not None
    Fernet(NEW.encode()).decrypt(sealed.encode())  # re-sealed with the first key on read
    start_and_poll(settings_for(database_url, sim, refresh, secrets_key=NEW))  # old key gone
    assert grants(sim)["refresh_token"] == 1


def test_a_lost_key_is_named_without_quoting_any_key(
        sim: RunningSimulator, database_url: str) -> None:
    refresh = consent(sim)
    start_and_poll(settings_for(database_url, sim, refresh, secrets_key=OLD))
    with pytest.raises(ConfigError) as lost:
        start_and_poll(settings_for(database_url, sim, refresh, secrets_key=NEW))
    message = str(lost.value)
    assert "CONNECTOR_SECRETS_KEY" in message and OLD not in message and NEW not in message


def test_a_malformed_key_is_refused_without_being_quoted(
        sim: RunningSimulator, sqlite_url: str) -> None:
    bad = "not-a-fernet-key-but-still-secret"
    settings = settings_for(sqlite_url, sim, consent(sim), secrets_key=f"{NEW},{bad}")
    with pytest.raises(ConfigError) as refused:
        key_from_settings(settings)
    assert "key 2 of 2" in str(refused.value) and bad not in str(refused.value)


def test_the_key_never_shows_in_a_repr(sim: RunningSimulator, sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, sim, consent(sim), secrets_key=NEW)
    store = Store.open(sqlite_url)
    kept = kept_secrets(settings, store)
    kept.save("x", "the-plain-value")
    assert kept.load("x") == "the-plain-value"
    for text in (repr(kept), repr(SecretsKey([NEW.encode()], origin="test")), repr(settings)):
        assert NEW not in text
    assert isinstance(kept, EncryptedSecrets)
    store.close()


def test_new_key_prints_a_fernet_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secrets", "new-key"]) == 0
    Fernet(capsys.readouterr().out.strip().encode())  # a valid key


def test_processes_making_the_key_file_at_once_end_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "connector.db.key"
    announced: list[str] = []
    keys: list[SecretsKey] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        keys.append(key_file(path, announce=announced.append))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    sealed = keys[0].seal("x")
    assert all(k.open(sealed) == ("x", True) for k in keys)  # one key for all
    assert len(announced) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["connector.db.key"]  # no leftovers


def test_a_place_where_the_key_file_cannot_be_made_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        key_file(tmp_path / "gone" / "connector.db.key")  # its folder does not exist
    assert "CONNECTOR_SECRETS_KEY" in str(refused.value) and "gone" in str(refused.value)
