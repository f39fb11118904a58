"""TalentLMS API v2 batch enrollments: up to 100 pairs per call, then follow the task.

Why: with API v1 every enrollment is one call, so 10,000 assignments cost 10,000 calls of a
2,000-per-hour budget. `POST /api/v2/batch/enrollments` takes 100 pairs and answers with a
background task id, which `GET /api/v2/tasks/{id}` reports on until it finishes.

*Unconfirmed* shapes (the published v2 description leaves these bodies empty): the batch answer
carries the task id as `task_id` or `id`, at the top level or under `_data`/`data`; the task
has a `status` ("pending", "processing", "completed", "failed"…), and per-pair `results`
(or `errors`) entries with `course_id`, `user_id`, a `status` or `success` flag and a
`message`. Every one of these variants is accepted; a pair the task does not mention counts as
enrolled when the task completed. Enrollment is idempotent by design ("already enrolled" is
success), so the batch POST may be retried like a read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connector.errors import (
    AuthenticationError,
    FatalAPIError,
    NotFoundError,
    RetriableAPIError,
    VendorError,
)
from connector.http import VendorHttp

log = logging.getLogger(__name__)

BATCH_LIMIT = 100
ALREADY_ENROLLED = "already enrolled"
_FINISHED = {"completed", "complete", "finished", "done", "succeeded", "success", "failed",
             "partially_completed", "completed_with_errors", "error"}
_PAIR_OK = {"success", "succeeded", "completed", "enrolled", "ok", "created", "done"}

Pair = tuple[str, str]  # (lms_user_id, course_id)
Result = dict[Pair, Exception | None]


def api_id(value: str) -> int | str:
    """The v2 schema types ids as integers; ids that are not numbers are sent as they are."""
    return int(value) if value.isdigit() else value


def _unwrap(body: Any) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        for key in ("_data", "data"):
            inner = body.get(key)
            if isinstance(inner, Mapping):
                return inner
        return body
    return {}


class BatchEnroller:
    """Sends pairs in chunks of `BATCH_LIMIT` and waits (bounded) for each task."""

    def __init__(self, http: VendorHttp, *, sleep: Callable[[float], None],
                 poll_interval: float = 1.0, max_polls: int = 20,
                 enrolled_courses: Callable[[str], set[str]] | None = None) -> None:
        self.http = http
        self.sleep = sleep
        # Reads which courses a learner is enrolled in: how an answer of unknown shape is
        # settled from what TalentLMS says exists.
        self.enrolled_courses = enrolled_courses
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def enroll(self, pairs: Sequence[Pair]) -> Result:
        unique = list(dict.fromkeys(pairs))
        result: Result = {}
        for start in range(0, len(unique), BATCH_LIMIT):
            chunk = unique[start:start + BATCH_LIMIT]
            try:
                result.update(self._enroll_chunk(chunk))
            except AuthenticationError as exc:
                # The key is wrong or the API is off: no later chunk can do better.
                result.update(dict.fromkeys(unique[start:], exc))
                break
            except VendorError as exc:
                result.update(dict.fromkeys(chunk, exc))
        return result

    def request_body(self, chunk: Sequence[Pair]) -> dict[str, Any]:
        return {"enrollments": [{"course_id": api_id(course), "user_id": api_id(user)}
                                for user, course in chunk]}

    def _enroll_chunk(self, chunk: Sequence[Pair]) -> Result:
        answer = self.http.post_json("batch/enrollments", operation="batch enroll",
                                     json=self.request_body(chunk), idempotent=True)
        data = _unwrap(answer)
        task_id = data.get("task_id", data.get("id"))
        if task_id is None:
            if _results_of(data) is not None:  # answered synchronously
                return _map_results(chunk, data)
            # A success whose shape we do not know (the published description gives no
            # body): the outcome is unknown, not failed. Ask what now exists.
            return self._settle_from_enrollments(chunk)
        return _map_results(chunk, self._wait_for(str(task_id)))

    def _settle_from_enrollments(self, chunk: Sequence[Pair]) -> Result:
        """Each pair by what TalentLMS holds now: enrolled is done; not (yet) enrolled is
        retried later (enrolling is idempotent), never failed for good."""
        if self.enrolled_courses is None:
            raise RetriableAPIError("the batch answer had neither a task id nor results",
                                    vendor="talentlms", operation="batch enroll")
        result: Result = {}
        held: dict[str, set[str]] = {}
        for user, course in chunk:
            if user not in held:
                held[user] = self.enrolled_courses(user)
            result[(user, course)] = None if course in held[user] else RetriableAPIError(
                "not enrolled after a batch answer of unknown shape; trying again later",
                vendor="talentlms", operation="batch enroll")
        return result

    def _wait_for(self, task_id: str) -> Mapping[str, Any]:
        wait = self.poll_interval
        for _ in range(self.max_polls):
            self.sleep(wait)
            task = _unwrap(self.http.get_json(f"tasks/{task_id}", operation="batch enroll task"))
            if str(task.get("status", "")).lower() in _FINISHED:
                return task
            wait = min(wait * 2, self.poll_interval * 8)
        raise RetriableAPIError(f"batch task {task_id} did not finish after {self.max_polls} "
                                "checks", vendor="talentlms", operation="batch enroll task")


def _results_of(task: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    for key in ("results", "errors", "items"):
        value = task.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, Mapping)]
    return None


def _map_results(chunk: Sequence[Pair], task: Mapping[str, Any]) -> Result:
    status = str(task.get("status", "completed")).lower()
    completed = status in {"completed", "complete", "finished", "done", "succeeded", "success",
                           "partially_completed", "completed_with_errors"}
    default: Exception | None = None if completed else FatalAPIError(
        str(task.get("message") or f"batch task {status}"), vendor="talentlms",
        operation="batch enroll")
    result: Result = dict.fromkeys(chunk, default)
    wanted = set(chunk)
    for entry in _results_of(task) or ():
        pair = (str(entry.get("user_id", "")), str(entry.get("course_id", "")))
        if pair in wanted:
            result[pair] = _pair_error(entry)
    return result


def _pair_error(entry: Mapping[str, Any]) -> Exception | None:
    message = str(entry.get("message") or entry.get("error") or "").strip()
    flag = entry.get("success")
    state = str(entry.get("status", "")).lower()
    if flag is True or state in _PAIR_OK or ALREADY_ENROLLED in message.lower():
        return None
    if flag is None and not state and not message:
        return None  # listed without any sign of failure
    text = message or f"enrollment {state or 'failed'}"
    cls = NotFoundError if "does not exist" in text.lower() else FatalAPIError
    return cls(text, vendor="talentlms", operation="batch enroll")
