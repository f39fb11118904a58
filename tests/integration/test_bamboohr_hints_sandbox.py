"""Employee-change hints end to end against the BambooHR simulator: the simulator edits a person
and signs a delivery (its single-event shape, which carries no values) to our real receiver;
the worker re-reads the person (`GET /api/v1/employees/{id}`, checked against the official
OpenAPI file) and the ledger ends as BambooHR is, A -> B -> A included, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from connector.executor import Context
from connector.models import Employee
from connector.sandbox.bamboohr import create_app as bamboohr_app
from connector.sandbox.common import serve
from connector.service import StoreInbox
from connector.settings import Settings
from connector.store import Store
from connector.vendors.bamboohr.directory import BambooHRDirectory
from connector.worker import Worker
from mappings.loader import load_mapping
from tests.support.bamboohr_spec import check_request, check_response, load_spec
from webhooks.app import create_app

API_KEY = "sim-key-4242"
SECRET = "sim-webhook-secret"
ANN = {"id": "7", "firstName": "Ann", "lastName": "Lee", "workEmail": "ann@example.com",
       "jobTitle": "Account Executive"}


class Clock:
    """Simulated time for the simulator's stamps and the receiver's signature window."""

    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


class Setup:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.clock = clock
        self.store = store
        self.sim = serve(bamboohr_app(api_key=API_KEY, webhook_secret=SECRET, clock=clock),
                         "bamboohr")
        cfg = Settings(_env_file=None, bamboohr_base_url=self.sim.url,
                       bamboohr_api_key=API_KEY, bamboohr_webhook_secret=SecretStr(SECRET),
                       identity_match_by="id")
        self.receiver = serve(create_app(StoreInbox(store, cfg), settings=cfg, clock=clock),
                              "receiver")
        self.exchanges: list[requests.Response] = []
        session = requests.Session()
        session.hooks["response"].append(lambda r, *a, **k: self.exchanges.append(r))
        directory = BambooHRDirectory.from_settings(cfg, session=session)
        self.worker = Worker(Context(store=store, mapping=load_mapping("mappings/example.toml"),
                                     directory=directory, settings=cfg))
        requests.post(f"{self.sim.url}/_sandbox/employees", json=[ANN],
                      timeout=5).raise_for_status()

    def edit(self, **fields: Any) -> int | None:
        """Change the person in BambooHR and have it deliver its webhook, a second later."""
        self.clock.now += 1
        requests.patch(f"{self.sim.url}/_sandbox/employees/7", json=fields,
                       timeout=5).raise_for_status()
        sent = requests.post(f"{self.sim.url}/_sandbox/send-webhook", timeout=10, json={
            "url": f"{self.receiver.url}/webhooks/bamboohr", "action": "updated",
            "employee_ids": ["7"]}).json()
        [delivery] = sent["deliveries"]
        self.worker.drain()
        assert self.store.jobs.dead_letters() == []
        return delivery["status"]

    def role(self) -> str | None:
        identity = self.store.identity("7")
        assert identity is not None
        return identity.employee().role

    def stop(self) -> None:
        self.receiver.stop()
        self.sim.stop()


@pytest.fixture
def setup(database_url: str) -> Iterator[Setup]:
    store = Store.open(database_url)
    store.upsert_employee(Employee(employee_id="7", email="ann@example.com",
                                   role="Account Executive"))
    running = Setup(store, Clock())
    yield running
    running.stop()
    store.close()


def test_edits_reach_the_ledger_through_hints_a_b_a_included(setup: Setup) -> None:
    assert setup.edit(jobTitle="Sales Lead") == 202
    assert setup.role() == "Sales Lead"
    assert setup.edit(jobTitle="Account Executive", workEmail="ann.lee@example.com") == 202
    assert setup.role() == "Account Executive"
    assert setup.edit(jobTitle="Sales Lead") == 202  # A -> B -> A
    assert setup.role() == "Sales Lead"
    identity = setup.store.identity("7")
    assert identity is not None and identity.email == "ann.lee@example.com"
    spec = load_spec()
    reads = [r for r in setup.exchanges if "/api/v1/employees/7" in (r.request.url or "")]
    assert len(reads) == 3
    for response in reads:
        check_request(spec, response.request)
        check_response(spec, response.request, response.status_code, response.content)
