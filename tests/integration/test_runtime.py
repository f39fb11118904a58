"""Wiring from settings against the sandbox vendors: what a process start must get right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.demo import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.pollers import poll_reviews
from connector.runtime import REFRESH_TOKEN_CURSOR, build_runtime
from connector.store import Store


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    sb = start_sandboxes()
    seed_organisation(sb, employees=6)
    yield sb
    sb.stop()


def test_rotated_orangehrm_refresh_tokens_survive_a_restart(sandboxes: Sandboxes,
                                                           tmp_path: Path) -> None:
    """OrangeHRM revokes a refresh token once used: the second process start must continue
    with the rotated one, which the first kept in the store (and never in a log)."""
    consent = requests.post(f"{sandboxes.orangehrm.url}/_sandbox/oauth/authorize", timeout=10)
    refresh_token = consent.json()["refresh_token"]
    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = sandbox_settings(sandboxes, url, orangehrm_refresh_token=refresh_token,
                                orangehrm_client_secret=None)
    for start in range(3):  # three process starts, each refreshing once
        rt = build_runtime(settings)
        [source] = rt.review_sources
        poll_reviews(rt.store, source)
        saved = rt.store.cursor(REFRESH_TOKEN_CURSOR)
        assert saved is not None and refresh_token not in saved, start
        assert all(p["name"] != REFRESH_TOKEN_CURSOR for p in rt.store.pollers())
        rt.close()
    assert Store.open(url).inbox_count() == 6
    Store.close_all()
