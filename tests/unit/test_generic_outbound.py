"""The outbound goal webhook: signed deliveries a Standard Webhooks receiver accepts, with
delivery ids that stay the same across retries so the receiver can drop duplicates."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from connector.errors import ConfigError, FatalAPIError, RetriableAPIError
from connector.http import VendorHttp
from connector.models import Employee, Evidence, GoalKey, GoalRef, Outcome
from connector.ports import GoalTracker
from connector.settings import Settings
from connector.vendors.generic import WebhookGoals, delivery_id
from webhooks.signatures import SignatureError, verify_standard_webhook

URL = "https://hooks.example.com/skillgap/goals"
SECRET = "whsec_" + base64.b64encode(b"outbound-secret-0123456789ab").decode()
NOW = 1_760_000_000.0
ANN = Employee(employee_id="E1", email="ann@example.com", first_name="Ann", last_name="Lee")
KEY = GoalKey(employee_id="E1", skill_id="negotiation", cycle="2026-H1")
REF = GoalRef(tracker="webhook", goal_id=str(KEY))
EVIDENCE = Evidence(goal=KEY, course_id="123", course_name="Negotiation 101", lms_name="TalentLMS",
                    completed_at=datetime(2026, 3, 10, 8, tzinfo=UTC), score=91.0,
                    certificate_url="https://lms.example.com/cert/9")


def tracker(max_attempts: int = 3) -> WebhookGoals:
    http = VendorHttp("webhook", "https://hooks.example.com", max_attempts=max_attempts,
                      sleep=lambda _: None, jitter=lambda: 0.0)
    return WebhookGoals(http, SECRET, path="/skillgap/goals", clock=lambda: NOW)


def delivered(call: Any) -> tuple[dict[str, Any], str]:
    """The body of one captured request, after checking its signature as a receiver would."""
    raw = call.request.body
    assert isinstance(raw, bytes)
    assert call.request.headers["Content-Type"] == "application/json"
    msg_id = verify_standard_webhook(raw, call.request.headers, [SECRET], now=NOW)
    return json.loads(raw), msg_id


@responses.activate
def test_open_goal_posts_a_signed_goal_opened_event() -> None:
    responses.post(URL, status=204)
    goals = tracker()
    ref = goals.open_goal(ANN, KEY, "Raise negotiation from 2 to 4", date(2026, 5, 1),
                          [("123", "Negotiation 101"), ("456", "Closing deals")])
    assert ref == GoalRef(tracker="webhook", goal_id="E1/negotiation/2026-H1",
                          milestone_ids={"123": "123", "456": "456"})
    body, msg_id = delivered(responses.calls[0])
    assert msg_id == delivery_id("goal.opened", "E1/negotiation/2026-H1")
    assert body == {
        "type": "goal.opened",
        "timestamp": "2025-10-09T08:53:20Z",
        "data": {
            "goal_id": "E1/negotiation/2026-H1",
            "employee": {"employee_id": "E1", "email": "ann@example.com", "first_name": "Ann",
                         "last_name": "Lee"},
            "skill_id": "negotiation", "cycle": "2026-H1",
            "title": "Raise negotiation from 2 to 4", "due_date": "2026-05-01",
            "courses": [{"course_id": "123", "title": "Negotiation 101"},
                        {"course_id": "456", "title": "Closing deals"}],
        },
    }


@responses.activate
def test_a_retried_delivery_keeps_its_webhook_id() -> None:
    responses.post(URL, status=503)
    responses.post(URL, status=502)
    responses.post(URL, status=200)
    tracker().add_evidence(REF, EVIDENCE)
    ids = {delivered(call)[1] for call in responses.calls}
    assert len(responses.calls) == 3
    assert len(ids) == 1


@responses.activate
def test_each_event_has_its_own_stable_id() -> None:
    responses.post(URL, status=200)
    goals = tracker()
    goals.add_evidence(REF, EVIDENCE)
    goals.add_evidence(REF, EVIDENCE)  # the executor re-sending after a crash
    goals.add_evidence(REF, EVIDENCE.model_copy(update={"course_id": "456"}))
    goals.add_note(REF, "Attempted Negotiation 101: not passed")
    goals.add_note(REF, "Cancelled: employee left")
    goals.complete_course(REF, "123", 50)
    goals.complete_course(REF, "456", 100)
    goals.close_goal(REF)
    seen = [delivered(call) for call in responses.calls]
    ids = [msg_id for _, msg_id in seen]
    assert ids[0] == ids[1]
    assert len(set(ids)) == len(ids) - 1
    types = [body["type"] for body, _ in seen]
    assert types == ["goal.evidence"] * 3 + ["goal.note"] * 2 + ["goal.progress"] * 2 + [
        "goal.completed"]
    evidence = seen[0][0]["data"]
    assert evidence == {
        "goal_id": "E1/negotiation/2026-H1", "employee_id": "E1", "course_id": "123",
        "course_name": "Negotiation 101", "lms": "TalentLMS",
        "completed_at": "2026-03-10T08:00:00Z", "outcome": Outcome.PASSED.value, "score": 91.0,
        "certificate_url": "https://lms.example.com/cert/9", "text": EVIDENCE.text(),
    }
    assert seen[5][0]["data"] == {"goal_id": REF.goal_id, "course_id": "123", "percent": 50}
    assert seen[7][0]["data"] == {"goal_id": REF.goal_id, "percent": 100}


@responses.activate
def test_signature_does_not_verify_with_another_secret() -> None:
    responses.post(URL, status=200)
    tracker().close_goal(REF)
    call = responses.calls[0]
    other = "whsec_" + base64.b64encode(b"not-the-outbound-secret-0000").decode()
    raw = call.request.body
    assert isinstance(raw, bytes)
    with pytest.raises(SignatureError, match="signature mismatch"):
        verify_standard_webhook(raw, call.request.headers, [other], now=NOW)


@responses.activate
@pytest.mark.parametrize(("statuses", "error"), [
    ([400], FatalAPIError),
    ([410], FatalAPIError),
    ([503, 503], RetriableAPIError),
])
def test_receiver_errors_surface_as_vendor_errors(statuses: list[int],
                                                  error: type[Exception]) -> None:
    for status in statuses:
        responses.post(URL, status=status, json={"error": "nope"})
    with pytest.raises(error) as info:
        tracker(max_attempts=2).close_goal(REF)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert len(responses.calls) == len(statuses)


def test_stateless_reads_and_protocol() -> None:
    goals = tracker()
    assert isinstance(goals, GoalTracker)
    assert goals.name == "webhook"
    assert goals.find_goal(ANN, KEY, "any title") is None
    assert goals.evidence_exists(REF, EVIDENCE) is False
    assert SECRET not in repr(goals)
    assert SECRET.removeprefix("whsec_") not in repr(goals)


def test_from_settings() -> None:
    cfg = Settings(_env_file=None, outbound_webhook_url=URL + "?team=sales",
                   outbound_webhook_secret=SecretStr(SECRET))
    goals = WebhookGoals.from_settings(cfg, clock=lambda: NOW, sleep=lambda _: None)
    assert goals.http.base_url == "https://hooks.example.com"
    with responses.RequestsMock() as mock:
        mock.post(URL + "?team=sales", status=200)
        goals.close_goal(REF)
        assert mock.calls[0].request.url == URL + "?team=sales"


@pytest.mark.parametrize(("values", "message"), [
    ({"outbound_webhook_secret": SecretStr(SECRET)}, "CONNECTOR_OUTBOUND_WEBHOOK_URL is not set"),
    ({"outbound_webhook_url": URL}, "CONNECTOR_OUTBOUND_WEBHOOK_SECRET is not set"),
    ({"outbound_webhook_url": "ftp://x", "outbound_webhook_secret": SecretStr(SECRET)},
     "must be an http"),
    ({"outbound_webhook_url": URL, "outbound_webhook_secret": SecretStr("whsec_%%%secret%%%")},
     "not whsec_ followed by base64"),
])
def test_from_settings_refuses_bad_config(values: dict[str, Any], message: str) -> None:
    cfg = Settings(_env_file=None, **values)
    with pytest.raises(ConfigError, match=message) as info:
        WebhookGoals.from_settings(cfg)
    assert "secret%%%" not in str(info.value)
