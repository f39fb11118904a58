"""`connector demo --keep-running` writes `demo.env`: everything needed to reach the running
sandboxes (credentials included), owner-only, never over an existing file; sourcing it is
enough for `connector check --online` to reach every sandbox."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.demo.run import explore_with, write_demo_env
from connector.demo.sandboxes import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.settings import Settings, variables


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    sb = start_sandboxes()
    try:
        seed_organisation(sb)
        yield sb
    finally:
        sb.stop()


def test_demo_env_holds_every_sandbox_setting_owner_only(sandboxes: Sandboxes,
                                                         tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    path = write_demo_env(sandboxes, url, tmp_path)
    assert path == tmp_path / "demo.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    expected = sandbox_settings(sandboxes, url)
    read = Settings(_env_file=path)
    for variable, (model, field) in variables().items():
        own = read if model is Settings else read.vendor(model)  # type: ignore[type-var]
        want = expected if model is Settings else expected.vendor(model)  # type: ignore[type-var]
        if variable == "CONNECTOR_ORANGEHRM_REFRESH_TOKEN":
            # each reading of the OrangeHRM sandbox's settings is a new consent: another token
            assert getattr(own, field) is not None and getattr(want, field) is not None
            continue
        assert getattr(own, field) == getattr(want, field), variable
    text = path.read_text(encoding="utf-8")
    assert "CONNECTOR_ORANGEHRM_CLIENT_ID=" in text and "CONNECTOR_TALENTLMS_API_KEY=" in text
    shown = explore_with(path, "connector")
    assert "CONNECTOR_ORANGEHRM_CLIENT_ID=" in shown
    assert "set -a; . ./" in shown and "; set +a; connector status" in shown


def test_an_existing_demo_env_is_never_overwritten(sandboxes: Sandboxes, tmp_path: Path) -> None:
    mine = tmp_path / "demo.env"
    mine.write_text("CONNECTOR_LMS=none\n", encoding="utf-8")
    path = write_demo_env(sandboxes, "sqlite:///x.db", tmp_path)
    assert path == tmp_path / "demo-2.env"
    assert mine.read_text(encoding="utf-8") == "CONNECTOR_LMS=none\n"


def test_the_printed_command_reaches_every_sandbox(sandboxes: Sandboxes, tmp_path: Path) -> None:
    write_demo_env(sandboxes, f"sqlite:///{tmp_path / 'connector.db'}", tmp_path)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    command = f"{Path(sys.executable).parent / 'connector'} check --online"
    done = subprocess.run(["bash", "-c", f"set -a; . ./demo.env; set +a; {command}"],
                          cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for reached in ("talentlms: key accepted", "directory: credential accepted",
                    "reviews: credential accepted"):
        assert reached in done.stdout
