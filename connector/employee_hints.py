"""Employee-change deliveries as hints: re-read the person, then queue what was read.

A vendor's employee-change webhook without an event id of its own (an HR system's whose
single-event shape carries no values at all) cannot say which edit it reports: two different
edits of one field at the same second look alike, and an A → B → A edit ends as a copy of
the first. So the receiver stores the delivery as a hint, and its job reads the person from
the vendor's directory now and queues an employee event keyed on what it read plus the
ledger's last change of that person, as the directory poll does: the ledger ends as the
vendor is, and no edit is dropped as a duplicate of another. A vendor whose directory cannot
read one person keeps its change's own fields (same key, same ledger rule).
"""

from __future__ import annotations

from typing import Any

from connector.errors import ConfigError
from connector.executor import Context
from connector.id_spaces import ledger_person
from connector.inbound import queue_employee
from connector.models import Employee
from connector.ports import ReadsEmployee
from connector.settings import Settings, load_settings
from connector.store import Job, Store
from connector.vendors import registry

HINT_JOB = "employee_hint"


def employee_after(store: Store, settings: Settings, source: str,
                   change: dict[str, Any]) -> Employee | None:
    """The employee a vendor's change leaves behind, read by that vendor's own rule, under
    the ledger's key: the change names the person by that vendor's id (linked by email
    as a directory read links them), unless the ids are the same everywhere. None: no
    one in the ledger is that person yet."""
    able = [p for p in registry.plugins() if p.employee_change is not None]
    plugin = next((p for p in able if p.name == source), able[0] if len(able) == 1 else None)
    if plugin is None or plugin.employee_change is None:
        raise ConfigError(f"no registered vendor reads employee changes from {source!r}")
    own_id = str(change["employee_id"])
    if settings.identity_match_by == "id":
        known = store.identity(own_id)
        return plugin.employee_change(settings, change, known.employee() if known else None)
    link = store.external_person(plugin.name, own_id)
    known = store.identity(link.employee_id) if link and link.employee_id else None
    theirs = known.employee().model_copy(update={
        "employee_id": own_id, "manager_id": link.manager_id if link else None}) \
        if known else None
    return ledger_person(store, plugin.name, plugin.employee_change(settings, change, theirs))


def handle_employee_hint_job(ctx: Context, job: Job) -> str:
    """Re-read the person the hint names and queue what was read (see the module)."""
    change = dict(job.payload)
    source = str(change.pop("source", ""))
    action = str(change.get("action") or "updated")
    settings = ctx.settings if isinstance(ctx.settings, Settings) else load_settings()
    reader = ctx.directory
    if action != "deleted" and isinstance(reader, ReadsEmployee) \
            and getattr(reader, "name", None) == source:
        fields = reader.read_employee(str(change["employee_id"]))
        if fields is None:  # gone from the vendor: a leaver is judged by a complete read
            ctx.store.audit(None, None, "employee.hint_unknown",
                            f"{registry.title(source)} no longer has the person an employee "
                            "change named; the next directory read decides")
            return "not found"
        change["fields"] = fields
    employee = employee_after(ctx.store, settings, source, change)
    if employee is None:
        return "unknown"
    known = ctx.store.identity(employee.employee_id)
    since = str(known.updated_at) if known is not None else None
    # Queued as a directory read is (same source, same key), since that is what it is now.
    queued = queue_employee(ctx.store, employee, action, since=since)
    return "queued" if queued else "unchanged"
