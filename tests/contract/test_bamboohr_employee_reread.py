"""BambooHR employee deliveries are hints: the person is read again (`GET /api/v1/employees/{id}`,
faked here with `responses`) and the change is keyed on what was read plus the ledger's last
change. Two different edits with the same body timestamp are both applied, and A -> B -> A
ends at A. Through the real receiver (signed deliveries), store (both engines) and worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from connector.executor import Context
from connector.models import Employee
from connector.sandbox.bamboohr import sign_webhook
from connector.service import StoreInbox
from connector.settings import Settings
from connector.store import Store
from connector.vendors.bamboohr.directory import EMPLOYEE_FIELDS, BambooHRDirectory
from connector.worker import Worker
from mappings.loader import load_mapping
from webhooks.app import create_app

BASE = "https://acme.bamboohr.test"
SECRET = "bamboo-webhook-secret"
NOW = 1_767_225_600
STAMP = "2026-01-05T10:00:00Z"  # the same body timestamp on every edit below


def settings() -> Settings:
    return Settings(_env_file=None, bamboohr_base_url=BASE, bamboohr_api_key="k" * 20,
                    bamboohr_webhook_secret=SecretStr(SECRET), identity_match_by="id")


class Receiver:
    """The receiver app on a real store, and the worker that applies what it stored."""

    def __init__(self, store: Store) -> None:
        cfg = settings()
        self.store = store
        self.client = create_app(StoreInbox(store, cfg), settings=cfg,
                                 clock=lambda: float(NOW)).test_client()
        directory = BambooHRDirectory.from_settings(cfg, sleep=lambda _: None)
        self.worker = Worker(Context(store=store, mapping=load_mapping("mappings/example.toml"),
                                     directory=directory, settings=cfg))

    def deliver(self, body: dict[str, Any], delivered_at: int) -> str:
        raw = json.dumps(body).encode()
        stamp = str(delivered_at)
        answer = self.client.post("/webhooks/bamboohr", data=raw, headers={
            "Content-Type": "application/json", "X-BambooHR-Timestamp": stamp,
            "X-BambooHR-Signature": sign_webhook(raw, stamp, SECRET)})
        assert answer.status_code == 202, answer.get_data(as_text=True)
        return str(answer.get_json()["status"])

    def apply(self) -> None:
        self.worker.drain()
        assert self.store.jobs.dead_letters() == []

    def role(self) -> str | None:
        identity = self.store.identity("7")
        assert identity is not None
        return identity.employee().role


@pytest.fixture
def receiver(database_url: str) -> Iterator[Receiver]:
    store = Store.open(database_url)
    store.upsert_employee(Employee(employee_id="7", email="ann@example.com",
                                   role="Account Executive"))
    yield Receiver(store)
    store.close()


def bamboohr_says(rsps: responses.RequestsMock, title: str) -> None:
    rsps.replace(responses.GET, f"{BASE}/api/v1/employees/7", json={
        "id": "7", "firstName": "Ann", "lastName": "Lee", "workEmail": "ann@example.com",
        "jobTitle": title, "supervisorEId": None, "status": "Active"})


def edit(title: str) -> dict[str, Any]:
    return {"employees": [{"id": "7", "action": "updated", "timestamp": STAMP,
                           "fields": {"jobTitle": title}, "changedFields": ["jobTitle"]}]}


def test_read_employee_asks_for_the_fields_a_change_is_read_by() -> None:
    directory = BambooHRDirectory.from_settings(settings(), sleep=lambda _: None)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/api/v1/employees/7", json={"id": "7", "jobTitle": "Lead",
                                                     "status": "Active", "workEmail": None},
                 match=[responses.matchers.query_param_matcher(
                     {"fields": ",".join(EMPLOYEE_FIELDS)})])
        rsps.get(f"{BASE}/api/v1/employees/8", status=404)
        assert directory.read_employee("7") == {"jobTitle": "Lead", "status": "Active"}
        assert directory.read_employee("8") is None


def test_two_edits_with_the_same_timestamp_are_both_applied_and_a_b_a_is_kept(
        receiver: Receiver) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{BASE}/api/v1/employees/7", json={})
        bamboohr_says(rsps, "Team Lead")
        assert receiver.deliver(edit("Team Lead"), NOW) == "accepted"
        assert receiver.deliver(edit("Team Lead"), NOW) == "duplicate"  # a redelivery
        receiver.apply()
        assert receiver.role() == "Team Lead"

        bamboohr_says(rsps, "Director")  # a second edit of the field, same body timestamp
        assert receiver.deliver(edit("Director"), NOW + 1) == "accepted"
        receiver.apply()
        assert receiver.role() == "Director"

        bamboohr_says(rsps, "Team Lead")  # and back: A -> B -> A
        assert receiver.deliver(edit("Team Lead"), NOW + 2) == "accepted"
        receiver.apply()
        assert receiver.role() == "Team Lead"


def test_a_hint_without_values_applies_what_bamboohr_holds_now(receiver: Receiver) -> None:
    """The single-event shape names only the fields that changed: the re-read fills them in,
    and a later edit with the same timestamp (a new delivery) is not a duplicate."""
    hint = {"type": "employee.updated", "timestamp": STAMP,
            "data": {"employeeId": "7", "changedFields": ["jobTitle"]}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{BASE}/api/v1/employees/7", json={})
        bamboohr_says(rsps, "Director")
        assert receiver.deliver(hint, NOW) == "accepted"
        receiver.apply()
        assert receiver.role() == "Director"
        bamboohr_says(rsps, "Account Executive")
        assert receiver.deliver(hint, NOW + 1) == "accepted"
        receiver.apply()
        assert receiver.role() == "Account Executive"


def test_a_person_bamboohr_no_longer_has_is_left_to_the_directory_read(
        receiver: Receiver) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/api/v1/employees/7", status=404)
        assert receiver.deliver(edit("Gone"), NOW) == "accepted"
        receiver.apply()
    identity = receiver.store.identity("7")
    assert identity is not None and identity.active and receiver.role() == "Account Executive"
    assert receiver.store.audit_events("employee.hint_unknown")
