"""Every vendor call has a deadline for the whole answer, and the answer's size is capped:
a loopback server that trickles its answer (headers or body, one byte at a time) or sends too
much cannot hold a thread or fill the memory."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from connector.errors import FatalAPIError, RetriableAPIError
from connector.http import VendorHttp

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"


def _serve(at_once: bytes, trickled: bytes, pause: float) -> Iterator[str]:
    """A server that sends `at_once`, then `trickled` one byte every `pause` seconds."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def run() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(at_once)
                    for byte in trickled:
                        if stop.is_set():
                            break
                        conn.sendall(bytes([byte]))
                        time.sleep(pause)
                except OSError:
                    pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


@pytest.fixture
def trickling_body() -> Iterator[str]:
    """Headers at once (Content-Length 1,000,000), then the body one byte every 50 ms."""
    yield from _serve(HEADERS, b"{" * 100_000, pause=0.05)


@pytest.fixture
def trickling_headers() -> Iterator[str]:
    yield from _serve(b"", HEADERS, pause=0.2)


@pytest.fixture
def flooding() -> Iterator[str]:
    """A 2,000-byte body without a Content-Length: only counting can refuse it."""
    yield from _serve(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\n\r\n" + b"1" * 2000, b"", pause=0.0)


def _client(url: str, **kw: float) -> VendorHttp:
    return VendorHttp("slowvendor", url, max_attempts=1, read_timeout=5.0,
                      sleep=lambda _: None, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["trickling_body", "trickling_headers"])
def test_a_trickling_answer_ends_at_the_deadline(which: str,
                                                 request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(which)
    started = time.monotonic()
    with pytest.raises(RetriableAPIError) as caught:
        _client(url, deadline=1.0).get_json("/api/v1/people?email=ann@example.com",
                                            operation="read people")
    assert time.monotonic() - started < 3.0  # not the 5 s read timeout, not forever
    text = str(caught.value)
    assert "slowvendor" in text and "127.0.0.1" in text and "1 s deadline" in text
    assert "people" not in text.split("failed")[1] and "ann@" not in text  # no path, no query


@pytest.mark.parametrize("which", ["trickling_body", "flooding"])
def test_an_answer_larger_than_the_cap_is_refused(which: str,
                                                  request: pytest.FixtureRequest) -> None:
    """Refused by its Content-Length before reading, or by counting what arrives."""
    url = request.getfixturevalue(which)
    with pytest.raises(FatalAPIError, match=r"larger than 1000 bytes from 127\.0\.0\.1"):
        _client(url, deadline=5.0, max_body_bytes=1000).get_json("/x", operation="read")
