"""Moodle as the `GoalTracker`: a development goal is a learning plan for the learner with the
skill's competency in it; evidence is a rating of that competency in the plan with a note.

Why a rating with a note: Moodle core has **no web service that creates user evidence**
(`core_competency_create_user_evidence` does not exist; VENDORS-next.md § Moodle 7), and
Moodle's own course-completion evidence is written only for courses the admin linked to the
competency. `core_competency_grade_competency_in_plan` is the one call that writes an evidence
record (action "override", with our note) on the learner's competency in *that* plan, and its
history keeps every record. So:

- each passed course: a rating with the scale's *default* value (not yet proficient) and a
  note naming the course, date, grade and course link;
- the last course done (the goal closes): a rating with the *proficient* value, then
  `core_competency_complete_plan`, which archives the plan.

A rating is a write Moodle cannot de-duplicate, so it is never sent twice: every note ends
with a tag (`[evidence <course> <day>]`), the executor's ledger asks `evidence_exists` first,
and that reads the competency's evidence back (`tool_lp_data_for_user_competency_summary_in_plan`)
looking for the tag, so a retry after a lost answer finds the rating instead of repeating it.
Failed attempts and other notes go into the plan's description (`core_competency_update_plan`),
tagged the same way.

A `GoalRef.goal_id` here is `"<planid>:<competencyid>"`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from connector.errors import ConfigError, FatalAPIError
from connector.models import Employee, Evidence, GoalKey, GoalRef
from connector.vendors.moodle.client import VENDOR, MoodleClient, error_code

log = logging.getLogger(__name__)

GOAL_MARKER = "connector-goal: "
COURSES_MARKER = "connector-courses: "
PLAN_ACTIVE = 1
PLAN_COMPLETE = 2
Competencies = Callable[[str], str | None]  # skill id → competency id in the mapping file

GOAL_FUNCTIONS = (
    "core_competency_create_plan", "core_competency_list_user_plans",
    "core_competency_read_plan", "core_competency_update_plan",
    "core_competency_add_competency_to_plan", "core_competency_list_plan_competencies",
    "core_competency_grade_competency_in_plan", "core_competency_complete_plan",
    "core_competency_list_competencies", "core_competency_read_competency",
    "core_competency_read_competency_framework",
    "tool_lp_data_for_user_competency_summary_in_plan",
)


def goal_marker(key: GoalKey) -> str:
    return f"{GOAL_MARKER}{key}"


def evidence_tag(evidence: Evidence) -> str:
    return f"[evidence {evidence.course_id} {evidence.completed_at.date().isoformat()}]"


def closing_tag(goal: GoalRef) -> str:
    return f"[goal done {goal.goal_id}]"


def note_tag(text: str) -> str:
    return f"[note {hashlib.sha256(text.encode()).hexdigest()[:12]}]"


def split_ref(goal: GoalRef, operation: str) -> tuple[str, str]:
    plan_id, sep, competency_id = goal.goal_id.partition(":")
    if not sep or not plan_id.isdigit() or not competency_id.isdigit():
        raise FatalAPIError(f"not a Moodle goal reference: {goal.goal_id!r}", vendor=VENDOR,
                            operation=operation)
    return plan_id, competency_id


class MoodleGoals:
    """`GoalTracker` on learning plans. `competencies` answers a skill's competency id from
    the admin's mapping file; without one, the competency in `framework` whose `idnumber`
    is the skill id."""

    name = VENDOR

    def __init__(self, client: MoodleClient, *, competencies: Competencies,
                 skills: Callable[[], Sequence[str]] = list, framework: int | None = None,
                 proficient_grade: int | None = None, close_goals: bool = True) -> None:
        self.client = client
        self.competencies = competencies
        self.skills = skills
        self.framework = framework
        self.proficient_grade = proficient_grade
        self.closes_goals = close_goals
        self._by_skill: dict[str, str | None] = {}
        self._grades: dict[str, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"MoodleGoals(base_url={self.client.base_url!r})"

    # -- competencies --

    def competency_for(self, skill_id: str) -> str | None:
        """The skill's competency id: the mapping's, else the framework's by idnumber."""
        if skill_id in self._by_skill:
            return self._by_skill[skill_id]
        found = self.competencies(skill_id)
        if found is None and self.framework is not None:
            rows = self.client.call("core_competency_list_competencies", {"filters": [
                {"column": "competencyframeworkid", "value": self.framework},
                {"column": "idnumber", "value": skill_id}]}, operation="find competency")
            ids = [str(r["id"]) for r in rows or () if isinstance(r, dict) and "id" in r]
            if len(ids) > 1:
                raise FatalAPIError(f"{len(ids)} competencies in framework {self.framework} "
                                    f"have idnumber {skill_id!r}", vendor=VENDOR,
                                    operation="find competency")
            found = ids[0] if ids else None
        self._by_skill[skill_id] = found
        return found

    def _grades_of(self, competency_id: str) -> tuple[int, int]:
        """(default value, proficient value) of the competency's scale: its own scale
        configuration, else its framework's (a competency's scale fields are nullable)."""
        if competency_id in self._grades:
            return self._grades[competency_id]
        competency = self.client.call("core_competency_read_competency",
                                      {"id": competency_id}, operation="read competency")
        config = (competency or {}).get("scaleconfiguration")
        if not config:
            framework = self.client.call(
                "core_competency_read_competency_framework",
                {"id": (competency or {}).get("competencyframeworkid")},
                operation="read competency framework")
            config = (framework or {}).get("scaleconfiguration")
        default, proficient = scale_values(config)
        if self.proficient_grade is not None:
            proficient = self.proficient_grade
        if default is None or proficient is None:
            raise ConfigError(f"Moodle competency {competency_id} has no readable scale "
                              "configuration; set CONNECTOR_MOODLE_PROFICIENT_GRADE")
        self._grades[competency_id] = (default, proficient)
        return default, proficient

    # -- finding and opening --

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        """Our plan for `key`, by the marker line in its description (people may rename it)."""
        plans = self.client.call("core_competency_list_user_plans",
                                 {"userid": employee.employee_id}, operation="find goal")
        marker = goal_marker(key)
        for plan in plans or ():
            lines = [line.strip() for line in str(plan.get("description") or "").splitlines()]
            if marker in lines:
                return self._ref(plan, lines, key)
        return None

    def _ref(self, plan: Mapping[str, Any], lines: list[str], key: GoalKey) -> GoalRef:
        courses: list[str] = []
        for line in lines:
            if line.startswith(COURSES_MARKER):
                try:
                    courses = [str(c) for c in json.loads(line[len(COURSES_MARKER):])]
                except ValueError:
                    log.warning("moodle plan %s: unreadable course marker", plan.get("id"))
        competency = self.competency_for(key.skill_id)
        if competency is None:
            competency = self._plan_competency(str(plan["id"]))
        else:
            self._link_competency(str(plan["id"]), competency)  # after a crash mid-open
        return GoalRef(tracker=self.name, goal_id=f"{plan['id']}:{competency}",
                       milestone_ids={c: c for c in courses})

    def _plan_competency(self, plan_id: str) -> str:
        rows = self.client.call("core_competency_list_plan_competencies", {"id": plan_id},
                                operation="read goal")
        ids = [str(r["competency"]["id"]) for r in rows or ()
               if isinstance(r, dict) and isinstance(r.get("competency"), dict)]
        if len(ids) != 1:
            raise FatalAPIError(f"plan {plan_id} has {len(ids)} competencies, not one",
                                vendor=VENDOR, operation="read goal")
        return ids[0]

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        """An active plan due on the due date, then the skill's competency added to it. A
        crash between the two is repaired by `find_goal`, which adds the competency to the
        plan it finds when it is missing."""
        competency = self.competency_for(key.skill_id)
        if competency is None:
            raise FatalAPIError(
                f"skill {key.skill_id!r} has no Moodle competency: give it `competency = "
                "<id>` in the mapping file, or set CONNECTOR_MOODLE_COMPETENCY_FRAMEWORK to "
                "a framework whose competency idnumbers are the skill ids", vendor=VENDOR,
                operation="create goal")
        titles = [name.strip() or f"Course {cid}" for cid, name in courses]
        description = "\n".join([
            "Development goal opened from a performance review skill gap.",
            *(["Courses:"] + [f"- {t}" for t in titles] if titles else []),
            "", goal_marker(key), COURSES_MARKER + json.dumps([c for c, _ in courses]),
        ])
        due = int(datetime.combine(due_date, time(23, 59, 59), UTC).timestamp())
        plan = self.client.call("core_competency_create_plan", {"plan": {
            "name": title[:100], "description": description, "descriptionformat": 2,
            "userid": employee.employee_id, "status": PLAN_ACTIVE, "duedate": due}},
            operation="create goal", write=True)
        if not isinstance(plan, dict) or plan.get("id") is None:
            raise FatalAPIError("create answered without a plan id", vendor=VENDOR,
                                operation="create goal")
        ref = GoalRef(tracker=self.name, goal_id=f"{plan['id']}:{competency}",
                      milestone_ids={c: c for c, _ in courses})
        # A new plan not made from a template has no competencies: add, no read first.
        self.client.call("core_competency_add_competency_to_plan",
                         {"planid": plan["id"], "competencyid": competency},
                         operation="link competency", write=True)
        log.info("moodle plan opened goal=%s key=%s", ref.goal_id, key)
        return ref

    def _link_competency(self, plan_id: str, competency: str) -> None:
        rows = self.client.call("core_competency_list_plan_competencies", {"id": plan_id},
                                operation="read goal")
        if any(isinstance(r, dict) and str((r.get("competency") or {}).get("id")) == competency
               for r in rows or ()):
            return
        self.client.call("core_competency_add_competency_to_plan",
                         {"planid": plan_id, "competencyid": competency},
                         operation="link competency", write=True)

    # -- evidence and notes --

    def _rated_with(self, goal: GoalRef, tag: str) -> bool:
        plan_id, competency = split_ref(goal, "read evidence")
        summary = self.client.call("tool_lp_data_for_user_competency_summary_in_plan",
                                   {"competencyid": competency, "planid": plan_id},
                                   operation="read evidence")
        return any(tag in note for note in _notes(summary))

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool:
        return self._rated_with(goal, evidence_tag(evidence))

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        """A rating in the plan (the scale's default value) whose note is the evidence."""
        plan_id, competency = split_ref(goal, "add evidence")
        default, _ = self._grades_of(competency)
        link = f"{self.client.base_url}/course/view.php?id={evidence.course_id}"
        note = f"{evidence.text()}; {link} {evidence_tag(evidence)}"
        self._rate(plan_id, competency, default, note, "add evidence")

    def _rate(self, plan_id: str, competency: str, grade: int, note: str,
              operation: str) -> None:
        self.client.call("core_competency_grade_competency_in_plan", {
            "planid": plan_id, "competencyid": competency, "grade": grade,
            "note": _plain(note)}, operation=operation, write=True)

    def add_note(self, goal: GoalRef, text: str) -> None:
        """Append the note to the plan's description once (tagged, read back first). A
        completed plan cannot be edited in Moodle: the note is logged and left out."""
        plan_id, _ = split_ref(goal, "add note")
        tag = note_tag(text)
        plan = self.client.call("core_competency_read_plan", {"id": plan_id},
                                operation="read goal") or {}
        description = str(plan.get("description") or "")
        if tag in description:
            return
        if plan.get("status") == PLAN_COMPLETE:
            log.warning("moodle plan %s is complete; note not added: %s", plan_id, text[:80])
            return
        self.client.call("core_competency_update_plan", {"plan": {
            "id": plan_id, "description": f"{description}\n\n{text} {tag}".strip()}},
            operation="add note", write=True)

    # -- progress and closing --

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        """Nothing to move: a Moodle plan has no milestones or percentage; the course's
        rating note (add_evidence) is its record."""
        log.debug("moodle plan %s: course %s done (%.0f %%)", goal.goal_id, course_id, percent)

    def close_goal(self, goal: GoalRef) -> None:
        """The proficient rating (once: tagged and read back), then the plan completed
        (already complete is success). With closing off, the plan stays active."""
        plan_id, competency = split_ref(goal, "close goal")
        tag = closing_tag(goal)
        if not self._rated_with(goal, tag):
            _, proficient = self._grades_of(competency)
            self._rate(plan_id, competency, proficient,
                       f"Every linked course completed {tag}", "rate competency")
        if not self.closes_goals:
            return
        try:
            self.client.call("core_competency_complete_plan", {"planid": plan_id},
                             operation="close goal", write=True)
        except FatalAPIError as exc:
            plan = self.client.call("core_competency_read_plan", {"id": plan_id},
                                    operation="read goal") or {}
            if plan.get("status") != PLAN_COMPLETE:
                raise
            log.info("moodle plan %s was already complete (%s)", plan_id, error_code(exc))

    # -- checks --

    def check_online(self, course_ids: Sequence[str]) -> dict[str, Any]:
        """For `connector check --online`: every skill a rule opens goals for has a Moodle
        competency that exists (`missing_competencies`); courses are the LMS's to check."""
        report: dict[str, Any] = {"vendor": self.name, "key_ok": True}
        missing = []
        for skill in self.skills():
            competency = self.competency_for(skill)
            if competency is None:
                missing.append(f"{skill} (no competency)")
                continue
            try:
                self.client.call("core_competency_read_competency", {"id": competency},
                                 operation="check competency")
            except FatalAPIError as exc:
                if error_code(exc) in ("invalidrecord", "invalidrecordunknown",
                                       "invalidparameter"):
                    missing.append(f"{skill} (competency {competency} does not exist)")
                    continue
                report.update(key_ok=False, error=str(exc))
                return report
        report["missing_competencies"] = missing
        return report


def scale_values(config: Any) -> tuple[int | None, int | None]:
    """(default, first proficient) scale values from a `scaleconfiguration` JSON array:
    element 0 is `{"scaleid": N}`, the rest `{"id", "scaledefault", "proficient"}` with
    1-based ids (VENDORS-next.md § Moodle 7, "Scales and proficiency")."""
    try:
        items = json.loads(config) if isinstance(config, str) else config
    except ValueError:
        return None, None
    rows = [i for i in items or () if isinstance(i, dict) and "id" in i]
    default = next((int(i["id"]) for i in rows if int(i.get("scaledefault") or 0)), None)
    proficient = sorted(int(i["id"]) for i in rows if int(i.get("proficient") or 0))
    return default, proficient[0] if proficient else None


def _notes(answer: Any) -> list[str]:
    """Every evidence `note` in a summary answer, wherever it nests (*unconfirmed*: the list
    is `usercompetencysummary.evidence[]`; reading every `note` works either way)."""
    found: list[str] = []
    stack = [answer]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            note = item.get("note")
            if isinstance(note, str):
                found.append(note)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _plain(text: str) -> str:
    """`note` is PARAM_NOTAGS: Moodle strips tags, so send none (and keep the tag's brackets)."""
    return text.replace("<", "(").replace(">", ")")
