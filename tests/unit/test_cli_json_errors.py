"""`--json` everywhere it is offered, errors included: a command asked for JSON that fails
(bad arguments, bad settings, a runtime failure) prints `{"error", "exit_code"}` on stdout,
never plain text, and its human line on stderr."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from connector.cli import build_parser, main

# Every command offering --json, with arguments that get it past argparse to its work.
ARGUMENTS: dict[tuple[str, ...], list[str]] = {
    ("plan",): ["--reviews", "reviews.csv"],
    ("status",): [],
    ("trace",): ["E1"],
    ("dead-letters", "list"): [],
    ("dead-letters", "replay"): ["--all"],
    ("identities", "pending"): [],
    ("identities", "link"): ["E1", "101"],
    ("identities", "ignore"): ["E1"],
    ("approvals", "list"): [],
    ("approvals", "approve"): ["--all"],
    ("approvals", "reject"): ["--all"],
    ("backfill",): ["--since", "2026-01-01"],
    ("withdraw",): ["--review", "R1"],
    ("reconcile",): [],
    ("approvals", "show"): ["1"],
    ("stops", "list"): [],
    ("stops", "show"): ["1"],
    ("stops", "confirm"): ["1"],
    ("stops", "discard"): ["1"],
    ("mapping", "preview"): ["edited.toml"],
    ("report",): ["overdue"],
    ("notify", "send"): [],
}
USES_THE_STORE = sorted(set(ARGUMENTS) - {("plan",)})


def json_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                  ) -> list[tuple[str, ...]]:
    """Every (sub)command path whose parser has a `--json` option."""
    found = [path] if any("--json" in a.option_strings for a in parser._actions) else []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += json_commands(sub, (*path, name))
    return found


@pytest.fixture(autouse=True)
def clean_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env or connector.db from the checkout
    for name in ("CONNECTOR_DATABASE_URL", "CONNECTOR_MAPPING_FILE",
                 "CONNECTOR_WORKER_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    (tmp_path / "reviews.csv").write_text("Employee ID,Skill,Rating\nE1,Negotiation,1\n",
                                          encoding="utf-8")
    return tmp_path


def the_json_error(capsys: pytest.CaptureFixture[str], code: int) -> dict[str, object]:
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # stdout is nothing but the JSON object
    assert document["exit_code"] == code
    assert isinstance(document["error"], str) and document["error"]
    assert f"error: {document['error']}" in captured.err  # the same line for people
    assert "Traceback" not in captured.err
    return document


def test_the_table_names_every_command_that_offers_json() -> None:
    assert sorted(json_commands(build_parser())) == sorted(ARGUMENTS)


@pytest.mark.parametrize("command", sorted(ARGUMENTS), ids=" ".join)
def test_bad_arguments_answer_in_json(command: tuple[str, ...],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, *ARGUMENTS[command], "--json", "--no-such-option"]) == 2
    assert "--no-such-option" in str(the_json_error(capsys, 2)["error"])


@pytest.mark.parametrize("command", sorted(ARGUMENTS), ids=" ".join)
def test_bad_settings_answer_in_json(command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONNECTOR_WORKER_CONCURRENCY", "0")
    assert main([*command, *ARGUMENTS[command], "--json"]) == 2
    assert "CONNECTOR_WORKER_CONCURRENCY" in str(the_json_error(capsys, 2)["error"])


@pytest.mark.parametrize("command", USES_THE_STORE, ids=" ".join)
def test_a_runtime_failure_answers_in_json(command: tuple[str, ...], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'no' / 'such' / 'c.db'}")
    assert main([*command, *ARGUMENTS[command], "--json"]) == 1
    assert "database" in str(the_json_error(capsys, 1)["error"])


def test_bad_input_to_plan_answers_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--reviews", "missing.csv", "--json"]) == 2
    assert "missing.csv" in str(the_json_error(capsys, 2)["error"])


def test_without_json_errors_stay_off_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--reviews", "missing.csv"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error: missing.csv" in captured.err
