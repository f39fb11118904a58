"""A first setup, as the README tells a new user to make it: `config.example.env` copied to
`.env` unchanged (and then with only the keys filled in). No command may call a placeholder
host (`yourcompany.…`, `example.…`); each names the first `CONNECTOR_…` variable to fill.
Every call is caught by a `responses` registry that records it (and answers nothing)."""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses

from connector.cli import main
from connector.settings import variables

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def copied_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding only `.env`, copied from config.example.env."""
    for variable in variables():
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"{variable}_FILE", raising=False)
    shutil.copy(ROOT / "config.example.env", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    return tmp_path / ".env"


@pytest.fixture
def calls() -> Iterator[list[str]]:
    """Every HTTP call any command tries, by URL; the test asserts there are none."""
    tried: list[str] = []

    def refuse(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        tried.append(str(request.url))
        return 599, {}, "no call may be made in this test"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            rsps.add_callback(method, re.compile(r".*"), callback=refuse)
        yield tried


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(argv: list[str]) -> int:
    """`connector ARGV` in-process; `serve` must refuse before it starts serving."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), f"connector {' '.join(argv)} did not stop at the setup"
    return result[0]


COMMANDS = [["sync", "--once"], ["serve", "--port", "0"], ["check", "--online"]]


@pytest.mark.usefixtures("copied_example", "restored_logging")
@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_the_unchanged_example_calls_no_host_and_names_the_first_variable(
        argv: list[str], calls: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "error: CONNECTOR_TALENTLMS_BASE_URL is still a placeholder" in err
    assert "Traceback" not in err
    assert calls == []


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_keys_filled_but_addresses_left_call_no_placeholder_host(
        argv: list[str], copied_example: Path, calls: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    text = copied_example.read_text(encoding="utf-8")
    for key in ("TALENTLMS_API_KEY", "BAMBOOHR_API_KEY", "ORANGEHRM_CLIENT_ID",
                "ORANGEHRM_REFRESH_TOKEN"):
        text = text.replace(f"CONNECTOR_{key}=\n", f"CONNECTOR_{key}=filled-in-{key}\n")
    text = text.replace("CONNECTOR_TALENTLMS_BASE_URL=https://yourdomain.talentlms.com",
                        "CONNECTOR_TALENTLMS_BASE_URL=https://acme.talentlms.com")
    copied_example.write_text(text, encoding="utf-8")
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "CONNECTOR_BAMBOOHR_BASE_URL is still a placeholder (yourcompany.bamboohr.com)" in err
    assert "filled-in" not in err
    assert calls == []


@pytest.mark.usefixtures("copied_example")
def test_status_works_and_names_the_first_variable_to_fill(
        calls: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["status"]) == 0
    captured = capsys.readouterr()
    assert "jobs:" in captured.out
    assert "setup: CONNECTOR_TALENTLMS_BASE_URL is still a placeholder" in captured.err
    assert calls == []


@pytest.mark.usefixtures("copied_example", "restored_logging")
def test_a_base_url_without_a_scheme_is_named_not_a_missing_schema(
        copied_example: Path, calls: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = copied_example.read_text(encoding="utf-8").replace(
        "CONNECTOR_TALENTLMS_BASE_URL=https://yourdomain.talentlms.com",
        "CONNECTOR_TALENTLMS_BASE_URL=acme.talentlms.com")
    copied_example.write_text(text, encoding="utf-8")
    assert run(["sync", "--once"]) == 2
    err = capsys.readouterr().err
    assert "error: CONNECTOR_TALENTLMS_BASE_URL is not a URL" in err
    assert "MissingSchema" not in err
    assert calls == []
