"""Who is enrolled where in TalentLMS, in the fewest calls (drift reconciliation).

API v1 has two batched reads of enrollments: `users/id:N` (one learner: their status and
every course they are in) and `courses/id:C` (one course: every user in it). For the pairs
asked about this reads per learner, or, when there are fewer courses than learners, per
course plus one `GET users` for every learner's status: at most min(learners, courses + 1)
calls, never one per (learner, course) pair. A learner TalentLMS says "does not exist" is
reported missing; `status` other than "active" (TalentLMS's "inactive") is deactivated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.errors import FatalAPIError
from connector.http import VendorHttp
from connector.ports import LearnerEnrollments
from connector.vendors.talentlms.timeline import text

DOES_NOT_EXIST = "does not exist"


def read_enrollments(v1: VendorHttp, pairs: Sequence[tuple[str, str]],
                     path: Any) -> dict[str, LearnerEnrollments]:
    """`path(resource, **params)` builds a v1 path (`lms.v1_path`)."""
    learners = sorted({user for user, _ in pairs})
    courses = sorted({course for _, course in pairs})
    if len(courses) + 1 < len(learners):
        return _by_course(v1, learners, courses, path)
    return _by_learner(v1, learners, path)


def _by_learner(v1: VendorHttp, learners: list[str], path: Any
                ) -> dict[str, LearnerEnrollments]:
    found: dict[str, LearnerEnrollments] = {}
    for user_id in learners:
        user = _missing_is_none(lambda uid=user_id: v1.get_json(
            path("users", id=uid), operation="read enrollments"))
        if not isinstance(user, dict):
            found[user_id] = LearnerEnrollments(user_id, exists=False, active=False)
            continue
        courses = {str(text(c.get("id"))) for c in user.get("courses") or ()
                   if isinstance(c, dict)}
        found[user_id] = _learner(user_id, user, courses)
    return found


def _by_course(v1: VendorHttp, learners: list[str], courses: list[str], path: Any
               ) -> dict[str, LearnerEnrollments]:
    users = v1.get_json("users", operation="list users") or []
    by_id = {text(u.get("id")): u for u in users if isinstance(u, dict)}
    enrolled: dict[str, set[str]] = {}
    for course_id in courses:
        course = _missing_is_none(lambda cid=course_id: v1.get_json(
            path("courses", id=cid), operation="read course enrollments"))
        members = course.get("users") if isinstance(course, dict) else None
        for user in members or ():
            if isinstance(user, dict):
                enrolled.setdefault(str(text(user.get("id"))), set()).add(course_id)
    found: dict[str, LearnerEnrollments] = {}
    for user_id in learners:
        record = by_id.get(user_id)
        found[user_id] = (_learner(user_id, record, enrolled.get(user_id, set()))
                          if record is not None
                          else LearnerEnrollments(user_id, exists=False, active=False))
    return found


def _learner(user_id: str, user: dict[str, Any], courses: set[str]) -> LearnerEnrollments:
    status = (text(user.get("status")) or "active").lower()
    return LearnerEnrollments(user_id, exists=True, active=status == "active",
                              course_ids=frozenset(courses))


def _missing_is_none(read: Any) -> Any:
    try:
        return read()
    except FatalAPIError as exc:
        if DOES_NOT_EXIST in exc.message.lower():
            return None
        raise
