"""What the Moodle sandbox holds, and Moodle's rules for it: users, courses with a manual
enrol instance, enrolments with an end time, course completions and grades, competencies in
a framework with a two-value scale, learning plans and the evidence their ratings write.

Each function below answers as the web-service function of the same name does in Moodle's
source (../shared/VENDORS-next.md § Moodle 3 to 7): the same parameters, value types (ids and
times as integers, flags as JSON booleans), `warnings` lists, and errors as `MoodleError`
(errorcode, message), which the app turns into Moodle's HTTP 200 `exception` body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STUDENT_ROLE = 5
SITE_COURSE = 1
# Framework scale: 1 "Not yet competent" (the default), 2 "Competent" (proficient).
SCALE_CONFIGURATION = json.dumps([{"scaleid": "2"}, {"id": 1, "scaledefault": 1, "proficient": 0},
                                  {"id": 2, "scaledefault": 0, "proficient": 1}])
PLAN_DRAFT, PLAN_ACTIVE, PLAN_COMPLETE = 0, 1, 2
USER_FIELDS = ("id", "idnumber", "username", "email")


class MoodleError(Exception):
    """A Moodle exception: answered with HTTP 200 and `{exception, errorcode, message}`."""

    def __init__(self, errorcode: str, message: str, exception: str = "moodle_exception"):
        super().__init__(message)
        self.errorcode = errorcode
        self.message = message
        self.exception = exception


def invalid(message: str) -> MoodleError:
    return MoodleError("invalidparameter", f"Invalid parameter value detected ({message})",
                       "invalid_parameter_exception")


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if value is None:
        raise invalid(f"Missing required key in single structure: {name}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"{name} => Invalid parameter value detected") from None


def _list(value: Any) -> list[Any]:
    """A PHP array as parsed from `x[0]=…&x[1]=…` (a dict keyed "0", "1", …), as a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(str(k).isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    raise invalid("Only arrays accepted.")


@dataclass
class MoodleState:
    now: Callable[[], float] = time.time
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    courses: dict[int, dict[str, Any]] = field(default_factory=dict)
    enrolments: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    completions: dict[tuple[int, int], int] = field(default_factory=dict)
    grades: dict[tuple[int, int], float] = field(default_factory=dict)
    frameworks: dict[int, dict[str, Any]] = field(default_factory=dict)
    competencies: dict[int, dict[str, Any]] = field(default_factory=dict)
    plans: dict[int, dict[str, Any]] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    next_id: int = 10_000

    def __post_init__(self) -> None:
        self.courses[SITE_COURSE] = {"id": SITE_COURSE, "shortname": "site",
                                     "fullname": "Sandbox Moodle", "format": "site",
                                     "criteria": False, "manual": False}
        self.frameworks[1] = {"id": 1, "shortname": "Skills", "idnumber": "skills",
                              "scaleid": 2, "scaleconfiguration": SCALE_CONFIGURATION}

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    # --- seeding (the sandbox's control endpoints) -----------------------------------------

    def add_user(self, user: dict[str, Any]) -> dict[str, Any]:
        uid = int(user.get("id") or self.new_id())
        row = {"id": uid, "username": str(user.get("username") or f"user{uid}").lower(),
               "firstname": user.get("firstname", ""), "lastname": user.get("lastname", ""),
               "email": user.get("email", ""), "idnumber": str(user.get("idnumber") or ""),
               "auth": user.get("auth", "manual"), "deleted": 0}
        self.users[uid] = row
        return row

    def add_course(self, course: dict[str, Any]) -> None:
        cid = int(course["id"])
        self.courses[cid] = {"id": cid, "shortname": course.get("shortname", f"C{cid}"),
                             "fullname": course.get("fullname", f"Course {cid}"),
                             "format": "topics", "criteria": course.get("criteria", True),
                             "manual": course.get("manual", True)}

    def add_competency(self, item: dict[str, Any]) -> None:
        cid = int(item["id"])
        self.competencies[cid] = {"id": cid, "shortname": item.get("shortname", f"C{cid}"),
                                  "idnumber": str(item.get("idnumber") or f"c{cid}"),
                                  "competencyframeworkid": int(item.get("framework", 1)),
                                  "scaleid": None, "scaleconfiguration": None}

    def complete(self, uid: int, cid: int, *, passed: bool, score: float,
                 when: int | None) -> None:
        """A learner finishes: a pass completes the course (criteria: grade and activities);
        a fail only leaves a grade (Moodle course completion has no "failed")."""
        self.grades[(uid, cid)] = float(score)
        if passed:
            self.completions[(uid, cid)] = int(when or self.now())

    # --- helpers ------------------------------------------------------------------------

    def _user(self, uid: int) -> dict[str, Any]:
        user = self.users.get(uid)
        if user is None:
            raise MoodleError("invaliduser", "Invalid user")
        return user

    def _course(self, cid: int) -> dict[str, Any]:
        course = self.courses.get(cid)
        if course is None:
            raise MoodleError("invalidrecord",
                              "Can't find data record in database table course.",
                              "dml_missing_record_exception")
        return course

    def active(self, uid: int, cid: int) -> bool:
        row = self.enrolments.get((uid, cid))
        if row is None or row.get("suspend"):
            return False
        now = self.now()
        return (not row["timestart"] or row["timestart"] <= now) and \
            (not row["timeend"] or now < row["timeend"])

    def _public_user(self, user: dict[str, Any]) -> dict[str, Any]:
        fields = ("id", "username", "firstname", "lastname", "email", "idnumber", "auth")
        row = {k: user[k] for k in fields}
        row["fullname"] = f"{user['firstname']} {user['lastname']}".strip()
        row["profileimageurl"] = "https://moodle.invalid/pix/u/f1.png"
        row["profileimageurlsmall"] = "https://moodle.invalid/pix/u/f2.png"
        return row

    def _course_row(self, course: dict[str, Any]) -> dict[str, Any]:
        return {"id": course["id"], "shortname": course["shortname"],
                "fullname": course["fullname"], "displayname": course["fullname"],
                "format": course["format"], "idnumber": "", "visible": 1,
                "enablecompletion": 1 if course.get("criteria") else 0, "categoryid": 1,
                "startdate": 0, "enddate": 0, "summary": "", "summaryformat": 1}

    # --- users ------------------------------------------------------------------------------

    def core_user_get_users_by_field(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        name = str(p.get("field") or "")
        if name not in USER_FIELDS:
            raise MoodleError("codingerror", "Coding error detected, it must be fixed by a "
                              f"programmer: invalid field parameter {name}", "coding_exception")
        values = [str(v) for v in _list(p.get("values"))]
        if name == "id" and any(not v.isdigit() for v in values):
            raise invalid("The value is invalid")
        found = []
        for user in self.users.values():
            if user["deleted"]:
                continue
            have = str(user[name])
            # Moodle compares emails case-insensitively, the other fields exactly.
            if any((have.lower() == v.lower()) if name == "email" else have == v
                   for v in values):
                found.append(self._public_user(user))
        return found

    def core_user_create_users(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        rows = _list(p.get("users"))
        made = []
        for row in rows:  # one transaction: check all first
            for key in ("username", "firstname", "lastname", "email"):
                if not row.get(key):
                    raise invalid(f"users => Missing required key in single structure: {key}")
            if not row.get("password") and str(row.get("createpassword")) != "1":
                raise invalid("Invalid password: you must provide a password, or set "
                              "createpassword.")
            if any(u["username"] == str(row["username"]) for u in self.users.values()):
                raise invalid(f"Username already exists: {row['username']}")
            if any(u["email"].lower() == str(row["email"]).lower() for u in self.users.values()):
                raise invalid(f"Email address already exists: {row['email']}")
            if row.get("auth") in ("mnet", "webservice", "nosuchplugin"):
                raise invalid(f"Invalid authentication type: {row['auth']}")
        for row in rows:
            made.append(self.add_user({k: row.get(k) for k in (
                "username", "firstname", "lastname", "email", "idnumber", "auth")}))
        return [{"id": u["id"], "username": u["username"]} for u in made]

    # --- courses ----------------------------------------------------------------------------

    def core_course_get_courses_by_field(self, p: dict[str, Any]) -> dict[str, Any]:
        name, value = str(p.get("field") or ""), str(p.get("value") or "")
        if name not in ("", "id", "ids", "shortname", "idnumber", "category"):
            raise invalid("Invalid field name")
        courses = sorted(self.courses.values(), key=lambda c: c["id"])
        if name == "id":
            courses = [c for c in courses if str(c["id"]) == value]
        elif name == "ids":
            wanted = {v.strip() for v in value.split(",")}
            courses = [c for c in courses if str(c["id"]) in wanted]
        elif name == "shortname":
            courses = [c for c in courses if c["shortname"] == value]
        elif name in ("idnumber", "category"):
            courses = []
        return {"courses": [self._course_row(c) for c in courses], "warnings": []}

    def core_course_get_courses(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        ids = {int(i) for i in _list((p.get("options") or {}).get("ids"))}
        return [self._course_row(c) for c in sorted(self.courses.values(), key=lambda c: c["id"])
                if not ids or c["id"] in ids]

    # --- enrolment --------------------------------------------------------------------------

    def enrol_manual_enrol_users(self, p: dict[str, Any]) -> None:
        rows = _list(p.get("enrolments"))
        checked = []
        for row in rows:  # one transaction: every row is checked before any is written
            role, uid, cid = _int(row, "roleid"), _int(row, "userid"), _int(row, "courseid")
            if role != STUDENT_ROLE:
                raise MoodleError("wsusercannotassign", "You don't have the permission to "
                                  f"assign this role ({role}) to this user ({uid}) in this "
                                  f"course({cid}).")
            course = self._course(cid)
            if not course.get("manual"):
                raise MoodleError("wsnoinstance", "Manual enrolment plugin instance doesn't "
                                  f"exist or is disabled for the course (id = {cid})")
            self._user(uid)
            checked.append((uid, cid, _int(row, "timestart", 0), _int(row, "timeend", 0),
                            _int(row, "suspend", 0)))
        for uid, cid, start, end, suspend in checked:
            # Enrolling again updates the existing enrolment (enrol_user's behaviour).
            self.enrolments[(uid, cid)] = {"roleid": STUDENT_ROLE, "timestart": start,
                                           "timeend": end, "suspend": suspend}

    def enrol_manual_unenrol_users(self, p: dict[str, Any]) -> None:
        for row in _list(p.get("enrolments")):
            uid, cid = _int(row, "userid"), _int(row, "courseid")
            if uid not in self.users:
                raise invalid(f"User id not exist: {uid}")
            if not self._course(cid).get("manual"):
                raise MoodleError("wsnoinstance", "Manual enrolment plugin instance doesn't "
                                  f"exist or is disabled for the course (id = {cid})")
            self.enrolments.pop((uid, cid), None)  # roleid is accepted and ignored

    def core_enrol_get_users_courses(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        uid = _int(p, "userid")
        self._user(uid)
        out = []
        for (euid, cid) in sorted(self.enrolments):
            if euid != uid or not self.active(uid, cid):
                continue
            course = self.courses[cid]
            row = self._course_row(course)
            done = (uid, cid) in self.completions
            row.update(completed=done, progress=100.0 if done else (
                50.0 if (uid, cid) in self.grades else 0.0),
                completionhascriteria=bool(course.get("criteria")), lastaccess=0,
                isfavourite=False, hidden=False)
            if str(p.get("returnusercount", "1")) != "0":
                row["enrolledusercount"] = sum(1 for k in self.enrolments if k[1] == cid)
            out.append(row)
        return out

    # --- completion and grades -----------------------------------------------------------

    def core_completion_get_course_completion_status(self, p: dict[str, Any]) -> dict[str, Any]:
        cid, uid = _int(p, "courseid"), _int(p, "userid")
        course = self._course(cid)
        self._user(uid)
        if not self.active(uid, cid):
            raise MoodleError("usernotenroled", "User is not enrolled in this course")
        if not course.get("criteria"):
            raise MoodleError("nocriteriaset", "No completion criteria set for this course")
        when = self.completions.get((uid, cid))
        graded = (uid, cid) in self.grades
        criteria = [
            {"type": 6, "title": "Course grade", "status": "Yes" if graded else "No",
             "complete": graded, "timecompleted": when if graded and when else None,
             "details": {"type": "Course grade", "criteria": "Course grade",
                         "requirement": "60.00 to pass", "status": ""}},
            {"type": 4, "title": "Activity completion", "status": "Yes" if when else "No",
             "complete": when is not None, "timecompleted": (when - 60) if when else None,
             "details": {"type": "Activity completion", "criteria": "Final quiz",
                         "requirement": "Marking yourself complete", "status": ""}},
        ]
        return {"completionstatus": {"completed": when is not None, "aggregation": 1,
                                     "completions": criteria}, "warnings": []}

    def gradereport_user_get_grade_items(self, p: dict[str, Any]) -> dict[str, Any]:
        cid, uid = _int(p, "courseid"), _int(p, "userid", 0)
        self._course(cid)
        grade = self.grades.get((uid, cid))
        items = [{"id": cid * 10, "itemtype": "course", "itemmodule": None,
                  "iteminstance": cid, "itemnumber": 0, "categoryid": None, "outcomeid": None,
                  "scaleid": None, "graderaw": grade, "grademin": 0, "grademax": 100,
                  "gradeformatted": "-" if grade is None else f"{grade:.2f}"}]
        user = self._user(uid)
        return {"usergrades": [{"courseid": cid, "userid": uid,
                                "userfullname": f"{user['firstname']} {user['lastname']}",
                                "maxdepth": 1, "gradeitems": items}], "warnings": []}

    # --- competencies and plans ------------------------------------------------------------

    def _competency(self, cid: int) -> dict[str, Any]:
        found = self.competencies.get(cid)
        if found is None:
            raise MoodleError("invalidrecord", "Can't find data record in database table "
                              "competency.", "dml_missing_record_exception")
        return found

    def _plan(self, pid: int) -> dict[str, Any]:
        found = self.plans.get(pid)
        if found is None:
            raise MoodleError("invalidrecord", "Can't find data record in database table "
                              "competency_plan.", "dml_missing_record_exception")
        return found

    def _plan_row(self, plan: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in plan.items() if k != "competencies"} | {
            "statusname": ["Draft", "Active", "Complete"][plan["status"]],
            "canmanage": True, "isbasedontemplate": False}

    def core_competency_list_competencies(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        filters = _list(p.get("filters"))
        valid = ("id", "shortname", "description", "sortorder", "idnumber", "parentid",
                 "competencyframeworkid")
        rows = list(self.competencies.values())
        for item in filters:
            column, value = str(item.get("column")), str(item.get("value"))
            if column not in valid:
                raise invalid("Filter column was invalid")
            rows = [r for r in rows if str(r.get(column)) == value]
        return [dict(r) for r in rows]

    def core_competency_read_competency(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self._competency(_int(p, "id")))

    def core_competency_read_competency_framework(self, p: dict[str, Any]) -> dict[str, Any]:
        found = self.frameworks.get(_int(p, "id"))
        if found is None:
            raise MoodleError("invalidrecord", "Can't find data record in database table "
                              "competency_framework.", "dml_missing_record_exception")
        return dict(found)

    def core_competency_create_plan(self, p: dict[str, Any]) -> dict[str, Any]:
        plan = p.get("plan") or {}
        if not plan.get("name") or not plan.get("userid"):
            raise invalid("plan => Missing required key in single structure: name/userid")
        self._user(_int(plan, "userid"))
        pid = self.new_id()
        self.plans[pid] = {"id": pid, "name": str(plan["name"]),
                           "description": str(plan.get("description") or ""),
                           "descriptionformat": _int(plan, "descriptionformat", 1),
                           "userid": _int(plan, "userid"), "templateid": None,
                           "origtemplateid": None, "status": _int(plan, "status", PLAN_DRAFT),
                           "duedate": _int(plan, "duedate", 0), "reviewerid": None,
                           "timecreated": int(self.now()), "timemodified": int(self.now()),
                           "competencies": []}
        return self._plan_row(self.plans[pid])

    def core_competency_read_plan(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._plan_row(self._plan(_int(p, "id")))

    def core_competency_list_user_plans(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        uid = _int(p, "userid")
        return [self._plan_row(pl) for pl in self.plans.values() if pl["userid"] == uid]

    def core_competency_update_plan(self, p: dict[str, Any]) -> dict[str, Any]:
        changes = p.get("plan") or {}
        plan = self._plan(_int(changes, "id"))
        if plan["status"] == PLAN_COMPLETE:
            raise MoodleError("nopermissions", "Sorry, but you do not currently have "
                              "permissions to do that (Manage learning plans).",
                              "required_capability_exception")
        for key in ("name", "description"):
            if key in changes:
                plan[key] = str(changes[key])
        plan["timemodified"] = int(self.now())
        return self._plan_row(plan)

    def core_competency_add_competency_to_plan(self, p: dict[str, Any]) -> bool:
        plan = self._plan(_int(p, "planid"))
        cid = _int(p, "competencyid")
        self._competency(cid)
        if plan["status"] == PLAN_COMPLETE:
            raise MoodleError("nopermissions", "Sorry, but you do not currently have "
                              "permissions to do that.", "required_capability_exception")
        if cid not in plan["competencies"]:
            plan["competencies"].append(cid)
        return True

    def core_competency_list_plan_competencies(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        plan = self._plan(_int(p, "id"))
        out = []
        for cid in plan["competencies"]:
            rated = [e for e in self.evidence if e["userid"] == plan["userid"]
                     and e["competencyid"] == cid]
            grade = rated[-1]["grade"] if rated else None
            out.append({"competency": dict(self.competencies[cid]), "usercompetency": {
                "userid": plan["userid"], "competencyid": cid, "status": 0,
                "grade": grade, "proficiency": None if grade is None else grade >= 2}})
        return out

    def core_competency_grade_competency_in_plan(self, p: dict[str, Any]) -> dict[str, Any]:
        plan = self._plan(_int(p, "planid"))
        cid, grade = _int(p, "competencyid"), _int(p, "grade")
        if cid not in plan["competencies"]:
            raise MoodleError("codingerror", "Coding error detected, it must be fixed by a "
                              "programmer: The competency does not belong to this plan.",
                              "coding_exception")
        # No check of the plan's status: api::grade_competency_in_plan has none
        # (moodle/moodle competency/classes/api.php@00e93a99); it checks the capability and
        # that the competency is in the plan.
        if not 1 <= grade <= 2:  # a 1-based index into the scale's two items
            raise invalid("Invalid grade")
        row = {"id": self.new_id(), "usercompetencyid": plan["userid"] * 1000 + cid,
               "userid": plan["userid"], "competencyid": cid, "planid": plan["id"],
               "contextid": plan["userid"] + 100, "action": 3, "actionuserid": 2,
               "descidentifier": "evidence_manualoverrideinplan",
               "desccomponent": "core_competency", "desca": json.dumps(plan["name"]),
               "url": None, "grade": grade,
               "note": _notags(str(p.get("note") or "")), "timecreated": int(self.now())}
        self.evidence.append(row)
        return {k: v for k, v in row.items() if k not in ("userid", "competencyid", "planid")}

    def core_competency_complete_plan(self, p: dict[str, Any]) -> bool:
        plan = self._plan(_int(p, "planid"))
        if plan["status"] == PLAN_COMPLETE:
            raise MoodleError("codingerror", "Coding error detected, it must be fixed by a "
                              "programmer: The plan is already completed.", "coding_exception")
        plan["status"] = PLAN_COMPLETE
        return True

    def tool_lp_data_for_user_competency_summary_in_plan(self, p: dict[str, Any]
                                                         ) -> dict[str, Any]:
        plan = self._plan(_int(p, "planid"))
        cid = _int(p, "competencyid")
        competency = self._competency(cid)
        evidence = [{k: v for k, v in e.items() if k not in ("userid", "competencyid",
                                                            "planid")}
                    for e in reversed(self.evidence)
                    if e["userid"] == plan["userid"] and e["competencyid"] == cid]
        return {"plan": self._plan_row(plan), "usercompetencysummary": {
            "competency": {"competency": dict(competency)}, "evidence": evidence,
            "usercompetency": {"userid": plan["userid"], "competencyid": cid}}}

    def core_webservice_get_site_info(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"sitename": "Sandbox Moodle", "username": "connector", "userid": 2,
                "siteurl": "https://moodle.invalid", "release": "4.1 (sandbox)",
                "version": "2022112800", "functions": [
                    {"name": name, "version": "2022112800"} for name in FUNCTIONS]}

    def snapshot(self) -> dict[str, Any]:
        return {"users": list(self.users.values()),
                "enrollments": [{"userid": u, "courseid": c, **row}
                                for (u, c), row in sorted(self.enrolments.items())],
                "completions": [{"userid": u, "courseid": c, "timecompleted": t}
                                for (u, c), t in sorted(self.completions.items())],
                "goals": [self._plan_row(p) | {"competencies": p["competencies"]}
                          for p in self.plans.values()],
                "evidence": list(self.evidence), "calls": dict(self.calls)}


def _notags(text: str) -> str:
    """PARAM_NOTAGS: tags are stripped."""
    import re

    return re.sub(r"<[^>]*>", "", text)


FUNCTIONS = tuple(name for name in vars(MoodleState)
                  if name.startswith(("core_", "enrol_", "gradereport_", "tool_lp_")))
