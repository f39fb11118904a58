"""BambooHR's sandbox for the demo: the directory of people (their goals are the product's)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector.sandbox import bamboohr
from connector.sandbox.kit import SANDBOX_KEY, DemoOrg, Simulator
from connector.vendors.bamboohr.goals import GOAL_MARKER

# BambooHR numbers people its own way (5001, 5002, …): never the review source's numbers, so
# the demo proves that each goal lands on the record of the person with the same email.
ID_BASE = 4900


class BambooHRSandbox(Simulator):
    name = "bamboohr"

    @classmethod
    def create_app(cls) -> Flask:
        return bamboohr.create_app(api_key=SANDBOX_KEY)

    def settings(self) -> dict[str, Any]:
        return {"bamboohr_base_url": self.url, "bamboohr_api_key": SANDBOX_KEY}

    def seed(self, org: DemoOrg) -> None:
        self.post("/_sandbox/employees", [
            {"id": ID_BASE + p.id, "firstName": p.first, "lastName": p.last, "workEmail": p.email,
             "jobTitle": p.role, "displayName": f"{p.first} {p.last}"} for p in org.people])

    def goal_owner_emails(self) -> dict[str, str]:
        """Each connector goal (by the goal key in its marker line) → its owner's work email."""
        state = self.state()
        emails = {str(e.get("id")): str(e.get("workEmail") or "").lower()
                  for e in state.get("employees", [])}
        owners: dict[str, str] = {}
        for goal in state.get("goals", []):
            for line in str(goal.get("description") or "").splitlines():
                if line.strip().startswith(GOAL_MARKER):
                    owners[line.strip()[len(GOAL_MARKER):]] = emails.get(
                        str(goal.get("employeeId")), "")
        return owners
