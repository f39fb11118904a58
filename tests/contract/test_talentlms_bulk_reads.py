"""TalentLMS reads that scale with the organisation, not with its assignments: the learner
list read once a run has looked up a few learners, open assignments reconciled per course or
per learner (whichever is fewer calls), certificates read only when a pass needs one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import responses
from pydantic import SecretStr

from connector.models import Employee, LearnerRef, Outcome
from connector.vendors.talentlms.lms import PREFETCH_AFTER, TalentLMS

ROOT = "https://acme.talentlms.com"
API = f"{ROOT}/api/v1"
NOW = int(time.time())


def lms() -> TalentLMS:
    return TalentLMS(ROOT, SecretStr("tlms-KEY-0123456789abcdef"), clock=lambda: 0.0,
                     sleep=lambda _: None, jitter=lambda: 0.0, max_attempts=1)


def person(i: int) -> Employee:
    return Employee(employee_id=f"E{i}", email=f"p{i}@example.com")


def learner(i: int) -> LearnerRef:
    return LearnerRef(lms_user_id=str(i), email=f"p{i}@example.com")


def status(uid: int, *, done: bool, failed: bool = False, when: int = NOW) -> dict[str, str]:
    return {"id": str(uid), "completion_status": "failed" if failed else (
        "Completed" if done else "incomplete"), "completion_percentage": "100" if done else "40",
        "completed_on_timestamp": str(when) if done else ""}


def catalogue(certifying: dict[str, str]) -> None:
    """Courses 1-3; `certifying` maps the ones that issue a certificate to its validity."""
    responses.get(f"{API}/courses", json=[
        {"id": c, "name": f"Course {c}", "certification": "Classic" if c in certifying else "",
         "certification_duration": certifying.get(c, "")} for c in ("1", "2", "3")])


@responses.activate
def test_the_learner_list_is_read_once_after_a_few_lookups() -> None:
    for i in range(1, PREFETCH_AFTER + 1):
        responses.get(f"{API}/users/email:p{i}@example.com",
                      json={"id": str(i), "email": f"p{i}@example.com", "login": f"p{i}"})
    responses.get(f"{API}/users", json=[{"id": str(i), "email": f"p{i}@example.com",
                                         "login": f"p{i}"} for i in range(1, 50)])
    adapter = lms()
    found = [adapter.find_learner(person(i)) for i in range(1, 40)]
    assert [f.lms_user_id for f in found if f] == [str(i) for i in range(1, 40)]
    assert adapter.calls == PREFETCH_AFTER + 1  # a few lookups, then one list for the rest


@responses.activate
def test_a_failed_list_read_falls_back_to_the_lookup() -> None:
    responses.get(f"{API}/users", status=500, json={"error": {"message": "busy"}})
    for i in range(1, 6):
        responses.get(f"{API}/users/email:p{i}@example.com",
                      json={"id": str(i), "email": f"p{i}@example.com", "login": f"p{i}"})
    adapter = lms()
    assert [adapter.find_learner(person(i)).lms_user_id for i in range(1, 6)] == [  # type: ignore[union-attr]
        "1", "2", "3", "4", "5"]


@responses.activate
def test_reconciling_many_learners_reads_per_course_and_no_fresh_certificate() -> None:
    catalogue({"1": "365"})
    responses.get(f"{API}/courses/id:1", json={"id": "1", "users": [
        status(u, done=u % 2 == 0) for u in range(1, 11)]})
    responses.get(f"{API}/courses/id:2", json={"id": "2", "users": [
        status(u, done=True, failed=u == 3) for u in range(1, 6)]})
    adapter = lms()
    pairs = [(learner(u), c) for u in range(1, 11) for c in ("1", "2")]
    found = adapter.progress_many(pairs)
    assert len(found) == 20
    assert found[("2", "1")].status is Outcome.PASSED
    assert found[("1", "1")].status is Outcome.IN_PROGRESS
    assert found[("3", "2")].status is Outcome.FAILED
    assert found[("7", "2")].enrolled is False  # course 2 does not list learner 7
    assert found[("2", "1")].certificate_url is None  # valid for a year: nothing to check
    assert adapter.calls == 3  # the catalogue and two courses, not twenty reads


@responses.activate
def test_an_old_pass_in_a_certifying_course_reads_its_certificate_once_per_learner() -> None:
    old = int((datetime.now(UTC) - timedelta(days=400)).timestamp())
    catalogue({"1": "365"})
    responses.get(f"{API}/courses/id:1", json={"id": "1", "users": [
        status(u, done=True, when=old) for u in range(1, 6)]})
    responses.get(f"{API}/courses/id:2", json={"id": "2", "users": [
        status(u, done=True, when=old) for u in range(1, 6)]})
    responses.get(f"{API}/users/id:4", json={"id": "4", "certifications": [
        {"course_id": "1", "download_url": "https://acme/dl/x",
         "expiration_date_timestamp": str(old + 365 * 86400)}]})
    adapter = lms()
    pairs = [(learner(u), c) for u in range(1, 6) for c in ("1", "2")]
    pairs = [p for p in pairs if p[0].lms_user_id == "4" or p[1] == "2"]
    found = adapter.progress_many(pairs)
    expired = found[("4", "1")]
    assert expired.certificate_url == "https://acme/dl/x"
    assert expired.expires_at is not None and expired.expires_at < datetime.now(UTC)
    assert found[("4", "2")].certificate_url is None  # course 2 issues no certificate
    assert adapter.calls == 4  # catalogue, two courses, one learner's certificates


@responses.activate
def test_few_learners_many_courses_reads_per_learner() -> None:
    catalogue({"1": "365", "2": "365", "3": "365"})
    responses.get(f"{API}/users/id:9", json={"id": "9", "courses": [
        {"id": c, **{k: v for k, v in status(9, done=c != "3").items() if k != "id"}}
        for c in ("1", "2", "3")], "certifications": []})
    adapter = lms()
    found = adapter.progress_many([(learner(9), c) for c in ("1", "2", "3")])
    assert [found[("9", c)].status for c in ("1", "2", "3")] == [
        Outcome.PASSED, Outcome.PASSED, Outcome.IN_PROGRESS]
    assert responses.calls[0].request.url == f"{API}/users/id:9"
    assert adapter.calls == 2  # the learner, then the catalogue (certificates: none needed)


@responses.activate
def test_an_unreadable_catalogue_means_every_pass_may_need_its_certificate() -> None:
    responses.get(f"{API}/courses", status=500, json={"error": {"message": "busy"}})
    responses.get(f"{API}/courses/id:1", json={"id": "1", "users": [
        status(u, done=True) for u in (1, 2)]})
    responses.get(f"{API}/users/id:1", json={"id": "1", "certifications": []})
    responses.get(f"{API}/users/id:2", json={"id": "2", "certifications": []})
    adapter = lms()
    found = adapter.progress_many([(learner(1), "1"), (learner(2), "1")])
    assert all(p.status is Outcome.PASSED for p in found.values())
    assert {c.request.url for c in responses.calls} >= {f"{API}/users/id:1",
                                                        f"{API}/users/id:2"}
