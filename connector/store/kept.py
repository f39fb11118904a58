"""Kept credentials and their refresh leases: the rows behind connector/secrets.py and
connector/tokens.py.

A kept secret is a `cursors` row named `_secret.<name>` (names starting with `_` are not
pollers, so `status` never lists them); its value is whatever the caller stores (ciphertext,
since connector/secrets.py encrypts before it gets here). A lease is a `token_leases` row,
taken by one conditional statement so that two processes cannot both hold it, and free again
once its `expires_at` passes, so a holder that was killed blocks nobody for longer. Each call
is its own short transaction: nobody holds a write transaction across a vendor call.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, or_, select, update

from connector.models import utcnow
from connector.store.dbclock import DatabaseClock
from connector.store.engine import transaction
from connector.store.schema import cursors, token_leases
from connector.store.sql import insert_ignore

PREFIX = "_secret."


class KeptRows:
    """Named operations on kept secrets and leases (lease times on the database's clock, so
    processes whose clocks disagree still agree on when a lease is free)."""

    def __init__(self, engine: Engine, db_now: DatabaseClock) -> None:
        self.engine = engine
        self.db_now = db_now

    def load(self, name: str) -> str | None:
        with transaction(self.engine) as conn:
            return conn.execute(select(cursors.c.value)
                                .where(cursors.c.name == PREFIX + name)).scalar()

    def save(self, name: str, value: str, *, replacing: str | None = None) -> bool:
        """Store `value`; with `replacing`, only if the row still holds exactly that (a
        compare-and-set, for rewriting a value in place without undoing a newer write).
        True when written."""
        now = utcnow()
        key = PREFIX + name
        with transaction(self.engine) as conn:
            if replacing is not None:
                done = conn.execute(
                    update(cursors).where(cursors.c.name == key, cursors.c.value == replacing)
                    .values(value=value, updated_at=now)
                    .execution_options(preserve_rowcount=True))
                return bool(done.rowcount == 1)
            if not insert_ignore(conn, cursors, dict(name=key, value=value, last_success_at=now,
                                                     updated_at=now), ["name"]):
                conn.execute(update(cursors).where(cursors.c.name == key)
                             .values(value=value, last_success_at=now, updated_at=now))
            return True

    def take_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Hold `name` for `seconds` unless someone else holds it unexpired; True when held."""
        with transaction(self.engine) as conn:
            now = self.db_now.read(conn)
            until = now + seconds
            if insert_ignore(conn, token_leases, dict(name=name, owner=owner, expires_at=until),
                             ["name"]):
                return True
            taken = conn.execute(
                update(token_leases)
                .where(token_leases.c.name == name,
                       or_(token_leases.c.expires_at <= now, token_leases.c.owner == owner))
                .values(owner=owner, expires_at=until)
                .execution_options(preserve_rowcount=True))
            return bool(taken.rowcount == 1)

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up, if `owner` still holds it (it may have expired and moved on)."""
        with transaction(self.engine) as conn:
            conn.execute(delete(token_leases).where(token_leases.c.name == name,
                                                    token_leases.c.owner == owner))
