"""A small company living through a year, against the sandbox vendors: the world and its clock.

`YearWorld` drives the three sandboxes through their control endpoints (people change jobs and
e-mail addresses, learners finish courses, reviewers finish review cycles) and runs the real
product against them exactly as `connector serve` would: the directory read, the review poller
with its safety limits, the completion poller, the worker, the recertification check and the
operator's CLI. Time is the scenario's own (`ScenarioClock`), injected where the product takes
a clock, so the year replays the same way on any day. Used by tests/e2e/test_year_scenario.py.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests

from connector.cli import main as connector_cli
from connector.demo.sandboxes import Sandboxes, sandbox_settings
from connector.pollers import poll_completions, poll_reviews, sync_directory
from connector.recert import check_recertifications
from connector.runtime import Runtime, build_runtime
from connector.sandbox.kit import SANDBOX_KEY
from connector.store import Goal, Identity, Store
from connector.vendors.orangehrm.reviews import OrangeHRMReviews
from connector.worker import Worker
from mappings.loader import load_mapping

TIMEOUT = 10


def at(day: str, hour: int = 9) -> datetime:
    """A moment of the scenario, in UTC ("2025-07-11" → 09:00 that day)."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@dataclass
class ScenarioClock:
    """The scenario's time: only moves forward, and only when the script says so."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def today(self) -> date:
        return self.current.date()

    def move_to(self, when: datetime) -> None:
        assert when >= self.current, f"time only moves forward ({when} < {self.current})"
        self.current = when


@dataclass(frozen=True)
class Person:
    """Someone in all three systems; `lms_user_id` is None while they have no LMS account."""

    employee_id: str
    first: str
    last: str
    lms_user_id: str | None

    @property
    def email(self) -> str:
        return f"{self.first}.{self.last}@example.com".lower()


class YearWorld:
    """The sandboxes, the product wired to them, and the read-backs the assertions need."""

    def __init__(self, sb: Sandboxes, database_url: str, workdir: Path,
                 clock: ScenarioClock) -> None:
        self.sb = sb
        self.database_url = database_url
        self.workdir = workdir
        self.clock = clock
        self.store = Store.open(database_url)
        self.rt: Runtime | None = None

    # -- the product -----------------------------------------------------------------------
    def start(self, mapping_toml: str, name: str = "mapping.toml", **settings: Any) -> Runtime:
        """(Re)build the product with this mapping file, on the same database, as a restart
        after an admin edited the mapping would. The scenario clock is injected."""
        path = self.workdir / name
        path.write_text(mapping_toml, encoding="utf-8")
        # This company numbers people the same in BambooHR and OrangeHRM, and says so.
        settings = {"identity_match_by": "id", **settings}
        config = sandbox_settings(self.sb, self.database_url, mapping_file=path, **settings)
        rt = build_runtime(config, store=self.store, mapping=load_mapping(path))
        rt.ctx.now = self.clock.now
        rt.review_sources = [
            OrangeHRMReviews(s.http, include_self_ratings=s.include_self_ratings,
                             fetch_emails=s.fetch_emails, today=self.clock.today)
            if isinstance(s, OrangeHRMReviews) else s for s in rt.review_sources]
        self.rt = rt
        return rt

    @property
    def runtime(self) -> Runtime:
        assert self.rt is not None, "start() the product first"
        return self.rt

    def drain(self) -> None:
        """Run every queued job; none may be left waiting for a retry or dead."""
        stats = Worker(self.runtime.ctx).drain()
        counts = self.store.jobs.counts()
        assert stats.dead == 0, stats.errors
        assert counts.get("pending", 0) == 0 and counts.get("running", 0) == 0, counts

    def poll_reviews(self, *, confirm: bool = False) -> int:
        rt = self.runtime
        return sum(poll_reviews(self.store, source, limits=(rt.settings, rt.ctx.mapping),
                                confirm=confirm) for source in rt.review_sources)

    def poll_completions(self) -> int:
        lms = self.runtime.lms
        assert lms is not None
        new, _ = poll_completions(self.store, lms)
        return new

    def sync_directory(self, *, max_leaver_share: float, confirm: bool = False
                       ) -> tuple[int, int]:
        directory = self.runtime.directory
        assert directory is not None
        return sync_directory(self.store, directory, max_leaver_share=max_leaver_share,
                              confirm=confirm, id_spaces=self.runtime.ctx.id_spaces)

    def check_recertifications(self) -> int:
        return check_recertifications(self.runtime.ctx, self.clock.now())

    def cli(self, *argv: str) -> str:
        """`connector ARGS…` as an operator types it (the database comes from the
        environment the test set, the vendors' addresses and keys from the sandboxes, as an
        operator's `.env` would give them); returns what it printed, and it must succeed."""
        out, err = io.StringIO(), io.StringIO()
        env = {f"CONNECTOR_{key.upper()}": str(value) for sim in self.sb.sims.values()
               for key, value in sim.settings().items()}
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = connector_cli(list(argv))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        assert code == 0, f"connector {' '.join(argv)} exited {code}: {err.getvalue()}"
        return out.getvalue()

    # -- the vendors' side (control endpoints and admin calls) -----------------------------
    def seed(self, people: list[Person], role: str, courses: dict[str, str],
             kpis: list[str]) -> None:
        post = requests.post
        post(f"{self.sb.bamboohr.url}/_sandbox/employees", json=[
            {"id": int(p.employee_id), "firstName": p.first, "lastName": p.last,
             "workEmail": p.email, "jobTitle": role, "displayName": f"{p.first} {p.last}"}
            for p in people], timeout=TIMEOUT).raise_for_status()
        post(f"{self.sb.orangehrm.url}/_sandbox/employees", json=[
            {"empNumber": int(p.employee_id), "employeeId": f"E{p.employee_id}",
             "firstName": p.first, "lastName": p.last, "jobTitle": role, "email": p.email}
            for p in people], timeout=TIMEOUT).raise_for_status()
        post(f"{self.sb.orangehrm.url}/_sandbox/kpis", json=[
            {"id": n, "title": title, "jobTitle": role, "minRating": 1, "maxRating": 5}
            for n, title in enumerate(kpis, start=1)], timeout=TIMEOUT).raise_for_status()
        post(f"{self.sb.talentlms.url}/_sandbox/courses", json={"courses": [
            {"id": cid, "name": name} for cid, name in courses.items()]},
            timeout=TIMEOUT).raise_for_status()
        for p in people:
            if p.lms_user_id is not None:
                self.add_learner(p.lms_user_id, p.email, p.first, p.last)

    def add_learner(self, user_id: str, email: str, first: str, last: str) -> None:
        """A TalentLMS account made by the LMS admin (not by the connector)."""
        requests.post(f"{self.sb.talentlms.url}/_sandbox/users", json={"users": [
            {"id": int(user_id), "email": email, "login": email.split("@", maxsplit=1)[0],
             "first_name": first, "last_name": last}]}, timeout=TIMEOUT).raise_for_status()

    def admin_enroll(self, user_id: str, course_id: str) -> None:
        """An enrollment the LMS admin made by hand, long before the connector ran."""
        requests.post(f"{self.sb.talentlms.url}/api/v1/addusertocourse",
                      data={"user_id": user_id, "course_id": course_id},
                      auth=(SANDBOX_KEY, ""), timeout=TIMEOUT).raise_for_status()

    def finish_course(self, user_id: str, course_id: str, when: datetime, *,
                      passed: bool = True, score: int = 90) -> None:
        requests.post(f"{self.sb.talentlms.url}/_sandbox/complete", json={
            "user_id": user_id, "course_id": course_id, "passed": passed, "score": score,
            "completed_at": int(when.timestamp())}, timeout=TIMEOUT).raise_for_status()

    def add_reviews(self, ratings: dict[str, list[int]], *, start: str, end: str,
                    due: str, completed: str) -> None:
        """One finished OrangeHRM review per employee; ratings in KPI order (1..n)."""
        requests.post(f"{self.sb.orangehrm.url}/_sandbox/reviews", json=[
            {"empNumber": int(eid), "reviewPeriodStart": start, "reviewPeriodEnd": end,
             "dueDate": due, "completedDate": completed,
             "ratings": [{"kpiId": n, "rating": r, "comment": "", "selfRating": 5,
                          "selfComment": ""} for n, r in enumerate(values, start=1)]}
            for eid, values in ratings.items()], timeout=TIMEOUT).raise_for_status()

    def change_in_bamboohr(self, employee_id: str, **changes: Any) -> None:
        requests.patch(f"{self.sb.bamboohr.url}/_sandbox/employees/{employee_id}",
                       json=changes, timeout=TIMEOUT).raise_for_status()

    def change_in_orangehrm(self, person: Person, role: str, email: str) -> None:
        requests.post(f"{self.sb.orangehrm.url}/_sandbox/employees", json=[
            {"empNumber": int(person.employee_id), "employeeId": f"E{person.employee_id}",
             "firstName": person.first, "lastName": person.last, "jobTitle": role,
             "email": email}], timeout=TIMEOUT).raise_for_status()

    # -- read-backs ------------------------------------------------------------------------
    def bamboohr(self) -> dict[str, Any]:
        answer = requests.get(f"{self.sb.bamboohr.url}/_sandbox/state", timeout=TIMEOUT)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state

    def talentlms(self) -> dict[str, Any]:
        answer = requests.get(f"{self.sb.talentlms.url}/_sandbox/state", timeout=TIMEOUT)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state

    def vendor_goal(self, goal_key: str) -> dict[str, Any]:
        """The BambooHR goal the ledger says it opened for `goal_key` (exactly one)."""
        row = self.store.goal(goal_key)
        assert row is not None, f"no goal {goal_key} in the ledger"
        assert row.goal_id, f"goal {goal_key} was never opened in BambooHR"
        eid, gid = row.goal_id.split(":")
        found = [g for g in self.bamboohr()["goals"]
                 if g["employeeId"] == eid and g["id"] == gid]
        assert len(found) == 1, f"goal {row['goal_id']} is in BambooHR {len(found)} times"
        return found[0]

    def vendor_goals_of(self, employee_id: str) -> list[dict[str, Any]]:
        return [g for g in self.bamboohr()["goals"] if g["employeeId"] == employee_id]

    def enrollment(self, user_id: str, course_id: str) -> dict[str, Any] | None:
        for row in self.talentlms()["enrollments"]:
            if row["user_id"] == user_id and row["course_id"] == course_id:
                return dict(row)
        return None

    def enrolled(self, user_id: str, course_id: str) -> dict[str, Any]:
        found = self.enrollment(user_id, course_id)
        assert found is not None, f"TalentLMS user {user_id} is not enrolled in {course_id}"
        return found

    def identity(self, employee_id: str) -> Identity:
        row = self.store.identity(employee_id)
        assert row is not None, f"employee {employee_id} is not in the ledger"
        return row

    def ledger_goal(self, goal_key: str) -> Goal:
        row = self.store.goal(goal_key)
        assert row is not None, f"no goal {goal_key} in the ledger"
        return row

    def events(self, employee_id: str) -> list[str]:
        return [a.event for a in self.store.audit_trail(employee_id)]

    def action_states(self, employee_id: str) -> dict[str, str]:
        return {key: str(state) for key, state in self.store.action_states(employee_id).items()}

    def vendor_snapshot(self) -> tuple[Any, ...]:
        """What the connector can change in the vendors: goals (with progress and comments),
        enrollments and learners. Equal snapshots mean no vendor effect in between."""
        bamboo, tlms = self.bamboohr(), self.talentlms()
        goals = sorted((g["employeeId"], g["id"], g["status"], g["percentComplete"],
                        len(g["comments"])) for g in bamboo["goals"])
        enrollments = sorted((e["user_id"], e["course_id"], e["completion_status"])
                             for e in tlms["enrollments"])
        return tuple(goals), tuple(enrollments), tlms["counts"]["users"]

    def close(self) -> None:
        self.store.close()
