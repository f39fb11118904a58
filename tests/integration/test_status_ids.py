"""`connector status` says how the goal tracker's id for a person is found, so an operator
with no directory configured learns what is used instead (text and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli import main


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)


def test_status_names_what_is_used_without_a_directory(
        env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONNECTOR_DIRECTORY", "none")
    assert main(["status", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["goal_tracker_ids"]
    assert said.startswith("no directory for BambooHR") and "CONNECTOR_DIRECTORY" in said
    assert main(["status"]) == 0
    assert "goal tracker ids: no directory for BambooHR" in capsys.readouterr().out


def test_status_says_ids_come_from_the_directory_by_default(
        env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["goal_tracker_ids"]
    assert said.startswith("BambooHR ids from its directory, matched by email")
