"""A vendor that lives outside the product registers through the public registry call and
runs the whole loop: review import → plan → learner + enrollment in its LMS → goal in its
tracker → a completion → evidence → goal closed. Nothing in the core names it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from connector.errors import ConfigError
from connector.imports import import_reviews
from connector.inbound import queue_completion
from connector.models import CompletionEvent, Outcome, utcnow
from connector.runtime import build_runtime
from connector.settings import Settings, VendorSettings, vendor_config
from connector.vendors import registry
from connector.vendors.registry import Role, VendorEnv, VendorPlugin
from connector.worker import Worker
from tests.support.fakes import FakeGoals, FakeLMS

MAPPING = """
[targets]
default = 3
[[skills]]
id = "negotiation"
aliases = ["Negotiation"]
[[rules]]
skill = "negotiation"
courses = ["101", "102"]
due_in_days = 30
"""
REVIEWS = """employee_id,email,first_name,last_name,review_id,cycle,completed_at,skill,rating
7,ann@example.com,Ann,Lee,R1,2026-H1,2026-03-01,Negotiation,1
"""


class AcmeSettings(VendorSettings):
    model_config = vendor_config("ACME")

    api_key: SecretStr | None = None
    poll_seconds: int = 42


class Acme:
    """One in-memory LMS and goal tracker per connected product, so a test can look in."""

    last: Acme | None = None

    def __init__(self, env: VendorEnv) -> None:
        own = env.settings.vendor(AcmeSettings)
        if own.api_key is None:
            raise ConfigError(f"{own.variable('api_key')} is not set")
        self.lms = FakeLMS({"ann@example.com": "u7"})
        self.goals = FakeGoals()
        Acme.last = self

    def adapter(self, role: Role) -> object | None:
        return {Role.LMS: self.lms, Role.GOALS: self.goals}.get(role)


PLUGIN = VendorPlugin(name="acme", title="Acme Learning", settings=AcmeSettings,
                      connect=Acme, adapters={Role.LMS: FakeLMS, Role.GOALS: FakeGoals})


@pytest.fixture
def acme() -> Iterator[VendorPlugin]:
    registry.register(PLUGIN)
    yield PLUGIN
    registry.unregister(PLUGIN.name)


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'c.db'}",
                              "mapping_file": mapping, "lms": "acme", "goal_tracker": "acme",
                              "review_sources": "csv",
                              # Acme reads no directory: the file's ids are Acme's own.
                              "identity_match_by": "id", **extra}
    return Settings(_env_file=None, **values)


def test_a_registered_vendor_runs_the_whole_loop(acme: VendorPlugin, tmp_path: Path) -> None:
    settings = _settings(tmp_path, acme_api_key="k")
    assert settings.vendor(AcmeSettings).api_key is not None  # CONNECTOR_ACME_API_KEY
    rt = build_runtime(settings)
    try:
        assert rt.schedule["completions"] == 42.0  # its own poll setting
        reviews = tmp_path / "reviews.csv"
        reviews.write_text(REVIEWS, encoding="utf-8")
        assert import_reviews(rt.store, settings, reviews).queued == 1
        Worker(rt.ctx).drain()
        vendor = Acme.last
        assert vendor is not None
        assert sorted(c for _, c in vendor.lms.enrollments) == ["101", "102"]
        [goal] = vendor.goals.goals.values()
        for course in ("101", "102"):
            queue_completion(rt.store, CompletionEvent(
                source="acme", event_id=f"done-{course}", course_id=course, lms_user_id="u7",
                completed_at=utcnow(), outcome=Outcome.PASSED))
        Worker(rt.ctx).drain()
        assert len(goal["evidence"]) == 2 and goal["closed"] is True
        assert "Acme Learning" in goal["evidence"][0]  # named by its registry title
    finally:
        rt.close()


def test_a_registered_vendor_is_a_valid_setting_and_an_unknown_one_is_not(
        acme: VendorPlugin, tmp_path: Path) -> None:
    assert "acme" in registry.names(Role.LMS)
    with pytest.raises(ConfigError) as refused:
        _settings(tmp_path, lms="nosuchlms")
    assert "CONNECTOR_LMS: expected one of" in str(refused.value)
    assert "acme" in str(refused.value)
    with pytest.raises(ConfigError, match="CONNECTOR_ACME_API_KEY is not set"):
        build_runtime(_settings(tmp_path))


def test_a_rule_needing_a_reset_is_refused_when_the_lms_cannot(acme: VendorPlugin,
                                                               tmp_path: Path) -> None:
    settings = _settings(tmp_path, acme_api_key="k")
    mapping = Path(settings.mapping_file)
    mapping.write_text(MAPPING.replace('due_in_days = 30', 'due_in_days = 30\n'
                                       'prior_completion = "reset"'), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        build_runtime(settings)
    assert 'rules[0] (negotiation): prior_completion = "reset"' in str(refused.value)
    assert "CONNECTOR_LMS" in str(refused.value)


def test_registering_another_vendor_under_a_taken_name_is_refused(acme: VendorPlugin) -> None:
    impostor = VendorPlugin(name="acme", title="Other", settings=AcmeSettings, connect=Acme)
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(impostor)
    registry.register(PLUGIN)  # the same plug-in again is harmless


def test_connector_check_refuses_a_rule_the_lms_cannot_carry_out(
        acme: VendorPlugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from connector.cli import main

    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING.replace("due_in_days = 30", "due_in_days = 30\n"
                                       "recertify_every_days = 365"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONNECTOR_LMS", "acme")
    assert main(["check", "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert "recertify_every_days needs the LMS to reset" in err and "Traceback" not in err
    monkeypatch.setenv("CONNECTOR_LMS", "talentlms")  # TalentLMS can reset progress
    assert main(["check", "--mapping", str(mapping)]) == 0
