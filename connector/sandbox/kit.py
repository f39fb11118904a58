"""What every vendor's sandbox offers the demo and the tests: serve it on loopback, point the
product at it, seed an organisation into it, and read back what it holds.

A vendor plug-in names its `Simulator` subclass; the demo drives every configured vendor
through this one interface, so it names no vendor. The organisation itself (`DemoOrg`) is
plain data made by `connector.demo.org`; each simulator turns it into its vendor's shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

import requests
from flask import Flask

from connector.sandbox.common import RunningSimulator, serve

SANDBOX_KEY = "demo-sandbox-key"  # the simulators' own key: not a real credential


@dataclass(frozen=True)
class Person:
    id: int
    first: str
    last: str
    email: str
    role: str


@dataclass(frozen=True)
class DemoRating:
    skill: str
    value: int
    top: int  # the scale is 1..top


@dataclass(frozen=True)
class DemoReview:
    person_id: int
    period_start: date
    period_end: date
    due: date
    completed: date
    ratings: tuple[DemoRating, ...]


@dataclass
class DemoOrg:
    """An organisation to seed: people, their roles' skills, a course catalogue and one
    finished review cycle. The first `missing_learners` people have no LMS account yet."""

    people: list[Person]
    roles: dict[str, list[str]]
    scales: dict[str, int]  # role → top of its rating scale
    courses: dict[str, str]  # course id → title
    reviews: list[DemoReview] = field(default_factory=list)
    missing_learners: int = 2


class Simulator:
    """One vendor's sandbox, running (started here or elsewhere) at `url`."""

    name: ClassVar[str] = ""

    def __init__(self, url: str, running: RunningSimulator | None = None) -> None:
        self.url = url.rstrip("/")
        self.running = running

    @classmethod
    def create_app(cls) -> Flask:
        raise NotImplementedError

    @classmethod
    def start(cls) -> Simulator:
        """Serve this vendor's sandbox on a free loopback port, in this process."""
        running = serve(cls.create_app(), cls.name)
        return cls(running.url, running)

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()

    def settings(self) -> dict[str, Any]:
        """Setting overrides that point the product at this sandbox, credentials included."""
        return {}

    def seed(self, org: DemoOrg) -> None:
        """Put what this vendor would hold about `org` into the sandbox."""

    def complete(self, lms_user_id: str, course_id: str, *, passed: bool, score: int,
                 completed_at: datetime | None = None) -> None:
        """A learner finishes a course (LMS sandboxes only)."""
        raise NotImplementedError(f"{self.name} is not an LMS")

    def count(self, what: str) -> int:
        """How many of `what` ("goals", "enrollments") the vendor holds, for end-state
        checks; each is compared with the ledger."""
        value = self.state().get(what)
        if isinstance(value, list | dict):
            return len(value)
        return int((self.state().get("counts") or {}).get(what, 0))

    def goal_owner_emails(self) -> dict[str, str] | None:
        """Goal trackers: each connector goal (by goal key) → the email of the person whose
        record holds it, for the check that no goal is on somebody else's record; None when
        this vendor cannot say."""
        return None

    def state(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/_sandbox/state", timeout=30)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def post(self, path: str, body: Any) -> None:
        requests.post(f"{self.url}{path}", json=body, timeout=30).raise_for_status()
