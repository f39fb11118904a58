"""LMS users an employee without a clear match might be: same name, similar email, each one
checked against the LMS before it is offered.

The LMS port reads a learner by email (`find_learner`) and by id (`learner`), nothing wider,
so candidates are what those two reads can answer: the employee's email as given and the
usual spellings of their name at their email's domain (`ada.lovelace@`, `alovelace@`, …),
and the LMS users the ledger has seen with a similar email. Only a user the LMS answers for
is suggested; a person still decides (Link calls the same operation as `connector
identities link`). A few reads per employee, asked only when a person opens the page.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from connector.errors import ConnectorError
from connector.models import Employee
from connector.ports import LearningPlatform
from connector.store import Identity, Store

MOST_EMAILS = 6  # LMS reads per employee, at most, for the email spellings


@dataclass(frozen=True, slots=True)
class Suggestion:
    lms_user_id: str
    email: str | None
    login: str | None
    why: str  # "same email", "same name (ada.lovelace@example.com)", …


@dataclass(frozen=True, slots=True)
class Suggestions:
    found: list[Suggestion]
    asked: int  # how many LMS reads were made
    problem: str | None = None  # why the LMS could not be asked (plain words)


def suggest(store: Store, identity: Identity, lms: LearningPlatform | None) -> Suggestions:
    """The LMS users `identity` might be, each confirmed by the LMS."""
    if lms is None:
        return Suggestions([], 0, "No LMS is configured for the console (CONNECTOR_LMS), so "
                                  "no LMS user can be looked up; type the user id by hand.")
    found: dict[str, Suggestion] = {}
    asked = 0
    base = Employee(employee_id=identity.employee_id, email=identity.email,
                    first_name=identity.first_name, last_name=identity.last_name,
                    role=identity.role)
    try:
        for email, why in _emails(identity)[:MOST_EMAILS]:
            asked += 1
            learner = lms.find_learner(base.model_copy(update={"email": email}))
            if learner is not None and learner.lms_user_id not in found:
                found[learner.lms_user_id] = Suggestion(learner.lms_user_id, learner.email,
                                                        learner.login, why)
        for user_id, email in _seen_users(store, lms.name, identity):
            if user_id in found:
                continue
            asked += 1
            learner = lms.learner(user_id)
            if learner is not None:
                found[user_id] = Suggestion(user_id, learner.email or email, learner.login,
                                            f"similar email ({email})")
    except ConnectorError as exc:
        from connector.console.plain import error_words

        return Suggestions(list(found.values()), asked,
                           f"The LMS could not be asked: {error_words(str(exc))}")
    return Suggestions(list(found.values()), asked)


def _emails(identity: Identity) -> list[tuple[str, str]]:
    """The employee's email, then their name's usual spellings at its domain."""
    out: list[tuple[str, str]] = []
    email = (identity.email or "").strip().lower()
    if email:
        out.append((email, "same email"))
    domain = email.partition("@")[2]
    first, last = _part(identity.first_name), _part(identity.last_name)
    if domain and first and last:
        for local in (f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}",
                      f"{first}_{last}", f"{last}.{first}", f"{first}"):
            candidate = f"{local}@{domain}"
            if candidate != email and candidate not in (e for e, _ in out):
                out.append((candidate, f"same name ({candidate})"))
    return out


def _seen_users(store: Store, system: str, identity: Identity) -> list[tuple[str, str]]:
    """LMS users the ledger has seen, unlinked, whose email is close to the employee's."""
    email = (identity.email or "").strip().lower()
    if not email:
        return []
    return [(row.external_id, row.email) for row in store.externals(system)
            if row.email and row.employee_id is None and _similar(row.email, email)][:5]


def _similar(a: str, b: str) -> bool:
    """The same local part (any domain), or at most two letters apart."""
    if a.partition("@")[0] == b.partition("@")[0]:
        return True
    return _distance(a, b) <= 2


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _part(name: str | None) -> str:
    """A name as an email spells it: no accents, spaces or punctuation, lower case."""
    plain = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())
