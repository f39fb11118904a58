"""Moodle wired from settings: `connector check --online` checks the token, the service's
functions, the mapping's courses and its skills' competencies (from the mapping it is given);
and a Moodle user id is the person's id in Moodle as goal tracker once the learner is linked,
on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.cli import main
from connector.demo.sandboxes import Sandboxes, seed_organisation, start_sandboxes
from connector.id_spaces import IdSpaces
from connector.models import Employee
from connector.sandbox.kit import SANDBOX_KEY
from connector.store import MatchState, Store
from connector.vendors.moodle.sandbox import DEMO_MAPPING
from connector.vendors.registry import Role

CAST = {Role.LMS: "moodle", Role.GOALS: "moodle", Role.REVIEWS: "orangehrm"}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandboxes]:
    running = start_sandboxes(CAST)
    seed_organisation(running, employees=4)
    yield running
    running.stop()


def _env(monkeypatch: pytest.MonkeyPatch, sb: Sandboxes, tmp_path: Path, **over: str) -> None:
    values = {"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "LMS": "moodle",
              "GOAL_TRACKER": "moodle", "MOODLE_BASE_URL": sb.moodle.url,
              "MOODLE_TOKEN": SANDBOX_KEY, "ORANGEHRM_BASE_URL": sb.orangehrm.url,
              "ORANGEHRM_CLIENT_ID": "demo-client", "ORANGEHRM_CLIENT_SECRET": SANDBOX_KEY,
              # Stock OrangeHRM grants no client credentials: the admin's one-time consent.
              "ORANGEHRM_REFRESH_TOKEN": sb.orangehrm.consent(),
              "REVIEW_SOURCES": "orangehrm", **over}
    for name, value in values.items():
        monkeypatch.setenv(f"CONNECTOR_{name}", value)
    monkeypatch.chdir(tmp_path)


def test_check_online_with_moodle(sb: Sandboxes, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    _env(monkeypatch, sb, tmp_path)
    assert main(["check", "--online", "--mapping", str(DEMO_MAPPING)]) == 0
    out = capsys.readouterr().out
    assert "✔ moodle: key accepted" in out and "course ids exist" in out
    assert "✔ moodle goals: every rule's skill has its competency" in out and "✘" not in out

    broken = tmp_path / "m.toml"
    text = DEMO_MAPPING.read_text(encoding="utf-8")
    broken.write_text(text.replace("competency = 2\n", "competency = 99\n", 1)
                      .replace('"101"', '"9999"', 1), encoding="utf-8")
    assert main(["check", "--online", "--mapping", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "do not exist: 9999" in out
    assert "communication (competency 99 does not exist)" in out

    _env(monkeypatch, sb, tmp_path, MOODLE_TOKEN="wrong-token-123")
    assert main(["check", "--online", "--mapping", str(DEMO_MAPPING)]) == 1
    out = capsys.readouterr().out
    assert "invalidtoken" in out and "wrong-token-123" not in out


def test_the_learner_link_is_the_moodle_goal_owner(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        spaces = IdSpaces(match_by="email", lms="moodle")
        ann = Employee(employee_id="E1", email="ann@example.com", manager_id="E2")
        boss = Employee(employee_id="E2", email="boss@example.com")
        for person in (ann, boss):
            store.upsert_employee(person)
        waiting = spaces.resolve(store, ann, "moodle", source="orangehrm")
        assert waiting.external_id is None
        assert "not linked to a Moodle user yet" in str(waiting.reason)
        store.set_identity("E1", state=MatchState.LINKED, lms_user_id="1101")
        store.set_identity("E2", state=MatchState.LINKED, lms_user_id="1102")
        found = spaces.resolve(store, ann, "moodle", source="orangehrm")
        assert (found.external_id, found.manager_id) == ("1101", "1102")
        linked = store.external_id("E1", "moodle")
        assert linked is not None and linked.external_id == "1101"
        # Another LMS keeps the old rule: no directory, so the id stays unknown.
        other = IdSpaces(match_by="email", lms="talentlms").resolve(
            store, boss, "bamboohr", source="orangehrm")
        assert other.external_id is None
    finally:
        store.close()
