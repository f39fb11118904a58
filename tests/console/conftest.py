"""The console over a real store with a few things waiting for a person: a pending identity,
two plans waiting for approval, a dead letter and an employee with a story."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from connector.console import create_app
from connector.console.users import UserDirectory, parse_users
from connector.inbound import plan_batch, queue_review
from connector.models import Employee, Rating, Review
from connector.plan_summary import (
    approval_plan,
    approval_summary,
    batch_summary,
    effect_lines,
    lines_hash,
    plan_hash,
)
from connector.planner import Planner
from connector.settings import Settings
from connector.store import ApprovalState, MatchState, Store
from mappings.loader import load_mapping
from tests.support.fakes import FakeLMS

PASSWORD = "correct horse battery"
SECRET_KEY = "k" * 40
WHEN = datetime(2026, 3, 1, tzinfo=UTC)
# A real Argon2id hash at the lowest cost: verification reads the cost from the hash, so
# each sign-in in these tests takes milliseconds, not the production ~0.3 s.
_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


def users_text(**roles: str) -> str:
    return " ".join(f"{name}:{role}:{_HASH}" for name, role in roles.items())


@dataclass
class Seeded:
    approval_ids: list[int]
    dead_job: int
    pending_employee: str
    storied_employee: str
    stop_id: int = 0


EXAMPLE_MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"
# The LMS catalogue's titles of the example mapping's negotiation courses.
COURSE_TITLES = {"101": "Negotiation basics", "102": "Closing the deal"}
EVIL = "=HYPERLINK(\"http://evil.example\",\"x\")"  # a name a spreadsheet would run


def stopped_review(n: int) -> Review:
    return Review(review_id=f"S{n}", source="hrpoll", cycle="2026-H1", completed_at=WHEN,
                  employee=Employee(employee_id=f"S{n}", email=f"s{n}@example.com",
                                    first_name="Stopped", last_name=f"Person{n}",
                                    role="Account Executive"),
                  ratings=(Rating(skill_key="Negotiation", value=1),))


def seed_stop(store: Store) -> int:
    """A reviews poll a safety limit stopped, staged as the poller stages one: its plan and
    the plan's hash made by the same code (connector/inbound.py, plan_summary.py)."""
    mapping = load_mapping(EXAMPLE_MAPPING)
    reviews = [stopped_review(n) for n in (1, 2)]
    _, actions = plan_batch(store, mapping, reviews)
    batch, _ = store.stage_batch(
        stream="hr.reviews", source="the HR review poll", kind="reviews",
        reasons=["4 new course assignments exceed CONNECTOR_MAX_ASSIGNMENTS_PER_RUN = 3"],
        summary=batch_summary(actions, len(reviews)), plan_hash=lines_hash(effect_lines(actions)),
        payload={"reviews": [r.model_dump(mode="json") for r in reviews]}, cursor="r-200")
    return batch.id


def seed_ledger(store: Store) -> None:
    """Goals, assignments and evidence for the reports; stored reviews for the mapping
    preview (E2 and a manager's report E3, both Account Executives)."""
    store.upsert_employee(Employee(employee_id="E3", email="e3@example.com",
                                   first_name=EVIL, last_name="Smith",
                                   role="Account Executive", manager_id="E2"))
    store.set_identity("E3", state=MatchState.LINKED, lms_user_id="u3", note="matched")
    store.configure_budget("talentlms", 2000)  # as a worker sizes it on its first call
    for eid, ratings in (("E2", (("Negotiation", 1), ("Communication", 2))),
                         ("E3", (("Negotiation", 2),))):
        queue_review(store, Review(
            review_id=f"P-{eid}", source="csv", cycle="2026-H1", completed_at=WHEN,
            employee=Employee(employee_id=eid, email=f"{eid.lower()}@example.com",
                              role="Account Executive"),
            ratings=tuple(Rating(skill_key=k, value=v) for k, v in ratings)))
    with store.transaction() as tx:
        for eid, skill, courses, closed, rule in (
                ("E2", "negotiation", ["101", "102"], True, 0),
                ("E3", "negotiation", ["101"], False, 0),
                ("E3", "communication", ["103"], False, 1)):
            key = f"{eid}/{skill}/2026-H1"
            store.save_goal(tx, goal_key=key, employee_id=eid, skill_id=skill,
                            cycle="2026-H1", title=f"Raise {skill}", course_ids=courses,
                            tracker="bamboohr", goal_id=f"g-{eid}-{skill}", milestone_ids={},
                            gap_found_at=WHEN, due_date="2026-04-15", rule_index=rule)
            for course in courses:
                store.save_assignment(tx, employee_id=eid, course_id=course, goal_key=key,
                                      review_id=f"P-{eid}", due_date="2026-04-15")
            if closed:
                for course in courses:
                    store.complete_assignment(tx, eid, course, key, WHEN)
                    store.save_evidence(tx, key, course, f"c-{eid}-{course}", WHEN)
                store.close_goal(key, WHEN, tx)


def seed(store: Store) -> Seeded:
    """The data the console pages show, made through the store's own operations."""
    store.upsert_employee(Employee(employee_id="E1", email="ada@example.com",
                                   first_name="Ada", last_name="Lovelace", role="engineer"))
    store.set_identity("E1", state=MatchState.PENDING, note="two LMS users share this name")
    store.upsert_employee(Employee(employee_id="E2", email="grace@example.com",
                                   first_name="Grace", last_name="Hopper", role="manager"))
    store.set_identity("E2", state=MatchState.LINKED, lms_user_id="u2", note="matched")
    cause = [{"review_id": "R2", "source": "csv", "cycle": "2026-H1", "skill_id": "negotiation",
              "rating_raw": "1", "rating": 1.0, "target": 3.0, "gap": 2.0, "rule_index": 0}]
    store.audit(None, "E2", "gap.found", "negotiation: rated 1, target 3", cause)
    for event, message in (
            ("planned.open_goal", "open goal 'Improve negotiation' (due 2026-06-01)"),
            ("planned.enroll", "enroll in NEG-101 Negotiation basics"),
            ("open_goal", "goal 'Improve negotiation' opened in the goal tracker"),
            ("enroll", "enrolled in NEG-101 Negotiation basics (LMS user u2)")):
        store.audit(None, "E2", event, message)
    store.course_titles.remember(COURSE_TITLES)  # as the worker keeps its catalogue read
    mapping = load_mapping(EXAMPLE_MAPPING)
    for n, eid in enumerate(("E1", "E2"), start=1):
        review = Review(review_id=f"R{n}", source="csv", cycle="2026-H1", completed_at=WHEN,
                        employee=Employee(employee_id=eid, email=f"{eid.lower()}@example.com",
                                          role="Account Executive"),
                        ratings=(Rating(skill_key="Negotiation", value=1),))
        # Planned and shown as the review handler plans and shows one (connector/handlers.py).
        actions = Planner(mapping).plan_review(review).actions
        shown = approval_plan(actions, mapping, lambda c: COURSE_TITLES.get(c, c))
        assert store.request_approval(review, approval_summary(shown), plan=shown,
                                      plan_hash=plan_hash(actions))
    ids = [a.id for a in store.approvals_list(ApprovalState.PENDING)]
    store.save_cursor("lms.completions", "2026-03-01T00:00:00Z")
    store.save_cursor("hr.reviews", "r-100")
    store.cursor_failed("hr.reviews", "ConnectError: connection refused by hr.example.com")
    job_id = store.jobs.add("review", {}, employee_id="E2")
    job = store.jobs.claim("test")
    assert job is not None
    store.jobs.fail(job, "FatalAPIError: 401 Unauthorized <script>x</script>", retriable=False)
    stop_id = seed_stop(store)
    seed_ledger(store)
    return Seeded(ids, job_id, "E1", "E2", stop_id)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    """Route tests run on SQLite: the operations behind them are tested on both engines
    (tests/integration/test_operations_core.py), and the sign-in limit here too."""
    s = Store.open(sqlite_url)
    yield s
    s.close()


@pytest.fixture
def seeded(store: Store) -> Seeded:
    return seed(store)


class Users:
    """The settings' users as a test changes them (the directory re-reads on each request)."""

    def __init__(self) -> None:
        self.text = users_text(olga="operator", vic="viewer")

    def directory(self) -> UserDirectory:
        return UserDirectory(lambda: parse_users(self.text), refresh_seconds=0)


@pytest.fixture
def users() -> Users:
    return Users()


def lms_with_learners() -> FakeLMS:
    """The LMS the console asks (a fake vendor): Ada is there under her name's usual
    spelling, not her HR email; u77 is a known user too."""
    return FakeLMS({"ada.lovelace@example.com": "u41", "e1@example.com": "u77",
                    "e2@example.com": "u2"})


@pytest.fixture
def lms() -> FakeLMS:
    return lms_with_learners()


@pytest.fixture
def app(store: Store, users: Users, lms: FakeLMS) -> Flask:
    settings = Settings(_env_file=None, console_secret_key=SECRET_KEY,  # type: ignore[call-arg]
                        console_users=users.text)
    return create_app(store, settings, users=users.directory(),
                      mapping=lambda: load_mapping(EXAMPLE_MAPPING), lms=lambda: lms)


def csrf_of(client: FlaskClient, path: str = "/console/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, name: str, password: str = PASSWORD) -> str:
    """Sign in; the session's CSRF token for the forms that follow."""
    answer = client.post("/console/sign-in", data={
        "name": name, "password": password, "csrf_token": csrf_of(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return csrf_of(client, "/console")


@pytest.fixture
def operator(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, sign_in(client, "olga")


@pytest.fixture
def viewer(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, sign_in(client, "vic")

