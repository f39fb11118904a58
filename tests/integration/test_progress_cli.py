"""The progress of `connector import` and `connector worker --drain` as an operator sees it
off a terminal (standard error, plain lines: done / total, rate, ETA), and `--quiet` turning it
off, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli import main

EXAMPLE = Path("mappings/example.toml").resolve()
HEADER = ("employee_id,email,role,review_id,cycle,completed_at,skill,rating\n")


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "max_assignment_share = 0.5", ""), encoding="utf-8")
    for name, value in {"DATABASE_URL": database_url, "MAPPING_FILE": str(mapping),
                        "LMS": "none", "GOAL_TRACKER": "none", "REVIEW_SOURCES": "csv",
                        "DIRECTORY": "none", "LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(f"CONNECTOR_{name}", value)
    monkeypatch.chdir(tmp_path)
    reviews = tmp_path / "reviews.csv"  # no gap: each job is done without a vendor
    reviews.write_text(HEADER + "".join(
        f"E{i},e{i}@example.com,Account Executive,R{i},2026-H1,2026-06-30,Negotiation,5\n"
        for i in range(3)), encoding="utf-8")
    return reviews


def test_import_and_drain_report_progress_off_a_terminal(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "--reviews", str(env)]) == 0
    captured = capsys.readouterr()
    assert "import: 3/3 reviews (100 %)" in captured.err
    assert "import:" not in captured.out  # the summary stays alone on standard output
    main(["worker", "--drain"])
    err = capsys.readouterr().err
    assert "worker: 3/3 jobs (100 %)" in err and "ETA 0 s" in err


def test_quiet_prints_no_progress(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "--reviews", str(env), "--quiet"]) == 0
    main(["worker", "--drain", "--quiet"])
    captured = capsys.readouterr()
    assert "import:" not in captured.err and "worker:" not in captured.err
    assert "3 queued" in captured.out
