"""The TalentLMS simulator's state: users, courses, enrollments, timeline, tasks, limits.

Kept apart from the Flask routes (`connector.sandbox.talentlms`) so the vendor's behaviour —
its value shapes, its English errors, its rate limits on the scaled clock — reads in one place.
Every method expects the caller to hold `lock` (the server is threaded).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any

from connector.sandbox.common import ScaledClock

TIMELINE_PAGE = 200
BURST_LIMIT, BURST_WINDOW, HOUR = 200, 5.0, 3600.0
BATCH_LIMIT = 100
CERTIFICATE_DAYS = 365


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def portal_date(seconds: float | None) -> str:
    """The portal's default date format, dd/mm/yyyy; "" when there is no date."""
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%d/%m/%Y, %H:%M:%S")


def _stamp(seconds: float | None) -> str:
    return str(int(seconds)) if seconds else ""


class TalentLMSState:
    """Everything the simulator knows, behind one lock (the server is threaded)."""

    def __init__(self, clock: ScaledClock, hourly_limit: int, task_delay: float) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.hourly_limit = hourly_limit
        self.task_delay = task_delay
        self.users: dict[int, dict[str, Any]] = {}
        self.by_login: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        self.courses: dict[int, dict[str, Any]] = {}
        self.enrollments: dict[tuple[int, int], dict[str, Any]] = {}
        self.certifications: dict[int, list[dict[str, Any]]] = {}
        self.timeline: dict[str, list[dict[str, Any]]] = {}
        self.completions: list[dict[str, Any]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.batch_pairs = 0  # (user, course) pairs received by v2 batch enrollments
        self.throttled = 0  # every 429 answered, by the limits or the fault switches
        self.calls_by_route: Counter[str] = Counter()
        self.window_start: float | None = None
        self.window_count = 0
        self.recent: deque[float] = deque()

    # --- rate limits (simulated seconds) ---

    def admit(self, route: str) -> float | None:
        """Count one call; None when allowed, else simulated seconds until it would be."""
        now = self.clock.now()
        if self.window_start is None:
            self.window_start = now
        while now >= self.window_start + HOUR:
            self.window_start += HOUR
            self.window_count = 0
        while self.recent and now - self.recent[0] >= BURST_WINDOW:
            self.recent.popleft()
        if self.window_count >= self.hourly_limit:
            return self.window_start + HOUR - now
        if len(self.recent) >= BURST_LIMIT:
            return self.recent[0] + BURST_WINDOW - now
        self.window_count += 1
        self.recent.append(now)
        self.calls += 1
        self.calls_by_route[route] += 1
        return None

    def real_seconds(self, simulated: float) -> float:
        return max(simulated, 0.0) / self.clock.scale

    def rate_headers(self) -> dict[str, str]:
        now = self.clock.now()
        start = self.window_start if self.window_start is not None else now
        reset = time.time() + self.real_seconds(start + HOUR - now)
        return {
            "X-RateLimit-Limit": str(self.hourly_limit),
            "X-RateLimit-Remaining": str(max(self.hourly_limit - self.window_count, 0)),
            "X-RateLimit-Reset": self.seconds_text(reset),
        }

    def seconds_text(self, value: float) -> str:
        return str(math.ceil(value)) if self.clock.scale == 1 else f"{value:.3f}"

    # --- users and courses ---

    def add_user(self, raw: dict[str, Any]) -> dict[str, Any]:
        email = str(raw.get("email") or "").strip()
        login = str(raw.get("login") or email).strip()
        if not email or not login:
            raise ApiError(400, "Invalid arguments provided")
        if login.lower() in self.by_login:
            raise ApiError(400, "A user with the same login already exists")
        if email.lower() in self.by_email:
            raise ApiError(400, "A user with the same email address already exists")
        user_id = int(raw.get("id") or max(self.users, default=0) + 1)
        if user_id in self.users:
            raise ApiError(400, f"A user with id {user_id} already exists")
        now = self.clock.now()
        user = {
            "id": str(user_id), "login": login,
            "first_name": str(raw.get("first_name") or login), "last_name":
            str(raw.get("last_name") or ""), "email": email, "restrict_email": "0",
            "user_type": "Learner-Type", "timezone": "(GMT +00:00) UTC", "language": "English",
            "status": "active", "deactivation_date": "", "level": "1", "points": "0",
            "created_on": portal_date(now), "last_updated": portal_date(now),
            "last_updated_timestamp": _stamp(now), "avatar": "", "bio": "",
            "login_key": f"https://sandbox.talentlms.com/index/autologin/key:{user_id}",
        }
        user.update({k: str(v) for k, v in raw.items() if k.startswith("custom_field_")})
        self.users[user_id] = user
        self.by_login[login.lower()] = user_id
        self.by_email[email.lower()] = user_id
        return user

    def find_user(self, key: str, value: str) -> dict[str, Any]:
        value = value.strip()
        if key == "id":
            user_id: int | None = int(value) if value.isdigit() else None
        else:
            index = self.by_email if key == "email" else self.by_login
            user_id = index.get(value.lower())
        user = self.users.get(user_id) if user_id is not None else None
        if user is None:
            raise ApiError(404, "The requested user does not exist")
        return user

    def add_course(self, raw: dict[str, Any]) -> dict[str, Any]:
        course_id = int(raw.get("id") or max(self.courses, default=0) + 1)
        now = self.clock.now()
        course = {
            "id": str(course_id), "name": str(raw.get("name") or f"Course {course_id}"),
            "code": str(raw.get("code") or ""), "category_id": "1", "description": "",
            "price": "&#36;0.00", "status": "active", "creation_date": portal_date(now),
            "last_update_on": portal_date(now), "creator_id": "1", "hide_from_catalog": "0",
            "time_limit": "0", "level": "1", "shared": "0", "shared_url": "", "avatar": "",
            "big_avatar": "", "certification": str(raw.get("certification", "Classic")),
            "certification_duration": str(raw.get("certification_duration", CERTIFICATE_DAYS)),
        }
        self.courses[course_id] = course
        return course

    def course(self, course_id: str) -> dict[str, Any]:
        course = self.courses.get(int(course_id)) if course_id.isdigit() else None
        if course is None:
            raise ApiError(404, "The requested course does not exist")
        return course

    def user_by_id(self, user_id: str) -> dict[str, Any]:
        return self.find_user("id", str(user_id).strip())

    def full_user(self, user: dict[str, Any]) -> dict[str, Any]:
        uid = int(user["id"])
        courses = [{"id": str(c), "name": self.courses[c]["name"], "role": e["role"],
                    **self.status_fields(e)} for (u, c), e in self.enrollments.items()
                   if u == uid]
        return {**user, "branches": [], "groups": [], "badges": [], "courses": courses,
                "certifications": list(self.certifications.get(uid, []))}

    # --- enrollment, progress, completion ---

    def enroll(self, user_id: str, course_id: str, role: str = "learner") -> dict[str, Any]:
        user, course = self.user_by_id(user_id), self.course(str(course_id).strip())
        key = (int(user["id"]), int(course["id"]))
        if key in self.enrollments:
            raise ApiError(400, "The requested user is already enrolled in this course")
        self.enrollments[key] = {"role": role, "enrolled": self.clock.now(),
                                 "status": "not_attempted", "percent": 0, "completed": None,
                                 "score": None}
        self.event("course_add_user", user, course, self.clock.now())
        return {"user_id": user["id"], "course_id": course["id"], "role": role}

    def unenroll(self, user_id: str, course_id: str) -> dict[str, Any]:
        user, course = self.user_by_id(user_id), self.course(str(course_id).strip())
        key = (int(user["id"]), int(course["id"]))
        if self.enrollments.pop(key, None) is None:
            raise ApiError(400, "The requested user is not enrolled in this course")
        self.event("course_reset_user_progress", user, course, self.clock.now())
        return {"user_id": user["id"], "course_id": course["id"]}

    def status_fields(self, enrollment: dict[str, Any]) -> dict[str, Any]:
        return {
            "enrolled_on": portal_date(enrollment["enrolled"]),
            "enrolled_on_timestamp": _stamp(enrollment["enrolled"]),
            "completion_status": enrollment["status"],
            "completion_percentage": str(enrollment["percent"]),
            "completed_on": portal_date(enrollment["completed"]),
            "completed_on_timestamp": _stamp(enrollment["completed"]),
            "expired_on": "", "expired_on_timestamp": "",
            "total_time": "12m 5s" if enrollment["percent"] else "",
        }

    def status_in_course(self, user_id: str, course_id: str) -> dict[str, Any]:
        user, course = self.user_by_id(user_id), self.course(course_id)
        enrollment = self.enrollments.get((int(user["id"]), int(course["id"])))
        if enrollment is None:
            raise ApiError(400, "The requested user is not enrolled in this course")
        score = enrollment["score"]
        unit = {"id": "1", "name": "Final test", "type": "Test",
                "completion_status": enrollment["status"],
                "completed_on": portal_date(enrollment["completed"]),
                "completed_on_timestamp": _stamp(enrollment["completed"]),
                "score": "" if score is None else f"{score:g}", "total_time": ""}
        return {"role": enrollment["role"], **self.status_fields(enrollment), "units": [unit]}

    def complete(self, raw: dict[str, Any]) -> dict[str, Any]:
        user, course = self.user_by_id(str(raw.get("user_id"))), self.course(
            str(raw.get("course_id")))
        enrollment = self.enrollments.get((int(user["id"]), int(course["id"])))
        if enrollment is None:
            raise ApiError(400, "The requested user is not enrolled in this course")
        passed = bool(raw.get("passed", True))
        when = _seconds(raw.get("completed_at")) or int(self.clock.now())
        score = raw.get("score")
        enrollment.update(status="Completed" if passed else "failed", percent=100,
                          completed=when, score=None if score is None else float(score))
        self.event("course_completion" if passed else "course_failure", user, course, when)
        if passed and course["certification"]:  # "": the course issues none
            self.certify(user, course, when)
        record = {"user_id": user["id"], "course_id": course["id"], "passed": passed,
                  "score": score, "completed_at": when}
        self.completions.append(record)
        return record

    def certify(self, user: dict[str, Any], course: dict[str, Any], when: float) -> None:
        expires = when + int(course["certification_duration"]) * 86400
        unique_id = secrets.token_hex(6)
        certs = [c for c in self.certifications.get(int(user["id"]), [])
                 if c["course_id"] != course["id"]]
        certs.append({
            "course_id": course["id"], "course_name": course["name"], "unique_id": unique_id,
            "issued_date": portal_date(when), "expiration_date": portal_date(expires)[:10],
            "download_url": f"https://sandbox.talentlms.com/user/downloadcertification/id:{unique_id}",
            "public_url": f"https://sandbox.talentlms.com/certification/{unique_id}",
        })
        self.certifications[int(user["id"])] = certs

    def event(self, action: str, user: dict[str, Any], course: dict[str, Any],
              when: float) -> None:
        name = f"{user['first_name']} {user['last_name']}".strip()
        self.timeline.setdefault(action, []).append({
            "action": action, "message": f"{name} {action.replace('_', ' ')} {course['name']}",
            "timestamp": portal_date(when), "unix_timestamp": _stamp(when),
            "user_id": user["id"], "user_username": user["login"], "user_email": user["email"],
            "user_fullname": name, "object_id": course["id"], "object_name": course["name"],
            "secondary_object_id": "", "secondary_object_name": "", "event_counter": "1",
        })

    # --- v2 batch enrollments ---

    def batch_enroll(self, body: Any) -> dict[str, Any]:
        pairs = body.get("enrollments") if isinstance(body, dict) else None
        if not isinstance(pairs, list) or not pairs:
            raise ApiError(400, "The enrollments field is required")
        if len(pairs) > BATCH_LIMIT:
            raise ApiError(422, f"At most {BATCH_LIMIT} enrollments are allowed per request")
        results = []
        self.batch_pairs += len(pairs)
        for pair in pairs:
            if not isinstance(pair, dict) or not all(
                    isinstance(pair.get(k), int) for k in ("course_id", "user_id")):
                raise ApiError(400, "course_id and user_id must be integers")
            try:
                self.enroll(str(pair["user_id"]), str(pair["course_id"]))
                results.append({**pair, "status": "success"})
            except ApiError as exc:
                results.append({**pair, "status": "failed", "message": exc.message})
        task_id = uuid.uuid4().hex
        self.tasks[task_id] = {"id": task_id, "type": "batch_enrollments",
                               "created": self.clock.now(), "results": results}
        return {"task_id": task_id, "status": "pending"}

    def task(self, task_id: str) -> dict[str, Any]:
        task = self.tasks.get(task_id)
        if task is None:
            raise ApiError(404, "The requested task does not exist")
        done = self.clock.now() >= task["created"] + self.task_delay
        total = len(task["results"])
        return {"id": task_id, "type": task["type"],
                "status": "completed" if done else "processing",
                "progress": 100 if done else 0, "total": total,
                "processed": total if done else 0, "results": task["results"] if done else []}

    def snapshot(self) -> dict[str, Any]:
        return {
            "enrollments": [{"user_id": str(u), "course_id": str(c), "role": e["role"],
                             "completion_status": e["status"]}
                            for (u, c), e in self.enrollments.items()],
            "completions": list(self.completions),
            "counts": {"calls": self.calls, "throttled": self.throttled,
                       "users": len(self.users), "courses": len(self.courses),
                       "enrollments": len(self.enrollments),
                       "completions": len(self.completions), "tasks": len(self.tasks),
                       "batch_pairs": self.batch_pairs},
            "calls_by_route": dict(self.calls_by_route),
            "events": {kind: len(events) for kind, events in self.timeline.items()},
        }


def _seconds(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())


