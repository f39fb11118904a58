"""`connector mapping preview FILE` and `connector report NAME` over a real store: the same
operations as the console's pages, so the CLI and the console say the same."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from connector.cli import main
from connector.store import Store
from tests.console.conftest import EVIL, EXAMPLE_MAPPING, seed


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    store = Store.open(database_url)
    try:
        seed(store)
    finally:
        store.close()
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("CONNECTOR_MAPPING_FILE", str(EXAMPLE_MAPPING))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_mapping_preview_prints_what_an_edit_changes(env: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    edited = env / "edited.toml"
    edited.write_text(EXAMPLE_MAPPING.read_text(encoding="utf-8").replace(
        'courses = ["101", "102"]', 'courses = ["101", "118"]'), encoding="utf-8")
    assert main(["mapping", "preview", str(edited)]) == 0
    out = capsys.readouterr().out
    assert "2 assignment(s) added, 2 no longer made, 3 unchanged" in out
    # By the LMS title the worker last read, or as "course N" before any was read.
    assert "  + Grace Hopper (E2): course 118" in out
    assert "  - Grace Hopper (E2): Closing the deal (102)" in out
    assert main(["mapping", "preview", str(edited), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["counts"] == {"added": 2, "removed": 2, "unchanged": 3}
    removed = [c for g in document["groups"] for c in g["removed"] if c["course"] == "102"]
    assert removed and {c["course_title"] for c in removed} == {"Closing the deal"}


def test_an_invalid_edit_exits_2_with_every_problem(env: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    broken = env / "broken.toml"
    broken.write_text("[scale]\nmin = 'x'\n\n[[rules]]\nskill = 'nope'\n", encoding="utf-8")
    assert main(["mapping", "preview", str(broken)]) == 2
    err = capsys.readouterr().err
    preview = err[err.index("error:"):]  # log lines an earlier test's logging set-up adds
    assert main(["check", "--mapping", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err[err.index("error:"):] == preview  # the very words of `connector check`
    assert "3 problems" in preview


def test_report_prints_a_table_csv_and_json(env: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "gaps-by-skill"]) == 0
    assert "Skill gaps by skill" in capsys.readouterr().out
    assert main(["report", "overdue", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[1][1] == "'" + EVIL + " Smith"
    assert main(["report", "goals-by-week", "--json"]) == 0
    weeks = json.loads(capsys.readouterr().out)["rows"]
    assert sum(w["opened"] for w in weeks) == 3 and sum(w["closed"] for w in weeks) == 1
    assert all(w["week"][4:6] == "-W" for w in weeks)  # every week between, none skipped
    assert main(["report", "nothing"]) == 2
