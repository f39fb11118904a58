"""Which notifications were sent: claimed before sending, marked after.

A claim is a row per (kind, key). A second process, or this one after a restart, sees the row
and sends nothing. A claim that was never marked sent (the process died, the channel failed)
is taken again once it is older than the lease, so an occurrence is sent at least once and,
short of a crash between the send and the mark, exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sqlalchemy import Engine, delete, select, update

from connector.store.engine import transaction
from connector.store.schema import notifications
from connector.store.sql import insert_ignore


class SentNotices:
    """The notifications table behind `Store.notices`."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def claim(self, kind: str, keys: Iterable[str], *, lease_seconds: float = 300.0
              ) -> list[str]:
        """The keys of `kind` this process may send now: never sent, and not claimed by
        another process within the lease. Claimed in one transaction."""
        now = self.clock()
        won: list[str] = []
        with transaction(self.engine) as conn:
            for key in dict.fromkeys(k[:200] for k in keys):
                if insert_ignore(conn, notifications,
                                 {"kind": kind, "key": key, "claimed_at": now},
                                 ["kind", "key"]):
                    won.append(key)
                    continue
                retaken = conn.execute(
                    update(notifications)
                    .where(notifications.c.kind == kind, notifications.c.key == key,
                           notifications.c.sent_at.is_(None),
                           notifications.c.claimed_at < now - lease_seconds)
                    .values(claimed_at=now)
                    .execution_options(preserve_rowcount=True)).rowcount
                if retaken == 1:
                    won.append(key)
        return won

    def mark_sent(self, kind: str, keys: Iterable[str]) -> None:
        with transaction(self.engine) as conn:
            conn.execute(update(notifications)
                         .where(notifications.c.kind == kind,
                                notifications.c.key.in_([k[:200] for k in keys]))
                         .values(sent_at=self.clock()))

    def release(self, kind: str, keys: Iterable[str]) -> None:
        """Give claims back after a failed send, so the next round tries again."""
        with transaction(self.engine) as conn:
            conn.execute(delete(notifications)
                         .where(notifications.c.kind == kind,
                                notifications.c.key.in_([k[:200] for k in keys]),
                                notifications.c.sent_at.is_(None)))

    def sent(self, kind: str) -> set[str]:
        """Keys of `kind` already sent (for `connector notify --dry-run`)."""
        with transaction(self.engine) as conn:
            return {r.key for r in conn.execute(
                select(notifications.c.key).where(notifications.c.kind == kind,
                                                  notifications.c.sent_at.is_not(None)))}
