"""OrangeHRM's token chain across process starts, peers and crashes, on SQLite and PostgreSQL,
against the OrangeHRM simulator (which counts the grants it answers).

Each "start" is what a process start does: a new Store and a new runtime built from settings.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.errors import AuthenticationError
from connector.pollers import poll_reviews
from connector.runtime import Runtime, build_runtime
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.orangehrm import create_app
from connector.secrets import new_key
from connector.settings import Settings
from connector.store import Store
from connector.vendors.orangehrm import REFRESH_TOKEN

ROOT = Path(__file__).resolve().parents[2]
KEY = new_key()
CURSOR = f"_secret.{REFRESH_TOKEN}"


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = serve(create_app(token_ttl=3600), "orangehrm")
    yield running
    running.stop()


def consent(sim: RunningSimulator) -> str:
    """The admin's one-time browser consent: a fresh refresh token."""
    body = requests.post(f"{sim.url}/_sandbox/oauth/authorize", timeout=5).json()
    return str(body["refresh_token"])


def grants(sim: RunningSimulator) -> dict[str, int]:
    state = requests.get(f"{sim.url}/_sandbox/state", timeout=5).json()
    return dict(state["counts"]["token_grants"])


def faults(sim: RunningSimulator, **switches: Any) -> None:
    requests.post(f"{sim.url}/_sandbox/faults", json=switches, timeout=5).raise_for_status()


def settings_for(url: str, sim: RunningSimulator, refresh: str, **over: Any) -> Settings:
    return Settings(_env_file=None, **values_for(url, sim, refresh, **over))


def values_for(url: str, sim: RunningSimulator, refresh: str, **over: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        database_url=url, orangehrm_base_url=sim.url, orangehrm_client_id="sandbox-client",
        orangehrm_client_secret="sandbox-secret", orangehrm_refresh_token=refresh,
        secrets_key=KEY, lms="none", goal_tracker="none", directory="none",
        review_sources="orangehrm", mapping_file=str(ROOT / "mappings" / "example.toml"))
    values.update(over)
    return values


def start_and_poll(settings: Settings) -> int:
    """One process start: build the runtime, poll OrangeHRM reviews once (an API call with
    the bearer token), stop. Returns how many reviews the poll saw."""
    rt: Runtime = build_runtime(settings)
    try:
        [source] = rt.review_sources
        return len(source.reviews_completed_since(None)[0])
    finally:
        rt.close()


def test_restarts_within_an_access_tokens_life_spend_no_refresh(
        sim: RunningSimulator, database_url: str) -> None:
    settings = settings_for(database_url, sim, consent(sim))
    start_and_poll(settings)
    assert grants(sim)["refresh_token"] == 1  # the first start ever: nothing kept yet
    for _ in range(5):
        start_and_poll(settings)
    assert grants(sim)["refresh_token"] == 1, "a restart spent a refresh"
    state = requests.get(f"{sim.url}/_sandbox/state", timeout=5).json()
    assert state["counts"]["unauthorized"] == 0  # the kept access token was accepted


def test_a_refused_access_token_is_refreshed_once_and_kept(
        sim: RunningSimulator, database_url: str) -> None:
    """The retry on 401 still works through the chain: the API refuses the kept token (the
    vendor expired it early), one refresh follows, and the next start reuses the new one."""
    settings = settings_for(database_url, sim, consent(sim))
    start_and_poll(settings)
    requests.post(f"{sim.url}/_sandbox/expire-tokens", timeout=5).raise_for_status()
    start_and_poll(settings)
    assert grants(sim)["refresh_token"] == 2
    start_and_poll(settings)
    assert grants(sim)["refresh_token"] == 2


def test_two_processes_starting_at_once_spend_one_refresh(
        sim: RunningSimulator, database_url: str) -> None:
    """Threads with a Store each (separate connections and lease owners), started together
    while the token endpoint is slow, so both find no kept token and race for the lease."""
    settings = settings_for(database_url, sim, consent(sim))
    faults(sim, latency_ms=600)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def one_start() -> None:
        barrier.wait()
        try:
            start_and_poll(settings)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert grants(sim)["refresh_token"] == 1


def test_two_real_processes_starting_at_once_spend_one_refresh(
        sim: RunningSimulator, sqlite_url: str) -> None:
    values = values_for(sqlite_url, sim, consent(sim))
    Store.open(sqlite_url).close()  # the schema exists, as after `connector db upgrade`
    faults(sim, latency_ms=600)
    script = ("import sys, json; from connector.settings import Settings; "
              "from tests.integration.test_token_chain import start_and_poll; "
              "start_and_poll(Settings(_env_file=None, **json.loads(sys.argv[1])))")
    arg = json.dumps(values)
    procs = [subprocess.Popen([sys.executable, "-c", script, arg], cwd=ROOT)
             for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    assert grants(sim)["refresh_token"] == 1


def test_a_holder_killed_mid_refresh_blocks_the_others_only_until_its_lease_expires(
        sim: RunningSimulator, database_url: str) -> None:
    settings = settings_for(database_url, sim, consent(sim))
    store = Store.open(database_url)
    # A process took the lease and was killed: it will never release it.
    assert store.kept.take_lease(REFRESH_TOKEN, "killed-host:1:dead", 1.5)
    assert not store.kept.take_lease(REFRESH_TOKEN, "someone-else", 1.5)
    store.close()
    began = time.monotonic()
    start_and_poll(settings)
    waited = time.monotonic() - began
    assert 1.2 <= waited < 10, waited
    assert grants(sim)["refresh_token"] == 1


def test_plaintext_token_from_the_previous_release_is_encrypted_in_place_and_continues(
        sim: RunningSimulator, database_url: str) -> None:
    """Today's release kept `{"seed", "token"}` in plaintext. After the upgrade the kept
    (rotated) token is still the one presented, and the row is sealed on first read."""
    configured = consent(sim)
    # The chain had moved on: the configured token was used once, the rotated one kept.
    rotated = requests.post(f"{sim.url}/web/index.php/oauth2/token", timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": configured,
        "client_id": "sandbox-client", "client_secret": "sandbox-secret"}).json()["refresh_token"]
    seed = hashlib.sha256(configured.encode()).hexdigest()[:16]
    store = Store.open(database_url)
    store.save_cursor(CURSOR, json.dumps({"seed": seed, "token": rotated}))
    store.close()

    start_and_poll(settings_for(database_url, sim, configured))
    assert grants(sim)["refresh_token"] == 2  # ours, then the connector's: no invalid_grant
    store = Store.open(database_url)
    sealed = store.cursor(CURSOR)
    store.close()
    assert sealed is not None and sealed.startswith("gAAAAA")
    assert rotated not in sealed and configured not in sealed and "seed" not in sealed


def test_a_broken_chain_shows_in_status_with_the_step_that_fixes_it(
        sim: RunningSimulator, database_url: str) -> None:
    revoked = consent(sim)
    requests.post(f"{sim.url}/web/index.php/oauth2/token", timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": revoked,
        "client_id": "sandbox-client", "client_secret": "sandbox-secret"}).raise_for_status()
    rt = build_runtime(settings_for(database_url, sim, revoked))
    try:
        [source] = rt.review_sources
        with pytest.raises(AuthenticationError):
            poll_reviews(rt.store, source)  # one poll
        [poller] = [p for p in rt.store.pollers() if p.last_error]
    finally:
        rt.close()
    assert "OrangeHRM refused the refresh token" in poller.last_error
    assert "consent again" in poller.last_error
    assert "set CONNECTOR_ORANGEHRM_REFRESH_TOKEN" in poller.last_error
    assert revoked not in poller.last_error
