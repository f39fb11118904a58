"""The identity review queue: a person links an employee to an LMS user, or ignores them.

A link names a user the LMS has: it is looked up first (`LearningPlatform.learner`), so a
mistyped id is refused at once instead of becoming a dead letter later.

Linking queues a `resume` job, so the enrollments that waited for the link run; the link,
its audit row and that job commit together.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.errors import InputError
from connector.ports import LearningPlatform
from connector.store import Identity, MatchState, Store
from connector.vendors.registry import title


@dataclass(frozen=True, slots=True)
class IdentityDecision:
    """What a link or an ignore did. `changed=False`: it was so already (nothing queued)."""

    employee_id: str
    state: MatchState
    lms_user_id: str | None
    changed: bool
    message: str


def pending_identities(store: Store) -> list[Identity]:
    """Employees waiting for a person: no LMS match, or an ambiguous one; or no id in a
    system an effect goes to (`match_note` says why)."""
    return store.identities_waiting()


def link_identity(store: Store, *, employee_id: str, lms_user_id: str, by: str,
                  lms: LearningPlatform | None = None) -> IdentityDecision:
    """Link `employee_id` to `lms_user_id` and queue the work that waited for it. With the
    LMS at hand the user is looked up first: one that does not exist is refused (nothing
    linked), and the answer says who the linked user is."""
    who = ""
    if lms is not None:
        learner = lms.learner(lms_user_id)
        if learner is None:
            raise InputError(
                f"{title(lms.name)} has no user {lms_user_id!r}; nothing was linked. Find the "
                f"learner's user id in {title(lms.name)} and run `connector identities link "
                f"{employee_id} USER_ID` again")
        details = [d for d in (learner.email,
                               f"login {learner.login}" if learner.login else None) if d]
        who = f" ({', '.join(details)})" if details else ""
    with store.transaction() as tx:
        identity = store.identity_for_decision(tx, employee_id)
        if identity is None:
            raise InputError(f"employee {employee_id!r} is not known to the connector")
        if identity.match_state is MatchState.LINKED and identity.lms_user_id == lms_user_id:
            return IdentityDecision(employee_id, MatchState.LINKED, lms_user_id, False,
                                    f"{employee_id} is already linked to the same user "
                                    f"(LMS user {lms_user_id}); nothing changed")
        store.set_identity(employee_id, state=MatchState.LINKED, lms_user_id=lms_user_id,
                           note="linked by a person", tx=tx)
        previous = (f" (was LMS user {identity.lms_user_id})"
                    if identity.lms_user_id and identity.lms_user_id != lms_user_id else "")
        store.audit(tx, employee_id, "identity.linked",
                    f"linked to LMS user {lms_user_id} by a person ({by}){previous}")
        store.jobs.enqueue(tx, "resume", {"employee_id": employee_id}, employee_id=employee_id)
    checked = who if lms is not None else " (not checked: no LMS is configured)"
    return IdentityDecision(employee_id, MatchState.LINKED, lms_user_id, True,
                            f"linked {employee_id} → LMS user {lms_user_id}{checked}; "
                            "waiting work is queued")


def ignore_identity(store: Store, *, employee_id: str, by: str) -> IdentityDecision:
    """Never assign anything to `employee_id` (a contractor, a test account)."""
    with store.transaction() as tx:
        identity = store.identity_for_decision(tx, employee_id)
        if identity is None:
            raise InputError(f"employee {employee_id!r} is not known to the connector")
        if identity.match_state is MatchState.IGNORED:
            return IdentityDecision(employee_id, MatchState.IGNORED, identity.lms_user_id,
                                    False, f"{employee_id} is already ignored; nothing changed")
        store.set_identity(employee_id, state=MatchState.IGNORED, note="ignored by a person",
                           tx=tx)
        store.audit(tx, employee_id, "identity.ignored",
                    f"a person ({by}) chose to ignore this employee")
    return IdentityDecision(employee_id, MatchState.IGNORED, identity.lms_user_id, True,
                            f"{employee_id} will be left alone")
