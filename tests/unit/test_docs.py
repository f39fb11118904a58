"""The documentation tells the truth: every check here compares a doc with the code it describes.

- config.example.env lists exactly the settings `Settings` has;
- every `connector ...` command line in the docs (README, docs/*.md, the Procfile and systemd
  units) names a subcommand, and options, that `connector.cli.build_parser()` really has;
- the README's quick start is the two commands a fresh clone needs;
- the annotated mapping in docs/mapping.md loads, and every loader error it quotes is one the
  loader really produces;
- the webhook examples in docs/vendors.md parse with the receiver's own parsers;
- docs/gunicorn.conf.py only sets real gunicorn settings, with the documented defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest

from connector.cli import build_parser
from connector.errors import ConfigError
from connector.models import Review
from connector.settings import variables
from mappings.loader import load_mapping, load_mapping_text
from webhooks.dispatch import declared_sources
from webhooks.lms_body import parse_lms_completion
from webhooks.review_body import ReviewFieldMap, parse_review

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
# "connector" as a command: at the start, or after a space, slash, quote, paren or "=".
_MENTION = re.compile(r"(?:^|(?<=[\s/`'\"(=]))connector[ \t]+([^\n`|;#&]*)", re.M)
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_WORD = re.compile(r"^[a-z][a-z0-9-]*$")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def fenced_blocks(text: str, language: str | None = None) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if language is None or lang == language]


def code_in_markdown(text: str) -> list[str]:
    """Fenced blocks and inline code spans: where command lines are written."""
    code = fenced_blocks(text)
    prose = _FENCE.sub("", text)
    return code + _INLINE.findall(prose)


def block_after(text: str, marker: str) -> str:
    """The first fenced block after an HTML comment marker such as `<!-- doc-test: x -->`."""
    start = text.index(f"<!-- doc-test: {marker} -->")
    found = _FENCE.search(text, start)
    assert found is not None, f"no code block after marker {marker}"
    return found.group(2)


# -- commands --------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return None


def unknown_commands(code: str, parser: argparse.ArgumentParser) -> list[str]:
    """Each `connector ...` command line in `code` whose subcommands or options the parser
    does not have, with the reason."""
    problems: list[str] = []
    for match in _MENTION.finditer(code):
        line = match.group(1).strip()
        tokens = line.split()
        current = parser
        path = ["connector"]
        words = [t for t in tokens if not t.startswith("-")]
        # Descend through subcommands as long as the parser has them.
        for word in words:
            choices = _subcommands(current)
            if choices is None:
                break
            if not _WORD.match(word) or word not in choices:
                problems.append(f"connector {line!r}: {' '.join(path)} has no subcommand {word!r}")
                current = None  # type: ignore[assignment]
                break
            current = choices[word]
            path.append(word)
        if current is None:
            continue
        known = set(current._option_string_actions)
        for option in _OPTION.findall(line):
            if option not in known:
                problems.append(f"connector {line!r}: {' '.join(path)} has no option {option}")
    return problems


def _command_sources() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), DOCS / "Procfile",
            *sorted((DOCS / "systemd").glob("*.service"))]


@pytest.mark.parametrize("path", _command_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_connector_command_in_the_docs_exists(path: Path) -> None:
    text = _read(path)
    code = code_in_markdown(text) if path.suffix == ".md" else [text]
    parser = build_parser()
    problems = [p for snippet in code for p in unknown_commands(snippet, parser)]
    assert not problems, "\n".join(problems)


def test_the_command_check_reads_command_lines() -> None:
    """The checker itself: it finds commands in code, follows nested subcommands and options,
    and ignores the word "connector" used in prose or as part of a name."""
    parser = argparse.ArgumentParser(prog="connector")
    parser.add_argument("--version", action="version", version="x")
    sub = parser.add_subparsers()
    db = sub.add_parser("db").add_subparsers()
    db.add_parser("upgrade")
    sub.add_parser("plan").add_argument("--reviews")

    assert unknown_commands("connector plan --reviews x.csv | head", parser) == []
    assert unknown_commands(".venv/bin/connector db upgrade", parser) == []
    assert unknown_commands("connector --version", parser) == []
    assert unknown_commands("skillgap-connector and connector.cli are names", parser) == []
    assert unknown_commands("connector plan --review x.csv", parser) == [
        "connector 'plan --review x.csv': connector plan has no option --review"]
    assert unknown_commands("X=1 connector serve", parser) == [
        "connector 'serve': connector has no subcommand 'serve'"]
    assert unknown_commands("connector db downgrade", parser) == [
        "connector 'db downgrade': connector db has no subcommand 'downgrade'"]


def test_readme_commands_are_found() -> None:
    """Guards the check above against silently finding nothing."""
    snippets = code_in_markdown(_read(README))
    named = {m.group(1).split()[0] for s in snippets for m in _MENTION.finditer(s)
             if m.group(1).split()}
    assert {"check", "plan", "demo", "worker", "status", "trace", "serve", "sync", "db",
            "import", "dead-letters", "identities", "approvals", "--version"} <= named


# -- README ----------------------------------------------------------------------------------


def test_readme_quick_start_is_two_commands_from_a_fresh_clone() -> None:
    text = _read(README)
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = fenced_blocks(section, "sh")
    assert blocks, "no ```sh block in the quick start"
    assert blocks[0].splitlines() == [
        "make demo   # sets up .venv and runs the whole loop against the sandbox vendors (SQLite)",
        "make test   # sets up .venv and runs every check: ruff, mypy, pytest "
        "(SQLite + PostgreSQL)",
    ]


def test_readme_paths_exist() -> None:
    text = _read(README)
    paths = set(re.findall(r"`((?:docs|webhooks|mappings|connector|bench|tests)/[\w./-]*)`",
                           text))
    assert "docs/mapping.md" in paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"README names files that do not exist: {missing}"


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [README, ROOT / "docs" / "troubleshooting.md"],
                         ids=lambda p: p.name)
def test_trace_examples_name_an_employee_the_demo_creates(path: Path) -> None:
    from connector.demo.org import make_org

    people = {str(p.id) for p in make_org().people}
    traced = re.findall(r"connector trace ([^\s`]+)", _read(path))
    examples = [t for t in traced if t != "EMPLOYEE"]
    assert examples, f"{path.name} shows no `connector trace` example"
    assert set(examples) <= people, f"{path.name}: not made by `make demo`: {examples}"


def test_the_example_reviews_name_the_demos_people() -> None:
    """BambooHR's ids are numbers: the bundled reviews name demo employees by id and email,
    so importing them into the running demo gives no dead letter (the protected one aside)."""
    import csv

    from connector.demo.org import make_org

    people = {str(p.id): p for p in make_org().people}
    protected = set(load_mapping(ROOT / "mappings" / "example.toml").protected)
    path = ROOT / "connector" / "examples" / "reviews.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        if row["Employee ID"] in protected:
            continue
        person = people[row["Employee ID"]]
        assert (row["Email Address"], row["Job Title"]) == (person.email, person.role)


def test_config_example_lists_exactly_the_settings() -> None:
    names = re.findall(r"^(CONNECTOR_[A-Z0-9_]+)=", _read(ROOT / "config.example.env"), re.M)
    assert len(names) == len(set(names)), "a variable is listed twice"
    expected = set(variables())  # the core's settings and every registered vendor's
    assert set(names) - expected == set(), "config.example.env lists unknown settings"
    assert expected - set(names) == set(), "config.example.env misses settings"


# -- mapping ---------------------------------------------------------------------------------


def test_the_annotated_mapping_loads() -> None:
    blocks = fenced_blocks(_read(DOCS / "mapping.md"), "toml")
    assert blocks, "docs/mapping.md has no ```toml example"
    for block in blocks:
        mapping = load_mapping_text(block, "docs/mapping.md")
        assert mapping.skills and mapping.rules
    example = load_mapping_text(blocks[0], "docs/mapping.md")
    assert example.protected == ["E9000"]
    assert example.rule_for("negotiation") is not None


_SKILLS = """
[[skills]]
id = "negotiation"
aliases = ["Negotiation skills", "KPI 12"]
"""
_RULE = _SKILLS + '[[rules]]\nskill = "negotiation"\ncourses = ["101"]\n'
NAME = "mappings/company.toml"

QUOTED_ERRORS = [
    ("[scale]\nmin = 1\nmax = \n",
     f"{NAME}: line 3, column 7: TOML syntax error: Invalid value"),
    ("[scale]\nmin = 1\nmaxx = 5\n",
     "scale.maxx: unknown key 'maxx' (check the spelling; see mappings/example.toml)"),
    (_SKILLS + '[[rules]]\nskill = "negotiation"\ncourses = ["101"]\nmin_gap = "1"\n',
     "rules[0].min_gap: expected a valid number, got '1' (str)"),
    (_SKILLS + '[[rules]]\nskill = "negotiation"\ncourses = []\n',
     "rules[0].courses: expected a non-empty list"),
    (_SKILLS + '[[rules]]\nskill = "negotiation"\ncourses = [1.5]\n',
     "rules[0].courses[0]: expected a course id as a string or an integer, got float"),
    (_SKILLS + '[[rules]]\nskill = "presenting"\ncourses = ["101"]\n',
     "rules[0].skill: unknown skill 'presenting'; add it to [[skills]]"),
    (_SKILLS + '[targets.roles."Account Executive"]\nnegotiaton = 4\n',
     "targets.roles.'Account Executive'.negotiaton: unknown skill 'negotiaton'; "
     "add it to [[skills]]"),
    (_SKILLS + '[[skills]]\nid = "closing"\naliases = ["kpi-12"]\n',
     "skills[1].aliases[0]: 'kpi-12' is already used by skill 'negotiation' "
     "(skills[0].aliases[1]); names must be unique across skills (case, spaces and "
     "punctuation ignored)"),
    (_RULE + '[[rules]]\nskill = "KPI 12"\ncourses = ["102"]\n',
     "rules[1].skill: skill 'negotiation' already has a rule (rules[0]); give each skill one rule"),
    (_RULE + 'goal_title = "Raise {skil}"\n',
     "rules[0].goal_title: unknown placeholder {skil}; allowed: {skill}, {rating}, {target}, "
     "{gap}, {employee}, {cycle}"),
    (_RULE + 'prior_completion = "accept_within_days"\n',
     'rules[0]: accept_within_days is required when prior_completion = "accept_within_days"'),
    (_RULE + "accept_within_days = 30\n",
     'rules[0]: accept_within_days only applies when prior_completion = "accept_within_days"'),
    (_RULE + 'prior_completion = "keep"\n',
     "rules[0].prior_completion: expected 'ignore', 'accept_within_days' or 'reset'"),
    ("[scale]\nmin = 5\nmax = 1\n", "scale: scale.min must be below scale.max"),
    ('[labels]\n"Superb" = 9\n', "labels.Superb: 9 is outside the scale 1-5"),
    ("[targets]\ndefault = 7\n", "targets.default: 7 is outside the scale 1-5"),
    ("[limits]\nmax_assignment_share = 2\n",
     "limits.max_assignment_share: expected less than or equal to 1"),
]


@pytest.mark.parametrize(("text", "message"), QUOTED_ERRORS, ids=lambda v: str(v)[:30])
def test_quoted_mapping_errors_are_the_loaders_own(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_mapping_text(text, NAME)
    assert message in str(caught.value)
    assert message in _read(DOCS / "mapping.md"), "docs/mapping.md does not quote it"


def test_quoted_file_errors_are_the_loaders_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _read(DOCS / "mapping.md")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^mappings/company\.toml: mapping file not found$"):
        load_mapping(NAME)
    assert f"{NAME}: mapping file not found" in doc
    (tmp_path / "mappings").mkdir()
    (tmp_path / NAME).write_bytes(b"[scale]\nmin=\xff\n")
    with pytest.raises(ConfigError) as caught:
        load_mapping(NAME)
    message = f"{NAME}: not UTF-8 text (byte 12); save the file as UTF-8"
    assert str(caught.value) == message
    assert message in doc


# -- vendors: the webhook examples -----------------------------------------------------------


def test_the_review_webhook_example_parses() -> None:
    doc = json.loads(block_after(_read(DOCS / "vendors.md"), "hr-review"))
    review = parse_review(doc, ReviewFieldMap(), source="hr")
    assert isinstance(review, Review)
    assert review.review_id == "R-2026H1-001"
    assert [r.skill_key for r in review.ratings] == ["Negotiation skills", "Customer focus",
                                                     "KPI 3"]


def test_the_review_file_example_is_a_webhook_body_too(tmp_path: Path) -> None:
    """The documented JSON review file is a list of /webhooks/hr bodies: its review reads the
    same through the file reader and the webhook reader."""
    from connector.reviews.file import read_reviews

    text = block_after(_read(DOCS / "vendors.md"), "review-file-json")
    path = tmp_path / "reviews.json"
    path.write_text(text, encoding="utf-8")
    file = read_reviews(path, source="hr")
    (from_file,) = list(file)
    assert file.errors == []
    assert from_file == parse_review(json.loads(text)[0], ReviewFieldMap(), source="hr")
    assert from_file.employee.employee_id == "ben.okafor@example.com"


def test_the_completion_webhook_example_parses() -> None:
    doc = json.loads(block_after(_read(DOCS / "vendors.md"), "lms-completion"))
    event = parse_lms_completion(doc, source="lms", event_id="msg_1")
    assert event is not None
    assert (event.course_id, event.lms_user_id, event.score) == ("103", "1103", 92)


def test_the_declared_source_example_is_accepted_and_verifies() -> None:
    text = block_after(_read(DOCS / "vendors.md"), "webhook-sources")
    [source] = declared_sources(text, environ={"PERFORM_WEBHOOK_SECRET": "s3cret"})
    assert (source.name, source.kind, source.enabled) == ("perform", "review", True)
    raw = json.dumps({
        "id": "rv-9", "period": {"name": "2026-H1"}, "signed_off_at": "2026-03-02T10:00:00Z",
        "subject": {"employee_number": "1001", "email": "a@example.com", "job_title": "AE"},
        "scores": [{"competency": "KPI 12", "score": 2, "given_by": "manager"}],
    }).encode()
    now = 1_772_000_000
    digest = hmac.new(b"s3cret", f"{now}.".encode() + raw, hashlib.sha256).hexdigest()
    headers = {"X-Perform-Signature": f"sha256={digest}", "X-Perform-Timestamp": str(now)}
    assert source.verifier is not None
    source.verifier(raw, headers, float(now))  # raises SignatureError when it does not verify
    review = parse_review(json.loads(raw), source.field_map or ReviewFieldMap(),
                          source="perform")
    assert isinstance(review, Review)
    assert (review.review_id, review.employee.employee_id, review.cycle) == (
        "rv-9", "1001", "2026-H1")


# -- production files ------------------------------------------------------------------------


def _gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("PORT", "GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_THREADS",
                 "GUNICORN_TIMEOUT", "CONNECTOR_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(DOCS / "gunicorn.conf.py"))
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and not callable(v) and not isinstance(v, type(re))}


def test_gunicorn_conf_sets_only_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from gunicorn.config import KNOWN_SETTINGS

    values = _gunicorn_settings(monkeypatch)
    known = {setting.name for setting in KNOWN_SETTINGS}
    assert set(values) - known == set()
    assert values["accesslog"] is None
    assert values["bind"] == ["127.0.0.1:8080"]
    assert 1 <= values["workers"] <= 8
    assert values["timeout"] == 30


def test_gunicorn_conf_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _gunicorn_settings(monkeypatch, PORT="5000", WEB_CONCURRENCY="3",
                                GUNICORN_THREADS="2", GUNICORN_TIMEOUT="10")
    assert values["bind"] == ["0.0.0.0:5000"]
    assert (values["workers"], values["threads"], values["timeout"]) == (3, 2, 10)
    values = _gunicorn_settings(monkeypatch, GUNICORN_BIND="unix:/run/connector.sock")
    assert values["bind"] == ["unix:/run/connector.sock"]
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY must be a whole number"):
        _gunicorn_settings(monkeypatch, WEB_CONCURRENCY="many")


def test_procfile_runs_the_receiver_and_a_worker() -> None:
    lines = _read(DOCS / "Procfile").splitlines()
    assert "web: gunicorn -c docs/gunicorn.conf.py webhooks.wsgi:app" in lines
    assert "worker: connector worker" in lines


def test_systemd_units_start_the_documented_processes() -> None:
    receiver = _read(DOCS / "systemd" / "connector-receiver.service")
    worker = _read(DOCS / "systemd" / "connector-worker.service")
    assert re.search(r"^ExecStart=\S+/gunicorn -c docs/gunicorn.conf.py webhooks.wsgi:app$",
                     receiver, re.M)
    assert re.search(r"^ExecStart=\S+/connector worker$", worker, re.M)
    # Secrets arrive as files through _FILE variables naming real secret settings.
    for unit in (receiver, worker):
        for name in re.findall(r"^Environment=CONNECTOR_([A-Z0-9_]+)_FILE=", unit, re.M):
            assert f"CONNECTOR_{name}" in variables()


def test_the_architecture_page_names_every_module() -> None:
    """docs/architecture.md lists every module with its one job; a new module must be added."""
    page = _read(DOCS / "architecture.md")
    missing = []
    for package in ("connector", "webhooks", "mappings"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__init__.py" or "alembic" in path.parts:
                continue
            if f"`{path.name}`" not in page and f"/{path.name}`" not in page:
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"docs/architecture.md does not describe: {missing}"


def test_a_declared_source_missing_a_field_names_the_field() -> None:
    """Never a bare KeyError's `'name'`: the message says which field is missing where."""
    with pytest.raises(ConfigError) as refused:
        declared_sources('[{"kind": "review", "secrets_env": "X"}]', environ={})
    assert str(refused.value) == "CONNECTOR_WEBHOOK_SOURCES[0]: missing field 'name'"
