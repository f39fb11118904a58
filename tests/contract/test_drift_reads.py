"""The vendor reads behind `connector reconcile`, at the HTTP layer: TalentLMS enrollments
(per learner or per course, whichever is fewer calls), BambooHR goals (one list per owner, a
goal read alone only when the list is capped) and OrangeHRM trackers (one paged list per
owner). Absence is reported only where the vendor proves it."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses
from pydantic import SecretStr

from connector.errors import FatalAPIError
from connector.http import VendorHttp
from connector.models import GoalRef
from connector.ports import GoalPresence, LearnerEnrollments, ReadsEnrollments, ReadsGoals
from connector.vendors.bamboohr.client import bamboohr_error_message
from connector.vendors.bamboohr.goals import BambooHRGoals
from connector.vendors.orangehrm.client import error_message
from connector.vendors.orangehrm.trackers import OrangeHRMTrackers
from connector.vendors.talentlms.lms import TalentLMS

TLMS = "https://acme.talentlms.com/api/v1"
BAMBOO = "https://acme.bamboohr.com"
ORANGE = "https://hr.acme.test"
TRACKERS = f"{ORANGE}/web/index.php/api/v2/performance/config/trackers"


def lms() -> TalentLMS:
    return TalentLMS("https://acme.talentlms.com", SecretStr("tlms-KEY-0123456789abcdef"),
                     sleep=lambda _s: None, jitter=lambda: 0.0, max_attempts=2)


def tlms_user(uid: str, courses: list[str], status: str = "active") -> dict[str, Any]:
    return {"id": uid, "login": f"u{uid}", "email": f"u{uid}@acme.test", "status": status,
            "courses": [{"id": c, "name": f"Course {c}", "completion_status": "incomplete"}
                        for c in courses]}


@responses.activate
def test_talentlms_reads_per_learner_when_learners_are_few() -> None:
    responses.get(f"{TLMS}/users/id:7", json=tlms_user("7", ["12", "13"]))
    responses.get(f"{TLMS}/users/id:8", json=tlms_user("8", ["12"], status="inactive"))
    responses.get(f"{TLMS}/users/id:9", status=404,
                  json={"error": {"message": "The requested user does not exist"}})
    adapter = lms()
    assert isinstance(adapter, ReadsEnrollments)
    found = adapter.enrollments([("7", "12"), ("7", "13"), ("8", "12"), ("9", "12"),
                                 ("7", "14"), ("8", "13")])
    assert found == {
        "7": LearnerEnrollments("7", course_ids=frozenset({"12", "13"})),
        "8": LearnerEnrollments("8", active=False, course_ids=frozenset({"12"})),
        "9": LearnerEnrollments("9", exists=False, active=False),
    }
    assert len(responses.calls) == 3  # three learners, not six pairs


@responses.activate
def test_talentlms_reads_per_course_when_courses_are_fewer_than_learners() -> None:
    users = [tlms_user(str(n), []) for n in range(1, 7)]
    users[2]["status"] = "inactive"
    responses.get(f"{TLMS}/users", json=users)
    responses.get(f"{TLMS}/courses/id:12", json={"id": "12", "users": [
        {"id": "1"}, {"id": "2"}, {"id": "3"}]})
    responses.get(f"{TLMS}/courses/id:13", status=404,
                  json={"error": {"message": "The requested course does not exist"}})
    pairs = [(str(n), "12") for n in range(1, 8)] + [("1", "13")]
    found = lms().enrollments(pairs)
    assert len(responses.calls) == 3  # one user list + two courses, not eight pairs
    assert found["1"].course_ids == frozenset({"12"})  # course 13 is gone: not enrolled
    assert found["3"].active is False and found["3"].course_ids == frozenset({"12"})
    assert found["4"] == LearnerEnrollments("4")
    assert found["7"].exists is False  # not in the user list


@responses.activate
def test_talentlms_a_failed_read_is_raised_not_read_as_removed() -> None:
    responses.get(f"{TLMS}/users/id:7", status=400,
                  json={"error": {"message": "Invalid arguments provided"}})
    with pytest.raises(FatalAPIError):
        lms().enrollments([("7", "12")])


def bamboo() -> BambooHRGoals:
    http = VendorHttp("bamboohr", BAMBOO, auth=("key", "x"), sleep=lambda _s: None,
                      jitter=lambda: 0.0, error_message=bamboohr_error_message, max_attempts=2)
    return BambooHRGoals(http)


def goal(gid: str, status: str = "in_progress") -> dict[str, Any]:
    return {"id": gid, "title": f"Goal {gid}", "status": status}


def ref(goal_id: str, tracker: str = "bamboohr") -> tuple[str, GoalRef]:
    return "", GoalRef(tracker=tracker, goal_id=goal_id)


@responses.activate
def test_bamboohr_one_list_per_owner_proves_present_closed_and_deleted() -> None:
    responses.get(f"{BAMBOO}/api/v1/performance/employees/7/goals",
                  json={"goals": [goal("41"), goal("42", "closed")]})
    responses.get(f"{BAMBOO}/api/v1/performance/employees/8/goals", status=403,
                  headers={"X-BambooHR-Error-Message": "no permission"})
    tracker = bamboo()
    assert isinstance(tracker, ReadsGoals)
    found = tracker.goal_presence([ref("7:41"), ref("7:42"), ref("7:43"), ref("8:50")])
    assert found == {"7:41": GoalPresence.PRESENT, "7:42": GoalPresence.CLOSED,
                     "7:43": GoalPresence.DELETED}  # 8:50: cannot see the person, not judged
    assert len(responses.calls) == 2
    assert all("filter=status-all" in (c.request.url or "") for c in responses.calls)


@responses.activate
def test_bamboohr_a_capped_list_proves_nothing_so_the_missing_goal_is_read_alone() -> None:
    path = f"{BAMBOO}/api/v1/performance/employees/7/goals"
    responses.get(path, json={"goals": [goal(str(n)) for n in range(100, 150)]})
    responses.get(f"{path}/43/aggregate", status=404,
                  headers={"X-BambooHR-Error-Message": "The goal was not found."})
    responses.get(f"{path}/44/aggregate", json={"goal": goal("44", "closed")})
    found = bamboo().goal_presence([ref("7:43"), ref("7:44"), ref("7:100")])
    assert found == {"7:43": GoalPresence.DELETED, "7:44": GoalPresence.CLOSED,
                     "7:100": GoalPresence.PRESENT}
    assert len(responses.calls) == 3


class StaticBearer(requests.auth.AuthBase):
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = "Bearer test"
        return r


@responses.activate
def test_orangehrm_pages_each_owners_trackers_once() -> None:
    http = VendorHttp("orangehrm", ORANGE, auth=StaticBearer(), sleep=lambda _s: None,
                      jitter=lambda: 0.0, error_message=error_message, max_attempts=2)
    tracker = OrangeHRMTrackers(http, page_size=2)
    responses.get(TRACKERS, match=[responses.matchers.query_param_matcher(
        {"empNumber": "7", "limit": "2", "offset": "0"})],
        json={"data": [{"id": 31}, {"id": 32}], "meta": {"total": 3}})
    responses.get(TRACKERS, match=[responses.matchers.query_param_matcher(
        {"empNumber": "7", "limit": "2", "offset": "2"})],
        json={"data": [{"id": 34}], "meta": {"total": 3}})
    found = tracker.goal_presence([("7", GoalRef(tracker="orangehrm", goal_id="31")),
                                   ("7", GoalRef(tracker="orangehrm", goal_id="33")),
                                   ("7", GoalRef(tracker="orangehrm", goal_id="34"))])
    assert found == {"31": GoalPresence.PRESENT, "33": GoalPresence.DELETED,
                     "34": GoalPresence.PRESENT}
    assert len(responses.calls) == 2  # one owner, two pages: not one call per tracker
