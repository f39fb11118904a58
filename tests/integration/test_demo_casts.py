"""`connector demo --lms/--goals`: the whole loop runs, and its end-state checks pass, with the
vendor combinations customers run beside the default one."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.demo.run import run_demo


@pytest.mark.slow
@pytest.mark.parametrize(("lms", "goals"), [("moodle", "hibob"), ("moodle", "moodle"),
                                             ("talentlms", "hibob")])
def test_the_demo_passes_its_checks_with(lms: str, goals: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = run_demo(tmp_path / "demo.db", employees=20, quiet=True,
                    cast={"lms": lms, "goals": goals, "reviews": None})
    out = capsys.readouterr().out
    assert code == 0, out
    assert "✘" not in out and out.count("✔") >= 3
