"""TalentLMS API v2 batch enrollments: headers, body per the published description, tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml

from connector.errors import AuthenticationError, FatalAPIError, NotFoundError, RetriableAPIError
from connector.models import LearnerRef
from connector.vendors.talentlms import TalentLMS

ROOT = "https://acme.talentlms.com"
BATCH = f"{ROOT}/api/v2/batch/enrollments"
SPEC = Path("/work/shared/vendor-specs/talentlms-public-api-v2.yaml")
KEY, V2_KEY = "v1-key-abcdef", "v2-key-SECRET-987"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def lms(sleeps: Sleeps | None = None, **kw: Any) -> TalentLMS:
    return TalentLMS(ROOT, KEY, api="v2", v2_api_key=V2_KEY, v2_version="2025-01-01",
                     sleep=sleeps if sleeps is not None else Sleeps(), jitter=lambda: 0.0,
                     **kw)


def pairs(n: int, course: str = "12") -> list[tuple[LearnerRef, str]]:
    return [(LearnerRef(lms_user_id=str(100 + i)), course) for i in range(n)]


def body_of(index: int) -> Any:
    return json.loads(responses.calls[index].request.body or b"null")


def matches_example(value: Any, example: Any) -> bool:
    """The request body has the example's shape; "<integer>"-style placeholders give types."""
    if isinstance(example, dict):
        return isinstance(value, dict) and set(value) == set(example) and all(
            matches_example(value[k], example[k]) for k in example)
    if isinstance(example, list):
        return isinstance(value, list) and bool(value) and all(
            matches_example(v, example[0]) for v in value)
    placeholder = {"<integer>": int, "<string>": str, "<boolean>": bool}.get(str(example))
    return isinstance(value, placeholder) if placeholder else value == example


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def done(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "t1", "status": "completed", "progress": 100, "results": results}


@responses.activate
def test_batch_request_matches_the_published_description(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/api/v2/batch/enrollments"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["schema"]["example"]
    assert "X-API-Version" in {p["name"] for p in operation["parameters"]}
    assert "/api/v2/tasks/:id" in spec["paths"]
    responses.post(BATCH, json={"task_id": "t1"})
    responses.get(f"{ROOT}/api/v2/tasks/t1", json=done([]))
    result = lms().enroll_many(pairs(2))
    assert result == {("100", "12"): None, ("101", "12"): None}
    body = body_of(0)
    assert matches_example(body, example), body
    assert body == {"enrollments": [{"course_id": 12, "user_id": 100},
                                    {"course_id": 12, "user_id": 101}]}
    for call in responses.calls:
        assert call.request.headers["X-API-Key"] == V2_KEY
        assert call.request.headers["Accept"] == "application/json"
        assert call.request.headers["X-API-Version"] == "2025-01-01"
        assert "Authorization" not in call.request.headers


@responses.activate
def test_chunks_of_at_most_100_each_followed_until_done() -> None:
    for n in (1, 2, 3):
        responses.post(BATCH, json={"_data": {"task_id": f"t{n}"}})
        responses.get(f"{ROOT}/api/v2/tasks/t{n}", json={"status": "processing"})
        responses.get(f"{ROOT}/api/v2/tasks/t{n}", json={"data": done([])})
    sleeps = Sleeps()
    adapter = lms(sleeps, v2_poll_interval=0.5)
    result = adapter.enroll_many(pairs(250))
    assert len(result) == 250 and all(v is None for v in result.values())
    posts = [body_of(i) for i, c in enumerate(responses.calls) if c.request.method == "POST"]
    assert [len(b["enrollments"]) for b in posts] == [100, 100, 50]
    assert adapter.calls == 9
    assert sleeps == [0.5, 1.0] * 3  # first check after the interval, then doubling


@responses.activate
def test_per_pair_failures_are_mapped_one_by_one() -> None:
    responses.post(BATCH, json={"task_id": "t1"})
    responses.get(f"{ROOT}/api/v2/tasks/t1", json=done([
        {"course_id": 12, "user_id": 100, "status": "success"},
        {"course_id": 12, "user_id": 101, "status": "failed",
         "message": "The requested user is already enrolled in this course"},
        {"course_id": 12, "user_id": 102, "status": "failed",
         "message": "The requested user does not exist"},
        {"course_id": 12, "user_id": 103, "success": False, "message": "Course is inactive"},
    ]))
    result = lms().enroll_many(pairs(5))
    assert result[("100", "12")] is None
    assert result[("101", "12")] is None  # already enrolled is success
    assert isinstance(result[("102", "12")], NotFoundError)
    assert type(result[("103", "12")]) is FatalAPIError
    assert "Course is inactive" in str(result[("103", "12")])
    assert result[("104", "12")] is None  # not mentioned by a completed task


@responses.activate
def test_failed_task_fails_the_pairs_it_does_not_clear() -> None:
    responses.post(BATCH, json={"task_id": "t1"})
    responses.get(f"{ROOT}/api/v2/tasks/t1", json={"status": "failed", "message": "boom"})
    result = lms().enroll_many(pairs(2))
    assert all(isinstance(e, FatalAPIError) and "boom" in str(e) for e in result.values())


@responses.activate
def test_task_that_never_finishes_is_retriable_after_bounded_polling() -> None:
    responses.post(BATCH, json={"task_id": "t1"})
    responses.get(f"{ROOT}/api/v2/tasks/t1", json={"status": "processing"})
    sleeps = Sleeps()
    adapter = lms(sleeps)
    result = adapter.enroll_many(pairs(1))
    assert isinstance(result[("100", "12")], RetriableAPIError)
    assert adapter.calls == 1 + 20
    assert max(sleeps) == 8.0


@responses.activate
def test_bad_key_stops_after_the_first_chunk_and_hides_the_key() -> None:
    responses.post(BATCH, status=401,
                   json={"type": "invalid_request_error", "message": "Invalid API key provided."})
    result = lms().enroll_many(pairs(150))
    assert len(responses.calls) == 1
    errors = set(map(id, result.values()))
    assert len(errors) == 1 and len(result) == 150
    error = result[("249", "12")] if ("249", "12") in result else result[("100", "12")]
    assert isinstance(error, AuthenticationError)
    assert error.message == "Invalid API key provided."
    assert V2_KEY not in str(error) and V2_KEY not in repr(error)


@responses.activate
def test_error_under_an_error_key_is_read_too() -> None:
    responses.post(BATCH, status=422, json={"error": {"type": "invalid_request_error",
                                                      "message": "Too many items"}})
    result = lms().enroll_many(pairs(1))
    assert str(result[("100", "12")]).endswith("Too many items")


@responses.activate
@pytest.mark.parametrize("answer", [{}, {"data": {}}, {"message": "accepted"}])
def test_a_success_of_unknown_shape_is_settled_from_what_talentlms_holds(
        answer: dict[str, Any]) -> None:
    """The published description gives no body for 200: an answer without a task id or
    results is "unknown", not failed; the enrollments are read back and decide."""
    responses.post(BATCH, json=answer)
    responses.get(f"{ROOT}/api/v1/users/id:100",
                  json={"id": "100", "courses": [{"id": "12"}, {"id": "13"}]})
    responses.get(f"{ROOT}/api/v1/users/id:101", json={"id": "101", "courses": []})
    result = lms().enroll_many(pairs(2))
    assert result[("100", "12")] is None  # it exists: done
    assert isinstance(result[("101", "12")], RetriableAPIError)  # not there: try again later
    assert [c.request.url.split("/api/")[1] for c in responses.calls[1:]] == [
        "v1/users/id:100", "v1/users/id:101"]  # one read per learner, not per pair
