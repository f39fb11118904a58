"""Fixtures of the end-to-end suite: fresh sandbox vendors per test, and one log directory for
the whole session (every subprocess's output lands there, for a person reading a failure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import Vendors, start_vendors, write_mapping


@pytest.fixture(scope="session")
def e2e_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture
def vendors() -> Iterator[Vendors]:
    running = start_vendors()
    yield running
    running.stop()


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    return write_mapping(tmp_path / "mapping.toml")
