"""Contract tests for the BambooHR employee directory (`GET /api/v1/employees/directory`)."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from connector.errors import AuthenticationError, RetriableAPIError
from connector.models import Employee
from connector.ports import EmployeeDirectory
from connector.settings import Settings
from connector.vendors.bamboohr.directory import BambooHRDirectory

BASE = "https://acme.bamboohr.com"
DIRECTORY = f"{BASE}/api/v1/employees/directory"
FIELDS = [{"id": f, "type": "text", "name": f} for f in
          ("displayName", "firstName", "lastName", "jobTitle", "workEmail", "supervisor")]


@pytest.fixture
def directory() -> BambooHRDirectory:
    settings = Settings(_env_file=None, bamboohr_base_url=BASE, bamboohr_api_key="dir-key-123")
    return BambooHRDirectory.from_settings(settings, sleep=lambda _: None, clock=lambda: 0.0,
                                           jitter=lambda: 0.0, max_attempts=2)


def row(eid: str, first: str, last: str, **extra: Any) -> dict[str, Any]:
    return {"id": eid, "displayName": f"{first} {last}", "firstName": first, "lastName": last,
            "jobTitle": "Account Executive", "workEmail": f"{first.lower()}@example.com",
            "supervisor": None, "canUploadPhoto": 0, **extra}


def test_is_an_employee_directory(directory: BambooHRDirectory) -> None:
    assert isinstance(directory, EmployeeDirectory)
    assert "dir-key-123" not in repr(directory)


@responses.activate
def test_rows_become_employees_with_their_manager(directory: BambooHRDirectory) -> None:
    responses.get(DIRECTORY, json={"fields": FIELDS, "employees": [
        row("3", "Bea", "Boss"),
        row("7", "Ann", "Lee", supervisor="Bea Boss"),
        row("8", "Cy", "Dee", supervisor="Bea Boss", supervisorEId="4"),  # an id field wins
        row("9", "Di", "Fox", jobTitle="", workEmail=None),
    ]})

    people, complete = directory.list_employees()

    assert complete is True
    assert people == [
        Employee(employee_id="3", email="bea@example.com", first_name="Bea", last_name="Boss",
                 role="Account Executive"),
        Employee(employee_id="7", email="ann@example.com", first_name="Ann", last_name="Lee",
                 role="Account Executive", manager_id="3"),
        Employee(employee_id="8", email="cy@example.com", first_name="Cy", last_name="Dee",
                 role="Account Executive", manager_id="4"),
        Employee(employee_id="9", first_name="Di", last_name="Fox"),
    ]
    assert responses.calls[0].request.headers["Accept"] == "application/json"


@responses.activate
def test_an_ambiguous_supervisor_name_is_left_unmatched(directory: BambooHRDirectory) -> None:
    responses.get(DIRECTORY, json={"fields": FIELDS, "employees": [
        row("3", "Sam", "Park"), row("4", "Sam", "Park"),
        row("7", "Ann", "Lee", supervisor="Sam Park"),
    ]})
    people, _ = directory.list_employees()
    assert people[2].manager_id is None


@responses.activate
def test_a_row_without_an_id_makes_the_read_incomplete(directory: BambooHRDirectory) -> None:
    responses.get(DIRECTORY, json={"fields": FIELDS, "employees": [
        row("7", "Ann", "Lee"), {"displayName": "Ghost"}]})
    people, complete = directory.list_employees()
    assert [p.employee_id for p in people] == ["7"]
    assert complete is False


@pytest.mark.parametrize("answer", [{"fields": FIELDS}, {"employees": "nope"}, []])
@responses.activate
def test_an_answer_without_an_employee_list_is_incomplete(directory: BambooHRDirectory,
                                                          answer: Any) -> None:
    responses.get(DIRECTORY, json=answer)
    assert directory.list_employees() == ([], False)


@responses.activate
def test_an_empty_directory_is_never_taken_as_everyone_left(
        directory: BambooHRDirectory) -> None:
    responses.get(DIRECTORY, status=404)  # "The directory is empty"
    assert directory.list_employees() == ([], False)


@responses.activate
def test_a_failing_directory_raises_rather_than_answer(directory: BambooHRDirectory) -> None:
    responses.get(DIRECTORY, status=503, headers={"Retry-After": "0"})
    with pytest.raises(RetriableAPIError):
        directory.list_employees()
    assert len(responses.calls) == 2


@responses.activate
def test_a_directory_not_shared_is_an_authentication_error(
        directory: BambooHRDirectory) -> None:
    responses.get(DIRECTORY, status=403, headers={
        "X-BambooHR-Error-Message": "The company directory is not shared"})
    with pytest.raises(AuthenticationError, match="not shared"):
        directory.list_employees()
