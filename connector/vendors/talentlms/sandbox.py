"""TalentLMS's sandbox for the demo: learners (1000 + person id), the catalogue, and
learners finishing courses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask

from connector.sandbox import talentlms
from connector.sandbox.kit import SANDBOX_KEY, DemoOrg, Simulator

HOURLY_LIMIT = 100_000  # the demo is not about the plan's budget


class TalentLMSSandbox(Simulator):
    name = "talentlms"

    @classmethod
    def create_app(cls) -> Flask:
        return talentlms.create_app(api_key=SANDBOX_KEY, hourly_limit=HOURLY_LIMIT)

    def settings(self) -> dict[str, Any]:
        return {"talentlms_base_url": self.url, "talentlms_api_key": SANDBOX_KEY,
                "talentlms_hourly_limit": HOURLY_LIMIT}

    def seed(self, org: DemoOrg) -> None:
        learners = org.people[org.missing_learners:]
        self.post("/_sandbox/users", {"users": [
            {"id": 1000 + p.id, "email": p.email, "login": p.email.split("@")[0],
             "first_name": p.first, "last_name": p.last} for p in learners]})
        self.post("/_sandbox/courses", {"courses": [
            {"id": cid, "name": name} for cid, name in org.courses.items()]})

    def complete(self, lms_user_id: str, course_id: str, *, passed: bool, score: int,
                 completed_at: datetime | None = None) -> None:
        item: dict[str, Any] = {"user_id": lms_user_id, "course_id": course_id,
                                "score": score, "passed": passed}
        if completed_at is not None:
            item["completed_at"] = int(completed_at.timestamp())
        self.post("/_sandbox/complete", item)
