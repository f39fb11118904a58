"""The skip rule of tests/conftest.py, run for real: a tiny pytest run in a subprocess, with the
suite's own hooks, under CI=true and outside it."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
import tests.conftest as suite
from tests.conftest import (  # the hooks under test, as the suite has them
    pytest_make_collect_report,
    pytest_runtest_makereport,
    pytest_terminal_summary,
)

suite.ALLOWED_SKIPS["no tiny printer here"] = "the tiny run's own allowed entry"
"""

TESTS = """
import pytest

def test_runs():
    pass

def test_allowed_skip():
    pytest.skip("no tiny printer here")

def test_missing_input():
    pytest.skip("tiny spec not found at /nowhere/spec.yaml")

@pytest.mark.skip(reason="switched off by a mark")
def test_marked():
    pass

@pytest.mark.xfail(reason="a known bug, not a skip", strict=True)
def test_expected_failure():
    assert False
"""


def run(tmp_path: Path, *args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent(TESTS), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_under_ci_a_skip_not_on_the_allow_list_fails_the_run(tmp_path: Path) -> None:
    done = run(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout
    assert "skipped under CI=true: tiny spec not found at /nowhere/spec.yaml" in done.stdout
    assert "skipped under CI=true: switched off by a mark" in done.stdout
    # The skip in the test's body fails it; the mark's skip (at set-up) is an error.
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error" in done.stdout


def test_under_ci_an_allowed_skip_passes(tmp_path: Path) -> None:
    done = run(tmp_path, "-k", "runs or allowed or expected", ci=True)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout


def test_outside_ci_skips_pass_and_say_what_is_missing(tmp_path: Path) -> None:
    done = run(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout
    assert "skips CI would refuse" in done.stdout
    assert "test_missing_input: tiny spec not found at /nowhere/spec.yaml" in done.stdout
    after = done.stdout.split("skips CI would refuse", 1)[1].splitlines()[1:]
    section = "\n".join(itertools.takewhile(lambda line: not line.startswith("="), after))
    assert "no tiny printer here" not in section
    assert "switched off by a mark" in section


def test_under_ci_a_module_skipped_whole_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_gone.py").write_text(
        "import pytest\npytest.importorskip('no_such_module_here')\n", encoding="utf-8")
    done = run(tmp_path, "test_gone.py", ci=True)
    assert done.returncode != 0, done.stdout
    assert "skipped under CI=true" in done.stdout
    assert "no_such_module_here" in done.stdout


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_ci_is_read_from_the_environment(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import in_ci

    monkeypatch.setenv("CI", value)
    assert in_ci()
    monkeypatch.setenv("CI", "false")
    assert not in_ci()
