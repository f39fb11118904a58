"""The HiBob people directory: one people search, leavers included.

Facts (shared/VENDORS-next.md, "HiBob" §3 and §1): `POST /v1/people/search` has no pagination
(one call returns every match), lists active employees only unless `showInactive` is true, and
allows 50 calls a minute; a read the service user may not fully see answers 200 with those
fields left out. So the read asks for leavers too and a row without its status makes the read
incomplete: the caller then never offboards anyone on it (a missing permission must not look
like a company of leavers).

Assumed, *unconfirmed*: the field paths `root.id`, `root.email` (the work email),
`root.firstName`, `root.surname`, `work.title`, `work.reportsTo.id` and `internal.status`
(`Active` / `Inactive`), answered nested (`{"internal": {"status": …}}`) or flat by path.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from connector.http import VendorHttp
from connector.models import Employee
from connector.settings import Settings
from connector.vendors.hibob.client import SEARCH_BUCKET, HiBobSettings, hibob_http, items_of

log = logging.getLogger(__name__)

FIELDS = ("root.id", "root.email", "root.firstName", "root.surname", "work.title",
          "work.reportsTo.id", "internal.status")


def field(row: Mapping[str, Any], path: str) -> Any:
    """A field by its path, nested (`{"work": {"title": …}}`) or flat (`{"work.title": …}`);
    the `root.` fields sit at the top."""
    if path in row:
        return row[path]
    parts = path.split(".")
    if parts[0] == "root":
        parts = parts[1:]
    value: Any = row
    for part in parts:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, Mapping):  # humanReadable answers may wrap values
        value = value.get("value") or value.get("id")
    return (str(value).strip() or None) if value is not None else None


class HiBobDirectory:
    """`EmployeeDirectory` over HiBob's people search; ids are HiBob's own."""

    name = "hibob"

    def __init__(self, http: VendorHttp, active_statuses: Collection[str] = ("active",)) -> None:
        self.http = http
        self.active_statuses = frozenset(s.lower() for s in active_statuses)

    def __repr__(self) -> str:
        return f"HiBobDirectory(base_url={self.http.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, **http_kw: Any) -> HiBobDirectory:
        own = settings.vendor(HiBobSettings)
        return cls(hibob_http(settings, own, SEARCH_BUCKET, **http_kw), own.active_status_list())

    def list_employees(self) -> tuple[list[Employee], bool]:
        body = self.http.post_json("/people/search", operation="search people", idempotent=True,
                                   json={"fields": list(FIELDS), "showInactive": True})
        rows = items_of(body, "employees")
        if rows is None:
            log.warning("hibob people search answered without `employees`")
            return [], False
        people: list[Employee] = []
        complete = True
        missing_status = 0
        for row in rows:
            eid = _text(field(row, "root.id")) if isinstance(row, Mapping) else None
            if eid is None:
                complete = False
                continue
            status = _text(field(row, "internal.status"))
            if status is None:
                missing_status += 1
                complete = False
            people.append(Employee(
                employee_id=eid, email=_text(field(row, "root.email")),
                first_name=_text(field(row, "root.firstName")),
                last_name=_text(field(row, "root.surname")),
                role=_text(field(row, "work.title")),
                manager_id=_text(field(row, "work.reportsTo.id")),
                active=status is None or status.lower() in self.active_statuses))
        if missing_status:
            log.warning("hibob people search: %d people without internal.status; the service "
                        "user's permission group may not see it, so no leavers are handled on "
                        "this read", missing_status)
        return people, complete
