"""BambooHR's sandbox for the demo: the directory of people (their goals are the product's)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector.sandbox import bamboohr
from connector.sandbox.kit import SANDBOX_KEY, DemoOrg, Simulator


class BambooHRSandbox(Simulator):
    name = "bamboohr"

    @classmethod
    def create_app(cls) -> Flask:
        return bamboohr.create_app(api_key=SANDBOX_KEY)

    def settings(self) -> dict[str, Any]:
        return {"bamboohr_base_url": self.url, "bamboohr_api_key": SANDBOX_KEY}

    def seed(self, org: DemoOrg) -> None:
        self.post("/_sandbox/employees", [
            {"id": p.id, "firstName": p.first, "lastName": p.last, "workEmail": p.email,
             "jobTitle": p.role, "displayName": f"{p.first} {p.last}"} for p in org.people])
