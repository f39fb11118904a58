"""HiBob's sandbox for the demo: the people (their goals are the product's)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector.sandbox import hibob
from connector.sandbox.kit import SANDBOX_KEY, DemoOrg, Simulator
from connector.vendors.hibob.goals import GOAL_MARKER

SERVICE_USER = "demo-service-user"
# HiBob's ids are long numbers of its own: never the review source's, so the demo proves each
# goal lands on the record of the person with the same email.
ID_BASE = 3_300_000_000
DEMO_GOALS_PER_MINUTE = 3000  # the sandbox's goals limit (HiBob publishes none for goals)


class HiBobSandbox(Simulator):
    name = "hibob"

    @classmethod
    def create_app(cls) -> Flask:
        return hibob.create_app(service_user=SERVICE_USER, token=SANDBOX_KEY,
                                limits={"goals": DEMO_GOALS_PER_MINUTE})

    def settings(self) -> dict[str, Any]:
        return {"hibob_base_url": f"{self.url}/v1", "hibob_service_user_id": SERVICE_USER,
                "hibob_token": SANDBOX_KEY, "hibob_goals_per_minute": DEMO_GOALS_PER_MINUTE}

    def seed(self, org: DemoOrg) -> None:
        self.post("/_sandbox/employees", [
            {"id": str(ID_BASE + p.id), "email": p.email, "firstName": p.first,
             "surname": p.last, "title": p.role} for p in org.people])

    def goal_owner_emails(self) -> dict[str, str]:
        state = self.state()
        emails = {str(e["id"]): str(e.get("email") or "").lower() for e in state["employees"]}
        owners: dict[str, str] = {}
        for goal in state["goals"]:
            for line in str(goal.get("description") or "").splitlines():
                if line.strip().startswith(GOAL_MARKER):
                    owners[line.strip()[len(GOAL_MARKER):]] = emails.get(str(goal["ownerId"]), "")
        return owners
