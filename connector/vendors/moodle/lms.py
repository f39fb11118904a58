"""Moodle as a `LearningPlatform`: learners, catalogue, manual enrolments, progress, grades,
and completions read per learner (Moodle core pushes nothing and has no bulk completion read).

Functions used, each from Moodle's own source (../shared/VENDORS-next.md § Moodle 3 to 6):

- find a learner: core_user_get_users_by_field (exact match on id, email, username, idnumber);
- create one: core_user_create_users with `createpassword=1` (Moodle mails a password; the
  connector never holds one);
- catalogue: core_course_get_courses_by_field (no capability beyond seeing the course; its
  `ids` field checks many ids in one call);
- enroll: enrol_manual_enrol_users (the student role; `timeend` = due date + grace);
- withdraw: enrol_manual_unenrol_users (removes the manual enrolment; `roleid` is ignored);
- completions: core_enrol_get_users_courses, **one read per learner**, `completed` for all
  their courses;
- completion time: core_completion_get_course_completion_status (the latest criterion time;
  Moodle keeps no course-level time in this answer);
- final grade: gradereport_user_get_grade_items (the `course` grade item).

Completion polling is state, not a feed: each poll reads every learner who has an open
assignment (at most `CONNECTOR_MOODLE_LEARNERS_PER_POLL`, resuming after the last learner read
when there are more), so a completion cannot be skipped — a finished course stays finished in
Moodle. The two extra reads happen once per completion found, never per poll. A site too large
for that can feed its completions to an LRS with the xAPI log store plug-in instead.

Reset for recertification is missing on purpose: core has no web service that clears a
learner's course completion, and unenrolling keeps it (only third-party plug-ins such as IOMAD
delete completion rows). `ResetsProgress` is not offered, so `connector check` refuses
`prior_completion = "reset"` and `recertify_every_days` rules with Moodle.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from connector.errors import FatalAPIError, VendorError
from connector.models import (
    CompletionEvent,
    Course,
    Employee,
    LearnerRef,
    Outcome,
    Progress,
    completion_event_id,
)
from connector.vendors.moodle.client import VENDOR, MatchBy, MoodleClient, error_code

log = logging.getLogger(__name__)

NOT_TRACKED = frozenset({"usernotenroled", "notenroled"})
NO_CRITERIA = "nocriteriaset"
ALREADY_EXISTS = re.compile(r"already exists", re.IGNORECASE)
# PARAM_USERNAME: lower-case letters, digits and `_ - @ .` (Moodle's default policy).
_USERNAME_UNSAFE = re.compile(r"[^a-z0-9_.@-]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    found = str(value).strip()
    return found or None


def _when(seconds: Any) -> datetime | None:
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(value, UTC) if value > 0 else None


class MoodleLMS:
    """The Moodle LMS adapter. One per run; the catalogue is read once."""

    name = VENDOR

    def __init__(self, client: MoodleClient, *, match_by: MatchBy = "email",
                 create_learners: bool = False, create_auth: str = "manual",
                 student_role_id: int = 5, end_enrolments: bool = True,
                 enrolment_grace_days: int = 14, learners_per_poll: int = 500) -> None:
        self.client = client
        self.match_by: MatchBy = match_by
        self.creates_learners = create_learners
        self.create_auth = create_auth
        self.student_role_id = student_role_id
        self.end_enrolments = end_enrolments
        self.grace = timedelta(days=enrolment_grace_days)
        self.learners_per_poll = learners_per_poll
        self._courses: list[Course] | None = None

    def __repr__(self) -> str:
        return f"MoodleLMS(base_url={self.client.base_url!r}, match_by={self.match_by!r})"

    @property
    def calls(self) -> int:
        return self.client.calls

    # --- learners ---------------------------------------------------------------------------

    def _wanted(self, employee: Employee) -> str | None:
        if self.match_by == "email":
            return employee.email.strip() if employee.email else None
        if self.match_by == "username":
            return employee.employee_id.strip().lower()
        return employee.employee_id.strip()

    def _by_field(self, field: str, value: str, operation: str) -> list[dict[str, Any]]:
        found = self.client.call("core_user_get_users_by_field",
                                 {"field": field, "values": [value]}, operation=operation)
        return [u for u in found or () if isinstance(u, dict) and u.get("id") is not None]

    def find_learner(self, employee: Employee) -> LearnerRef | None:
        """The one Moodle user whose match field equals the employee's; None when there is
        none. Moodle leaves out users whose searched field the token may not see (a hidden
        email answers `[]`), so a miss is also what a missing capability looks like:
        docs/troubleshooting.md says which capability to check."""
        wanted = self._wanted(employee)
        if wanted is None:
            return None
        users = [u for u in self._by_field(self.match_by, wanted, "find learner")
                 if (_text(u.get(self.match_by)) or "").lower() == wanted.lower()
                 or self.match_by not in u]
        if len(users) > 1:
            raise FatalAPIError(
                f"{len(users)} Moodle users have {self.match_by} {wanted!r}; not guessing "
                "which one is the employee", vendor=VENDOR, operation="find learner")
        return _learner_ref(users[0]) if users else None

    def learner(self, lms_user_id: str) -> LearnerRef | None:
        if not lms_user_id.strip().isdigit():
            return None  # Moodle user ids are numbers; anything else names nobody
        users = self._by_field("id", lms_user_id.strip(), "read learner")
        return _learner_ref(users[0]) if users else None

    def create_learner(self, employee: Employee) -> LearnerRef:
        """A new manual-auth account; Moodle makes and mails the password (`createpassword`).
        "Username already exists" after a lost answer finds the account instead."""
        operation = "create learner"
        if not self.creates_learners:
            raise FatalAPIError("creating learners is switched off "
                                "(CONNECTOR_MOODLE_CREATE_LEARNERS)", vendor=VENDOR,
                                operation=operation)
        if not employee.email:
            raise FatalAPIError(f"employee {employee.employee_id} has no email address",
                                vendor=VENDOR, operation=operation)
        base = employee.employee_id if self.match_by == "username" else employee.email
        username = _USERNAME_UNSAFE.sub("-", base.strip().lower())
        user = {
            "username": username,
            "createpassword": 1,
            "firstname": employee.first_name or employee.email.split("@")[0],
            "lastname": employee.last_name or "-",
            "email": employee.email.strip(),
            "auth": self.create_auth,
            "idnumber": employee.employee_id,
        }
        try:
            created = self.client.call("core_user_create_users", {"users": [user]},
                                       operation=operation, write=True)
        except FatalAPIError as exc:
            if error_code(exc) == "invalidparameter" and ALREADY_EXISTS.search(exc.message):
                existing = self.find_learner(employee) or self._by_username(username)
                if existing is not None:
                    return existing
            raise
        rows = [r for r in created or () if isinstance(r, dict) and r.get("id") is not None]
        if not rows:
            raise FatalAPIError("create answered without a user id", vendor=VENDOR,
                                operation=operation)
        return LearnerRef(lms_user_id=str(rows[0]["id"]), email=employee.email.strip(),
                          login=_text(rows[0].get("username")))

    def _by_username(self, username: str) -> LearnerRef | None:
        users = self._by_field("username", username, "find learner")
        return _learner_ref(users[0]) if len(users) == 1 else None

    # --- catalogue and enrolment ------------------------------------------------------------

    def list_courses(self) -> list[Course]:
        """Every course but the site's front page (format `site`), read once per instance."""
        if self._courses is None:
            answer = self.client.call("core_course_get_courses_by_field", {},
                                      operation="list courses")
            self._courses = [Course(course_id=str(c["id"]), name=_text(c.get("fullname")))
                             for c in _courses_of(answer) if c.get("format") != "site"]
        return list(self._courses)

    def enroll(self, learner: LearnerRef, course_id: str) -> None:
        self._enrol(learner, course_id, None)

    def enroll_until(self, learner: LearnerRef, course_id: str, due: date) -> None:
        """Enroll with the enrolment ending `grace` days after the due date (end of day,
        UTC), when ending enrolments is switched on."""
        if not self.end_enrolments:
            self._enrol(learner, course_id, None)
            return
        end = datetime.combine(due, time(23, 59, 59), UTC) + self.grace
        self._enrol(learner, course_id, int(end.timestamp()))

    def _enrol(self, learner: LearnerRef, course_id: str, timeend: int | None) -> None:
        """*Unconfirmed*: enrolling an enrolled user again updates the enrolment rather than
        failing (enrol_manual's code calls `enrol_user`, which updates); either way a retry
        is harmless, so the call is treated as idempotent."""
        row: dict[str, Any] = {"roleid": self.student_role_id, "userid": learner.lms_user_id,
                               "courseid": course_id}
        if timeend is not None:
            row["timeend"] = timeend
        self.client.call("enrol_manual_enrol_users", {"enrolments": [row]},
                         operation="enroll")

    def unenroll(self, learner: LearnerRef, course_id: str) -> bool:
        """Remove the manual enrolment; False when the learner was not enrolled (one read
        first: Moodle answers `null` either way)."""
        if course_id not in self._enrolled(learner.lms_user_id):
            return False
        self.client.call("enrol_manual_unenrol_users", {"enrolments": [
            {"userid": learner.lms_user_id, "courseid": course_id}]},
            operation="unenroll", write=True)
        return True

    def _users_courses(self, user_id: str) -> list[dict[str, Any]]:
        found = self.client.call("core_enrol_get_users_courses",
                                 {"userid": user_id, "returnusercount": 0},
                                 operation="read learner courses")
        return [c for c in found or () if isinstance(c, dict) and c.get("id") is not None]

    def _enrolled(self, user_id: str) -> set[str]:
        return {str(c["id"]) for c in self._users_courses(user_id)}

    # --- progress, completion time and grade ------------------------------------------------

    def progress(self, learner: LearnerRef, course_id: str) -> Progress:
        """One learner in one course (the reconciler and `identities link` ask this)."""
        uid = learner.lms_user_id
        try:
            status = self._completion_status(uid, course_id)
        except FatalAPIError as exc:
            code = error_code(exc)
            if code in NOT_TRACKED:
                return Progress(course_id=course_id, lms_user_id=uid, status="not_started",
                                enrolled=False)
            if code != NO_CRITERIA:
                raise
            status = None  # no completion criteria: only the progress percentage says more
        if status is not None and status.get("completed") is True:
            return self._passed(uid, course_id, status)
        course = next((c for c in self._users_courses(uid) if str(c["id"]) == course_id), None)
        percent = float(course.get("progress") or 0.0) if course else 0.0
        return Progress(course_id=course_id, lms_user_id=uid, enrolled=course is not None,
                        status="not_started" if percent <= 0 else Outcome.IN_PROGRESS,
                        percent=max(0.0, min(percent, 100.0)))

    def _completion_status(self, uid: str, course_id: str) -> dict[str, Any] | None:
        answer = self.client.call("core_completion_get_course_completion_status",
                                  {"courseid": course_id, "userid": uid},
                                  operation="read completion")
        status = answer.get("completionstatus") if isinstance(answer, dict) else None
        return status if isinstance(status, dict) else None

    def _passed(self, uid: str, course_id: str, status: Mapping[str, Any] | None) -> Progress:
        return Progress(course_id=course_id, lms_user_id=uid, status=Outcome.PASSED,
                        percent=100.0, completed_at=completion_time(status),
                        score=self.final_grade(uid, course_id))

    def final_grade(self, uid: str, course_id: str) -> float | None:
        """The course total as a percentage of its range, or None (no grade, or the token may
        not read the user report). *Unconfirmed*: the course total is the item with
        `itemtype` `course` (Moodle's gradebook convention)."""
        try:
            answer = self.client.call("gradereport_user_get_grade_items",
                                      {"courseid": course_id, "userid": uid},
                                      operation="read grade")
        except FatalAPIError as exc:
            log.warning("moodle grade unreadable course=%s: %s", course_id, error_code(exc))
            return None
        for report in (answer or {}).get("usergrades") or ():
            for item in report.get("gradeitems") or ():
                if item.get("itemtype") == "course":
                    return _percent(item)
        return None

    # --- completions --------------------------------------------------------------------------

    def completions_since(
        self, cursor: str | None
    ) -> tuple[list[CompletionEvent], str | None, bool]:
        """Moodle has no completion feed: say "overflowed", so a poller that does not know
        `PollsLearners` asks every open assignment (nothing is skipped either way)."""
        return [], cursor, True

    def completions_of(self, open_courses: Mapping[str, frozenset[str]],
                       cursor: str | None) -> tuple[list[CompletionEvent], str | None]:
        """Completions among `open_courses` (Moodle user id → course ids with an open
        assignment): one `core_enrol_get_users_courses` per learner, at most
        `learners_per_poll` learners, resuming after the last one read.

        A course missing from that answer (the enrolment ended or was suspended: Moodle lists
        active enrolments only) is asked once with the completion status and then remembered
        in the cursor as gone, so it costs no read per poll."""
        state = _cursor(cursor)
        after = state.get("after")
        gone = {pair for pair in state.get("gone", []) if _open_pair(pair, open_courses)}
        learners = sorted(open_courses, key=_numeric)
        start = [u for u in learners if after is None or _numeric(u) > _numeric(str(after))]
        todo = (start + [u for u in learners if u not in start])[:self.learners_per_poll]
        events: list[CompletionEvent] = []
        for uid in todo:
            courses = {str(c["id"]): c for c in self._users_courses(uid)}
            for course_id in sorted(open_courses[uid]):
                pair = f"{uid}:{course_id}"
                course = courses.get(course_id)
                if course is None:
                    if pair not in gone:
                        event = self._gone_course(uid, course_id)
                        if event is not None:
                            events.append(event)
                        else:
                            gone.add(pair)
                    continue
                gone.discard(pair)
                completed = course.get("completed")
                if completed is None:
                    raise FatalAPIError(
                        f"Moodle gives no completion flag for course {course_id}: the web "
                        "service user needs report/completion:view (or "
                        "moodle/course:viewparticipants) in the course", vendor=VENDOR,
                        operation="read learner courses")
                if completed:
                    events.append(self._event(uid, course_id, course))
        last = todo[-1] if todo and len(todo) < len(learners) else None
        new_cursor = json.dumps({"after": last, "gone": sorted(gone)}, separators=(",", ":"))
        return events, new_cursor

    def _gone_course(self, uid: str, course_id: str) -> CompletionEvent | None:
        try:
            status = self._completion_status(uid, course_id)
        except FatalAPIError as exc:
            if error_code(exc) in NOT_TRACKED | {NO_CRITERIA}:
                return None
            raise
        if status is None or status.get("completed") is not True:
            return None
        return self._event(uid, course_id, None, status)

    def _event(self, uid: str, course_id: str, course: Mapping[str, Any] | None,
               status: Mapping[str, Any] | None = None) -> CompletionEvent:
        """A pass. Moodle's course completion has no "failed": a course whose criteria
        include a passing grade is simply not complete until it is passed."""
        if status is None:
            try:
                status = self._completion_status(uid, course_id)
            except FatalAPIError as exc:
                if error_code(exc) != NO_CRITERIA:
                    raise
        when = completion_time(status)
        # No criterion time (a course marked complete by hand): a stable id all the same,
        # so every poll that sees it dedupes to one event.
        stamp = int(when.timestamp()) if when else 0
        return CompletionEvent(
            source=VENDOR, course_id=course_id, lms_user_id=uid,
            event_id=completion_event_id(uid, course_id, stamp, Outcome.PASSED),
            completed_at=when or datetime.now(UTC), outcome=Outcome.PASSED,
            score=self.final_grade(uid, course_id),
            course_name=_text(course.get("fullname")) if course else None)

    def learner_history(self, learner: LearnerRef) -> list[CompletionEvent]:
        """Every course the learner has completed, with its time and grade (`connector
        backfill`): one read of their courses, then two per completed course. Only courses
        the learner is still actively enrolled in are listed (Moodle's answer)."""
        uid = learner.lms_user_id
        return [self._event(uid, str(course["id"]), course)
                for course in self._users_courses(uid) if course.get("completed") is True]

    # --- checks -------------------------------------------------------------------------------

    def check_online(self, course_ids: Sequence[str]) -> dict[str, Any]:
        """For `connector check --online`: the token works (site info), the functions the
        connector calls are in the token's service, and the mapping's courses exist."""
        report: dict[str, Any] = {"vendor": self.name, "key_ok": False}
        try:
            info = self.client.call("core_webservice_get_site_info", {},
                                    operation="read site info")
            report["key_ok"] = True
            report["site"] = _text((info or {}).get("sitename"))
            offered = {str(f.get("name")) for f in (info or {}).get("functions") or ()
                       if isinstance(f, dict)}
            if offered:
                report["missing_functions"] = [f for f in LMS_FUNCTIONS if f not in offered]
            known = self._existing(course_ids)
        except VendorError as exc:
            report["error"] = str(exc)
            return report
        report["missing_courses"] = [c for c in course_ids if str(c) not in known]
        return report

    def _existing(self, course_ids: Sequence[str]) -> set[str]:
        wanted = [c for c in dict.fromkeys(str(c) for c in course_ids) if c.isdigit()]
        if not wanted:
            return set()
        answer = self.client.call("core_course_get_courses_by_field",
                                  {"field": "ids", "value": ",".join(wanted)},
                                  operation="check courses")
        return {str(c["id"]) for c in _courses_of(answer)}


LMS_FUNCTIONS = (
    "core_user_get_users_by_field", "core_user_create_users",
    "core_course_get_courses_by_field", "enrol_manual_enrol_users",
    "enrol_manual_unenrol_users", "core_enrol_get_users_courses",
    "core_completion_get_course_completion_status", "gradereport_user_get_grade_items",
)


def completion_time(status: Mapping[str, Any] | None) -> datetime | None:
    """The course's completion time: the latest criterion `timecompleted` (Moodle's status
    answer has no course-level time; VENDORS-next.md § Moodle 6)."""
    times = [_when(c.get("timecompleted")) for c in (status or {}).get("completions") or ()
             if isinstance(c, dict)]
    found = [t for t in times if t is not None]
    return max(found) if found else None


def _percent(item: Mapping[str, Any]) -> float | None:
    try:
        raw = float(item["graderaw"])
        low = float(item.get("grademin") or 0.0)
        high = float(item["grademax"])
    except (KeyError, TypeError, ValueError):
        return None
    if high <= low:
        return None
    return round((raw - low) / (high - low) * 100.0, 1)


def _courses_of(answer: Any) -> list[dict[str, Any]]:
    courses = answer.get("courses") if isinstance(answer, dict) else answer
    return [c for c in courses or () if isinstance(c, dict) and c.get("id") is not None]


def _learner_ref(user: Mapping[str, Any]) -> LearnerRef:
    return LearnerRef(lms_user_id=str(user["id"]), email=_text(user.get("email")),
                      login=_text(user.get("username")))


def _numeric(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


def _cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        found = json.loads(cursor)
    except ValueError:
        log.warning("moodle completion cursor unreadable; starting from the first learner")
        return {}
    return found if isinstance(found, dict) else {}


def _open_pair(pair: str, open_courses: Mapping[str, frozenset[str]]) -> bool:
    uid, _, course_id = str(pair).partition(":")
    return course_id in open_courses.get(uid, frozenset())
