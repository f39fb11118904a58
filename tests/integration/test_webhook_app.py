"""The webhook receiver through Flask's test client (and once over a real socket).

Every answer from a documented endpoint is validated against webhooks/openapi.yaml, and
hypothesis throws garbage at every endpoint to show the receiver never answers 5xx (except the
deliberate 503 when the inbox is down). The inbox is an in-memory fake of the port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from werkzeug.test import EnvironBuilder, TestResponse

from connector.models import Review
from connector.observability.logging import JsonLogFormatter, TextLogFormatter
from connector.observability.metrics import exposition
from connector.sandbox.common import serve
from connector.settings import Settings
from webhooks.app import create_app
from webhooks.dispatch import sources_from_settings
from webhooks.signatures import sign_standard_webhook

NOW = 1_760_000_000
SECRET = "whsec_" + base64.b64encode(b"receiver-test-key-0123456789").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"receiver-old-key-01234567890").decode()
BAMBOO_KEY = "bamboo-private-key-for-tests"
MAX_BYTES = 16 * 1024
SPEC = OpenAPI.from_file_path(str(Path(__file__).parents[2] / "webhooks" / "openapi.yaml"))
DOCUMENTED = {"/webhooks/hr", "/webhooks/lms", "/webhooks/xapi", "/webhooks/bamboohr",
              "/healthz", "/readyz", "/metrics"}


class FakeInbox:
    """The inbox port in memory: dedupes on (source, event id), can be told to fail."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0
        self.fail: Exception | None = None

    def ingest(self, source: str, event_id: str, kind: str, payload: dict[str, Any],
               raw: bytes, employee_id: str | None) -> bool:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if (source, event_id) in self.stored:
            return False
        self.stored[(source, event_id)] = {"kind": kind, "payload": payload, "raw": raw,
                                           "employee_id": employee_id}
        return True


def make_app(inbox: Any = None, *, extra_json: str = "[]", environ: dict[str, str] | None = None,
             ready_check: Callable[[], tuple[bool, str]] | None = None,
             bamboo: bool = True) -> tuple[Flask, CollectorRegistry, Any]:
    cfg = Settings(
        _env_file=None,
        webhook_secrets=SecretStr(f"{SECRET}, {OLD_SECRET}"),
        bamboohr_webhook_secret=SecretStr(BAMBOO_KEY) if bamboo else None,
        webhook_max_bytes=MAX_BYTES,
    )
    sources = sources_from_settings(cfg, extra_json=extra_json, environ=environ or {})
    registry = CollectorRegistry()
    inbox = FakeInbox() if inbox is None else inbox
    app = create_app(inbox, settings=cfg, sources=sources, ready_check=ready_check,
                     clock=lambda: float(NOW), registry=registry)
    return app, registry, inbox


def render(registry: CollectorRegistry) -> str:
    return exposition(registry).decode()


def signed(body: Any, msg_id: str = "msg_1", *, secret: str = SECRET, ts: int = NOW,
           ) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, sign_standard_webhook(raw, msg_id, ts, secret)


def bamboo_signed(body: Any, ts: int = NOW) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    digest = hmac.new(BAMBOO_KEY.encode(), raw + str(ts).encode(), hashlib.sha256).hexdigest()
    return raw, {"X-BambooHR-Signature": digest, "X-BambooHR-Timestamp": str(ts)}


def post(client: FlaskClient, source: str, raw: bytes, headers: dict[str, str], *,
         content_type: str | None = "application/json",
         check_request: bool = False) -> TestResponse:
    all_headers = dict(headers)
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    response = client.post(f"/webhooks/{source}", data=raw, headers=all_headers)
    conforms(f"/webhooks/{source}", "POST", response, raw, all_headers, check_request)
    return response


def conforms(path: str, method: str, response: TestResponse, raw: bytes = b"",
             headers: dict[str, str] | None = None, check_request: bool = False) -> None:
    """Validate the answer (and, for well-formed calls, the request) against openapi.yaml."""
    assert response.status_code < 500 or response.status_code == 503, response.data
    if path not in DOCUMENTED:
        assert response.is_json
        return
    request = EnvironBuilder(path=path, method=method, data=raw or None,
                             headers=list((headers or {}).items()),
                             base_url="http://localhost").get_request()
    openapi_request = WerkzeugOpenAPIRequest(request)
    if check_request:
        SPEC.validate_request(openapi_request)
    SPEC.validate_response(openapi_request, WerkzeugOpenAPIResponse(response))


REVIEW = {
    "type": "review.completed",
    "data": {
        "review_id": "r-1", "cycle": "2026-H1", "completed_at": "2026-03-01T10:00:00Z",
        "employee": {"id": "E1", "email": "ann@example.com", "first_name": "Ann"},
        "ratings": [{"skill": "negotiation", "value": 2, "scale_min": 1, "scale_max": 5}],
    },
}
COMPLETION = {"type": "course.completed", "timestamp": "2026-03-10T09:00:00Z",
              "data": {"email": "ann@example.com", "employee_id": "E1", "course_id": "123",
                       "completed_at": "2026-03-10T08:00:00Z", "score": 91}}
XAPI = {"id": "st-1", "actor": {"mbox": "mailto:ann@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "course-123"}, "timestamp": "2026-03-10T08:00:00Z"}


# --- the happy paths ----------------------------------------------------------------------


def test_review_is_stored_once_and_redelivery_is_a_duplicate() -> None:
    app, registry, inbox = make_app()
    client = app.test_client()
    raw, headers = signed(REVIEW, "msg_review_1")
    first = post(client, "hr", raw, headers, check_request=True)
    again = post(client, "hr", raw, headers, check_request=True)
    assert first.status_code == again.status_code == 202
    assert first.json == {"status": "accepted", "event_id": "msg_review_1"}
    assert again.json == {"status": "duplicate", "event_id": "msg_review_1"}
    assert inbox.calls == 2
    assert len(inbox.stored) == 1
    stored = inbox.stored[("hr", "msg_review_1")]
    assert stored["kind"] == "review"
    assert stored["raw"] == raw
    assert stored["employee_id"] == "E1"
    review = Review.model_validate(stored["payload"])
    assert (review.review_id, review.source, review.ratings[0].value) == ("r-1", "hr", 2.0)
    text = render(registry)
    assert 'events_received_total{source="hr"} 2.0' in text
    assert 'events_stored_total{source="hr",result="accepted"}' not in text  # one label order
    assert 'events_stored_total{result="accepted",source="hr"} 1.0' in text  # (sorted)
    assert 'events_stored_total{result="duplicate",source="hr"} 1.0' in text


def test_review_and_completion_name_the_person_by_email_alone() -> None:
    """An email-only review body and a TalentLMS-style `user_email` completion are accepted
    (and conform to openapi.yaml); the review is filed under the lowercased email."""
    app, _, inbox = make_app()
    client = app.test_client()
    body = {**REVIEW, "data": {**REVIEW["data"], "employee": {"email": " Ann@Example.com "}}}
    raw, headers = signed(body, "msg_by_email")
    assert post(client, "hr", raw, headers, check_request=True).status_code == 202
    stored = inbox.stored[("hr", "msg_by_email")]
    assert stored["employee_id"] == "ann@example.com"
    assert Review.model_validate(stored["payload"]).employee.keyed_by_email
    completion = {"type": "course.completed",
                  "data": {"user_email": "Ann@Example.com", "course_id": "123",
                           "completed_at": "2026-03-10T08:00:00Z"}}
    raw, headers = signed(completion, "msg_user_email")
    assert post(client, "lms", raw, headers, check_request=True).status_code == 202
    assert inbox.stored[("lms", "msg_user_email")]["payload"]["email"] == "ann@example.com"


def test_rotated_secret_is_accepted() -> None:
    app, _, inbox = make_app()
    raw, headers = signed(REVIEW, secret=OLD_SECRET)
    assert post(app.test_client(), "hr", raw, headers).status_code == 202
    assert len(inbox.stored) == 1


def test_lms_completion_and_ignored_event_types() -> None:
    app, registry, inbox = make_app()
    client = app.test_client()
    raw, headers = signed(COMPLETION, "msg_c1")
    response = post(client, "lms", raw, headers, check_request=True)
    assert response.status_code == 202
    assert inbox.stored[("lms", "msg_c1")]["kind"] == "completion"
    assert inbox.stored[("lms", "msg_c1")]["payload"]["score"] == 91.0
    raw, headers = signed({**COMPLETION, "type": "course.enrolled"}, "msg_c2")
    ignored = post(client, "lms", raw, headers)
    assert ignored.status_code == 202
    assert ignored.json == {"status": "ignored", "event_id": "msg_c2"}
    assert ("lms", "msg_c2") not in inbox.stored
    assert 'events_stored_total{result="ignored",source="lms"} 1.0' in render(registry)


def test_xapi_batch_stores_each_statement_under_its_own_id() -> None:
    app, _, inbox = make_app()
    client = app.test_client()
    other = {**XAPI, "id": "st-2", "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
    noise = {**XAPI, "id": "st-3", "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"}}
    raw, headers = signed([XAPI, other, noise], "msg_x1")
    response = post(client, "xapi", raw, headers, check_request=True)
    assert response.status_code == 202
    assert response.json == {"status": "accepted", "event_id": "st-1", "events": [
        {"event_id": "st-1", "status": "accepted"}, {"event_id": "st-2", "status": "accepted"}]}
    assert inbox.stored[("xapi", "st-2")]["payload"]["outcome"] == "failed"
    # The same statement in a later delivery (new webhook-id) is still a duplicate.
    raw, headers = signed(XAPI, "msg_x2")
    assert post(client, "xapi", raw, headers).json == {"status": "duplicate", "event_id": "st-1"}
    assert len(inbox.stored) == 2


def test_bamboohr_employee_changes() -> None:
    app, _, inbox = make_app()
    body = {"employees": [{"id": "17", "action": "Updated", "timestamp": "2026-03-01T10:00:00Z",
                           "fields": {"workEmail": "ann@new.example.com"},
                           "changedFields": ["workEmail"]}]}
    raw, headers = bamboo_signed(body)
    response = post(app.test_client(), "bamboohr", raw, headers, check_request=True)
    assert response.status_code == 202
    ((source, _), stored), = inbox.stored.items()
    assert (source, stored["kind"], stored["employee_id"]) == ("bamboohr", "employee", "17")
    assert stored["payload"]["fields"] == {"workEmail": "ann@new.example.com"}


def test_declared_sources_thin_reviews_and_generic_hmac() -> None:
    declared = json.dumps([
        {"name": "perf", "kind": "review", "scheme": "hmac", "secrets_env": "PERF_SECRET",
         "hmac": {"header": "X-Hub-Signature-256", "prefix": "sha256="},
         "field_map": {"thin": True, "review_id": "reviewId", "employee_id": "who"}},
        {"name": "lrs", "kind": "xapi", "secrets_env": "LRS_SECRET",
         "xapi_course_prefix": "course-"},
        {"name": "off", "kind": "completion", "secrets_env": "UNSET"},
    ])
    app, _, inbox = make_app(extra_json=declared,
                             environ={"PERF_SECRET": "perf-key", "LRS_SECRET": SECRET})
    client = app.test_client()
    raw = json.dumps({"reviewId": 55, "who": "E9"}).encode()
    signature = "sha256=" + hmac.new(b"perf-key", raw, hashlib.sha256).hexdigest()
    response = post(client, "perf", raw, {"X-Hub-Signature-256": signature})
    assert response.status_code == 202
    stored = inbox.stored[("perf", "sha256:" + hashlib.sha256(raw).hexdigest())]
    assert stored["kind"] == "review_hint"
    assert stored["payload"] == {"review_id": "55", "employee_id": "E9"}
    bad = post(client, "perf", raw, {"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert bad.status_code == 401
    raw, headers = signed(XAPI)
    assert post(client, "lrs", raw, headers).status_code == 202
    assert inbox.stored[("lrs", "st-1")]["payload"]["course_id"] == "123"
    assert post(client, "off", *signed(COMPLETION)).status_code == 404


# --- refusals -----------------------------------------------------------------------------


def test_oversized_body_is_refused_before_reading() -> None:
    app, registry, inbox = make_app()
    raw, headers = signed({"pad": "x" * MAX_BYTES})
    response = post(app.test_client(), "hr", raw, headers)
    assert response.status_code == 413
    assert response.json == {"error": "payload_too_large", "max_bytes": MAX_BYTES}
    assert inbox.calls == 0
    assert ('events_rejected_total{reason="payload_too_large",source="hr"} 1.0'
            in render(registry))


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1",
    "application/jsonx", "multipart/form-data; boundary=x",
])
def test_wrong_media_type_is_415(content_type: str | None) -> None:
    app, _, inbox = make_app()
    raw, headers = signed(REVIEW)
    response = post(app.test_client(), "hr", raw, headers, content_type=content_type)
    assert response.status_code == 415
    assert (response.json or {})["error"] == "unsupported_media_type"
    assert inbox.calls == 0


def test_json_with_charset_is_fine() -> None:
    app, _, _ = make_app()
    raw, headers = signed(REVIEW)
    response = post(app.test_client(), "hr", raw, headers,
                    content_type="Application/JSON; charset=UTF-8")
    assert response.status_code == 202


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda h: h.update({"webhook-signature": "v1," + base64.b64encode(b"0" * 32).decode()}),
     "signature mismatch"),
    (lambda h: h.pop("webhook-signature"), "missing webhook-signature header"),
    (lambda h: h.update({"webhook-timestamp": str(NOW - 3600)}), "timestamp too old"),
    (lambda h: h.update({"webhook-timestamp": str(NOW + 3600)}), "timestamp in the future"),
])
def test_bad_signature_is_401_with_a_safe_reason(mutate: Callable[[dict[str, str]], Any],
                                                 reason: str) -> None:
    app, registry, inbox = make_app()
    raw, headers = signed(REVIEW)
    original = headers["webhook-signature"]
    mutate(headers)
    response = post(app.test_client(), "hr", raw, headers)
    assert response.status_code == 401
    assert response.json == {"error": "invalid_signature", "reason": reason}
    assert original.encode() not in response.data
    assert SECRET.removeprefix("whsec_").encode() not in response.data
    assert inbox.calls == 0
    assert ('events_rejected_total{reason="invalid_signature",source="hr"} 1.0'
            in render(registry))


def test_signed_garbage_is_400_and_bad_shape_is_422_with_paths() -> None:
    app, _, inbox = make_app()
    client = app.test_client()
    response = post(client, "hr", *signed(b'{"review": '))
    assert response.status_code == 400
    assert response.json == {"error": "invalid_json", "reason": "body is not valid JSON"}
    broken = json.loads(json.dumps(REVIEW))
    del broken["data"]["cycle"]
    broken["data"]["ratings"][0]["value"] = "two"
    response = post(client, "hr", *signed(broken))
    assert response.status_code == 422
    assert response.json == {"error": "invalid_payload", "fields": [
        {"path": "data.cycle", "message": "is required"},
        {"path": "data.ratings[0].value", "message": "must be a number"}]}
    assert inbox.calls == 0


def test_unknown_and_disabled_sources_are_404() -> None:
    app, registry, _ = make_app(bamboo=False)
    client = app.test_client()
    for source in ("nope", "bamboohr"):
        response = post(client, source, *bamboo_signed({"employees": []}))
        assert response.status_code == 404
        assert response.json == {"error": "unknown_source"}
    text = render(registry)
    assert 'events_rejected_total{reason="unknown_source",source="_unknown"} 2.0' in text
    assert 'source="nope"' not in text  # URL segments never become labels


def test_inbox_failure_is_503_and_logs_no_payload(caplog: pytest.LogCaptureFixture) -> None:
    inbox = FakeInbox()
    inbox.fail = RuntimeError("INSERT failed for ann@example.com secret-payload")
    app, registry, _ = make_app(inbox)
    caplog.set_level(logging.INFO)
    response = post(app.test_client(), "hr", *signed(REVIEW))
    assert response.status_code == 503
    assert response.json == {"error": "unavailable"}
    assert response.headers["Retry-After"] == "30"
    assert 'events_rejected_total{reason="unavailable",source="hr"} 1.0' in render(registry)
    assert "RuntimeError" in caplog.text
    assert "ann@example.com" not in caplog.text
    assert "secret-payload" not in caplog.text
    inbox.fail = None
    assert post(app.test_client(), "hr", *signed(REVIEW)).status_code == 202  # sender retries


def test_lazy_inbox_factory_and_readiness() -> None:
    built: list[FakeInbox] = []
    broken = True

    def factory() -> FakeInbox:
        if broken:
            raise ConnectionError("database is starting")
        built.append(FakeInbox())
        return built[-1]

    app, _, _ = make_app(factory)
    client = app.test_client()
    ready = client.get("/readyz")
    conforms("/readyz", "GET", ready)
    assert ready.status_code == 503
    assert ready.json == {"status": "unavailable", "detail": "inbox unavailable (ConnectionError)"}
    assert post(client, "hr", *signed(REVIEW)).status_code == 503
    broken = False
    assert client.get("/readyz").status_code == 200
    assert post(client, "hr", *signed(REVIEW)).status_code == 202
    assert post(client, "hr", *signed(REVIEW, "msg_2")).status_code == 202
    assert len(built) == 1
    assert len(built[0].stored) == 2


def test_health_ready_metrics_and_json_errors() -> None:
    checks = iter([(True, "store ok"), (False, "store down")])
    app, _, _ = make_app(ready_check=lambda: next(checks))
    client = app.test_client()
    for path, status, body in [("/healthz", 200, {"status": "ok"}),
                               ("/readyz", 200, {"status": "ok", "detail": "store ok"}),
                               ("/readyz", 503, {"status": "unavailable", "detail": "store down"})]:
        response = client.get(path)
        conforms(path, "GET", response)
        assert (response.status_code, response.json) == (status, body)
    failing = client.get("/readyz")  # the iterator is exhausted: the check itself raises
    assert failing.status_code == 503
    assert (failing.json or {})["detail"] == "ready check failed (StopIteration)"
    post(client, "hr", *signed(REVIEW))
    metrics = client.get("/metrics")
    conforms("/metrics", "GET", metrics)
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE events_received_total counter" in metrics.text
    assert 'events_received_total{source="hr"} 1.0' in metrics.text
    assert "webhook_dispatch_seconds_count 1.0" in metrics.text
    wrong_method = client.get("/webhooks/hr")
    assert (wrong_method.status_code, wrong_method.json) == (405, {"error": "method_not_allowed"})
    assert wrong_method.headers["Allow"] == "OPTIONS, POST"
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json) == (404, {"error": "not_found"})


def test_request_id_and_structured_logs(caplog: pytest.LogCaptureFixture) -> None:
    app, _, _ = make_app()
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="webhooks.app")
    raw, headers = signed(REVIEW, "msg_log")
    response = post(client, "hr", raw, {**headers, "X-Request-Id": "req-123"})
    assert response.headers["X-Request-Id"] == "req-123"
    evil = post(client, "hr", raw, {**headers, "X-Request-Id": "bad id\u00e9"})
    assert evil.headers["X-Request-Id"] != "bad id\u00e9"
    assert len(evil.headers["X-Request-Id"]) == 32
    lines = [json.loads(JsonLogFormatter().format(r)) for r in caplog.records
             if r.name == "webhooks.app"]
    first = lines[0]
    assert first["request_id"] == "req-123"
    assert (first["status"], first["source"], first["event_id"]) == (202, "hr", "msg_log")
    assert first["level"] == "info" and first["msg"] == "request"
    everything = "\n".join(json.dumps(line) for line in lines)
    for secret_or_data in (SECRET.removeprefix("whsec_"), headers["webhook-signature"],
                           "ann@example.com", "negotiation"):
        assert secret_or_data not in everything


def test_text_request_lines_carry_what_json_lines_carry(caplog: pytest.LogCaptureFixture) -> None:
    """CONNECTOR_LOG_FORMAT=text: each request is one line with the same fields as JSON."""
    app, _, _ = make_app()
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="webhooks.app")
    raw, headers = signed(REVIEW, "msg_text")
    post(client, "hr", raw, headers)
    post(client, "hr", raw, {**headers, "webhook-signature": "v1,bad"})
    records = [r for r in caplog.records if r.name == "webhooks.app" and r.msg == "request"]
    assert len(records) == 2
    for record in records:
        as_json = json.loads(JsonLogFormatter().format(record))
        line = TextLogFormatter().format(record)
        assert "\n" not in line
        for key, value in as_json.items():
            if key not in {"ts", "level", "logger", "msg"}:
                shown = value if isinstance(value, str) else json.dumps(value)
                assert f"{key}={shown}" in line, key
        assert " INFO webhooks.app request request_id=" in line


def test_over_a_real_socket_including_a_chunked_oversized_upload() -> None:
    app, _, inbox = make_app()
    server = serve(app, "receiver")
    try:
        raw, headers = signed(REVIEW)
        ok = requests.post(f"{server.url}/webhooks/hr", data=raw, timeout=5,
                           headers={**headers, "Content-Type": "application/json"})
        assert (ok.status_code, ok.json()["status"]) == (202, "accepted")

        def chunks() -> Any:
            for _ in range(MAX_BYTES // 1024 + 4):
                yield b"x" * 1024

        big = requests.post(f"{server.url}/webhooks/hr", data=chunks(), timeout=5,
                            headers={**headers, "Content-Type": "application/json"})
        assert big.status_code == 413
        assert big.json() == {"error": "payload_too_large", "max_bytes": MAX_BYTES}
        assert len(inbox.stored) == 1
    finally:
        server.stop()


# --- fuzzing: nothing the network sends makes us answer 5xx ------------------------------

FUZZ_APP, _, FUZZ_INBOX = make_app()
FUZZ_CLIENT = FUZZ_APP.test_client()
FUZZ = settings(max_examples=100, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SOURCES = st.sampled_from(["hr", "lms", "xapi", "bamboohr", "unknown", "h%20r", "..", "x" * 300])
ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
CONTENT_TYPES = st.one_of(st.none(), st.sampled_from(
    ["application/json", "text/plain", "application/json; charset=utf-16", "*/*"]), ascii_text)
HEADER_NAMES = st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature",
                                "X-BambooHR-Signature", "X-BambooHR-Timestamp", "X-Request-Id"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def _fuzz_post(source: str, raw: bytes, headers: dict[str, str],
               content_type: str | None) -> TestResponse:
    response = post(FUZZ_CLIENT, source, raw, headers, content_type=content_type)
    assert response.status_code < 500
    assert response.is_json
    return response


@FUZZ
@given(source=SOURCES, raw=st.binary(max_size=512), content_type=CONTENT_TYPES,
       headers=st.dictionaries(HEADER_NAMES, ascii_text, max_size=6))
def test_fuzz_random_bytes_and_headers(source: str, raw: bytes, content_type: str | None,
                                       headers: dict[str, str]) -> None:
    response = _fuzz_post(source, raw, headers, content_type)
    assert response.status_code != 202  # nothing unsigned gets in


@FUZZ
@given(source=st.sampled_from(["hr", "lms", "xapi"]), body=json_values,
       msg_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                      max_size=40))
def test_fuzz_validly_signed_random_json(source: str, body: Any, msg_id: str) -> None:
    raw, headers = signed(body, msg_id)
    response = _fuzz_post(source, raw, headers, "application/json")
    assert response.status_code in {202, 400, 422}


@FUZZ
@given(body=json_values)
def test_fuzz_validly_signed_bamboohr(body: Any) -> None:
    raw, headers = bamboo_signed({"employees": [body]} if not isinstance(body, dict) else body)
    assert _fuzz_post("bamboohr", raw, headers, "application/json").status_code in {202, 422}


@FUZZ
@given(source=st.sampled_from(["hr", "lms", "xapi", "bamboohr"]),
       depth=st.integers(min_value=20, max_value=5000), opener=st.sampled_from(["[", '{"a":']))
def test_fuzz_deep_nesting(source: str, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "1" + closer * depth
    raw = text.encode()
    delivery = bamboo_signed(raw) if source == "bamboohr" else signed(raw)
    response = _fuzz_post(source, *delivery, "application/json")
    if len(raw) <= MAX_BYTES and depth > 32:
        assert response.status_code == 422


@FUZZ
@given(source=st.sampled_from(["hr", "xapi"]), extra=st.integers(min_value=1, max_value=4096),
       shape=st.sampled_from(["string", "list"]))
def test_fuzz_huge_bodies(source: str, extra: int, shape: str) -> None:
    if shape == "string":
        body: Any = {"pad": "x" * (MAX_BYTES + extra)}
    else:
        body = [XAPI] * (MAX_BYTES // len(json.dumps(XAPI)) + extra)
    response = _fuzz_post(source, *signed(body), "application/json")
    assert response.status_code == 413


@FUZZ
@given(path=st.sampled_from(["/healthz", "/readyz", "/metrics", "/webhooks/hr", "/", "/x"]),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
       raw=st.binary(max_size=64))
def test_fuzz_every_endpoint_and_method(path: str, method: str, raw: bytes) -> None:
    response = FUZZ_CLIENT.open(path, method=method, data=raw)
    assert response.status_code < 500
    if method != "HEAD":
        assert response.is_json or path == "/metrics"
