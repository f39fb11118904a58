"""BambooHR taking back evidence whose completion was voided (`WithdrawsEvidence`): a note
posted once, the course's milestone unticked, the goal reopened; every request checked against
the official OpenAPI file (`shared/vendor-specs/bamboohr-public-api.yaml`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses
from openapi_core import OpenAPI

from connector.models import Evidence, GoalKey, GoalRef
from connector.ports import WithdrawsEvidence
from connector.settings import Settings
from connector.vendors.bamboohr.goals import BambooHRGoals, note_tag
from tests.support.bamboohr_spec import check_request, load_spec

BASE = "https://acme.bamboohr.com"
GOAL = f"{BASE}/api/v1/performance/employees/7/goals/55"
KEY = GoalKey(employee_id="101", skill_id="negotiation", cycle="2026H1")
REF = GoalRef(tracker="bamboohr", goal_id="7:55", milestone_ids={"123": "9"})
EVIDENCE = Evidence(goal=KEY, course_id="123", course_name="Negotiation", lms_name="TalentLMS",
                    completed_at=datetime(2026, 3, 1, tzinfo=UTC))
NOTE = "The completion of Negotiation was withdrawn"


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return load_spec()


def make() -> BambooHRGoals:
    settings = Settings(_env_file=None, bamboohr_base_url=BASE, bamboohr_api_key="k-123456")
    return BambooHRGoals.from_settings(settings, sleep=lambda s: None, clock=lambda: 0.0,
                                       jitter=lambda: 0.0, max_attempts=2)


@responses.activate
def test_withdraw_posts_a_note_once_and_unticks_the_milestone(spec: OpenAPI) -> None:
    goals = make()
    assert isinstance(goals, WithdrawsEvidence)
    responses.get(f"{GOAL}/comments", json={"comments": []})
    responses.post(f"{GOAL}/comments", json={"id": "c1"}, status=201)
    responses.put(f"{GOAL}/milestones/9/progress", json={"goal": {"id": "55"}})
    goals.withdraw_evidence(REF, EVIDENCE, NOTE)
    _listed, posted, untick = responses.calls
    for call in responses.calls:
        check_request(spec, call.request)
    assert NOTE in json.loads(posted.request.body)["text"]
    assert json.loads(untick.request.body) == {"complete": False}


@responses.activate
def test_a_retry_finds_its_note_and_does_not_post_it_again(spec: OpenAPI) -> None:
    responses.get(f"{GOAL}/comments", json={"comments": [
        {"id": "c1", "text": f"{NOTE}\n{note_tag(NOTE)}"}]})
    responses.put(f"{GOAL}/milestones/9/progress", json={"goal": {"id": "55"}})
    make().withdraw_evidence(REF, EVIDENCE, NOTE)
    assert [c.request.method for c in responses.calls] == ["GET", "PUT"]


@responses.activate
def test_reopen_uses_the_reopen_endpoint(spec: OpenAPI) -> None:
    responses.post(f"{GOAL}/reopen", json={"goal": {"id": "55"}}, status=201)
    make().reopen_goal(REF, NOTE)
    (call,) = responses.calls
    check_request(spec, call.request)
    assert call.request.url == f"{GOAL}/reopen"
