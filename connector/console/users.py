"""Who may use the console: users and roles from settings, passwords as Argon2id hashes.

`CONNECTOR_CONSOLE_USERS` holds `name:role:hash` entries separated by white space (a file
through `CONNECTOR_CONSOLE_USERS_FILE`, one per line). Roles: `viewer` reads, `operator`
also acts. The hash is made by `connector console hash-password`; a password is never
stored or compared in clear, and an unknown name costs the same verification as a known one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from connector.errors import ConfigError
from connector.settings import Settings

log = logging.getLogger(__name__)
_HASHER = PasswordHasher()  # argon2id, the library's current recommended parameters
_DUMMY_HASH = _HASHER.hash("no such user: the same work as a real check")


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    role: Role
    password_hash: str = field(repr=False)

    @property
    def can_act(self) -> bool:
        return self.role is Role.OPERATOR

    @property
    def fingerprint(self) -> str:
        """Kept in the session: a changed password (a new hash) ends the old sessions."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:24]


def hash_password(password: str) -> str:
    if len(password) < 12:
        raise ValueError("a console password needs at least 12 characters")
    return _HASHER.hash(password)


def verify(user: ConsoleUser | None, password: str) -> bool:
    """The password matches the user's hash (Argon2's own constant-time comparison); an
    unknown user is checked against a dummy hash, so timing does not tell names apart."""
    try:
        return _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password) \
            and user is not None
    except (VerificationError, InvalidHashError):
        return False


def parse_users(text: str | None) -> dict[str, ConsoleUser]:
    """`name:role:hash` entries → users by name; a bad entry is a ConfigError naming its
    position and the setting, never its hash."""
    users: dict[str, ConsoleUser] = {}
    for n, entry in enumerate((text or "").split(), start=1):
        name, _, rest = entry.partition(":")
        role, _, password_hash = rest.partition(":")
        where = f"CONNECTOR_CONSOLE_USERS entry {n}"
        if not name or not password_hash:
            raise ConfigError(f"{where}: expected name:role:hash "
                              "(the hash from `connector console hash-password`)")
        if role not in {r.value for r in Role}:
            raise ConfigError(f"{where} ({name}): role must be viewer or operator, got {role!r}")
        if not password_hash.startswith("$argon2"):
            raise ConfigError(f"{where} ({name}): not an Argon2 hash; make one with "
                              "`connector console hash-password`")
        if name in users:
            raise ConfigError(f"{where}: user {name!r} is listed twice")
        users[name] = ConsoleUser(name, Role(role), password_hash)
    return users


def users_from(settings: Settings) -> dict[str, ConsoleUser]:
    secret = settings.console_users
    return parse_users(secret.get_secret_value() if secret else None)


class UserDirectory:
    """The users as the settings say now: re-read at most every `refresh_seconds`, so a user
    removed or demoted in the settings loses access on their next request."""

    def __init__(self, load: Callable[[], dict[str, ConsoleUser]], *,
                 refresh_seconds: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._refresh = refresh_seconds
        self._clock = clock
        self._users: dict[str, ConsoleUser] | None = None
        self._read_at = 0.0

    def current(self) -> dict[str, ConsoleUser]:
        now = self._clock()
        if self._users is None or now - self._read_at >= self._refresh:
            try:
                self._users = self._load()
            except ConfigError as exc:
                # Settings broken while running: nobody is let in until they are fixed
                # (failing closed), and the log says which setting, never a hash.
                log.error("console users unreadable; every sign-in refused",
                          extra={"error": str(exc)})
                self._users = {}
            self._read_at = now
        return self._users

    def get(self, name: str) -> ConsoleUser | None:
        return self.current().get(name)
