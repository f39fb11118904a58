"""A token chain kept in the store: an OAuth grant that survives restarts, crashes and peers.

A vendor that rotates its refresh token on every use (and rotates it even when its answer
never arrives) turns each refresh into a risk: a process killed mid-refresh, or two processes
refreshing at once, leave a revoked token and a person must consent again. So:

- the last grant (access token, its expiry, the refresh token) is kept, encrypted
  (connector/secrets.py), and an access token is reused until it expires, so a process start
  spends no refresh;
- one process at a time refreshes, holding a lease row in the store (a conditional write; it
  expires, so a killed holder blocks the others only until then). No transaction is open
  during the vendor call, so SQLite's single writer (every webhook) is never held by it;
- the holder reads the kept grant again after taking the lease (a peer may just have
  refreshed) and uses it if fresh; otherwise it refreshes and commits the new grant before
  anyone uses it. The others poll the store briefly for the holder's result.

A kill while the vendor is rotating cannot be made safe on our side (the vendor rotates on
receipt); when the chain is broken, the error says so plainly with the one step that fixes it.
The chain is vendor-neutral: its owner supplies the title, the variable and the grant call.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from connector.errors import AuthenticationError, RetriableAPIError

log = logging.getLogger(__name__)

LEASE_MARGIN = 30.0  # seconds a lease outlives the vendor call's own deadline
POLL_SECONDS = 0.2  # how often a waiting process looks for the holder's result


class ChainKeeper(Protocol):
    """Where a chain lives: encrypted secrets and leases (connector/secrets.py)."""

    def load(self, name: str) -> str | None: ...

    def save(self, name: str, value: str) -> None: ...

    def lease(self, name: str, owner: str, seconds: float) -> bool: ...

    def release(self, name: str, owner: str) -> None: ...


@dataclass(frozen=True)
class Grant:
    """What the token endpoint gave: the access token, until when to use it (epoch seconds,
    already less the caller's safety margin), and the refresh token to present next."""

    access_token: str
    usable_until: float
    refresh_token: str | None

    def __repr__(self) -> str:
        return f"Grant(usable_until={self.usable_until!r})"


class TokenChain:
    """One vendor's grant, kept under `name`, for whoever holds the same `seed` (a digest of
    the configured refresh token: a newly configured one starts a new chain)."""

    def __init__(self, keeper: ChainKeeper, name: str, *, seed: str, title: str,
                 variable: str, call_seconds: float, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self._keeper = keeper
        self.name = name
        self._seed = seed
        self._title = title
        self._variable = variable
        self.lease_seconds = call_seconds + LEASE_MARGIN
        self._clock = clock
        self._sleep = sleep
        self._poll = poll_seconds
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def __repr__(self) -> str:
        return f"TokenChain(name={self.name!r})"

    def kept(self) -> Grant | None:
        """The kept grant of this chain, if any (an earlier release kept only the refresh
        token: then the grant has no usable access token)."""
        raw = self._keeper.load(self.name)
        if not raw:
            return None
        saved = json.loads(raw)
        if saved.get("seed") != self._seed or not saved.get("token"):
            return None
        return Grant(access_token=saved.get("access_token") or "",
                     usable_until=float(saved.get("usable_until") or 0.0),
                     refresh_token=saved["token"])

    def fresh(self, rejected: str | None = None) -> Grant | None:
        """The kept grant if its access token is still usable and not the one just refused."""
        grant = self.kept()
        if grant is None or not grant.access_token or grant.access_token == rejected:
            return None
        return grant if self._clock() < grant.usable_until else None

    def renew(self, request: Callable[[str | None], Grant], *, configured: str | None,
              rejected: str | None = None) -> Grant:
        """A usable grant: the kept one if fresh, else one refresh by whichever process holds
        the lease, committed before it is returned. `request(refresh_token)` is the vendor
        call; `configured` is the refresh token to start from when none is kept."""
        give_up = self._clock() + self.lease_seconds + LEASE_MARGIN
        while True:
            if self._keeper.lease(self.name, self._owner, self.lease_seconds):
                try:
                    return self._refresh(request, configured, rejected)
                finally:
                    self._keeper.release(self.name, self._owner)
            grant = self.fresh(rejected)
            if grant is not None:
                return grant  # the holder refreshed for us
            if self._clock() >= give_up:
                raise RetriableAPIError(
                    f"another process has held the {self._title} token refresh for over "
                    f"{int(self.lease_seconds)} s; trying again later",
                    vendor=self._title, operation="token refresh")
            self._sleep(self._poll)

    def _refresh(self, request: Callable[[str | None], Grant], configured: str | None,
                 rejected: str | None) -> Grant:
        grant = self.fresh(rejected)
        if grant is not None:
            return grant
        kept = self.kept()
        presented = kept.refresh_token if kept is not None else configured
        try:
            grant = request(presented)
        except AuthenticationError as exc:
            if presented is None:
                raise
            raise AuthenticationError(
                f"{self._title} refused the refresh token ({exc.message}): consent again in "
                f"{self._title} and set {self._variable} to the new refresh token",
                vendor=exc.vendor, operation=exc.operation, status=exc.status) from None
        if grant.refresh_token is None:
            grant = Grant(grant.access_token, grant.usable_until, presented)
        if grant.refresh_token is not None:
            # Committed before anyone uses it: a crash from here on loses nothing.
            self._keeper.save(self.name, json.dumps({
                "seed": self._seed, "token": grant.refresh_token,
                "access_token": grant.access_token, "usable_until": grant.usable_until}))
        log.info("%s token refreshed and kept", self._title)
        return grant
