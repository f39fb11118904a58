"""BambooHR employee-change webhook bodies → `EmployeeChange`s.

Self-contained on purpose: it belongs with the BambooHR vendor and depends only on the shared
webhook decoding and field-path reader, so it can move there without touching other bodies.
The one public entry point is `parse_bamboohr_employees`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from webhooks.decoding import PayloadError
from webhooks.fieldpaths import MAX_ID, MISSING, FieldReader, Path, resolve

MAX_EMPLOYEES = 1000


@dataclass(frozen=True)
class EmployeeChange:
    """One employee created, updated or deleted in BambooHR, with the fields it sent."""

    employee_id: str
    action: Literal["created", "updated", "deleted"]
    fields: dict[str, Any]
    changed_fields: tuple[str, ...] = ()
    timestamp: str | None = None

    def event_id(self, delivery: str | None = None) -> str:
        """The delivery's dedupe key: the same delivery sent again (same bytes, same signed
        `delivery` stamp) gets the same id, so a redelivery is a duplicate. Everything the
        delivery says is in it (values too, and the stamp), so two different edits of one
        field with the same body timestamp are two deliveries. It keys only the delivery: the
        change it reports is a hint, re-read before it is applied and keyed on what was read
        (connector/employee_hints.py), so no edit is ever lost as a duplicate of another."""
        text = "|".join((self.employee_id, self.action, self.timestamp or "",
                         ",".join(self.changed_fields),
                         json.dumps(self.fields, sort_keys=True, default=str), delivery or ""))
        return "bamboohr:" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def to_payload(self) -> dict[str, Any]:
        return {
            "employee_id": self.employee_id,
            "action": self.action,
            "fields": self.fields,
            "changed_fields": list(self.changed_fields),
            "timestamp": self.timestamp,
        }


_ACTIONS: dict[str, Literal["created", "updated", "deleted"]] = {
    "created": "created",
    "updated": "updated",
    "deleted": "deleted",
}


def parse_bamboohr_employees(doc: Any) -> list[EmployeeChange]:
    """Employee changes from either documented BambooHR shape:

    - the batch `{"employees": [{"id", "action"|"type", "timestamp", "fields",
      "changedFields"}]}` (vendor web docs);
    - one event `{"type": "employee.updated", "timestamp", "data": {"employeeId",
      "changedFields"}}` (the `webhooks:` section of the OpenAPI file).
    """
    if not isinstance(doc, dict):
        raise PayloadError([("$", "must be a JSON object")])
    r = FieldReader()
    if "employees" not in doc and "data" in doc:
        employee_id = r.text(doc, ("data", "employeeId"), required=True, limit=MAX_ID)
        kind = r.text(doc, ("type",), required=True, limit=64)
        action = _ACTIONS.get((kind or "").lower().removeprefix("employee."))
        if kind is not None and action is None:
            r.fail(("type",), "must be employee.created, employee.updated or employee.deleted")
        changed = resolve(doc, ("data", "changedFields"))
        changed = [] if changed is MISSING or changed is None else changed
        if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
            r.fail(("data", "changedFields"), "must be a list of strings")
        timestamp = r.text(doc, ("timestamp",), limit=64)
        r.raise_if_any()
        assert employee_id is not None and action is not None  # noqa: S101 - checked above
        return [EmployeeChange(employee_id, action, {}, tuple(changed), timestamp)]
    changes = []
    for index, item in enumerate(r.items(doc, ("employees",), MAX_EMPLOYEES)):
        base: Path = ("employees", index)
        if not isinstance(item, dict):
            r.fail(base, "must be an object")
            continue
        employee_id = r.text(doc, (*base, "id"), required=True, limit=MAX_ID)
        key = "action" if "action" in item else "type"
        raw_action = r.text(doc, (*base, key), required=True, limit=64)
        action = None
        if raw_action is not None:
            action = _ACTIONS.get(raw_action.lower().removeprefix("employee."))
            if action is None:
                r.fail((*base, key), "must be created, updated or deleted")
        fields_value = resolve(item, ("fields",))
        if fields_value is MISSING or fields_value is None:
            fields_value = {}
        if not isinstance(fields_value, dict):
            r.fail((*base, "fields"), "must be an object")
        changed = resolve(item, ("changedFields",))
        if changed is MISSING or changed is None:
            changed = []
        if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
            r.fail((*base, "changedFields"), "must be a list of strings")
        timestamp = r.text(doc, (*base, "timestamp"), limit=64)
        if employee_id and action and isinstance(fields_value, dict) and isinstance(changed, list):
            changes.append(
                EmployeeChange(employee_id, action, fields_value, tuple(changed), timestamp)
            )
    r.raise_if_any()
    return changes
