"""Erasing a person: the SQL behind `connector erase`, and the tombstones that keep them out.

Every table of the schema is visited, not a list someone must remember to extend: a table's
rows that are the person's (its `employee_id` is theirs, or, for `evidence`, the goal is
theirs) are rewritten in every text column; any other row whose text mentions one of the
person's identifiers (found with a case-insensitive LIKE first, then judged in Python) is
rewritten where it names them. Rows are rewritten, never deleted, so counts and ids stay;
raw bodies that mention the person are dropped (they cannot be rewritten safely). What a
value becomes is the caller's `scrub` (connector/operations/erase.py): this module only
finds the rows and writes them back, in the caller's transaction.

A tombstone is a one-way hash of one way the person could come back (made by
connector/operations/erase.py: this module keeps it as given); `pseudonym_for` answers whether
any given key is tombstoned. It runs on the receiver's hot path, so a process that has seen no
tombstone asks again only every few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine, LargeBinary, String, Table, func, or_, select, update

from connector.models import utcnow
from connector.store.engine import Transaction, using
from connector.store.schema import (
    approvals,
    erasures,
    goals,
    identities,
    identity_ids,
    jobs,
    metadata,
    reviews,
)

#: Tables erasure leaves alone: the schema's own bookkeeping, the tombstones themselves and
#: the LMS's course titles.
_NOT_PERSONAL = {"schema_migrations", "erasures", "course_titles"}
NO_TOMBSTONE_RECHECK_SECONDS = 2.0

#: (column name, its value, is the row the person's?) → the value to keep instead
Scrub = Callable[[str, Any, bool], Any]


class ErasureRows:
    """Named operations for `connector erase` and the tombstone checks at intake."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._none_seen_at = -float("inf")  # when this process last found no tombstone
        #: How long until every process sees a new tombstone (its "none" answer expires).
        self.seen_everywhere_after = NO_TOMBSTONE_RECHECK_SECONDS

    # -- tombstones ------------------------------------------------------------------------
    def pseudonym_for(self, keys: Iterable[str], tx: Transaction | None = None) -> str | None:
        """The pseudonym of the erased person any of `keys` (tombstone hashes) belongs to.
        Inside the caller's transaction when given (SQLite allows one writer: a second
        transaction from the same thread would wait on the first until it times out)."""
        found = self._lookup(keys, tx)
        return next(iter(sorted(found.values())), None)

    def tombstoned(self, keys: Iterable[str], tx: Transaction | None = None) -> set[str]:
        """Which of `keys` are tombstones (one query for a whole directory read)."""
        return set(self._lookup(keys, tx))

    def _lookup(self, keys: Iterable[str], tx: Transaction | None = None) -> dict[str, str]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        with self._lock:
            if time.monotonic() - self._none_seen_at < NO_TOMBSTONE_RECHECK_SECONDS:
                return {}
        with using(self.engine, tx) as conn:
            found = {str(k): str(p) for k, p in conn.execute(
                select(erasures.c.key_hash, erasures.c.pseudonym)
                .where(erasures.c.key_hash.in_(wanted)))}
            if not found and conn.execute(select(erasures.c.key_hash).limit(1)).first() \
                    is None:
                with self._lock:
                    self._none_seen_at = time.monotonic()
        return found

    def add_tombstones(self, tx: Transaction, keys: Iterable[str], *, pseudonym: str,
                       by: str) -> None:
        now = utcnow()
        for key in sorted(set(keys)):
            existing = tx.connection.execute(select(erasures.c.key_hash)
                                             .where(erasures.c.key_hash == key)).first()
            if existing is None:
                tx.connection.execute(erasures.insert().values(
                    key_hash=key, pseudonym=pseudonym, erased_at=now, erased_by=by))
        with self._lock:
            self._none_seen_at = -float("inf")

    # -- what the ledger knows of a person --------------------------------------------------
    def person(self, employee_id: str, tx: Transaction | None = None) -> dict[str, Any] | None:
        """Everything that identifies the person here: their identity row, their ids in each
        system, their goals in the tracker and their reviews at the source; None when the
        ledger does not know them."""
        with using(self.engine, tx) as c:
            row = c.execute(select(identities).where(identities.c.employee_id == employee_id)
                            ).mappings().first()
            ids = [dict(r) for r in c.execute(
                select(identity_ids.c.system, identity_ids.c.external_id, identity_ids.c.email)
                .where(identity_ids.c.employee_id == employee_id)
                .order_by(identity_ids.c.system)).mappings()]
            if row is None and not ids:
                return None
            their_goals = [dict(r) for r in c.execute(
                select(goals.c.goal_key, goals.c.tracker, goals.c.goal_id, goals.c.title)
                .where(goals.c.employee_id == employee_id).order_by(goals.c.goal_key)
            ).mappings()]
            their_reviews = [dict(r) for r in c.execute(
                select(reviews.c.source, reviews.c.review_id)
                .where(reviews.c.employee_id == employee_id)
                .order_by(reviews.c.source, reviews.c.review_id)).mappings()]
        return {"identity": dict(row) if row else None, "ids": ids, "goals": their_goals,
                "reviews": their_reviews}

    # -- the rewrite -------------------------------------------------------------------------
    def rewrite(self, tx: Transaction, *, employee_id: str, goal_keys: list[str],
                mentions: list[str], equals: list[str], scrub: Scrub,
                write: bool) -> dict[str, int]:
        """Rewrite the person's rows and every row that mentions them (a text column that
        contains one of `mentions`, any case, or equals one of `equals`); rows changed per
        table (with `write` False only counted: a dry run)."""
        changed: dict[str, int] = {}
        for table in metadata.sorted_tables:
            if table.name in _NOT_PERSONAL:
                continue
            count = self._rewrite_table(tx, table, employee_id, goal_keys, mentions, equals,
                                        scrub, write)
            if count:
                changed[table.name] = count
        return changed

    def _rewrite_table(self, tx: Transaction, table: Table, employee_id: str,
                       goal_keys: list[str], mentions: list[str], equals: list[str],
                       scrub: Scrub, write: bool) -> int:
        texts = [c for c in table.columns if isinstance(c.type, String)]
        binaries = [c for c in table.columns if isinstance(c.type, LargeBinary)]
        if not texts:
            return 0
        if "employee_id" in table.c:
            owned = table.c.employee_id == employee_id
        elif table.name == "evidence" and goal_keys:
            owned = table.c.goal_key.in_(goal_keys)
        else:
            owned = None
        mention = [func.lower(c).contains(m.lower(), autoescape=True)
                   for c in texts for m in mentions]
        mention += [c.in_(equals) for c in texts if equals]
        wanted = [w for w in [owned, *mention] if w is not None]
        if not wanted:
            return 0
        keys = list(table.primary_key.columns)
        chosen = [*keys, *[c for c in texts if c not in keys],
                  *[c.is_not(None).label(f"has_{c.name}") for c in binaries]]
        rows = tx.connection.execute(select(*chosen).where(or_(*wanted))).mappings().all()
        count = 0
        for row in rows:
            mine = owned is not None and self._is_owned(table, row, employee_id, goal_keys)
            values = {c.name: scrub(c.name, row[c.name], mine) for c in texts}
            values = {name: v for name, v in values.items() if v != row[name]}
            # A raw body cannot be rewritten safely (any encoding, any shape): it goes.
            values.update({c.name: None for c in binaries if row[f"has_{c.name}"]})
            if not values:
                continue
            count += 1
            if write:
                tx.connection.execute(update(table).where(
                    *[k == row[k.name] for k in keys]).values(**values))
        return count

    @staticmethod
    def _is_owned(table: Table, row: Any, employee_id: str, goal_keys: list[str]) -> bool:
        if "employee_id" in table.c:
            return bool(row["employee_id"] == employee_id)
        return table.name == "evidence" and row["goal_key"] in goal_keys

    def close_pending_work(self, tx: Transaction, employee_id: str, *, by: str,
                           write: bool) -> int:
        """The person's queued jobs closed unrun (as done, with the reason) and their pending
        approvals rejected: carried out after the erasure they would act on a pseudonym in
        the vendors. How many (with `write` False only counted)."""
        pending = (jobs.c.employee_id == employee_id) & (jobs.c.state == "pending")
        waiting = (approvals.c.employee_id == employee_id) & (approvals.c.state == "pending")
        if not write:
            return sum(int(tx.connection.execute(select(func.count()).select_from(t).where(w))
                           .scalar_one()) for t, w in ((jobs, pending), (approvals, waiting)))
        closed = tx.connection.execute(update(jobs).where(pending).values(
            state="done", finished_at=time.time(), lease_owner=None, lease_expires=None,
            last_error="not run: the employee was erased")).rowcount
        rejected = tx.connection.execute(update(approvals).where(waiting).values(
            state="rejected", decided_by=by, decided_at=utcnow())).rowcount
        return int(closed) + int(rejected)

    def running_jobs(self, employee_id: str, tx: Transaction | None = None) -> int:
        with using(self.engine, tx) as conn:
            return int(conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.employee_id == employee_id, jobs.c.state == "running")).scalar_one())
