"""Moodle's sandbox for the demo: learners (user id 1000 + person id), the catalogue, one
competency per skill of the demo mapping, and learners finishing courses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask

from connector.sandbox import moodle
from connector.sandbox.kit import SANDBOX_KEY, DemoOrg, Simulator
from connector.vendors.moodle.goals import GOAL_MARKER

# The demo's mapping with Moodle: the shipped example with each skill's competency id and no
# course-reset rule (Moodle's web services cannot reset a completion).
DEMO_MAPPING = Path(__file__).with_name("demo-mapping.toml")
SKILLS = ("negotiation", "communication", "customer_focus", "technical_depth",
          "problem_solving", "time_management", "leadership", "data_literacy")


class MoodleSandbox(Simulator):
    name = "moodle"

    @classmethod
    def create_app(cls) -> Flask:
        return moodle.create_app(token=SANDBOX_KEY)

    def settings(self) -> dict[str, Any]:
        return {"moodle_base_url": self.url, "moodle_token": SANDBOX_KEY,
                "moodle_competency_framework": 1, "mapping_file": DEMO_MAPPING,
                "moodle_calls_per_second": 200}  # a sandbox on loopback, not a real site

    def seed(self, org: DemoOrg) -> None:
        learners = org.people[org.missing_learners:]
        self.post("/_sandbox/users", {"users": [
            {"id": 1000 + p.id, "email": p.email, "username": p.email.split("@")[0],
             "firstname": p.first, "lastname": p.last} for p in learners]})
        self.post("/_sandbox/courses", {"courses": [
            {"id": cid, "fullname": name, "shortname": f"C{cid}"}
            for cid, name in org.courses.items()]})
        self.post("/_sandbox/competencies", {"competencies": [
            {"id": n, "idnumber": skill, "shortname": skill.replace("_", " ").title()}
            for n, skill in enumerate(SKILLS, 1)]})

    def complete(self, lms_user_id: str, course_id: str, *, passed: bool, score: int,
                 completed_at: datetime | None = None) -> None:
        item: dict[str, Any] = {"user_id": lms_user_id, "course_id": course_id,
                                "score": score, "passed": passed}
        if completed_at is not None:
            item["completed_at"] = int(completed_at.timestamp())
        self.post("/_sandbox/complete", item)

    def goal_owner_emails(self) -> dict[str, str]:
        state = self.state()
        emails = {int(u["id"]): str(u.get("email") or "").lower() for u in state["users"]}
        owners: dict[str, str] = {}
        for plan in state.get("goals", []):
            for line in str(plan.get("description") or "").splitlines():
                if line.strip().startswith(GOAL_MARKER):
                    owners[line.strip()[len(GOAL_MARKER):]] = emails.get(int(plan["userid"]),
                                                                         "")
        return owners
