"""Contract tests for the HiBob directory (people search), HTTP faked with `responses`; each
test names the shared/VENDORS-next.md section of the facts it checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from connector.errors import RetriableAPIError
from connector.ports import EmployeeDirectory
from connector.settings import Settings
from connector.vendors.hibob.client import EndpointBudget
from connector.vendors.hibob.directory import HiBobDirectory

BASE = "https://api.hibob.com/v1"


def make(**kw: Any) -> HiBobDirectory:
    settings = Settings(_env_file=None, hibob_service_user_id="svc", hibob_token="tok-123456")
    return HiBobDirectory.from_settings(settings, sleep=lambda s: None, clock=lambda: 0.0,
                                        jitter=lambda: 0.0, max_attempts=2, **kw)


PEOPLE = {"employees": [
    {"id": "11", "email": "ann@example.com", "firstName": "Ann", "surname": "Lee",
     "work": {"title": "AE", "reportsTo": {"id": "12"}}, "internal": {"status": "Active"}},
    {"id": "12", "email": "bea@example.com", "firstName": "Bea", "surname": "Boss",
     "work": {"title": "Director"}, "internal": {"status": "Inactive"}},
]}


@responses.activate
def test_people_search_asks_for_leavers_and_maps_people() -> None:
    # HiBob §3: POST /v1/people/search, `fields`, `showInactive` (default active only), one
    # answer with every match in `employees` (no pagination).
    responses.post(f"{BASE}/people/search", json=PEOPLE)
    directory = make()
    assert isinstance(directory, EmployeeDirectory)
    people, complete = directory.list_employees()
    sent = json.loads(responses.calls[0].request.body)
    assert sent["showInactive"] is True and "root.email" in sent["fields"]
    assert "internal.status" in sent["fields"]
    assert complete and len(responses.calls) == 1
    ann, bea = people
    assert (ann.employee_id, ann.email, ann.manager_id, ann.active) == (
        "11", "ann@example.com", "12", True)
    assert bea.active is False  # a leaver


@responses.activate
def test_flat_field_paths_are_read_too() -> None:
    # HiBob §3: the answer shape of field paths is *unconfirmed*: nested or flat both work.
    responses.post(f"{BASE}/people/search", json={"employees": [
        {"root.id": "11", "root.email": "ann@example.com", "internal.status": "Active"}]})
    (ann,), complete = make().list_employees()
    assert complete and ann.email == "ann@example.com"


@responses.activate
def test_a_silently_omitted_status_makes_the_read_incomplete() -> None:
    # HiBob §1 "Silent omission": missing field permissions give 200 with fields left out.
    responses.post(f"{BASE}/people/search", json={"employees": [
        {"id": "11", "email": "ann@example.com"}]})
    people, complete = make().list_employees()
    assert complete is False and people[0].active is True  # never a leaver on this read


@responses.activate
def test_429_is_retried_and_people_search_has_its_own_budget_bucket() -> None:
    # HiBob §1 "Rate limits": per endpoint per minute, 429 over it.
    taken: list[str] = []

    class Budget:
        def acquire(self, vendor: str) -> float:
            taken.append(vendor)
            return 0.0

    responses.post(f"{BASE}/people/search", status=429, json={"error": "Too many requests"})
    responses.post(f"{BASE}/people/search", json=PEOPLE)
    people, _ = make(budget=Budget()).list_employees()
    assert len(people) == 2 and taken == ["hibob:people-search"] * 2
    assert EndpointBudget(Budget(), "x").acquire("hibob") == 0.0


@responses.activate
def test_a_persisting_429_is_a_retriable_error() -> None:
    responses.post(f"{BASE}/people/search", status=429, json={"error": "Too many requests"})
    with pytest.raises(RetriableAPIError):
        make().list_employees()
