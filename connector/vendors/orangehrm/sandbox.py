"""OrangeHRM's sandbox for the demo: people, one KPI per role and skill, finished reviews."""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector.sandbox import orangehrm
from connector.sandbox.kit import SANDBOX_KEY, DemoOrg, Simulator

CLIENT_ID = "demo-client"


class OrangeHRMSandbox(Simulator):
    name = "orangehrm"

    @classmethod
    def create_app(cls) -> Flask:
        return orangehrm.create_app(client_id=CLIENT_ID, client_secret=SANDBOX_KEY)

    def settings(self) -> dict[str, Any]:
        return {"orangehrm_base_url": self.url, "orangehrm_client_id": CLIENT_ID,
                "orangehrm_client_secret": SANDBOX_KEY}

    def seed(self, org: DemoOrg) -> None:
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
