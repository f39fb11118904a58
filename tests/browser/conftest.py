"""Real-browser tests: the console served on a loopback port, driven by Playwright in Debian's
headless Chromium (/usr/bin/chromium; `.ci/run` installs it, nothing is downloaded).

When the browser cannot start the tests skip with the reason, and under CI=true that skip
fails the run (tests/conftest.py). `CONSOLE_SCREENSHOTS=<dir>` (`make screenshots`) keeps
each flow's screenshots there; otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from connector.console import create_app
from connector.serving import QuietRequestHandler
from connector.settings import Settings
from connector.store import Store
from mappings.loader import load_mapping
from tests.console.conftest import (
    EXAMPLE_MAPPING,
    PASSWORD,
    SECRET_KEY,
    Seeded,
    Users,
    lms_with_learners,
    seed,
)

CHROMIUM = os.environ.get("CONNECTOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:  # pragma: no cover - a dev dependency
        pytest.skip(f"headless Chromium cannot start: playwright is not installed ({exc})")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"headless Chromium cannot start: no browser at {CHROMIUM} "
                    "(apt-get install -y chromium)")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        except Error as exc:
            pytest.skip(f"headless Chromium cannot start: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()


@dataclass
class Console:
    url: str
    store: Store
    seeded: Seeded


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """A console with things waiting for a person, on a loopback port of its own."""
    store = Store.open(f"sqlite:///{tmp_path / 'console.db'}")
    seeded = seed(store)
    lms = lms_with_learners()
    app = create_app(store, Settings(_env_file=None, console_secret_key=SECRET_KEY),  # type: ignore[call-arg]
                     users=Users().directory(), mapping=lambda: load_mapping(EXAMPLE_MAPPING),
                     lms=lambda: lms)
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Console(f"http://127.0.0.1:{server.server_port}", store, seeded)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        store.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/console/ under `make screenshots`, else a temp folder."""
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Any, console: Console, name: str = "olga") -> None:
    page.goto(f"{console.url}/console")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Overview')")
