"""Pollers: pull what the vendors do not push, into the inbox, behind forward-only cursors.

Each poll stores what it read (deduped on the event id) and only then saves the cursor, so a
crash between the two re-reads and dedupes instead of losing events. When the LMS timeline
may have overflowed between polls, every open assignment is checked one by one instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from connector.errors import ConnectorError, SafetyStop
from connector.id_spaces import IdSpaces, ledger_people
from connector.inbound import (
    close_waiting,
    queue_completion,
    queue_employee,
    queue_review,
    stage_leavers,
    stop_message,
    stop_over_limits,
)
from connector.models import CompletionEvent, Employee, LearnerRef, Outcome, completion_event_id
from connector.ports import CompletionSource, EmployeeDirectory, LearningPlatform, ReviewSource
from connector.runtime import Runtime
from connector.store import AssignmentState, Identity, Store
from connector.vendors.registry import title

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    reviews: int = 0
    completions: int = 0
    reconciled: int = 0
    employees: int = 0
    leavers: int = 0
    recertifications: int = 0
    errors: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)  # safety stops waiting for a person


def poll_completions(store: Store, lms: LearningPlatform | CompletionSource
                     ) -> tuple[int, int]:
    """New completion events into the inbox; returns (new events, reconciled assignments).
    Only an LMS is reconciled after an overflow (a completion source never reports one)."""
    name = f"{lms.name}.completions"
    try:
        events, cursor, overflowed = lms.completions_since(store.cursor(name))
    except ConnectorError as exc:
        store.cursor_failed(name, str(exc))
        raise
    new = sum(1 for event in events if queue_completion(store, event))
    store.save_cursor(name, cursor)
    reconciled = 0
    if overflowed and isinstance(lms, LearningPlatform):
        log.warning("completion timeline overflowed; reconciling open assignments",
                    extra={"lms": lms.name})
        store.audit(None, None, "poller.overflow",
                    f"{lms.name} timeline returned a full page of new events; checking every "
                    "open assignment")
        reconciled = reconcile_assignments(store, lms)
    return new, reconciled


def reconcile_assignments(store: Store, lms: LearningPlatform) -> int:
    """Ask the LMS about each open assignment; queue what finished. Catches anything missed."""
    found = 0
    for row in store.assignments_for(state=AssignmentState.ENROLLED):
        identity = store.identity(row.employee_id)
        if not identity or not identity.lms_user_id:
            continue
        learner = LearnerRef(lms_user_id=identity.lms_user_id, email=identity.email)
        progress = lms.progress(learner, row.course_id)
        if progress.status not in (Outcome.PASSED, Outcome.FAILED) or not progress.completed_at:
            continue
        stamp = int(progress.completed_at.timestamp())
        outcome = Outcome(progress.status)
        event = CompletionEvent(
            source=lms.name,
            event_id=completion_event_id(learner.lms_user_id, row.course_id, stamp, outcome),
            course_id=row.course_id, lms_user_id=learner.lms_user_id,
            employee_id=row.employee_id, completed_at=progress.completed_at,
            outcome=outcome, score=progress.score,
            certificate_url=progress.certificate_url, expires_at=progress.expires_at)
        found += queue_completion(store, event)
    store.save_cursor(f"{lms.name}.reconcile", None)
    return found


def poll_reviews(store: Store, source: ReviewSource, *, limits: Any = None,
                 confirm: bool = False) -> int:
    """New finished reviews into the inbox. With `limits` (settings, mapping) the batch is
    planned first, and a batch over a safety limit is staged as read (no jobs, the cursor
    kept): until a person decides it, this stream is not read again (`SafetyStop` says so).
    `confirm` carries out a waiting batch as stored, then reads on."""
    name = f"{source.name}.reviews"
    from_stop = 0
    waiting = store.waiting_batch(name)
    if waiting is not None:
        if not confirm or limits is None:
            raise SafetyStop(stop_message(waiting))
        from connector.operations.stops import confirm_stop

        from_stop = confirm_stop(store, stop_id=waiting.id, by="--confirm",
                                 mapping=limits[1]).queued
    try:
        cursor_before = store.cursor(name)
        reviews, cursor = source.reviews_completed_since(cursor_before)
    except ConnectorError as exc:
        store.cursor_failed(name, str(exc))
        raise
    if limits is not None and reviews:
        settings, mapping = limits
        stop_over_limits(store, settings, mapping, reviews, confirm=confirm,
                         what=f"{title(source.name)} review poll", stream=name, cursor=cursor)
    new = sum(queue_review(store, review) for review in reviews)
    store.save_cursor(name, cursor)
    return from_stop + new


def sync_directory(store: Store, directory: EmployeeDirectory, *, max_leaver_share: float,
                   confirm: bool = False, id_spaces: IdSpaces | None = None) -> tuple[int, int]:
    """Keep identities current; leavers only from a complete read, and within the limit.

    Unless the ids are the same everywhere (`id_spaces` None or matching by id), each
    person the directory lists is recorded under the directory's own id and linked to the
    ledger's person with the same email; only linked people are kept current and judged as
    leavers (someone the directory cannot be matched to is never taken for a leaver).
    Over the limit the leavers are staged for a person (the updates still go ahead)."""
    name = f"{directory.name}.directory"
    try:
        employees, complete = directory.list_employees()
    except ConnectorError as exc:
        store.cursor_failed(name, str(exc))
        raise
    if id_spaces is not None and id_spaces.match_by != "id":
        employees = link_directory(store, directory.name, employees)
        linked = {row.employee_id for row in store.linked_externals(directory.name)}
    else:
        linked = None
    seen = {e.employee_id for e in employees}
    identities = {row.employee_id: row for row in store.all_identities()}
    # A returning leaver reads exactly as before they left: key the event on the ledger's
    # state as well, or the rehire would be dropped as a duplicate of that older read.
    queued = sum(queue_employee(store, e, "updated",
                                since=_returning(identities.get(e.employee_id), e))
                 for e in employees)
    leavers: list[str] = []
    if complete and employees:
        known = [row for row in identities.values()
                 if row.active and (linked is None or row.employee_id in linked)]
        leavers = [row.employee_id for row in known if row.employee_id not in seen]
        share = len(leavers) / max(1, len(known))
        if leavers and share > max_leaver_share and not confirm:
            batch = stage_leavers(
                store, stream=name, source=f"{title(directory.name)} directory read",
                known=len(known), seen=sorted(seen),
                leavers=[(eid, store.employee_of(identities[eid]).display_name)
                         for eid in leavers],
                reason=f"{len(leavers)} of {len(known)} employees ({share:.0%}) would be "
                       f"marked as leavers, over the limit of {max_leaver_share:.0%} "
                       "(CONNECTOR_MAX_LEAVER_SHARE)")
            raise SafetyStop(stop_message(batch))
        for eid in leavers:
            row = store.identity(eid)
            if row:  # keyed on the identity's last change: a second leave is new work too
                queue_employee(store, store.employee_of(row).model_copy(update={"active": False}),
                               "deleted", since=str(row.updated_at))
        if leavers and share > max_leaver_share:
            close_waiting(store, name, by="--confirm")
    elif not complete:
        store.audit(None, None, "directory.incomplete",
                    "the directory read was incomplete; no leaver handling this time")
    store.save_cursor(name, None)
    return queued, len(leavers)


def link_directory(store: Store, system: str, employees: list[Employee]) -> list[Employee]:
    """Each listed person recorded under `system`'s id and linked by email to the ledger's
    person (`id_spaces.ledger_people`); returns the linked ones under the ledger's key."""
    return ledger_people(store, system, employees)


def _returning(row: Identity | None, employee: Employee) -> str | None:
    """For an active employee the ledger holds as a leaver, when that identity last changed;
    else None (a leaver listed as inactive is not new work on every read)."""
    if row is None or row.active or not employee.active:
        return None
    return str(row.updated_at)


ALL_POLLERS = frozenset({"directory", "reviews", "completions", "recertification"})


def poll_all(rt: Runtime, *, confirm: bool = False,
             only: frozenset[str] = ALL_POLLERS) -> PollReport:
    """One round of every poller (or those in `only`); an error or a safety stop in one
    stream does not hold up the others: a stop is recorded in the report and the round goes
    on."""
    report = PollReport()
    store = rt.store
    if rt.directory is not None and "directory" in only:
        try:
            report.employees, report.leavers = sync_directory(
                store, rt.directory, max_leaver_share=rt.settings.max_leaver_share,
                confirm=confirm, id_spaces=rt.ctx.id_spaces)
        except SafetyStop as stop:
            report.stops.append(str(stop))
        except ConnectorError as exc:
            report.errors.append(f"directory: {exc}")
    for source in rt.review_sources if "reviews" in only else ():
        try:
            report.reviews += poll_reviews(store, source, confirm=confirm,
                                           limits=(rt.settings, rt.ctx.mapping))
        except SafetyStop as stop:
            report.stops.append(str(stop))
        except ConnectorError as exc:
            report.errors.append(f"{source.name} reviews: {exc}")
    if rt.lms is not None and "completions" in only:
        try:
            report.completions, report.reconciled = poll_completions(store, rt.lms)
        except ConnectorError as exc:
            report.errors.append(f"{rt.lms.name} completions: {exc}")
    for pulled in rt.completion_sources if "completions" in only else ():
        try:
            report.completions += poll_completions(store, pulled)[0]
        except ConnectorError as exc:
            report.errors.append(f"{pulled.name} completions: {exc}")
    from connector.recert import check_recertifications

    if "recertification" in only:
        report.recertifications = check_recertifications(rt.ctx)
    return report
