"""The LRS's sandbox: statements a test or a demo writes, read back by the pull path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from connector.sandbox import lrs
from connector.sandbox.kit import SANDBOX_KEY, Simulator

SECRET = "demo-lrs-secret"  # the stand-in's own: not a real credential  # noqa: S105
ACTIVITY_PREFIX = "https://lms.example/course/"
LMS_HOME = "https://lms.example"


class LrsSandbox(Simulator):
    name = "xapi_lrs"

    @classmethod
    def create_app(cls) -> Flask:
        return lrs.create_app(key=SANDBOX_KEY, secret=SECRET)

    def settings(self) -> dict[str, Any]:
        return {"xapi_lrs_endpoint": f"{self.url}/xapi", "xapi_lrs_key": SANDBOX_KEY,
                "xapi_lrs_secret": SECRET, "xapi_lrs_course_prefix": ACTIVITY_PREFIX,
                "completion_sources": self.name}

    def complete(self, lms_user_id: str, course_id: str, *, passed: bool, score: int,
                 completed_at: datetime | None = None) -> None:
        """The LMS reports a result to the LRS (as Docebo or Moodle's log store would): a
        passed or failed statement about its own user account."""
        statement = self.statement("", course_id, "passed" if passed else "failed",
                                   passed=passed, score=score, when=completed_at)
        statement["actor"] = {"objectType": "Agent",
                              "account": {"homePage": LMS_HOME, "name": lms_user_id}}
        self.send([statement])

    def statement(self, email: str, course_id: str, verb: str, *, passed: bool | None = None,
                  score: float | None = None, when: datetime | None = None) -> dict[str, Any]:
        """A statement as an LMS would send it (verb: completed, passed, failed, …)."""
        result: dict[str, Any] = {}
        if passed is not None:
            result["success"] = passed
        if score is not None:
            result["score"] = {"scaled": score / 100}
        moment = (when or datetime.now(UTC)).isoformat()
        return {"actor": {"objectType": "Agent", "mbox": f"mailto:{email}"},
                "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
                "object": {"objectType": "Activity", "id": f"{ACTIVITY_PREFIX}{course_id}"},
                "timestamp": moment, **({"result": result} if result else {})}

    def send(self, statements: list[dict[str, Any]], stored: str | None = None) -> list[str]:
        import requests

        answer = requests.post(f"{self.url}/_sandbox/statements",
                               json={"statements": statements, "stored": stored}, timeout=30)
        answer.raise_for_status()
        ids: list[str] = answer.json()
        return ids

    def void(self, statement_id: str) -> str:
        return self.send([{"actor": {"objectType": "Agent", "mbox": "mailto:lrs-admin@lms.example"},
                           "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                           "object": {"objectType": "StatementRef", "id": statement_id}}])[0]
