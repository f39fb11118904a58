"""Empty means unset, for every setting and every way of giving it: the environment, a `.env`
file (a copied `config.example.env` is full of empty lines) and keyword overrides. An empty
API key is no key, so it never switches a vendor on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.settings import Settings, SettingsBase, load_settings, variables


def value_of(settings: Settings, model: type[SettingsBase], field: str) -> Any:
    if model is Settings:
        return getattr(settings, field)
    return getattr(settings.vendor(model), field)  # type: ignore[type-var]


def default_of(model: type[SettingsBase], field: str) -> Any:
    return model.model_fields[field].get_default(call_default_factory=True)


def assert_every_default(settings: Settings) -> None:
    wrong = {variable: value_of(settings, model, field)
             for variable, (model, field) in variables().items()
             if value_of(settings, model, field) != default_of(model, field)}
    assert wrong == {}


@pytest.fixture(autouse=True)
def no_connector_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in variables():
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"{variable}_FILE", raising=False)


def test_every_variable_empty_in_the_environment_keeps_its_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in variables():
        monkeypatch.setenv(variable, "")
    assert_every_default(Settings(_env_file=None))


def test_every_variable_empty_in_a_dotenv_file_keeps_its_default(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("".join(f"{v}=\n" for v in variables()), encoding="utf-8")
    assert_every_default(load_settings())  # reads ./.env, as every command does
    quoted = tmp_path / "quoted.env"
    quoted.write_text("".join(f'{v}=""\n' for v in variables()), encoding="utf-8")
    assert_every_default(Settings(_env_file=quoted))


def test_every_keyword_override_given_as_empty_keeps_its_default() -> None:
    keywords = {variable.removeprefix("CONNECTOR_").lower(): "" for variable in variables()}
    assert_every_default(load_settings(_env_file=None, **keywords))


def test_an_empty_key_switches_no_vendor_on() -> None:
    settings = load_settings(_env_file=None, talentlms_api_key="", bamboohr_api_key="",
                             orangehrm_client_id="", orangehrm_refresh_token="")
    for variable, (model, field) in variables().items():
        if "KEY" in variable or "TOKEN" in variable or "CLIENT" in variable:
            assert value_of(settings, model, field) is None, variable
