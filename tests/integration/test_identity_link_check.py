"""`identities link` asks the LMS first, on both engines: an LMS user that does not exist is
refused with exit 2 and nothing linked; one that exists is linked, and the answer says who
it is. The LMS is TalentLMS faked at the transport with `responses`."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from connector.cli import main
from connector.errors import InputError
from connector.models import Employee
from connector.operations import identities
from connector.store import MatchState, Store
from tests.support.fakes import FakeLMS

API = "https://acme.talentlms.com/api/v1"


@pytest.fixture
def known(database_url: str) -> str:
    store = Store.open(database_url)
    try:
        store.upsert_employee(Employee(employee_id="E0", email="e0@example.com"))
    finally:
        store.close()
    return database_url


@responses.activate
def test_link_refuses_an_lms_user_that_does_not_exist(
        known: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {"CONNECTOR_DATABASE_URL": known, "CONNECTOR_LMS": "talentlms",
                        "CONNECTOR_TALENTLMS_BASE_URL": "https://acme.talentlms.com",
                        "CONNECTOR_TALENTLMS_API_KEY": "tlms-key"}.items():
        monkeypatch.setenv(name, value)
    responses.get(f"{API}/users/id:99999", status=404,
                  json={"error": {"message": "The requested user does not exist"}})
    responses.get(f"{API}/users/id:7", json={"id": "7", "email": "e0@example.com",
                                             "login": "ezero"})
    assert main(["identities", "link", "E0", "99999"]) == 2
    assert "has no user '99999'; nothing was linked" in capsys.readouterr().err
    store = Store.open(known)
    try:
        identity = store.identity("E0")
        assert identity is not None and identity.lms_user_id is None
        assert store.audit_events("identity.linked") == []
        assert main(["identities", "link", "E0", "7"]) == 0
        assert "→ LMS user 7 (e0@example.com, login ezero)" in capsys.readouterr().out
        identity = store.identity("E0")
        assert identity is not None and identity.match_state is MatchState.LINKED
    finally:
        store.close()


def test_link_through_the_operation_checks_the_port(known: str) -> None:
    store = Store.open(known)
    try:
        lms = FakeLMS({"e0@example.com": "u1"})
        with pytest.raises(InputError, match="nothing was linked"):
            identities.link_identity(store, employee_id="E0", lms_user_id="u2", by="ops",
                                     lms=lms)
        assert store.jobs.counts().get("pending", 0) == 0
        done = identities.link_identity(store, employee_id="E0", lms_user_id="u1", by="ops",
                                        lms=lms)
        assert done.changed and "(e0@example.com)" in done.message
    finally:
        store.close()
