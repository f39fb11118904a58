"""The store's public boundary holds: outside `connector/store`, no module imports SQLAlchemy,
the schema's tables or a store internal, and none reaches into the store's private `_tx`.

Everything the core needs is a named store operation (`connector.store`'s exports); SQL stays
in the store, one place per concern.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("connector", "mappings", "webhooks")
STORE = ROOT / "connector" / "store"

# Store modules other code may import: the package itself (its public exports), the engine's
# URL helpers and migrations for the CLI's `db` commands, and the queue's `Job`.
ALLOWED_STORE_MODULES = {
    "connector.store", "connector.store.engine", "connector.store.migrations",
    "connector.store.jobs",
}
FORBIDDEN_NAMES_FROM_ENGINE = {"transaction", "driver_cursor", "using", "translate_errors"}


def _modules() -> list[Path]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return sorted(p for p in files if STORE not in p.parents)


def _violations(path: Path) -> list[str]:
    return _violations_in(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))


def _violations_in(source: str, name: str) -> list[str]:
    tree = ast.parse(source, filename=name)
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                internal = (alias.name.startswith("connector.store.")
                            and alias.name not in ALLOWED_STORE_MODULES)
                if alias.name.split(".")[0] == "sqlalchemy" or internal:
                    found.append(f"{where}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            names = {a.name for a in node.names}
            if module.split(".")[0] == "sqlalchemy":
                found.append(f"{where}: imports from {module}")
            elif module == "connector.store" and "schema" in names:
                found.append(f"{where}: imports the store's schema")
            elif module.startswith("connector.store.") and module not in ALLOWED_STORE_MODULES:
                found.append(f"{where}: imports from {module} (a store internal)")
            elif module == "connector.store.engine" and names & FORBIDDEN_NAMES_FROM_ENGINE:
                found.append(f"{where}: imports {sorted(names & FORBIDDEN_NAMES_FROM_ENGINE)} "
                             "from the store's engine")
        elif isinstance(node, ast.Attribute) and node.attr == "_tx":
            found.append(f"{where}: uses the store's private _tx")
    return found


def test_the_walk_sees_the_core() -> None:
    names = {p.name for p in _modules()}
    assert {"executor.py", "handlers.py", "run.py", "app.py", "loader.py"} <= names
    assert "ledger.py" not in names  # the store itself is exempt


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_store_reaches_into_it(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_catches_each_kind_of_leak() -> None:
    source = ("import sqlalchemy\n"
              "from sqlalchemy import select\n"
              "from connector.store.schema import actions\n"
              "from connector.store import schema\n"
              "from connector.store.engine import transaction\n"
              "def f(store):\n    return store._tx(None)\n")
    assert len(_violations_in(source, "probe.py")) == 6
