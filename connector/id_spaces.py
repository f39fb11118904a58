"""One person, several id spaces: the id a person has in the system an effect goes to.

The ledger's key for a person (`employee_id`) is the review source's id. Other systems give
the same person their own ids; sending the review source's id to them would refuse the
effect or, worse, land it on somebody else's record. So before an effect goes to a system,
the person's id *there* is found, in this order:

1. a link already in the ledger (`identity_ids`: a directory read, an earlier match);
2. when that system is also the LMS (Moodle as LMS and goal tracker), the LMS user the
   employee is linked to: one account, one id, linked for later effects;
3. the review source's id itself, when the review came from that same system, or when the
   operator says the ids are the same everywhere (`CONNECTOR_IDENTITY_MATCH_BY=id`);
4. the configured directory, when it is that system: its people, as last read, matched by
   email (trimmed, any case); exactly one person who is not linked to someone else.

Anything else is never a guess: the effect waits and the person is listed by `connector
identities pending` with the reason, until a directory read links them (which resumes the
waiting work).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from connector.models import Employee
from connector.operations.erase import dropped_as_erased
from connector.store import ExternalId, MatchState, Store, Transaction
from connector.vendors.registry import title

MatchBy = Literal["email", "id"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """The person's id in a system and their manager's there (None: unknown), or why the
    id could not be found (`reason`; then `external_id` is None)."""

    external_id: str | None
    manager_id: str | None = None
    reason: str | None = None

    def employee(self, employee: Employee) -> Employee:
        """`employee` as the target system knows them: its own ids for them and their
        manager (a manager without an id there is left out, never guessed)."""
        if self.external_id is None:
            raise ValueError("an unresolved person has no id to hand to the system")
        return employee.model_copy(update={"employee_id": self.external_id,
                                           "manager_id": self.manager_id})


@dataclass(frozen=True, slots=True)
class IdSpaces:
    """How the ledger's key becomes each system's id. `directory`: the system whose people
    the directory read records (a registry name), or None with no directory configured.

    The default (`match_by="id"`) is for a `Context` built by hand (tools, tests with fakes):
    the review source's ids are taken as valid everywhere. The runtime builds the configured
    one (`from_settings`)."""

    match_by: MatchBy = "id"
    directory: str | None = None
    lms: str | None = None  # the LMS's registry name: its learner links are ids there too

    def resolve(self, store: Store, employee: Employee, system: str, *,
                source: str | None = None) -> Resolution:
        """The person's id in `system`; `source` is the system the review (and so the
        ledger's key) came from, when known."""
        eid = employee.employee_id
        linked = store.external_id(eid, system)
        if linked is not None:
            return Resolution(linked.external_id, self._manager(store, employee, system,
                                                                linked))
        if system == self.lms:
            return self._learner_id(store, employee, system)
        if self.match_by == "id":
            return Resolution(eid, employee.manager_id)
        if source == system:  # the review source's own id: linked, for later effects
            store.link_external(eid, system, eid)
            return Resolution(eid, employee.manager_id)
        who = employee.email or eid
        if self.directory != system:
            return Resolution(None, reason=(
                f"no directory reads {title(system)}'s people, so {who}'s {title(system)} id "
                f"is unknown (set CONNECTOR_DIRECTORY={system}, or CONNECTOR_IDENTITY_MATCH_BY"
                f"=id when the review source's ids are valid in {title(system)})"))
        if not employee.email:
            return Resolution(None, reason=(
                f"{eid} has no email to find their {title(system)} record by"))
        candidates = [row for row in store.externals_by_email(system, employee.email)
                      if row.employee_id in (None, eid)]
        if len(candidates) != 1:
            what = ("no" if not candidates
                    else f"{len(candidates)} (ambiguous:"
                         f" {', '.join(c.external_id for c in candidates)})")
            return Resolution(None, reason=(
                f"{what} {title(system)} person has the email {employee.email.strip().lower()} "
                f"in the last directory read; fix the email in either system and the next "
                f"directory read links them"))
        match = candidates[0]
        holder = store.link_external(eid, system, match.external_id)
        if holder is not None:  # linked to someone else meanwhile: never share an id
            return Resolution(None, reason=(
                f"{title(system)} person {match.external_id} is already linked to {holder}"))
        store.audit(None, eid, "identity.id_linked",
                    f"{title(system)} id {match.external_id} (matched by email)")
        return Resolution(match.external_id, self._manager(store, employee, system, match))

    def _learner_id(self, store: Store, employee: Employee, system: str) -> Resolution:
        """The goal tracker is the LMS: the person's id there is their learner account, once
        the LMS matched (or created) it; until then the goal waits for that match."""
        eid = employee.employee_id
        row = store.identity(eid)
        if row is None or row.match_state is not MatchState.LINKED or not row.lms_user_id:
            return Resolution(None, reason=(
                f"{employee.email or eid} is not linked to a {title(system)} user yet; the "
                f"goal waits for the learner match (`connector identities pending`)"))
        holder = store.link_external(eid, system, row.lms_user_id)
        if holder is not None:
            return Resolution(None, reason=(
                f"{title(system)} user {row.lms_user_id} is already linked to {holder}"))
        manager = store.identity(employee.manager_id) if employee.manager_id else None
        return Resolution(row.lms_user_id, manager.lms_user_id if manager else None)

    def _manager(self, store: Store, employee: Employee, system: str,
                 row: ExternalId) -> str | None:
        """The manager in `system`: as that system's directory read them, else the
        manager's own link, else (ids the same everywhere) the review source's."""
        if row.manager_id:
            return row.manager_id
        if not employee.manager_id:
            return None
        linked = store.external_id(employee.manager_id, system)
        if linked is not None:
            return linked.external_id
        return employee.manager_id if self.match_by == "id" else None

    def known_id(self, store: Store, employee_id: str, system: str) -> str | None:
        """The person's id in `system` from what is already known (no matching): for an
        effect on a record that exists already (a training record on a goal's owner)."""
        linked = store.external_id(employee_id, system)
        if linked is not None:
            return linked.external_id
        return employee_id if self.match_by == "id" else None

    def describe(self, source_names: list[str], tracker: str | None) -> str:
        """One sentence for `connector status`: how the goal tracker's ids are found."""
        if tracker is None:
            return "no goal tracker: no id to find"
        if tracker == self.lms:
            return (f"{title(tracker)} is the LMS too: a person's id there is the learner "
                    "account the LMS side linked (one account, one id)")
        if self.match_by == "id":
            return (f"the review source's ids are used in {title(tracker)} as they are "
                    "(CONNECTOR_IDENTITY_MATCH_BY=id)")
        if self.directory == tracker:
            return (f"{title(tracker)} ids from its directory, matched by email; no match "
                    "waits in `connector identities pending`")
        if source_names and all(name == tracker for name in source_names):
            return f"the review source is {title(tracker)} itself: its own ids are used"
        return (f"no directory for {title(tracker)}: only reviews from {title(tracker)} "
                f"itself have an id there; others wait in `connector identities pending` "
                f"(set CONNECTOR_DIRECTORY={tracker}, or CONNECTOR_IDENTITY_MATCH_BY=id)")


def ledger_person(store: Store, system: str, employee: Employee,
                  tx: Transaction | None = None) -> Employee | None:
    """A person as `system` lists them (a directory read, an employee webhook) → the same
    person under the ledger's key, or None when no one in the ledger is them yet.

    The person is recorded under `system`'s id with their email and manager there; then
    linked: an existing link, else exactly one ledger person with the same email who has no
    id in `system` yet. A new link ends that person's wait for an id here and queues the
    work that waited. Their manager becomes the manager's ledger key when linked too (else
    None, which keeps the manager the ledger knows). All in `tx` when given (a directory
    read records its whole list in one unit of work), else in one of its own."""
    if dropped_as_erased(store, f"an employee change from {system}", tx=tx,
                         external=[(system, employee.employee_id)], email=employee.email):
        return None  # erased here: never recorded again (connector/operations/erase.py)
    if tx is None:
        with store.transaction() as own:
            return ledger_person(store, system, employee, own)
    ext = employee.employee_id
    before = store.external_person(system, ext, tx)
    row = store.record_external(system, ext, email=employee.email,
                                manager_id=employee.manager_id, tx=tx)
    key = row.employee_id
    # The email as it is now, else as this system listed it before (a change of address
    # that arrives before the ledger's person was linked).
    emails = [e for e in (employee.email, before.email if before else None) if e]
    for email in emails if key is None else ():
        matches = store.employees_with_email(email, tx)
        if not matches:
            continue
        if len(matches) == 1 and store.external_id(matches[0], system, tx) is None:
            waited = any(w.system == system for w in store.id_waits(matches[0], tx))
            if store.link_external(matches[0], system, ext, tx=tx) is None:
                key = matches[0]
                store.audit(tx, key, "identity.id_linked",
                            f"{title(system)} id {ext} (matched by email)")
                if waited:
                    store.jobs.enqueue(tx, "resume", {"employee_id": key}, employee_id=key)
        break
    if key is None:
        return None
    manager = store.external_person(system, employee.manager_id, tx) if employee.manager_id \
        else None
    return employee.model_copy(update={
        "employee_id": key, "manager_id": manager.employee_id if manager else None})


def ledger_people(store: Store, system: str, employees: list[Employee]) -> list[Employee]:
    """`ledger_person` for a whole directory read, in one unit of work, reading what is
    known once (a thousand people every few minutes): writes only what changed. Returns
    the linked people under the ledger's key."""
    by_email: dict[str, list[str]] = {}
    for identity in store.all_identities():
        if identity.email:
            by_email.setdefault(identity.email, []).append(identity.employee_id)
    found: list[Employee] = []
    with store.transaction() as tx:
        known = {row.external_id: row for row in store.externals(system, tx)}
        taken = {row.employee_id for row in known.values() if row.employee_id}
        waiting = {w.employee_id for w in store.id_waits(tx=tx) if w.system == system}
        for employee in employees:
            ext = employee.employee_id
            before = known.get(ext)
            email = employee.email.strip().lower() if employee.email else None
            if before is None or (before.email, before.manager_id) != (email,
                                                                       employee.manager_id):
                known[ext] = store.record_external(system, ext, email=employee.email,
                                                   manager_id=employee.manager_id, tx=tx)
            key = known[ext].employee_id
            candidates = [e for e in (email, before.email if before else None) if e]
            for address in candidates if key is None else ():
                matches = by_email.get(address, [])
                if not matches:
                    continue
                if len(matches) == 1 and matches[0] not in taken and \
                        store.link_external(matches[0], system, ext, tx=tx) is None:
                    key = matches[0]
                    taken.add(key)
                    known[ext] = replace(known[ext], employee_id=key)
                    store.audit(tx, key, "identity.id_linked",
                                f"{title(system)} id {ext} (directory read, matched by email)")
                    if key in waiting:
                        store.jobs.enqueue(tx, "resume", {"employee_id": key},
                                           employee_id=key)
                break
            if key is not None:
                manager = known.get(employee.manager_id or "")
                found.append(employee.model_copy(update={
                    "employee_id": key,
                    "manager_id": manager.employee_id if manager else None}))
    return found
