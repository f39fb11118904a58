"""Contract tests for the BambooHR goal tracker: request shapes (checked against the official
OpenAPI file), the goal and evidence markers, response parsing, and every error path."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import responses
from openapi_core import OpenAPI

from connector.errors import (
    AuthenticationError,
    ConfigError,
    FatalAPIError,
    NotFoundError,
    RetriableAPIError,
)
from connector.models import Employee, Evidence, GoalKey, GoalRef
from connector.ports import GoalTracker
from connector.settings import Settings
from connector.vendors.bamboohr.goals import BambooHRGoals, evidence_tag, goal_marker, note_tag
from tests.support.bamboohr_spec import check_request, check_response, load_spec

BASE = "https://acme.bamboohr.com"
GOALS = f"{BASE}/api/v1/performance/employees/7/goals"
API_KEY = "test-key-0123456789"
KEY = GoalKey(employee_id="7", skill_id="negotiation", cycle="2026H1")
ANN = Employee(employee_id="7", email="ann@example.com", first_name="Ann", manager_id="3")


# -- OpenAPI checks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return load_spec()


# -- fixtures ----------------------------------------------------------------------------------


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_goals(sleeps: Sleeps, **options: Any) -> BambooHRGoals:
    settings = Settings(_env_file=None, bamboohr_base_url=BASE,
                        bamboohr_api_key=API_KEY, **options)
    return BambooHRGoals.from_settings(settings, today=lambda: date(2026, 3, 2), sleep=sleeps,
                                       clock=lambda: 0.0, jitter=lambda: 0.0, max_attempts=3)


@pytest.fixture
def goals(sleeps: Sleeps) -> BambooHRGoals:
    return make_goals(sleeps)


def goal_json(goal_id: str = "42", *, description: str = "", milestones: Any = None,
              status: str = "in_progress", title: str = "Raise negotiation") -> dict[str, Any]:
    goal: dict[str, Any] = {
        "id": goal_id, "title": title, "description": description, "percentComplete": 0,
        "alignsWithOptionId": None, "sharedWithEmployeeIds": [7, 3], "dueDate": "2026-05-01",
        "completionDate": None, "lastChangedDateTime": None, "status": status,
    }
    if milestones is not None:
        goal["milestones"] = milestones
    return goal


def milestone(mid: int, title: str, goal_id: int = 42) -> dict[str, Any]:
    return {"id": mid, "employeeGoalId": goal_id, "title": title, "lastUpdateUserId": 1}


def evidence(course: str = "123", day: int = 1) -> Evidence:
    return Evidence(goal=KEY, course_id=course, course_name="Negotiation basics",
                    lms_name="TalentLMS", completed_at=datetime(2026, 3, day, 9, tzinfo=UTC),
                    score=92)


REF = GoalRef(tracker="bamboohr", goal_id="7:42", milestone_ids={"123": "501", "456": "502"})
PLAIN_REF = GoalRef(tracker="bamboohr", goal_id="7:42")


def sent_json(index: int = -1) -> Any:
    return json.loads(responses.calls[index].request.body or b"null")


# -- the port and settings ---------------------------------------------------------------------


def test_is_a_goal_tracker(goals: BambooHRGoals) -> None:
    assert isinstance(goals, GoalTracker)
    assert goals.name == "bamboohr"
    assert API_KEY not in repr(goals)


def test_from_settings_needs_an_api_key() -> None:
    settings = Settings(_env_file=None, bamboohr_base_url=BASE)
    with pytest.raises(ConfigError, match="CONNECTOR_BAMBOOHR_API_KEY"):
        BambooHRGoals.from_settings(settings)


# -- open_goal ---------------------------------------------------------------------------------


@responses.activate
def test_open_goal_sends_the_documented_body_and_maps_milestones_by_title(
        goals: BambooHRGoals, spec: OpenAPI) -> None:
    created = {"goal": goal_json(milestones=[milestone(502, "Advanced negotiation"),
                                             milestone(501, "Negotiation basics")])}
    responses.post(GOALS, json=created, status=201)

    ref = goals.open_goal(ANN, KEY, "Raise negotiation from 2 to 4", date(2026, 5, 1),
                          [("123", "Negotiation basics"), ("456", "Advanced negotiation")])

    assert ref == GoalRef(tracker="bamboohr", goal_id="7:42",
                          milestone_ids={"123": "501", "456": "502"})
    request = responses.calls[0].request
    body = sent_json()
    assert body["title"] == "Raise negotiation from 2 to 4"
    assert body["dueDate"] == "2026-05-01"
    assert body["sharedWithEmployeeIds"] == [7, 3]
    assert body["percentComplete"] == 0
    assert body["milestones"] == [{"title": "Negotiation basics"},
                                  {"title": "Advanced negotiation"}]
    lines = body["description"].splitlines()
    assert goal_marker(KEY) in lines
    assert "connector-goal: 7/negotiation/2026H1" in lines
    assert "- Negotiation basics" in lines
    assert request.headers["Authorization"] == \
        "Basic " + base64.b64encode(f"{API_KEY}:x".encode()).decode()
    assert request.headers["Accept"] == "application/json"
    check_request(spec, request)
    check_response(spec, request, 201, json.dumps(created).encode())


@responses.activate
def test_open_goal_shares_with_the_owner_only_without_a_distinct_manager(
        goals: BambooHRGoals) -> None:
    responses.post(GOALS, json={"goal": goal_json()}, status=201)
    responses.post(GOALS, json={"goal": goal_json("43")}, status=201)

    goals.open_goal(ANN.model_copy(update={"manager_id": None}), KEY, "t", date(2026, 5, 1), [])
    goals.open_goal(ANN.model_copy(update={"manager_id": "7"}), KEY, "t", date(2026, 5, 1), [])

    assert sent_json(0)["sharedWithEmployeeIds"] == [7]
    assert sent_json(1)["sharedWithEmployeeIds"] == [7]
    assert "milestones" not in sent_json(0)


@responses.activate
def test_open_goal_reads_milestones_back_when_the_create_answer_lacks_them(
        goals: BambooHRGoals, spec: OpenAPI) -> None:
    responses.post(GOALS, json={"goal": goal_json()}, status=201)
    aggregate = {"goal": goal_json(milestones=[milestone(601, "Negotiation basics")]),
                 "comments": [], "persons": []}
    responses.get(f"{GOALS}/42/aggregate", json=aggregate)

    ref = goals.open_goal(ANN, KEY, "t", date(2026, 5, 1), [("123", "Negotiation basics")])

    assert ref.milestone_ids == {"123": "601"}
    check_response(spec, responses.calls[1].request, 200, json.dumps(aggregate).encode())


@responses.activate
def test_open_goal_reads_the_goal_back_when_fewer_milestones_come_back_than_were_sent(
        goals: BambooHRGoals, spec: OpenAPI) -> None:
    """Two sent, one listed: the goal is read back, and each course gets the milestone of its
    own title, never the one left over by position."""
    responses.post(GOALS, json={"goal": goal_json(milestones=[
        milestone(501, "Negotiation basics")])}, status=201)
    aggregate = {"goal": goal_json(milestones=[milestone(501, "Negotiation basics"),
                                               milestone(502, "Advanced negotiation")]),
                 "comments": [], "persons": []}
    responses.get(f"{GOALS}/42/aggregate", json=aggregate)

    ref = goals.open_goal(ANN, KEY, "t", date(2026, 5, 1),
                          [("123", "Negotiation basics"), ("456", "Advanced negotiation")])

    assert ref.milestone_ids == {"123": "501", "456": "502"}
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]
    check_response(spec, responses.calls[1].request, 200, json.dumps(aggregate).encode())


@responses.activate
def test_a_milestone_titled_for_another_course_is_never_matched_by_position(
        goals: BambooHRGoals) -> None:
    renamed = [milestone(501, "Negotiation basics"), milestone(502, "Something else")]
    responses.post(GOALS, json={"goal": goal_json(milestones=renamed)}, status=201)

    ref = goals.open_goal(ANN, KEY, "t", date(2026, 5, 1),
                          [("123", "Negotiation basics"), ("456", "Advanced negotiation")])

    assert ref.milestone_ids == {"123": "501"}  # course 456 keeps its evidence comment only
    assert len(responses.calls) == 1  # as many came back as were sent: no read


@responses.activate
def test_open_goal_costs_one_call_when_the_answer_lists_every_milestone(
        goals: BambooHRGoals) -> None:
    responses.post(GOALS, json={"goal": goal_json(milestones=[
        milestone(501, "Negotiation basics")])}, status=201)
    goals.open_goal(ANN, KEY, "t", date(2026, 5, 1), [("123", "Negotiation basics")])
    assert len(responses.calls) == 1


@responses.activate
def test_open_goal_refuses_an_answer_without_a_goal_id(goals: BambooHRGoals) -> None:
    responses.post(GOALS, json={"goal": {}}, status=201)
    with pytest.raises(FatalAPIError, match="without a goal id"):
        goals.open_goal(ANN, KEY, "t", date(2026, 5, 1), [])


def test_open_goal_refuses_a_non_numeric_employee_id(goals: BambooHRGoals) -> None:
    with responses.RequestsMock() as mocked, pytest.raises(FatalAPIError, match="numeric"):
        goals.open_goal(ANN.model_copy(update={"employee_id": "E-7"}), KEY, "t",
                        date(2026, 5, 1), [])
    assert len(mocked.calls) == 0


# -- find_goal ---------------------------------------------------------------------------------


def ours(goal_id: str = "42", status: str = "in_progress") -> dict[str, Any]:
    description = f"Courses:\n- Negotiation basics\n\n{goal_marker(KEY)}\n" \
                  'connector-courses: ["123", "456"]'
    return goal_json(goal_id, description=description, status=status,
                     milestones=[milestone(501, "Negotiation basics"),
                                 milestone(502, "Advanced negotiation")])


@responses.activate
def test_find_goal_finds_ours_by_the_marker_not_the_title(goals: BambooHRGoals,
                                                          spec: OpenAPI) -> None:
    listing = {"goals": [goal_json("40"),  # same title, no marker: someone else's goal
                         goal_json("41", description="connector-goal: 7/negotiation/2025H2"),
                         ours()]}
    responses.get(GOALS, json=listing)

    ref = goals.find_goal(ANN, KEY, "Raise negotiation")

    assert ref == REF
    request = responses.calls[0].request
    assert "filter=status-all" in (request.url or "")
    check_request(spec, request)
    check_response(spec, request, 200, json.dumps(listing).encode())


@responses.activate
def test_find_goal_answers_none_from_a_complete_list(goals: BambooHRGoals) -> None:
    responses.get(GOALS, json={"goals": [goal_json("40")]})
    assert goals.find_goal(ANN, KEY, "Raise negotiation") is None
    assert len(responses.calls) == 1


@responses.activate
def test_find_goal_looks_status_by_status_when_the_list_is_capped(
        goals: BambooHRGoals) -> None:
    fifty = {"goals": [goal_json(str(i)) for i in range(50)]}
    responses.get(GOALS, json=fifty)  # status-all
    responses.get(GOALS, json={"goals": [goal_json("1")]})  # inProgress
    responses.get(GOALS, json={"goals": []})  # completed
    responses.get(GOALS, json={"goals": [ours("77", "closed")]})  # closed

    ref = goals.find_goal(ANN, KEY, "Raise negotiation")

    assert ref is not None and ref.goal_id == "7:77"
    filters = [c.request.url.rsplit("=", 1)[-1] for c in responses.calls if c.request.url]
    assert filters == ["status-all", "status-inProgress", "status-completed", "status-closed"]


@responses.activate
def test_find_goal_refuses_to_guess_when_a_status_list_is_capped(
        goals: BambooHRGoals) -> None:
    fifty = {"goals": [goal_json(str(i)) for i in range(50)]}
    responses.get(GOALS, json=fifty)
    with pytest.raises(FatalAPIError, match="cannot prove"):
        goals.find_goal(ANN, KEY, "Raise negotiation")


# -- evidence and notes ------------------------------------------------------------------------


@responses.activate
def test_add_evidence_posts_the_text_and_the_tag(goals: BambooHRGoals, spec: OpenAPI) -> None:
    answer = {"id": "900", "authorUserId": 1, "createdAt": "2026-03-01T09:00:00Z",
              "text": "x", "canEdit": True, "canDelete": True}
    responses.post(f"{GOALS}/42/comments", json=answer, status=201)

    goals.add_evidence(REF, evidence())

    text = sent_json()["text"]
    assert text.splitlines() == [
        "Completed Negotiation basics in TalentLMS on 2026-03-01; score 92",
        "[evidence 123 2026-03-01]",
    ]
    check_request(spec, responses.calls[0].request)
    check_response(spec, responses.calls[0].request, 201, json.dumps(answer).encode())


@responses.activate
def test_evidence_exists_reads_the_tag_from_the_comments(goals: BambooHRGoals,
                                                         spec: OpenAPI) -> None:
    listing = {"comments": [{"id": "1", "text": "Nice work"},
                            {"id": "2", "text": f"Completed …\n{evidence_tag(evidence())}"}]}
    responses.get(f"{GOALS}/42/comments", json=listing)

    assert goals.evidence_exists(REF, evidence()) is True
    assert goals.evidence_exists(REF, evidence(day=2)) is False  # another completion day
    assert goals.evidence_exists(REF, evidence(course="456")) is False
    check_response(spec, responses.calls[0].request, 200, json.dumps(listing).encode())


@responses.activate
def test_evidence_exists_looks_at_the_aggregate_when_comments_are_capped(
        goals: BambooHRGoals) -> None:
    capped = {"comments": [{"id": str(i), "text": "chat"} for i in range(50)]}
    responses.get(f"{GOALS}/42/comments", json=capped)
    responses.get(f"{GOALS}/42/aggregate", json={
        "goal": goal_json(), "comments": [*capped["comments"],
                                          {"id": "51", "text": evidence_tag(evidence())}]})
    assert goals.evidence_exists(REF, evidence()) is True


@responses.activate
def test_evidence_exists_refuses_to_guess_past_the_cap(goals: BambooHRGoals) -> None:
    capped = {"comments": [{"id": str(i), "text": "chat"} for i in range(50)]}
    responses.get(f"{GOALS}/42/comments", json=capped)
    responses.get(f"{GOALS}/42/aggregate", json={"goal": goal_json(), **capped})
    with pytest.raises(FatalAPIError, match="cannot prove"):
        goals.evidence_exists(REF, evidence())


@responses.activate
def test_add_note_posts_the_comment_with_its_tag_in_one_call(goals: BambooHRGoals) -> None:
    note = "Attempted Negotiation basics: not passed"
    responses.post(f"{GOALS}/42/comments", json={"id": "901"}, status=201)
    goals.add_note(REF, note)
    assert sent_json() == {"text": f"{note}\n{note_tag(note)}"}
    assert len(responses.calls) == 1  # no list first: the executor asks only on a retry


@responses.activate
def test_a_note_posted_before_a_lost_answer_is_found_by_its_tag(goals: BambooHRGoals) -> None:
    note = "Attempted Negotiation basics: not passed"
    responses.get(f"{GOALS}/42/comments",
                  json={"comments": [{"id": "901", "text": f"{note}\n{note_tag(note)}"}]})
    assert goals.note_exists(REF, note)
    assert not goals.note_exists(REF, "another note")
    assert [c.request.method for c in responses.calls] == ["GET", "GET"]


def test_a_foreign_goal_reference_is_refused(goals: BambooHRGoals) -> None:
    with pytest.raises(FatalAPIError, match="not a BambooHR goal reference"):
        goals.add_note(GoalRef(tracker="bamboohr", goal_id="42"), "x")


# -- progress and closing ----------------------------------------------------------------------


@responses.activate
def test_complete_course_ticks_the_milestone(goals: BambooHRGoals, spec: OpenAPI) -> None:
    answer = {"goal": goal_json(milestones=[milestone(501, "Negotiation basics")])}
    responses.put(f"{GOALS}/42/milestones/502/progress", json=answer)

    goals.complete_course(REF, "456", 50.0)

    assert sent_json() == {"complete": True}
    check_request(spec, responses.calls[0].request)
    check_response(spec, responses.calls[0].request, 200, json.dumps(answer).encode())


@responses.activate
def test_complete_course_sets_the_percentage_on_a_goal_without_milestones(
        goals: BambooHRGoals, spec: OpenAPI) -> None:
    responses.put(f"{GOALS}/42/progress", json={"goal": goal_json()})

    goals.complete_course(PLAIN_REF, "123", 49.6)
    goals.complete_course(PLAIN_REF, "456", 100.0)

    assert sent_json(0) == {"percentComplete": 50}
    assert sent_json(1) == {"percentComplete": 100, "completionDate": "2026-03-02"}
    check_request(spec, responses.calls[1].request)


def test_complete_course_without_its_milestone_fails_without_calling(
        goals: BambooHRGoals) -> None:
    with responses.RequestsMock() as mocked, pytest.raises(FatalAPIError, match="no milestone"):
        goals.complete_course(REF, "999", 100.0)
    assert len(mocked.calls) == 0


@responses.activate
def test_close_goal_posts_close(goals: BambooHRGoals, spec: OpenAPI) -> None:
    answer = {"goal": goal_json(status="closed")}
    responses.post(f"{GOALS}/42/close", json=answer, status=201)

    goals.close_goal(REF)

    assert responses.calls[0].request.body is None
    check_request(spec, responses.calls[0].request)
    check_response(spec, responses.calls[0].request, 201, json.dumps(answer).encode())


@responses.activate
def test_close_goal_accepts_a_goal_already_closed(goals: BambooHRGoals) -> None:
    responses.post(f"{GOALS}/42/close", status=403,
                   headers={"X-BambooHR-Error-Message": "Goal is not editable."})
    responses.get(f"{GOALS}/42/aggregate", json={"goal": goal_json(status="closed")})
    goals.close_goal(REF)
    assert len(responses.calls) == 2


@responses.activate
def test_close_goal_reports_a_refusal_on_an_open_goal(goals: BambooHRGoals) -> None:
    responses.post(f"{GOALS}/42/close", status=400, headers={
        "X-BambooHR-Error-Message": "Cascading goals with visible children cannot be closed."})
    responses.get(f"{GOALS}/42/aggregate", json={"goal": goal_json()})
    with pytest.raises(FatalAPIError, match="cannot be closed"):
        goals.close_goal(REF)


@responses.activate
def test_close_goals_off_leaves_the_goal_open_at_100(sleeps: Sleeps) -> None:
    goals = make_goals(sleeps, bamboohr_close_goals=False)
    responses.put(f"{GOALS}/42/progress", json={"goal": goal_json()})

    goals.close_goal(REF)  # milestones carry the progress: nothing to do
    goals.close_goal(PLAIN_REF)

    assert len(responses.calls) == 1
    assert sent_json() == {"percentComplete": 100, "completionDate": "2026-03-02"}


# -- training records --------------------------------------------------------------------------


TRAINING = f"{BASE}/api/v1/training/record/employee/7"


def test_record_training_is_off_without_a_training_type(goals: BambooHRGoals) -> None:
    with responses.RequestsMock() as mocked:
        assert goals.record_training("7", evidence()) is None
    assert len(mocked.calls) == 0


@responses.activate
def test_record_training_posts_once(sleeps: Sleeps, spec: OpenAPI) -> None:
    goals = make_goals(sleeps, bamboohr_training_type_id=4)
    responses.get(TRAINING, json=[])
    created = {"id": 31, "employeeId": "7", "completed": "2026-03-01", "notes": "n",
               "instructor": None, "credits": None, "hours": None, "cost": None, "type": 4}
    responses.post(TRAINING, json=created, status=201)

    assert goals.record_training("7", evidence()) == "31"

    assert "type=4" in (responses.calls[0].request.url or "")
    body = sent_json()
    assert body["completed"] == "2026-03-01"
    assert body["type"] == 4
    assert "[connector 7/negotiation/2026H1 123 2026-03-01]" in body["notes"]
    check_request(spec, responses.calls[1].request)
    check_response(spec, responses.calls[1].request, 201, json.dumps(created).encode())


@responses.activate
def test_record_training_reuses_a_tagged_record(sleeps: Sleeps) -> None:
    goals = make_goals(sleeps, bamboohr_training_type_id=4)
    responses.get(TRAINING, json={"31": {
        "id": 31, "employeeId": "7", "completed": "2026-03-01", "type": "4",
        "notes": "Completed …\n[connector 7/negotiation/2026H1 123 2026-03-01]"}})
    assert goals.record_training("7", evidence()) == "31"
    assert len(responses.calls) == 1


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "headers", "body", "error", "message"), [
    (400, {"X-BambooHR-Error-Message": "sharedWithEmployeeIds must include the goal owner"},
     b"", FatalAPIError, "sharedWithEmployeeIds must include the goal owner"),
    (400, {}, json.dumps({"error": {"message": "Missing required field: dueDate"}}).encode(),
     FatalAPIError, "Missing required field: dueDate"),
    (403, {"X-BambooHR-Error-Message": "No permission to create a goal for this employee"},
     b"", AuthenticationError, "No permission to create a goal"),
    (401, {}, b"", AuthenticationError, "HTTP 401|Unauthorized"),
    (404, {"X-BambooHR-Error-Message": "Not found"}, b"", NotFoundError, "Not found"),
])
@responses.activate
def test_documented_errors_map_to_error_classes(goals: BambooHRGoals, status: int,
                                                headers: dict[str, str], body: bytes,
                                                error: type[Exception], message: str) -> None:
    responses.post(GOALS, body=body, status=status, headers=headers)

    with pytest.raises(error, match=message) as caught:
        goals.open_goal(ANN, KEY, "t", date(2026, 5, 1), [])

    assert isinstance(caught.value, FatalAPIError)
    assert caught.value.status == status
    assert len(responses.calls) == 1  # a fatal answer is never retried
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value)


@pytest.mark.parametrize(("status", "retry_after", "expected_sleep"), [
    (503, "2", 2.0),  # BambooHR throttles with 503 today
    (429, "7", 7.0),  # and with 429 + Retry-After from 2026-09-16
])
@responses.activate
def test_throttled_reads_wait_as_told_and_retry(goals: BambooHRGoals, sleeps: Sleeps,
                                                status: int, retry_after: str,
                                                expected_sleep: float) -> None:
    responses.get(GOALS, status=status, headers={"Retry-After": retry_after})
    responses.get(GOALS, json={"goals": []})

    assert goals.find_goal(ANN, KEY, "t") is None

    assert len(responses.calls) == 2
    assert expected_sleep in sleeps


@responses.activate
def test_throttled_writes_that_are_not_idempotent_are_not_resent(goals: BambooHRGoals) -> None:
    responses.post(f"{GOALS}/42/comments", status=503, headers={
        "Retry-After": "1", "X-BambooHR-Error-Message": "Service Unavailable"})

    with pytest.raises(RetriableAPIError, match="Service Unavailable") as caught:
        goals.add_evidence(REF, evidence())

    assert len(responses.calls) == 1  # the executor asks evidence_exists before trying again
    assert caught.value.retry_after == 1.0


@responses.activate
def test_milestone_progress_is_idempotent_and_retried(goals: BambooHRGoals) -> None:
    url = f"{GOALS}/42/milestones/501/progress"
    responses.put(url, status=503)
    responses.put(url, json={"goal": goal_json()})
    goals.complete_course(REF, "123", 50.0)
    assert len(responses.calls) == 2


@responses.activate
def test_close_is_retried_after_a_throttle(goals: BambooHRGoals) -> None:
    responses.post(f"{GOALS}/42/close", status=429, headers={"Retry-After": "3"})
    responses.post(f"{GOALS}/42/close", json={"goal": goal_json(status="closed")}, status=201)
    goals.close_goal(REF)
    assert len(responses.calls) == 2

