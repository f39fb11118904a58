"""The Safety stops page: batches a safety limit stopped, why, and the plan each would run;
confirm or discard, through the same operation as `connector stops confirm|discard`."""

from __future__ import annotations

from typing import Any

from flask import abort, g, render_template

from connector.console.app import console
from connector.errors import ConfigError
from connector.inbound import LEAVERS
from connector.operations import stops
from connector.store import BatchState, StagedBatch

RECENT = 10  # decided stops shown under the waiting ones


def stop_list() -> Any:
    store = console().store
    decided = [b for b in store.staged_batches(None) if b.state is not BatchState.WAITING]
    return render_template("stops.html", waiting=stops.waiting_stops(store),
                           decided=decided[-RECENT:][::-1], leavers=LEAVERS)


def _waiting(stop_id: int) -> StagedBatch:
    batch = console().store.staged_batch(stop_id)
    if batch is None:
        abort(404, description=f"there is no safety stop #{stop_id}")
    return batch


def confirm(stop_id: int) -> Any:
    from connector.console.pages import _back

    batch = _waiting(stop_id)
    mapping = None
    if batch.kind != LEAVERS and batch.state is BatchState.WAITING:
        try:
            mapping = console().mapping()
        except ConfigError as exc:
            return _back("console.stops", f"stop #{stop_id} was not confirmed: the active "
                                          f"mapping cannot be read: {exc}", "error")
    try:
        decision = stops.confirm_stop(console().store, stop_id=stop_id, by=g.user.name,
                                      mapping=mapping)
    except stops.PlanChanged as exc:  # nothing queued; the plan as it is now waits anew
        return _back("console.stops", str(exc), "note")
    return _back("console.stops", decision.message, "ok" if decision.changed else "note")


def discard(stop_id: int) -> Any:
    from connector.console.pages import _back

    _waiting(stop_id)
    decision = stops.discard_stop(console().store, stop_id=stop_id, by=g.user.name)
    return _back("console.stops", decision.message, "ok" if decision.changed else "note")
