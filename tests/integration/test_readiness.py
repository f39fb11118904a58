"""/readyz means "can store a delivery": a full disk makes it fail within seconds, and it
recovers by itself once space is back. The disk is a real one: a small tmpfs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.errors import StoreError
from connector.store import Store

SIZE = "4m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"a small disk is needed (mount -t tmpfs as root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def _ingest_until_refused(store: Store, start: int) -> int:
    for n in range(start, start + 2000):
        try:
            store.ingest("lms", f"e{n}", "completion", {"completion": {"x": "y" * 2000}},
                         b"y" * 4000, employee_id="7")
        except StoreError:
            return n
    raise AssertionError("the full disk took every write")


def test_readyz_fails_on_a_full_disk_and_recovers(small_disk: Path) -> None:
    store = Store.open(f"sqlite:///{small_disk / 'c.db'}")
    store.ready_probe_seconds = 0.0  # every call probes (production: once every 2 s)
    try:
        assert store.ready() == (True, "ok")
        filler = _fill(small_disk)
        _ingest_until_refused(store, 0)
        ok, detail = store.ready()
        assert not ok and "refuses writes" in detail
        filler.unlink()  # space is back: the next probe and the next delivery work
        store.ingest("lms", "after", "completion", {"completion": {}}, b"{}", employee_id="7")
        assert store.ready() == (True, "ok")
    finally:
        store.close()


def test_the_heartbeat_alone_notices_a_disk_that_refuses_writes(small_disk: Path) -> None:
    """A process that has not failed a delivery itself (another gunicorn worker) still sees
    it: its committed heartbeat cannot be written."""
    url = f"sqlite:///{small_disk / 'c.db'}"
    busy = Store.open(url)
    try:
        _fill(small_disk)
        _ingest_until_refused(busy, 0)  # use up whatever room the database's files still had
        other = Store.open(url, upgrade=False)
        other.ready_probe_seconds = 0.0
        try:
            ok, detail = other.ready()
            assert not ok and "refuses writes" in detail
        finally:
            other.close()
    finally:
        busy.close()
