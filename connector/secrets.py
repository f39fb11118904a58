"""Credentials the connector must keep, encrypted at rest with a key from settings.

A rotating refresh token and cached access tokens live in the store (so the next process
start continues the chain), sealed with `cryptography`'s Fernet (authenticated encryption).
`CONNECTOR_SECRETS_KEY` is a comma-separated list of Fernet keys: the first encrypts, every
one decrypts (MultiFernet), so a key is rotated by putting the new one first; a value sealed
with an older key is sealed again with the first on its next read. A value an earlier
release stored in plaintext is sealed in place on its first read, so the chain continues.

Without a configured key, an SQLite database gets a generated key file beside it
(`<file>.key`, owner-only), announced once when made and reused after, so the embedded
default and the demo need no set-up. A PostgreSQL deployment has no such place: when it has a
secret to keep and no key, the first read refuses, naming the setting and how to make a key,
and the process does not start. The key never reaches a log line, an error or a repr.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connector.errors import ConfigError
from connector.settings import Settings
from connector.store import Store

log = logging.getLogger(__name__)

VARIABLE = "CONNECTOR_SECRETS_KEY"
NEW_KEY_COMMAND = "connector secrets new-key"
_SEALED = "gAAAAA"  # how every Fernet token begins (version byte 0x80, base64): not plaintext


def new_key() -> str:
    """A fresh Fernet key, for `CONNECTOR_SECRETS_KEY`."""
    return Fernet.generate_key().decode()


class SecretsKey:
    """The configured keys as one MultiFernet. Its repr names where the keys came from, never
    a key."""

    def __init__(self, keys: list[bytes], *, origin: str) -> None:
        if not keys:
            raise ConfigError(f"{origin}: no key given")
        fernets = []
        for n, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                raise ConfigError(
                    f"{origin}: key {n} of {len(keys)} is not a Fernet key (32 url-safe "
                    f"base64-encoded bytes); make one with `{NEW_KEY_COMMAND}`") from None
        self.origin = origin
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)

    def __repr__(self) -> str:
        return f"SecretsKey(origin={self.origin!r})"

    def seal(self, plaintext: str) -> str:
        return self._all.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> tuple[str, bool]:
        """The plaintext, and whether it was sealed with the first key (False: seal again)."""
        token = sealed.encode()
        try:
            return self._primary.decrypt(token).decode(), True
        except InvalidToken:
            pass
        try:
            return self._all.decrypt(token).decode(), False
        except InvalidToken:
            raise ConfigError(
                f"a kept secret cannot be decrypted with the keys of {self.origin}: the key it "
                f"was sealed with is gone. Put that key back (after the new one, in {VARIABLE}) "
                "or consent again to make a new credential") from None


def key_from_settings(settings: Settings, *,
                      announce: Callable[[str], None] | None = None) -> SecretsKey | None:
    """The key: `CONNECTOR_SECRETS_KEY`; else, on an SQLite file, the key file beside it
    (made on first use); else (an in-memory SQLite) a key for this process only; else
    (PostgreSQL) None, and a secret to keep is refused."""
    configured = settings.secrets_key
    if configured is not None:
        parts = [p.strip() for p in configured.get_secret_value().split(",") if p.strip()]
        return SecretsKey([p.encode() for p in parts], origin=VARIABLE)
    url = settings.database_url
    if not url.startswith("sqlite"):
        return None
    path = _sqlite_file(url)
    if path is None:
        return SecretsKey([Fernet.generate_key()], origin="a key for this in-memory database")
    return key_file(Path(f"{path}.key"), announce=announce)


def key_file(path: Path, *, announce: Callable[[str], None] | None = None) -> SecretsKey:
    """The key kept in `path`, made (owner-only, atomically: two processes starting at once
    end with one key) when missing."""
    if not path.exists():
        try:
            made = _make_key_file(path)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot make the secrets key file ({exc.strerror}); "
                              f"set {VARIABLE} instead (`{NEW_KEY_COMMAND}`)") from None
        if made:
            (announce or _announce)(
                f"made a secrets key for the credentials kept in the database: {path} "
                f"(owner-only). Keep it with the database file; to use your own, set {VARIABLE}")
    elif path.stat().st_mode & 0o077:
        log.warning("the secrets key file %s can be read by other users: chmod 600 it", path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: the secrets key file cannot be read "
                          f"({type(exc).__name__}); set {VARIABLE} or restore the file") from None
    return SecretsKey([text.encode()], origin=str(path))


def _make_key_file(path: Path) -> bool:
    """Write a new key to `path` unless it exists; True if this call made it. Written to a
    private temporary file first and linked into place, so no reader sees half a key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, Fernet.generate_key())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)  # fails if another process made it first: theirs is kept
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _announce(message: str) -> None:
    # A warning reaches stderr whether or not logging is set up (Python's last resort).
    log.warning("%s", message)


def _sqlite_file(url: str) -> str | None:
    """The file of an SQLite URL (`sqlite:///rel.db`, `sqlite:////abs.db`), None in memory."""
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    path = rest[1:] if rest.startswith("/") else rest
    if path in ("", ":memory:") or path.startswith("file::memory:"):
        return None
    return path


class EncryptedSecrets:
    """`KeptSecrets` on the store, sealed with the settings' key (see the module's docstring),
    and the refresh leases of connector/tokens.py beside them."""

    def __init__(self, store: Store, key: Callable[[], SecretsKey | None]) -> None:
        self._rows = store.kept
        # Asked on first need, so a key file is made only when there is a secret to keep.
        self._key_source: Callable[[], SecretsKey | None] | None = key
        self._key: SecretsKey | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EncryptedSecrets(key={self._key!r})"

    def load(self, name: str) -> str | None:
        stored = self._rows.load(name)
        if stored is None:
            return None
        key = self._require(name)
        if not stored.startswith(_SEALED):  # kept in plaintext by an earlier release
            self._rows.save(name, key.seal(stored), replacing=stored)
            log.info("kept secret %s encrypted in place", name)
            return stored
        plain, current = key.open(stored)
        if not current:  # sealed with an older key: seal it with the first one
            self._rows.save(name, key.seal(plain), replacing=stored)
        return plain

    def save(self, name: str, value: str) -> None:
        self._rows.save(name, self._require(name).seal(value))

    def lease(self, name: str, owner: str, seconds: float) -> bool:
        return self._rows.take_lease(name, owner, seconds)

    def release(self, name: str, owner: str) -> None:
        self._rows.release_lease(name, owner)

    def require_key(self, name: str) -> None:
        """Refuse now (at start-up) if `name` would have to be kept without a key."""
        self._require(name)

    def _require(self, name: str) -> SecretsKey:
        with self._lock:
            if self._key_source is not None:
                self._key, self._key_source = self._key_source(), None
        if self._key is None:
            raise ConfigError(
                f"{VARIABLE} is not set, and the connector must keep a secret in the database "
                f"({name}): set {VARIABLE} to a Fernet key, made with `{NEW_KEY_COMMAND}` or "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`, and keep it apart from the database")
        return self._key


def kept_secrets(settings: Settings, store: Store) -> EncryptedSecrets:
    """The runtime's `KeptSecrets`: the store's rows sealed with the settings' key (a
    configured key is checked now; a key file is made only once a secret must be kept)."""
    if settings.secrets_key is not None:
        key = key_from_settings(settings)
        return EncryptedSecrets(store, lambda: key)
    return EncryptedSecrets(store, lambda: key_from_settings(settings))
