"""The console shows what `connector reconcile` found: on the overview (from the status
report) and on the person's page (from their trace), escaped like every other text."""

from __future__ import annotations

from flask.testing import FlaskClient

from connector.store import Store
from tests.console.conftest import Seeded

Client = tuple[FlaskClient, str]


def test_drift_findings_show_on_the_overview_and_the_persons_page(
        viewer: Client, store: Store, seeded: Seeded) -> None:
    client, _ = viewer
    assert "None: the vendors hold what the ledger says" in client.get(
        "/console").get_data(as_text=True)
    store.drift.flag("goal_deleted", "E2/negotiation/2026-H1",
                     "goal '<i>Improve</i>' was deleted in BambooHR: not re-created",
                     employee_id="E2", goal_key="E2/negotiation/2026-H1")
    overview = client.get("/console").get_data(as_text=True)
    assert "was deleted in BambooHR: not re-created" in overview
    assert "<i>Improve</i>" not in overview and "&lt;i&gt;Improve" in overview
    person = client.get("/console/people/E2").get_data(as_text=True)
    assert "was deleted in BambooHR" in person
    other = client.get("/console/people/E1").get_data(as_text=True)
    assert "was deleted in BambooHR" not in other
