"""The console's failed sign-ins: counted per subject (a user name, a client address) over a
sliding window, in the database, so several console processes share one limit and a restart
does not reset it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sqlalchemy import Engine, delete, func, insert, select

from connector.store.engine import transaction
from connector.store.schema import console_logins


class LoginAttempts:
    """Failed sign-ins by subject; a success clears its subject's failures."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def failures(self, subject: str, *, window_seconds: float) -> int:
        """Failures of `subject` within the last `window_seconds`."""
        since = self.clock() - window_seconds
        with transaction(self.engine) as conn:
            return int(conn.execute(
                select(func.count()).select_from(console_logins)
                .where(console_logins.c.subject == subject, console_logins.c.at >= since)
            ).scalar_one())

    def record_failure(self, subjects: Iterable[str], *, window_seconds: float) -> None:
        """Count one failure against each subject; rows older than the window are dropped
        on the way, so the table stays as small as the window."""
        now = self.clock()
        rows = [{"subject": s, "at": now} for s in subjects]
        with transaction(self.engine) as conn:
            conn.execute(delete(console_logins)
                         .where(console_logins.c.at < now - window_seconds))
            if rows:
                conn.execute(insert(console_logins), rows)

    def clear(self, subject: str) -> None:
        """A successful sign-in forgets its subject's failures."""
        with transaction(self.engine) as conn:
            conn.execute(delete(console_logins).where(console_logins.c.subject == subject))
