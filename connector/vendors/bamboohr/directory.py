"""The BambooHR employee directory, and the one rule for who is active.

`GET /api/v1/employees/directory` is chosen over the newer `GET /api/v1/employees` because the
spec documents that one for OAuth only, while the directory takes the same Basic-auth API key
as the goals. The directory lists current employees; a leaver is someone who is no longer in a
complete answer, or whose status is not one of `CONNECTOR_BAMBOOHR_ACTIVE_STATUSES`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from connector.errors import RetriableAPIError, VendorError
from connector.http import VendorHttp
from connector.models import Employee
from connector.settings import Settings
from connector.vendors.bamboohr.client import BambooHRSettings, bamboohr_http

log = logging.getLogger(__name__)

DEFAULT_ACTIVE_STATUSES = ("active",)
#: What a re-read asks for: the fields `person` reads.
EMPLOYEE_FIELDS = ("firstName", "lastName", "workEmail", "jobTitle", "supervisorEId", "status")


class BambooHRDirectory:
    """`EmployeeDirectory` over `GET /api/v1/employees/directory`.

    Chosen over the newer `GET /api/v1/employees` because the spec documents that one for OAuth
    only, while the directory takes the same Basic-auth API key as the goals. The directory
    lists active employees only: a leaver is someone who is no longer in a complete answer.
    """

    name = "bamboohr"

    def __init__(self, http: VendorHttp,
                 active_statuses: Collection[str] = DEFAULT_ACTIVE_STATUSES) -> None:
        self.http = http
        self.active_statuses = frozenset(s.strip().lower() for s in active_statuses)

    def __repr__(self) -> str:
        return f"BambooHRDirectory(base_url={self.http.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, **http_kw: Any) -> BambooHRDirectory:
        own = settings.vendor(BambooHRSettings)
        return cls(bamboohr_http(settings, own, **http_kw), own.active_status_list())

    def list_employees(self) -> tuple[list[Employee], bool]:
        operation = "read employee directory"
        try:
            body = self.http.get_json("/api/v1/employees/directory", operation=operation)
        except VendorError as exc:
            if exc.status == 404:  # "The directory is empty": never a reason to offboard all
                return [], False
            raise
        rows = body.get("employees") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            log.warning("bamboohr directory answer without an employee list")
            return [], False
        complete = True
        by_name: dict[str, list[str]] = {}
        for row in rows:
            if isinstance(row, dict) and row.get("id") is not None and row.get("displayName"):
                by_name.setdefault(str(row["displayName"]), []).append(str(row["id"]))
        people: list[Employee] = []
        for row in rows:
            if not isinstance(row, dict) or not str(row.get("id") or "").strip():
                complete = False
                continue
            people.append(_employee_from_row(row, by_name, self.active_statuses))
        return people, complete

    def read_employee(self, employee_id: str) -> dict[str, Any] | None:
        """One person as BambooHR has them now (`GET /api/v1/employees/{id}`, the fields an
        employee change names), for a change delivery that is only a hint; None on 404."""
        try:
            body = self.http.get_json(f"/api/v1/employees/{employee_id}",
                                      operation="read employee",
                                      params={"fields": ",".join(EMPLOYEE_FIELDS)})
        except VendorError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise RetriableAPIError("the answer is not a JSON object", vendor="bamboohr",
                                    operation="read employee")
        return {k: body[k] for k in EMPLOYEE_FIELDS if body.get(k) is not None}


def _text(value: Any) -> str | None:
    return (str(value).strip() or None) if value is not None else None


def is_active(fields: Mapping[str, Any], active_statuses: Collection[str], *,
              was: bool = True) -> bool:
    """The one rule for who is active. BambooHR's `status` decides when it is given: active
    when it is one of the configured statuses (default "Active"; add "On leave" and the like
    with CONNECTOR_BAMBOOHR_ACTIVE_STATUSES). An `employmentStatus` of "Terminated" is a
    leaver. Otherwise nothing changed: `was`."""
    status = _text(fields.get("status"))
    if status is not None:
        return status.lower() in active_statuses
    employment = _text(fields.get("employmentStatus"))
    if employment is not None and employment.lower() == "terminated":
        return False
    return was


def person(fields: Mapping[str, Any], *, employee_id: str, active_statuses: Collection[str],
           known: Employee | None = None, manager_id: str | None = None,
           deleted: bool = False) -> Employee:
    """A BambooHR person (a directory row, or the fields of an employee change) as an
    `Employee`, on top of what was `known`: fields that are absent keep their known value."""
    base: dict[str, Any] = known.model_dump() if known else {"employee_id": employee_id}
    updates = {"email": _text(fields.get("workEmail")) or _text(fields.get("email")),
               "first_name": _text(fields.get("firstName")),
               "last_name": _text(fields.get("lastName")),
               "role": _text(fields.get("jobTitle")),
               "manager_id": manager_id or _text(fields.get("supervisorEId"))
               or _text(fields.get("supervisorId"))}
    base.update({k: v for k, v in updates.items() if v})
    base["active"] = not deleted and is_active(fields, active_statuses,
                                               was=bool(base.get("active", True)))
    return Employee.model_validate(base)


def _employee_from_row(row: Mapping[str, Any], by_name: Mapping[str, list[str]],
                       active_statuses: Collection[str]) -> Employee:
    """A directory row → Employee. The directory names the supervisor; an id field
    (`supervisorEId`, `supervisorId`) wins when a company adds one, else a unique name match."""
    manager = _text(row.get("supervisorEId")) or _text(row.get("supervisorId"))
    if manager is None and row.get("supervisor"):
        candidates = by_name.get(str(row["supervisor"]), [])
        manager = candidates[0] if len(candidates) == 1 else None
    return person(row, employee_id=str(row["id"]).strip(), active_statuses=active_statuses,
                  manager_id=manager)
