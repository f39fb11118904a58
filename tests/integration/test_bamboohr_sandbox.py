"""The BambooHR adapter against the BambooHR simulator on loopback, with every request we send
and every answer the simulator gives checked against the official OpenAPI file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests
from flask import Flask, request
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_core.validation.request.validators import (
    V31WebhookRequestBodyValidator,
)

from connector.errors import FatalAPIError, RetriableAPIError
from connector.models import Employee, Evidence, GoalKey
from connector.sandbox.bamboohr import create_app
from connector.sandbox.common import RunningSimulator, serve
from connector.settings import Settings
from connector.vendors.bamboohr.directory import BambooHRDirectory
from connector.vendors.bamboohr.goals import LIST_CAP, BambooHRGoals
from tests.support.bamboohr_spec import SPEC_HOST, check_request, check_response, load_spec
from webhooks.bamboohr_body import parse_bamboohr_employees as parse_employee_webhook
from webhooks.signatures import SignatureError, verify_bamboohr

API_KEY = "sim-key-4242"
WEBHOOK_SECRET = "sim-webhook-secret"
PEOPLE = [
    {"id": "3", "firstName": "Bea", "lastName": "Boss", "workEmail": "bea@example.com",
     "jobTitle": "Sales Director"},
    {"id": "7", "firstName": "Ann", "lastName": "Lee", "workEmail": "ann@example.com",
     "jobTitle": "Account Executive", "supervisorId": "3"},
    {"id": "9", "firstName": "Old", "lastName": "Timer", "workEmail": "old@example.com",
     "jobTitle": "Clerk", "status": "Inactive"},
]
ANN = Employee(employee_id="7", email="ann@example.com", manager_id="3")
COURSES = [("123", "Negotiation basics"), ("456", "Advanced negotiation")]


class FakeClock:
    """Simulated time shared by the simulator's throttle window and the client's sleeps."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


# -- OpenAPI ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return load_spec()


class Recorder:
    """A `requests` response hook keeping every exchange with the simulator's API."""

    def __init__(self) -> None:
        self.exchanges: list[requests.Response] = []

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/api/" in (response.request.url or ""):
            self.exchanges.append(response)

    def check(self, spec: OpenAPI) -> int:
        """Validate our requests and the simulator's 2xx answers; returns how many."""
        for response in self.exchanges:
            check_request(spec, response.request)
            if response.ok:
                check_response(spec, response.request, response.status_code, response.content)
        return len(self.exchanges)


# -- the simulator and clients ------------------------------------------------------------------


START = datetime(2026, 3, 1, 9, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(scope="module")
def server(clock: FakeClock) -> Iterator[RunningSimulator]:
    """One simulator for the module (stopping a server costs half a second)."""
    running = serve(create_app(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, clock=clock),
                    "bamboohr")
    yield running
    running.stop()


@pytest.fixture
def sim(server: RunningSimulator, clock: FakeClock) -> RunningSimulator:
    """The simulator emptied and seeded afresh for each test."""
    clock.now = START
    requests.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()
    requests.post(f"{server.url}/_sandbox/employees", json=PEOPLE, timeout=5).raise_for_status()
    requests.post(f"{server.url}/_sandbox/training-types", json={"ids": [4]},
                  timeout=5).raise_for_status()
    return server


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def settings_for(sim: RunningSimulator, **extra: Any) -> Settings:
    return Settings(_env_file=None, bamboohr_base_url=sim.url, bamboohr_api_key=API_KEY,
                    **extra)


def make_goals(sim: RunningSimulator, clock: FakeClock, recorder: Recorder,
               **extra: Any) -> BambooHRGoals:
    session = requests.Session()
    session.hooks["response"].append(recorder)
    return BambooHRGoals.from_settings(settings_for(sim, **extra), today=lambda: date(2026, 3, 2),
                                       session=session, clock=clock, sleep=clock.sleep,
                                       jitter=lambda: 0.0, max_attempts=4)


@pytest.fixture
def goals(sim: RunningSimulator, clock: FakeClock, recorder: Recorder) -> BambooHRGoals:
    return make_goals(sim, clock, recorder, bamboohr_training_type_id=4)


def state(sim: RunningSimulator) -> dict[str, Any]:
    answer: dict[str, Any] = requests.get(f"{sim.url}/_sandbox/state", timeout=5).json()
    return answer


def evidence(key: GoalKey, course: str, name: str) -> Evidence:
    return Evidence(goal=key, course_id=course, course_name=name, lms_name="TalentLMS",
                    completed_at=datetime(2026, 3, 1, 8, tzinfo=UTC), score=88)


KEY = GoalKey(employee_id="7", skill_id="negotiation", cycle="2026H1")


# -- the loop -------------------------------------------------------------------------------------


def test_open_evidence_milestones_close(goals: BambooHRGoals, sim: RunningSimulator,
                                        recorder: Recorder, spec: OpenAPI) -> None:
    ref = goals.open_goal(ANN, KEY, "Raise negotiation from 2 to 4", date(2026, 5, 1), COURSES)
    assert set(ref.milestone_ids) == {"123", "456"}

    for course, name in COURSES:
        proof = evidence(KEY, course, name)
        if not goals.evidence_exists(ref, proof):
            goals.add_evidence(ref, proof)
        goals.complete_course(ref, course, 50.0)
        goals.record_training("7", proof)
    goals.close_goal(ref)

    [goal] = state(sim)["goals"]
    assert goal["id"] == ref.goal_id.split(":")[1]
    assert goal["sharedWithEmployeeIds"] == [7, 3]
    assert goal["status"] == "closed" and goal["closed"] is True
    assert goal["percentComplete"] == 100
    assert all("completedDateTime" in m for m in goal["milestones"])
    assert [c["text"].splitlines()[-1] for c in goal["comments"]] == [
        "[evidence 123 2026-03-01]", "[evidence 456 2026-03-01]"]
    assert len(state(sim)["training_records"]) == 2
    assert recorder.check(spec) >= 12


def test_crash_after_create_is_found_not_recreated(goals: BambooHRGoals, sim: RunningSimulator,
                                                   clock: FakeClock, recorder: Recorder,
                                                   spec: OpenAPI) -> None:
    created = goals.open_goal(ANN, KEY, "Raise negotiation", date(2026, 5, 1), COURSES)
    # Another goal of Ann's with the same title, made by a person: must not be mistaken for ours.
    other = KEY.model_copy(update={"cycle": "2025H2"})
    goals.open_goal(ANN, other, "Raise negotiation", date(2026, 5, 1), COURSES)

    restarted = make_goals(sim, clock, recorder)  # a new process after the crash
    found = restarted.find_goal(ANN, KEY, "Raise negotiation")

    assert found == created
    assert restarted.find_goal(ANN, KEY.model_copy(update={"skill_id": "other"}), "x") is None
    assert len(state(sim)["goals"]) == 2
    recorder.check(spec)


def test_find_goal_sees_closed_goals(goals: BambooHRGoals) -> None:
    ref = goals.open_goal(ANN, KEY, "Raise negotiation", date(2026, 5, 1), [])
    goals.close_goal(ref)
    assert goals.find_goal(ANN, KEY, "Raise negotiation") == ref


def test_evidence_exists_prevents_a_duplicate_comment(goals: BambooHRGoals,
                                                      sim: RunningSimulator) -> None:
    ref = goals.open_goal(ANN, KEY, "Raise negotiation", date(2026, 5, 1), COURSES)
    proof = evidence(KEY, "123", "Negotiation basics")
    for _ in range(3):  # the same completion delivered three times
        if not goals.evidence_exists(ref, proof):
            goals.add_evidence(ref, proof)
    [goal] = state(sim)["goals"]
    assert len(goal["comments"]) == 1


def test_a_goal_without_milestones_moves_by_percentage(goals: BambooHRGoals,
                                                       sim: RunningSimulator) -> None:
    ref = goals.open_goal(ANN, KEY, "Raise negotiation", date(2026, 5, 1), [])
    assert ref.milestone_ids == {}
    goals.complete_course(ref, "123", 50.0)
    assert state(sim)["goals"][0]["percentComplete"] == 50
    goals.complete_course(ref, "456", 100.0)
    [goal] = state(sim)["goals"]
    assert (goal["percentComplete"], goal["status"]) == (100, "completed")


def test_close_goals_off_leaves_it_open(sim: RunningSimulator, clock: FakeClock,
                                        recorder: Recorder) -> None:
    goals = make_goals(sim, clock, recorder, bamboohr_close_goals=False)
    ref = goals.open_goal(ANN, KEY, "Raise negotiation", date(2026, 5, 1), COURSES[:1])
    goals.complete_course(ref, "123", 100.0)
    goals.close_goal(ref)
    [goal] = state(sim)["goals"]
    assert (goal["percentComplete"], goal["status"]) == (100, "completed")


def test_closing_twice_is_harmless(goals: BambooHRGoals, sim: RunningSimulator) -> None:
    ref = goals.open_goal(ANN, KEY, "Raise negotiation", date(2026, 5, 1), [])
    goals.close_goal(ref)
    goals.close_goal(ref)
    assert state(sim)["goals"][0]["status"] == "closed"


# -- documented errors and throttling ------------------------------------------------------------


def raw(sim: RunningSimulator, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, f"{sim.url}{path}", auth=(API_KEY, "x"), timeout=5, **kw)


@pytest.mark.parametrize(("body", "message"), [
    ({"dueDate": "2026-05-01", "sharedWithEmployeeIds": [7]}, "title"),
    ({"title": "t", "sharedWithEmployeeIds": [7]}, "dueDate"),
    ({"title": "t", "dueDate": "2026-05-01", "sharedWithEmployeeIds": [3]}, "goal owner"),
    ({"title": "t", "dueDate": "01/05/2026", "sharedWithEmployeeIds": [7]}, "dueDate"),
    ({"title": "t", "dueDate": "2026-05-01", "sharedWithEmployeeIds": [7],
      "percentComplete": 50, "completionDate": "2026-05-01"}, "completionDate"),
])
def test_the_simulator_answers_documented_400s_in_the_header(sim: RunningSimulator,
                                                             body: dict[str, Any],
                                                             message: str) -> None:
    answer = raw(sim, "POST", "/api/v1/performance/employees/7/goals", json=body)
    assert answer.status_code == 400
    assert answer.content == b""
    assert message in answer.headers["X-BambooHR-Error-Message"]


def test_progress_on_a_goal_with_milestones_is_a_400(goals: BambooHRGoals,
                                                     sim: RunningSimulator) -> None:
    ref = goals.open_goal(ANN, KEY, "Raise negotiation", date(2026, 5, 1), COURSES)
    eid, gid = ref.goal_id.split(":")
    answer = raw(sim, "PUT", f"/api/v1/performance/employees/{eid}/goals/{gid}/progress",
                 json={"percentComplete": 10})
    assert answer.status_code == 400
    assert "milestones" in answer.headers["X-BambooHR-Error-Message"]


def test_a_wrong_key_is_a_401(sim: RunningSimulator) -> None:
    answer = requests.get(f"{sim.url}/api/v1/employees/directory", auth=("wrong", "x"),
                          timeout=5)
    assert answer.status_code == 401


def test_an_unknown_employee_surfaces_the_header_message(goals: BambooHRGoals) -> None:
    with pytest.raises(FatalAPIError, match="permission to view this employee"):
        goals.open_goal(ANN.model_copy(update={"employee_id": "404"}), KEY, "t",
                        date(2026, 5, 1), [])


@pytest.mark.parametrize("mode", ["503", "429"])
def test_throttling_is_waited_out(goals: BambooHRGoals, sim: RunningSimulator, clock: FakeClock,
                                  mode: str) -> None:
    requests.post(f"{sim.url}/_sandbox/throttle", timeout=5,
                  json={"limit": 1, "window": 10, "mode": mode, "retry_after": 10})
    started = clock()
    assert goals.find_goal(ANN, KEY, "t") is None
    assert goals.find_goal(ANN, KEY, "t") is None  # throttled, waits 10 s, then answered
    assert clock() - started >= 10


# -- directory, webhooks ---------------------------------------------------------------------


def test_directory_reads_active_people_with_managers(sim: RunningSimulator, clock: FakeClock,
                                                     recorder: Recorder, spec: OpenAPI) -> None:
    session = requests.Session()
    session.hooks["response"].append(recorder)
    directory = BambooHRDirectory.from_settings(settings_for(sim), session=session, clock=clock,
                                                sleep=clock.sleep, jitter=lambda: 0.0)
    people, complete = directory.list_employees()

    assert complete is True
    assert [(p.employee_id, p.email, p.role, p.manager_id) for p in people] == [
        ("3", "bea@example.com", "Sales Director", None),
        ("7", "ann@example.com", "Account Executive", "3"),
    ]
    requests.patch(f"{sim.url}/_sandbox/employees/7", json={"workEmail": "ann.lee@example.com"},
                   timeout=5)
    people, _ = directory.list_employees()
    assert people[1].email == "ann.lee@example.com"
    assert recorder.check(spec) == 2


class Receiver:
    """Our side of the webhook, served once: verify the raw bytes, then parse."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.secret = WEBHOOK_SECRET
        self.got: list[Any] = []
        self.app = Flask("receiver")
        self.app.add_url_rule("/hooks/bamboohr", view_func=self.hook, methods=["POST"])

    def hook(self) -> tuple[str, int]:
        body = request.get_data()
        try:
            verify_bamboohr(body, dict(request.headers), [self.secret], now=self.clock())
        except SignatureError as exc:
            self.got.append(exc.reason)
            return "", 401
        self.got.append((json.loads(body), parse_employee_webhook(json.loads(body))))
        return "", 200


@pytest.fixture(scope="module")
def receiver_server(clock: FakeClock) -> Iterator[tuple[RunningSimulator, Receiver]]:
    receiver = Receiver(clock)
    running = serve(receiver.app, "receiver")
    yield running, receiver
    running.stop()


@pytest.fixture
def receiver(receiver_server: tuple[RunningSimulator, Receiver]) -> tuple[str, Receiver]:
    running, receiver = receiver_server
    receiver.secret, receiver.got = WEBHOOK_SECRET, []
    return f"{running.url}/hooks/bamboohr", receiver


def test_signed_webhooks_reach_a_verifying_receiver(
        sim: RunningSimulator, receiver: tuple[str, Receiver], spec: OpenAPI) -> None:
    url, ours = receiver
    requests.patch(f"{sim.url}/_sandbox/employees/7", json={"workEmail": "a@example.com"},
                   timeout=5)

    sent = requests.post(f"{sim.url}/_sandbox/send-webhook", timeout=10, json={
        "url": url, "action": "updated", "employee_ids": ["7", "3"]}).json()
    legacy = requests.post(f"{sim.url}/_sandbox/send-webhook", timeout=10, json={
        "url": url, "action": "deleted", "employee_ids": ["9"], "shape": "legacy"}).json()

    assert [d["status"] for d in sent["deliveries"] + legacy["deliveries"]] == [200, 200, 200]
    (body, [change]), (_, [other]), (_, [gone]) = ours.got
    assert (change.employee_id, change.action, change.changed_fields) == (
        "7", "updated", ("workEmail",))
    assert other.employee_id == "3"
    assert (gone.employee_id, gone.action) == ("9", "deleted")
    webhook = MockRequest(SPEC_HOST, "post", "/", data=json.dumps(body).encode())
    webhook.name = "employee.updated"  # type: ignore[attr-defined]
    V31WebhookRequestBodyValidator(spec.spec, forbid_unspecified_additional_properties=True
                                   ).validate(webhook)  # type: ignore[arg-type]


def test_a_receiver_with_another_secret_refuses(sim: RunningSimulator,
                                                receiver: tuple[str, Receiver]) -> None:
    url, ours = receiver
    ours.secret = "not-the-secret"
    answer = requests.post(f"{sim.url}/_sandbox/send-webhook", timeout=10, json={
        "url": url, "action": "created", "employee_ids": ["3"]}).json()
    assert answer["deliveries"] == [{"status": 401}]
    assert ours.got == ["signature mismatch"]



def test_the_goal_list_cap_makes_find_goal_refuse_to_guess(goals: BambooHRGoals,
                                                          sim: RunningSimulator) -> None:
    for n in range(LIST_CAP + 1):
        goals.open_goal(ANN, KEY.model_copy(update={"cycle": f"c{n}"}), "t", date(2026, 5, 1),
                        [])
    listed = raw(sim, "GET", "/api/v1/performance/employees/7/goals",
                 params={"filter": "status-all"}).json()["goals"]
    assert len(listed) == LIST_CAP
    assert goals.find_goal(ANN, KEY.model_copy(update={"cycle": "c0"}), "t") is not None
    with pytest.raises(FatalAPIError, match="cannot prove"):
        goals.find_goal(ANN, KEY.model_copy(update={"cycle": f"c{LIST_CAP}"}), "t")


def test_fault_switches_break_and_heal_the_simulator(sim: RunningSimulator,
                                                     goals: BambooHRGoals) -> None:
    requests.post(f"{sim.url}/_sandbox/faults", json={"error_rate": 1.0, "seed": 1}, timeout=5)
    try:
        with pytest.raises(RetriableAPIError):
            goals.find_goal(ANN, KEY, "t")
    finally:
        requests.post(f"{sim.url}/_sandbox/faults", json={"error_rate": 0.0}, timeout=5)
    assert goals.find_goal(ANN, KEY, "t") is None
