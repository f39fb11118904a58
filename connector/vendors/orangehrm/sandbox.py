"""OrangeHRM's sandbox for the demo: people, one KPI per role and skill, finished reviews."""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask

from connector.sandbox import orangehrm
from connector.sandbox.kit import SANDBOX_KEY, DemoOrg, Simulator
from connector.secrets import new_key

CLIENT_ID = "demo-client"
# The OAuth client's user, as an admin sets one up: an employee record of its own, made the
# reviewer of every tracker the connector opens (OrangeHRM lets only reviewers post logs).
API_USER_EMP_NUMBER = 1


class OrangeHRMSandbox(Simulator):
    name = "orangehrm"
    _secrets_key: str | None = None  # made once per sandbox, for the token chain

    @classmethod
    def create_app(cls) -> Flask:
        return orangehrm.create_app(client_id=CLIENT_ID, client_secret=SANDBOX_KEY)

    def settings(self) -> dict[str, Any]:
        """What an admin sets: the client, a refresh token from the one-time consent (stock
        OrangeHRM 5 grants no client credentials; each call consents afresh, so every
        product pointed here starts its own token chain) and the API user as reviewer."""
        if self._secrets_key is None:  # the rotated refresh token is kept sealed (any engine)
            self._secrets_key = new_key()
        return {"orangehrm_base_url": self.url, "orangehrm_client_id": CLIENT_ID,
                "orangehrm_client_secret": SANDBOX_KEY,
                "orangehrm_refresh_token": self.consent(),
                "orangehrm_reviewer_emp_numbers": str(API_USER_EMP_NUMBER),
                "secrets_key": self._secrets_key}

    def count(self, what: str) -> int:
        """Goals are trackers here."""
        return super().count("trackers" if what == "goals" else what)

    def consent(self) -> str:
        """The admin's browser consent, in one call: a new refresh token."""
        answer = requests.post(f"{self.url}/_sandbox/oauth/authorize", timeout=30)
        answer.raise_for_status()
        return str(answer.json()["refresh_token"])

    def seed(self, org: DemoOrg) -> None:
        self.post("/_sandbox/employees", [
            {"empNumber": API_USER_EMP_NUMBER, "employeeId": "API", "firstName": "Connector",
             "lastName": "API user", "jobTitle": None, "email": None}])
        self.post("/_sandbox/employees", [
            {"empNumber": p.id, "employeeId": f"E{p.id}", "firstName": p.first,
             "lastName": p.last, "jobTitle": p.role, "email": p.email} for p in org.people])
        kpis: list[dict[str, Any]] = []
        kpi_ids: dict[tuple[str, str], int] = {}
        for role, skills in org.roles.items():
            for skill in skills:
                kpi_ids[(role, skill)] = len(kpis) + 1
                kpis.append({"id": len(kpis) + 1, "title": skill, "jobTitle": role,
                             "minRating": 1, "maxRating": org.scales[role]})
        self.post("/_sandbox/kpis", kpis)
        roles = {p.id: p.role for p in org.people}
        self.post("/_sandbox/reviews", [
            {"empNumber": r.person_id, "reviewPeriodStart": r.period_start.isoformat(),
             "reviewPeriodEnd": r.period_end.isoformat(), "dueDate": r.due.isoformat(),
             "completedDate": r.completed.isoformat(), "jobTitle": roles[r.person_id],
             "ratings": [{"kpiId": kpi_ids[(roles[r.person_id], x.skill)], "rating": x.value,
                          "comment": "", "selfRating": x.top, "selfComment": ""}
                         for x in r.ratings]}
            for r in org.reviews])
