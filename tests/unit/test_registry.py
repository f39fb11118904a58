"""The registry is the only place the core learns vendor names, and settings come from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.settings import Settings, variables
from connector.vendors import registry
from connector.vendors.bamboohr.client import BambooHRSettings
from connector.vendors.registry import Role
from connector.vendors.talentlms.lms import TalentLMSSettings

ROOT = Path(__file__).resolve().parents[2]
# The modules the issue names: they read the registry and name no vendor.
VENDOR_BLIND = [
    "connector/runtime.py", "connector/service.py", "connector/pollers.py",
    "connector/completions.py", "connector/cli.py", "connector/commands.py",
    "connector/inbound.py", "connector/executor.py", "connector/handlers.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "connector" / "demo").glob("*.py")),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "connector" / "operations").glob("*.py")),
]
GENERIC_NAMES = {"webhook"}  # the outbound-webhook tracker's name is an ordinary word


def _words(path: Path) -> set[str]:
    """Every identifier, import path, string and comment word in a module."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(node.module.split("."))
        elif isinstance(node, ast.Import):
            found.update(part for alias in node.names for part in alias.name.split("."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(re.findall(r"[A-Za-z0-9]+", node.value))
    found.update(re.findall(r"[A-Za-z0-9]+", " ".join(
        line.split("#", 1)[1] for line in text.splitlines() if "#" in line)))
    return {w.lower() for w in found}


@pytest.mark.parametrize("module", VENDOR_BLIND)
def test_the_core_names_no_vendor(module: str) -> None:
    names = {p.name for p in registry.plugins()} - GENERIC_NAMES
    titles = {t.lower() for p in registry.plugins() for t in p.title.split()
              if p.name not in GENERIC_NAMES}
    assert len(names) >= 3  # the check reads the real registry, not an empty one
    named = _words(ROOT / module) & (names | titles)
    assert not named, f"{module} names vendor(s) {sorted(named)}; read the registry instead"


def test_the_check_would_see_a_vendor_name() -> None:
    assert "talentlms" in _words(ROOT / "connector" / "vendors" / "talentlms" / "__init__.py")


def test_every_role_has_a_registered_vendor() -> None:
    for role in Role:
        assert registry.names(role), role


def test_vendor_settings_keep_their_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_TALENTLMS_BASE_URL", "https://acme.talentlms.com")
    settings = Settings(_env_file=None, bamboohr_close_goals=False)
    assert settings.vendor(TalentLMSSettings).base_url == "https://acme.talentlms.com"
    assert settings.vendor(BambooHRSettings).close_goals is False
    assert "CONNECTOR_TALENTLMS_API_KEY" in variables()
    assert "CONNECTOR_DATABASE_URL" in variables()


def test_empty_variables_keep_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copied config.example.env has empty lines: each means "unset", for every field."""
    for variable in variables():
        monkeypatch.setenv(variable, "")
    settings = Settings(_env_file=None)
    assert settings.database_url == Settings.model_fields["database_url"].default
    assert settings.vendor(BambooHRSettings).training_type_id is None
    assert settings.vendor(TalentLMSSettings).api_key is None  # an empty key is no key


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_WORKER_CONCURRENCY", "many")
    monkeypatch.setenv("CONNECTOR_TALENTLMS_API", "v9")
    monkeypatch.setenv("CONNECTOR_BAMBOOHR_TRAINING_TYPE_ID", "x")
    with pytest.raises(ConfigError) as refused:
        Settings(_env_file=None)
    text = str(refused.value)
    for variable in ("CONNECTOR_WORKER_CONCURRENCY", "CONNECTOR_TALENTLMS_API",
                     "CONNECTOR_BAMBOOHR_TRAINING_TYPE_ID"):
        assert variable in text
    assert "many" not in text and "v9" not in text  # names, never values


def test_a_vendor_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n", encoding="utf-8")
    monkeypatch.setenv("CONNECTOR_TALENTLMS_API_KEY_FILE", str(secret))
    key = Settings(_env_file=None).vendor(TalentLMSSettings).api_key
    assert key is not None and key.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(Settings(_env_file=None))


def test_titles_come_from_the_registry() -> None:
    assert registry.title("talentlms") == "TalentLMS"
    assert registry.title("somewhere-else") == "somewhere-else"
    with pytest.raises(ConfigError, match="no vendor named"):
        registry.get("nosuch")
