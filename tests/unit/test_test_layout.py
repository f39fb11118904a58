"""The test folders have no __init__.py, so pytest imports test files by their bare names:
two files with the same name in different folders stop the whole collection. Caught here,
with both paths, instead of as a collection error halfway through a CI run."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_files_share_a_name() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        by_name[path.name].append(str(path.relative_to(TESTS)))
    assert len(by_name) > 50  # the walk really sees the suite
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert not shared, f"test files with the same name (rename one): {shared}"
