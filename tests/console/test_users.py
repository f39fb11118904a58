"""Console users from settings: Argon2id hashes from `hash-password`, bad entries named
without their hash, and the CLI command that makes a hash."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from connector.cli import main
from connector.console.users import Role, hash_password, parse_users, verify
from connector.errors import ConfigError


def test_a_hash_verifies_its_password_only() -> None:
    made = hash_password("correct horse battery")
    assert made.startswith("$argon2id$")
    [user] = parse_users(f"ada:operator:{made}").values()
    assert user.role is Role.OPERATOR and user.can_act
    assert verify(user, "correct horse battery")
    assert not verify(user, "correct horse batterY")
    assert not verify(None, "correct horse battery")
    assert made not in repr(user)


def test_a_short_password_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        hash_password("short")


@pytest.mark.parametrize(("text", "message"), [
    ("ada", "entry 1: expected name:role:hash"),
    ("ada:boss:$argon2id$x", r"entry 1 \(ada\): role must be viewer or operator"),
    ("ada:viewer:plaintext", r"entry 1 \(ada\): not an Argon2 hash"),
    ("a:viewer:$argon2id$x a:viewer:$argon2id$y", "entry 2: user 'a' is listed twice"),
])
def test_a_bad_entry_is_named_without_its_hash(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_users(text)
    assert "plaintext" not in str(caught.value) and "$argon2id$x" not in str(caught.value)


def test_hash_password_command_prints_a_usable_hash(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))  # a pipe
    assert main(["console", "hash-password"]) == 0
    [user] = parse_users(f"ada:viewer:{capsys.readouterr().out.strip()}").values()
    assert verify(user, "correct horse battery")
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["console", "hash-password"]) == 2
    assert "at least 12" in capsys.readouterr().err


def test_connector_console_refuses_to_start_without_a_secret_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.delenv("CONNECTOR_CONSOLE_SECRET_KEY", raising=False)
    assert main(["console", "--port", "0"]) == 2
    assert "CONNECTOR_CONSOLE_SECRET_KEY: not set" in capsys.readouterr().err
