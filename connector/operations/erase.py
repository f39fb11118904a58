"""Erasure on request (GDPR art. 17): an employee's personal data out of every table.

The person is not deleted row by row (that would break counts, the audit trail's order and
the ids other rows point to): every row that is theirs, or names them, is rewritten so that
their ids, email and names read as one stable pseudonym (`erased-<random>`), the same in
every table, so the trail still reads as one person's story without saying who. Raw bodies
that mention them are dropped. Their queued jobs are closed unrun and their pending
approvals rejected. A tombstone (hashes of
each id and address they could come back under) makes a later poll, import, webhook or
directory read about them a dropped event with an audit note, never a stored one.

What the connector cannot erase is what the vendors hold: the result lists the LMS user,
the goals in the tracker, the reviews at the source and the person's id in each system, for
the operator to ask those vendors.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from connector.errors import ConnectorError, InputError
from connector.models import Employee
from connector.store import Store, Transaction

PREFIX = "erased-"


class ErasureRefused(ConnectorError):
    """An erasure that cannot be done safely now (exit 1; nothing changed)."""


def erasure_key(kind: str, value: str) -> str:
    """A tombstone's key for one identifier ("employee", "email", "lms" or a system's name,
    and the value): a one-way hash, so the tombstone does not keep who the person was."""
    return hashlib.sha256(f"{kind}:{str(value).strip().lower()}".encode()).hexdigest()


def tombstone_keys(*, employee_id: Any = None, email: Any = None, lms_user_id: Any = None,
                   external: Iterable[tuple[str, str]] = ()) -> list[str]:
    """The tombstone keys an event or a person carries: every way they are recognised."""
    keys = [erasure_key(kind, value) for kind, value in
            (("employee", employee_id), ("email", email), ("lms", lms_user_id)) if value]
    return keys + [erasure_key(system, ext) for system, ext in external if ext]


def erased_pseudonym(store: Store, *, tx: Transaction | None = None, **keys: Any) -> str | None:
    """The pseudonym when the person an event or a directory entry names was erased."""
    return store.erasures.pseudonym_for(tombstone_keys(**keys), tx)


def dropped_as_erased(store: Store, what: str, *, tx: Transaction | None = None,
                      **keys: Any) -> bool:
    """True (and an audit note under the pseudonym) when an inbound event is about an
    erased person: the caller stores nothing of it, raw body included."""
    pseudonym = erased_pseudonym(store, tx=tx, **keys)
    if pseudonym is None:
        return False
    store.audit(tx, pseudonym, "erasure.event_dropped",
                f"{what} about an erased person was dropped, not stored")
    return True


def without_erased(store: Store, system: str, employees: list[Employee]) -> list[Employee]:
    """A directory read without the people erased here (skipped without an audit row: the
    directory lists them on every read until HR removes them)."""
    keys = {e.employee_id: tombstone_keys(employee_id=e.employee_id, email=e.email,
                                          external=[(system, e.employee_id)])
            for e in employees}
    gone = store.erasures.tombstoned(k for ks in keys.values() for k in ks)
    if not gone:
        return employees
    return [e for e in employees if not gone.intersection(keys[e.employee_id])]


#: Fields (columns, JSON keys) that hold a reference to a person: a short or all-digit id is
#: replaced outside the person's own rows only there ("103" elsewhere may be a course).
REFERENCE_FIELDS = frozenset({"employee_id", "manager_id", "lms_user_id", "user_id",
                              "external_id"})
#: Those that say whom a JSON object is about (a report names the person as its manager).
SUBJECT_FIELDS = REFERENCE_FIELDS - {"manager_id"}


class Pseudonymiser:
    """Rewrites text and JSON so that one person's identifiers read as their pseudonym.

    Emails, the full name and distinctive ids (4+ characters, not all digits) are replaced
    wherever they stand as a whole word. A short or all-digit id is ambiguous ("103" is also
    a course): in the person's own rows it is replaced as a whole value and where our keys
    put a person's id (`learner:103`, `goal:103/…`, `enroll:103:<course>:103/…`); elsewhere
    only as the whole value of a reference field (`REFERENCE_FIELDS`: a report's
    `manager_id`). A first or last name on its own is replaced only in the person's own
    rows, or inside a JSON object that names the person by a reference field or their email
    (someone else's row may name another Ann)."""

    def __init__(self, pseudonym: str, *, ids: Iterable[str], emails: Iterable[str],
                 full_names: Iterable[str], names: Iterable[str]) -> None:
        self.pseudonym = pseudonym
        self.email = f"{pseudonym}@erased.invalid"
        self.ids = sorted({i for i in ids if i}, key=len, reverse=True)
        self.emails = sorted({e.strip().lower() for e in emails if e}, key=len, reverse=True)
        self.full_names = sorted({n.strip() for n in full_names if n and n.strip()},
                                 key=len, reverse=True)
        names = sorted({n.strip() for n in names if n and len(n.strip()) >= 2},
                       key=len, reverse=True)
        weak = [i for i in self.ids if self._is_weak(i)]
        self._strong = [(re.compile(rf"(?<![A-Za-z0-9]){re.escape(i)}(?![A-Za-z0-9])"),
                         pseudonym) for i in self.ids if not self._is_weak(i)]
        self._strong += [(re.compile(rf"(?<![\w.+-]){re.escape(e)}(?![\w.-])", re.I),
                          self.email) for e in self.emails]
        self._strong += [(re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.I), pseudonym)
                         for n in self.full_names]
        # The shapes our keys give a person's id: `kind:<id>…` and a goal `…<id>/skill/cycle`
        # (`enroll:103:104:103/…` keeps course 104 and would keep a course 103 too).
        self._own = [(re.compile(rf"^([A-Za-z_]+:)?{re.escape(i)}(?=[:/]|$)"),
                      rf"\g<1>{pseudonym}") for i in weak]
        self._own += [(re.compile(rf'(?<=[:"\s]){re.escape(i)}(?=/)'), pseudonym)
                      for i in weak]
        self._own += [(re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.I), PREFIX + "name")
                      for n in names]

    @staticmethod
    def _is_weak(value: str) -> bool:
        return len(value) < 4 or value.isdigit()

    def mentions(self) -> list[str]:
        """Text a row must contain to be looked at (any case): the LIKE pre-filter."""
        found: list[str] = []
        for i in self.ids:
            found += [f'"{i}"', f":{i}", f"/{i}"] if self._is_weak(i) else [i]
        for text in [*self.emails, *self.full_names]:
            found += sorted({text, json.dumps(text)[1:-1]})  # as written, and JSON-escaped
        return found

    def equals(self) -> list[str]:
        """Whole values a row is looked at for (a short id in a column of its own)."""
        return sorted({*self.ids, *self.emails})

    def scrub(self, field: str, value: Any, owned: bool) -> Any:
        """`value` of column `field` with the person replaced (`owned`: the row is theirs);
        an unchanged value is returned as it was."""
        if not isinstance(value, str) or not value:
            return value
        if value[0] in "{[":
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict | list):
                walked = self._walk(parsed, owned, field)
                return value if walked == parsed else json.dumps(walked, sort_keys=True,
                                                                 default=str)
        return self._text(value, owned, field)

    def _names_them(self, field: str, value: Any, fields: frozenset[str]) -> bool:
        if isinstance(value, bool) or not isinstance(value, str | int):
            return False
        text = str(value)
        return (field in fields and text in self.ids) or text.strip().lower() in self.emails

    def _text(self, text: str, owned: bool, field: str) -> str:
        if text.strip().lower() in self.emails:
            return self.email
        if text in self.ids and (owned or field in REFERENCE_FIELDS or not self._is_weak(text)):
            return self.pseudonym
        for pattern, replacement in self._strong + (self._own if owned else []):
            text = pattern.sub(replacement, text)
        return text

    def _walk(self, node: Any, owned: bool, field: str) -> Any:
        if isinstance(node, dict):
            here = owned or any(self._names_them(str(k), v, SUBJECT_FIELDS)
                                for k, v in node.items())
            return {self._text(str(k), here, ""): self._walk(v, here, str(k))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [self._walk(item, owned, field) for item in node]
        if isinstance(node, str):
            return self._text(node, owned, field)
        if self._names_them(field, node, REFERENCE_FIELDS):  # an id given as a number
            return self.pseudonym
        return node


@dataclass
class ErasureResult:
    employee_id: str
    pseudonym: str
    dry_run: bool
    already: bool = False
    rows: dict[str, int] = field(default_factory=dict)  # rows rewritten per table
    jobs_closed: int = 0
    tombstones: int = 0
    in_vendors: list[str] = field(default_factory=list)  # where their data remains

    def text(self) -> str:
        if self.already:
            return (f"{self.employee_id} was erased already (now {self.pseudonym}); "
                    "nothing to do")
        verb = "would rewrite" if self.dry_run else "rewrote"
        tables = ", ".join(f"{n} {t}" for t, n in sorted(self.rows.items())) or "none"
        lines = [f"dry run: erasing {self.employee_id} as a new pseudonym (drawn when it "
                 f"runs, like {self.pseudonym})" if self.dry_run
                 else f"erasing {self.employee_id} as {self.pseudonym}",
                 f"{verb} rows per table: {tables}",
                 f"queued jobs closed unrun and pending approvals rejected: "
                 f"{self.jobs_closed}",
                 f"tombstones: {self.tombstones} (a later event about them is dropped)",
                 "still held by the vendors (ask each to erase them; this list is not kept):"]
        lines += [f"  - {where}" for where in self.in_vendors] or ["  - nothing known"]
        if self.dry_run:
            lines.append("dry run: nothing changed (run without --dry-run to erase)")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _vendor_records(person: dict[str, Any]) -> list[str]:
    identity = person["identity"] or {}
    found = []
    if identity.get("lms_user_id"):
        found.append(f"LMS user {identity['lms_user_id']} (the learner and their "
                     "enrollments and completions)")
    found += [f"{g['tracker'] or 'goal tracker'} goal {g['goal_id']}"
              for g in person["goals"] if g["goal_id"]]
    found += [f"{r['source']} review {r['review_id']}" for r in person["reviews"]]
    found += [f"{i['system']} person {i['external_id']}" for i in person["ids"]]
    return found


def erase_employee(store: Store, employee_id: str, *, by: str,
                   dry_run: bool = False) -> ErasureResult:
    """Erase `employee_id`'s personal data here (see the module's docstring). An unknown
    employee is an InputError (exit 2); one with a job running now is refused (exit 1),
    since that job could write their data back.

    The tombstones are committed first, and the rows rewritten only once every process
    sees them (the intake check caches "no tombstone" for a moment): an event that arrived
    before is rewritten with the rest, one that arrives after is dropped. An erasure cut
    short is finished by running it again (the person is still known, under the same
    pseudonym)."""
    already = erased_pseudonym(store, employee_id=employee_id)
    person = store.erasures.person(employee_id)
    if person is None:
        if already is not None:
            return ErasureResult(employee_id, already, dry_run, already=True)
        raise InputError(f"employee {employee_id!r} is not known to the ledger (no identity): "
                         "check the id with `connector trace EMPLOYEE`; nothing changed")
    if store.erasures.running_jobs(employee_id):
        raise ErasureRefused(f"a job for {employee_id} is running now; run `connector erase` "
                             "again when it has finished (nothing changed)")
    identity = person["identity"] or {}
    first, last = identity.get("first_name") or "", identity.get("last_name") or ""
    emails = [identity.get("email"), *(i["email"] for i in person["ids"])]
    lms = identity.get("lms_user_id")
    externals = [(i["system"], i["external_id"]) for i in person["ids"]]
    pseudonym = already or PREFIX + secrets.token_hex(6)
    scrubber = Pseudonymiser(
        pseudonym, ids=[employee_id, *(e for _, e in externals), *([lms] if lms else [])],
        emails=[e for e in emails if e],
        full_names=[f"{first} {last}", f"{last}, {first}", f"{last} {first}"]
        if first and last else [], names=[first, last])
    keys = tombstone_keys(employee_id=employee_id, lms_user_id=lms, external=externals)
    keys += [erasure_key("email", e) for e in emails if e]
    result = ErasureResult(employee_id, pseudonym, dry_run, tombstones=len(set(keys)),
                           in_vendors=_vendor_records(person))
    if not dry_run:
        with store.transaction() as tx:
            store.erasures.add_tombstones(tx, keys, pseudonym=pseudonym, by=by)
        time.sleep(store.erasures.seen_everywhere_after)
    with store.transaction() as tx:
        if not dry_run and store.erasures.running_jobs(employee_id, tx):
            raise ErasureRefused(f"a job for {employee_id} started meanwhile; run `connector "
                                 "erase` again when it has finished (the tombstone holds)")
        result.jobs_closed = store.erasures.close_pending_work(tx, employee_id, by=by,
                                                               write=not dry_run)
        result.rows = store.erasures.rewrite(
            tx, employee_id=employee_id, goal_keys=[g["goal_key"] for g in person["goals"]],
            mentions=scrubber.mentions(), equals=scrubber.equals(), scrub=scrubber.scrub,
            write=not dry_run)
        if dry_run:
            return result
        store.set_active(pseudonym, False, tx)
        store.audit(tx, pseudonym, "erasure.done",
                    f"personal data erased by {by}: {sum(result.rows.values())} row(s) "
                    f"rewritten, {result.jobs_closed} queued job(s) or approval(s) closed, "
                    f"{result.tombstones} tombstone(s); {len(result.in_vendors)} record(s) "
                    "in the vendors listed for the operator",
                    cause={"rows": result.rows, "jobs_closed": result.jobs_closed})
    return result
