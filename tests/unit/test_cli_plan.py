"""The command line: check, plan (table and JSON), demo, exit codes, and no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MAPPING = ROOT / "mappings" / "example.toml"

REVIEWS = """employee_id,first_name,last_name,role,review_id,cycle,completed_at,skill,rating
E1,Ana,Lopez,Account Executive,R1,2026-H1,2026-03-01,Negotiation skills,2
E1,Ana,Lopez,Account Executive,R1,2026-H1,2026-03-01,Public speaking,1
E2,Ben,Okafor,Software Engineer,R2,2026-H1,2026-03-01,Technical skills,3
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings read CONNECTOR_* and .env from the working directory: keep both out.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CONNECTOR_"):
            monkeypatch.delenv(name)


def reviews_file(tmp_path: Path, text: str = REVIEWS) -> str:
    path = tmp_path / "reviews.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_summarises_the_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--mapping", str(EXAMPLE_MAPPING)]) == 0
    out = capsys.readouterr().out
    assert "mapping OK" in out
    assert "8 skills, 8 rules, 3 roles, 17 courses" in out


def test_check_uses_the_built_in_example_from_any_directory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 0
    assert "mappings/example.toml (built in)" in capsys.readouterr().out


def test_check_follows_connector_mapping_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONNECTOR_MAPPING_FILE", str(tmp_path / "missing.toml"))
    assert main(["check"]) == 2
    assert "missing.toml: mapping file not found" in capsys.readouterr().err


def test_bad_mapping_exits_2_with_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[skills]]\nid = "a"\n[[rules]]\nskill = "b"\ncourses = ["1"]\n')
    assert main(["check", "--mapping", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert "rules[0].skill: unknown skill 'b'" in captured.err
    assert "Traceback" not in captured.err


def test_plan_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "--reviews", reviews_file(tmp_path), "--today", "2026-03-10"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 reviews → 2 learners, 5 enrollments, 2 goals; 1 unmapped" in out
    row = next(line for line in out.splitlines() if line.startswith("Ana Lopez") and "101" in line)
    assert "negotiation" in row and "2→4" in row and "2026-04-24" in row
    assert "Raise negotiation from 2 to 4 (2026-H1)" in row
    assert "Unmapped (1)" in out and "Public speaking" in out and "unknown skill" in out


def test_plan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "--reviews", reviews_file(tmp_path), "--json", "--today", "2026-03-10"]
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["enrollments"] == 5
    keys = [a["key"] for a in document["actions"]]
    assert keys[:3] == ["learner:E1", "goal:E1/negotiation/2026-H1",
                        "enroll:E1:101:E1/negotiation/2026-H1"]
    assert document["unmapped"][0]["skill_key"] == "Public speaking"
    assert document["rejected_rows"] == []


def test_rejected_rows_exit_2_unless_partial_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = reviews_file(tmp_path, REVIEWS + "E3,,,,R3,2026-H1,yesterday,Negotiation,1\n")
    assert main(["plan", "--reviews", path]) == 2
    captured = capsys.readouterr()
    assert "reviews.csv:5: completed_at 'yesterday'" in captured.out
    assert "1 row(s)" in captured.err and "--allow-partial" in captured.err
    assert main(["plan", "--reviews", path, "--allow-partial", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["rejected_rows"][0]["row_number"] == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--reviews", "nope.csv"], "nope.csv: review file not found"),
        (["plan", "--reviews", "x.csv", "--mapping", "nope.toml"], "nope.toml: mapping file"),
    ],
)
def test_bad_input_never_shows_a_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["plan"]) == 2
    assert main(["plan", "--reviews", "x", "--today", "March"]) == 2
    captured = capsys.readouterr()
    assert "expected YYYY-MM-DD" in captured.err and "usage: connector plan" in captured.err
    assert captured.out == ""  # no --json: stdout stays empty


def test_demo_plan_only_plans_the_bundled_reviews(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--plan-only"]) == 0
    out = capsys.readouterr().out
    assert "20 reviews →" in out and "0 rejected rows" in out
    assert "protected" in out  # E9000 is in the example mapping's protected list


def test_parser_is_extensible() -> None:
    parser = build_parser()
    extra = parser.subcommands.add_parser("noop")
    extra.set_defaults(func=lambda args: 0)
    assert parser.parse_args(["noop"]).func(None) == 0


def test_console_entry_point_version_and_bad_file(tmp_path: Path) -> None:
    run = [sys.executable, "-c", "import sys; from connector.cli import main; sys.exit(main())"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    version = subprocess.run([*run, "--version"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, check=False, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("connector ")
    broken = tmp_path / "broken.toml"
    broken.write_text("[scale\n")
    result = subprocess.run([*run, "check", "--mapping", str(broken)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "line 1, column" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_type_range_and_reference_errors_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[skills]]\nid = "a"\n[[rules]]\nskill = "b"\ncourses = [true]\n'
                   "[targets]\ndefault = 9\n")
    assert main(["check", "--mapping", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    assert "rules[0].courses[0]: expected a course id" in err  # type
    assert "targets.default: 9 is outside the scale 1-5" in err  # range
    assert "rules[0].skill: unknown skill 'b'" in err  # reference


EMAIL_ONLY = """\
Employee Email,First Name,Last Name,Job Title,Review ID,Cycle,Completed On,Skill,Rating
Ana.Lopez@Example.com,Ana,Lopez,Account Executive,R1,2026-H1,2026-03-01,Negotiation skills,2
ben@example.com,,,Software Engineer,R2,2026-H1,2026-03-01,Technical skills,2
"""


def test_plan_on_an_email_keyed_file_works_before_any_vendor_is_set_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No CONNECTOR_* settings at all (the fixture clears them): the dry run still plans, shows
    each person by email and says they will be resolved by email."""
    path = reviews_file(tmp_path, EMAIL_ONLY)
    assert main(["plan", "--reviews", path, "--today", "2026-03-10"]) == 0
    out = capsys.readouterr().out
    assert "2 people given by email only: each will be resolved by email" in out
    assert "Ana Lopez (ana.lopez@example.com, by email)" in out
    assert "ben@example.com (by email)" in out
    assert main(["plan", "--reviews", path, "--today", "2026-03-10", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["people_by_email"] == 2
    assert {a["resolve_by"] for a in document["actions"]} == {"email"}
    assert document["actions"][0]["employee"]["employee_id"] == "ana.lopez@example.com"


def test_plan_rejects_out_of_scale_and_conflicting_ratings_with_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = reviews_file(tmp_path, REVIEWS + "E3,,,,R3,2026-H1,2026-03-01,Negotiation skills,7\n"
                        "E4,,,,R4,2026-H1,2026-03-01,Negotiation skills,2\n"
                        "E4,,,,R4,2026-H1,2026-03-01,Negotiation skills,two\n"
                        "E5,,,,R5,2099-03-01,2099-03-01,Negotiation skills,3\n")
    assert main(["plan", "--reviews", path, "--today", "2026-03-10"]) == 2
    captured = capsys.readouterr()
    assert "reviews.csv:5: rating 7 is outside the mapping's scale 1-5" in captured.out
    assert "reviews.csv:7: rating 'two' is not a number, nor a label" in captured.out
    assert "reviews.csv:8: review 'R5': completed_at 2099-03-01 00:00 UTC is in the future" \
        in captured.out
    assert "2 row(s)" in captured.err
    assert main(["plan", "--reviews", path, "--allow-partial", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [r["row_number"] for r in document["rejected_rows"]] == [5, 7]
    assert any("in the future" in w for w in document["warnings"])


def test_plan_warns_about_ignored_columns_in_the_long_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = REVIEWS.replace("rating\n", "rating,Department\n", 1)
    assert main(["plan", "--reviews", reviews_file(tmp_path, text)]) == 0
    assert "warning: ignored columns (not known headers or skills): Department" in \
        capsys.readouterr().out
