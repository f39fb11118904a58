"""A whole-call deadline for vendor HTTP, and a cap on the size of an answer.

requests' timeouts are per socket read: an answer that trickles one byte a second (a stuck
proxy, a vendor under load) never times out, and the poller thread waiting for it is held for
good. So every vendor call runs under a `Deadline`: a watchdog timer that shuts the call's
sockets down when the deadline passes, which ends the blocked read at once. The sockets are
known because the session's connections register themselves with the deadline of the thread
that is using them (`tracking_session`). The body is read in chunks and refused past a size
cap, so a runaway answer cannot fill the memory either.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the Deadline of the call this thread is making, if any
CHUNK = 64 * 1024


class Deadline:
    """Shuts down the sockets of one call when `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shutdown(sock)
            else:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    @contextlib.contextmanager
    def running(self) -> Iterator[Deadline]:
        _current.deadline = self
        self._timer.start()
        try:
            yield self
        finally:
            self._timer.cancel()
            _current.deadline = None


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch_current(conn: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(getattr(conn, "sock", None))


class _TrackedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        _watch_current(self)  # connected now (urllib3 connects lazily), reused or new


class _TrackedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        _watch_current(self)


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _TrackingAdapter(HTTPAdapter):
    """requests' adapter whose pooled connections report their sockets to the deadline of
    the call using them. (Only the pools change: `send` stays requests' own.)"""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool,
                                                    "https": _TrackedHTTPSPool}


class VendorSession(requests.Session):
    """requests' session with the tracking adapter mounted, reading the environment's
    proxy and CA-bundle settings once per vendor address instead of on every call.

    requests re-reads the whole process environment on each request (`get_environ_proxies`
    walks every variable twice, `proxy_bypass` once more): in a sync cycle that was about a
    tenth of the product's CPU (bench/cycle.py). The environment is the process's startup
    configuration, so the answer is kept per (scheme, host, explicit arguments, session
    defaults); a change to the session's own proxies/verify/cert gives a new key.
    """

    def __init__(self) -> None:
        super().__init__()
        for prefix in ("http://", "https://"):
            self.mount(prefix, _TrackingAdapter())
        self._environment: dict[tuple[Any, ...], Any] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(str(url))
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream,
               verify, _frozen(cert), tuple(sorted(self.proxies.items())), self.stream,
               self.verify, _frozen(self.cert))
        settings: Any = self._environment.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}  # callers may change it


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def tracking_session() -> requests.Session:
    return VendorSession()


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


def read_capped(response: requests.Response, limit: int) -> None:
    """Read a streamed response's body into it, refusing more than `limit` bytes."""
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > limit:
        response.close()
        raise BodyTooLarge(limit)
    parts: list[bytes] = []
    size = 0
    for part in response.iter_content(CHUNK):
        size += len(part)
        if size > limit:
            response.close()
            raise BodyTooLarge(limit)
        parts.append(part)
    response._content = b"".join(parts)  # what requests itself does when not streaming
    response._content_consumed = True  # type: ignore[attr-defined]
