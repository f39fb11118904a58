"""Moodle REST contract for the goal-tracker side: learning plans, the skill's competency,
evidence as ratings with a note, completing the plan. Each test names its source
(VENDORS-next.md § Moodle 7, citing competency/classes/external.php and api.php)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from connector.errors import ConfigError, FatalAPIError
from connector.models import Employee, Evidence, GoalKey, GoalRef, Outcome
from connector.ports import ChecksOnline, GoalTracker
from connector.vendors.moodle.client import MoodleClient
from connector.vendors.moodle.goals import (
    MoodleGoals,
    closing_tag,
    evidence_tag,
    goal_marker,
    scale_values,
)

ROOT = "https://learn.acme.test"
URL = f"{ROOT}/webservice/rest/server.php"
TOKEN = "moodle-TOKEN-0123456789abcdef"
KEY = GoalKey(employee_id="E1", skill_id="negotiation", cycle="2026-H1")
OWNER = Employee(employee_id="7", email="ann@example.com")  # as the tracker knows her
GOAL = GoalRef(tracker="moodle", goal_id="31:4", milestone_ids={"12": "12"})
SCALE = json.dumps([{"scaleid": "2"}, {"id": 1, "scaledefault": 1, "proficient": 0},
                    {"id": 2, "scaledefault": 0, "proficient": 1},
                    {"id": 3, "scaledefault": 0, "proficient": 1}])
EVIDENCE = Evidence(goal=KEY, course_id="12", course_name="Negotiation", lms_name="Moodle",
                    completed_at=datetime(2026, 5, 3, 10, tzinfo=UTC), outcome=Outcome.PASSED,
                    score=88)


class FakeMoodle:
    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.calls: list[dict[str, str]] = []

    def on(self, function: str, answer: Any) -> None:
        self.answers[function] = answer

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        form = dict(parse_qsl(body, keep_blank_values=True))
        self.calls.append(form)
        answer = self.answers[form["wsfunction"]]
        return 200, {"Content-Type": "application/json"}, json.dumps(
            answer(form) if callable(answer) else answer)

    def sent(self, function: str) -> list[dict[str, str]]:
        return [c for c in self.calls if c["wsfunction"] == function]


@pytest.fixture
def moodle() -> Iterator[FakeMoodle]:
    fake = FakeMoodle()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, URL, callback=fake)
        yield fake


def goals(mapping: dict[str, str] | None = None, **kw: Any) -> MoodleGoals:
    client = MoodleClient(ROOT, TOKEN, sleep=lambda _: None, jitter=lambda: 0.0)
    known = {"negotiation": "4"} if mapping is None else mapping
    return MoodleGoals(client, competencies=known.get, skills=lambda: list(known), **kw)


def exception(code: str, message: str = "x") -> dict[str, str]:
    return {"exception": "moodle_exception", "errorcode": code, "message": message}


def test_is_a_goal_tracker_with_an_online_check() -> None:
    assert isinstance(goals(), GoalTracker) and isinstance(goals(), ChecksOnline)


def test_open_goal_creates_an_active_plan_and_adds_the_competency(moodle: FakeMoodle) -> None:
    """Source: § Moodle 7 core_competency_create_plan (plan{name, description, userid,
    status 1 = active, duedate int}; returns the plan) and add_competency_to_plan
    (planid, competencyid → bool); the plan lives in the learner's user context."""
    moodle.on("core_competency_create_plan", {"id": 31, "name": "Raise", "userid": 7,
                                              "status": 1})
    moodle.on("core_competency_add_competency_to_plan", True)
    ref = goals().open_goal(OWNER, KEY, "Raise negotiation", date(2027, 1, 30),
                            [("12", "Negotiation"), ("13", "Closing")])
    assert ref.goal_id == "31:4" and ref.milestone_ids == {"12": "12", "13": "13"}
    plan = moodle.sent("core_competency_create_plan")[0]
    assert plan["plan[userid]"] == "7" and plan["plan[status]"] == "1"
    assert plan["plan[name]"] == "Raise negotiation"
    assert int(plan["plan[duedate]"]) == int(datetime(2027, 1, 30, 23, 59, 59,
                                                      tzinfo=UTC).timestamp())
    assert goal_marker(KEY) in plan["plan[description]"]
    added = moodle.sent("core_competency_add_competency_to_plan")[0]
    assert (added["planid"], added["competencyid"]) == ("31", "4")


def test_a_skill_without_a_competency_is_refused_before_any_write(moodle: FakeMoodle) -> None:
    with pytest.raises(FatalAPIError, match="competency = <id>"):
        goals({}).open_goal(OWNER, KEY, "t", date(2027, 1, 30), [("12", "N")])
    assert moodle.calls == []


def test_the_framework_finds_a_competency_by_idnumber(moodle: FakeMoodle) -> None:
    """Source: core_competency_list_competencies (filters[]{column, value}, exact match;
    valid columns include idnumber and competencyframeworkid), competency/classes/external.php
    in the code index (index id 245987568)."""
    moodle.on("core_competency_list_competencies", [{"id": 9, "idnumber": "negotiation"}])
    tracker = goals({}, framework=3)
    assert tracker.competency_for("negotiation") == "9"
    form = moodle.sent("core_competency_list_competencies")[0]
    assert form["filters[0][column]"] == "competencyframeworkid"
    assert form["filters[0][value]"] == "3"
    assert (form["filters[1][column]"], form["filters[1][value]"]) == ("idnumber",
                                                                       "negotiation")
    tracker.competency_for("negotiation")
    assert len(moodle.calls) == 1


def test_find_goal_reads_the_learners_plans_for_the_marker(moodle: FakeMoodle) -> None:
    """Source: § Moodle 7 core_competency_list_user_plans (userid → list of plans)."""
    moodle.on("core_competency_list_user_plans", [
        {"id": 30, "description": "someone else's"},
        {"id": 31, "description": f"x\n{goal_marker(KEY)}\nconnector-courses: [\"12\"]"}])
    moodle.on("core_competency_list_plan_competencies", [{"competency": {"id": 4}}])
    found = goals().find_goal(OWNER, KEY, "t")
    assert found == GoalRef(tracker="moodle", goal_id="31:4", milestone_ids={"12": "12"})
    assert moodle.sent("core_competency_list_user_plans")[0]["userid"] == "7"
    assert moodle.sent("core_competency_add_competency_to_plan") == []
    # A crash between creating the plan and adding the competency: found, then repaired.
    moodle.on("core_competency_list_plan_competencies", [])
    moodle.on("core_competency_add_competency_to_plan", True)
    assert goals().find_goal(OWNER, KEY, "t") == found
    (added,) = moodle.sent("core_competency_add_competency_to_plan")
    assert (added["planid"], added["competencyid"]) == ("31", "4")
    moodle.on("core_competency_list_user_plans", [])
    assert goals().find_goal(OWNER, KEY, "t") is None


def test_scale_values_read_default_and_first_proficient() -> None:
    """Source: § Moodle 7 "Scales and proficiency" (element 0 is {scaleid}; the rest
    {id 1-based, scaledefault, proficient})."""
    assert scale_values(SCALE) == (1, 2)
    assert scale_values(None) == (None, None)


def test_evidence_is_a_rating_in_the_plan_with_the_scale_default_and_a_note(
        moodle: FakeMoodle) -> None:
    """Source: § Moodle 7 core_competency_grade_competency_in_plan (planid, competencyid,
    grade int as a 1-based scale index, note PARAM_NOTAGS; writes an override evidence
    record) and read_competency / read_competency_framework (a competency's null scale
    inherits its framework's)."""
    moodle.on("core_competency_read_competency", {"id": 4, "competencyframeworkid": 2,
                                                  "scaleconfiguration": None})
    moodle.on("core_competency_read_competency_framework", {"id": 2,
                                                            "scaleconfiguration": SCALE})
    moodle.on("core_competency_grade_competency_in_plan", {"id": 501, "grade": 1})
    goals().add_evidence(GOAL, EVIDENCE)
    (rating,) = moodle.sent("core_competency_grade_competency_in_plan")
    assert (rating["planid"], rating["competencyid"], rating["grade"]) == ("31", "4", "1")
    assert "Completed Negotiation in Moodle on 2026-05-03; score 88" in rating["note"]
    assert f"{ROOT}/course/view.php?id=12" in rating["note"]
    assert rating["note"].endswith(evidence_tag(EVIDENCE))
    assert "<" not in rating["note"]


def test_evidence_exists_reads_the_ratings_back(moodle: FakeMoodle) -> None:
    """Source: tool_lp_data_for_user_competency_summary_in_plan (competencyid, planid →
    the user competency summary with its evidence list; admin/tool/lp/classes/external.php,
    index id 34824327; the list's exact nesting is *unconfirmed*, any `note` counts)."""
    moodle.on("tool_lp_data_for_user_competency_summary_in_plan", {
        "usercompetencysummary": {"evidence": [{"id": 1, "note": "other"}]}})
    tracker = goals()
    assert tracker.evidence_exists(GOAL, EVIDENCE) is False
    moodle.on("tool_lp_data_for_user_competency_summary_in_plan", {
        "usercompetencysummary": {"evidence": [{"id": 1, "note": f"… {evidence_tag(EVIDENCE)}"}]}})
    assert tracker.evidence_exists(GOAL, EVIDENCE) is True
    form = moodle.sent("tool_lp_data_for_user_competency_summary_in_plan")[0]
    assert (form["competencyid"], form["planid"]) == ("4", "31")


def test_close_rates_proficient_once_then_completes_the_plan(moodle: FakeMoodle) -> None:
    """Source: § Moodle 7 complete_plan (planid → bool; throws when already complete) and
    the proficient value from the scale configuration."""
    moodle.on("tool_lp_data_for_user_competency_summary_in_plan", {"evidence": []})
    moodle.on("core_competency_read_competency", {"id": 4, "scaleconfiguration": SCALE})
    moodle.on("core_competency_grade_competency_in_plan", {"id": 502, "grade": 2})
    moodle.on("core_competency_complete_plan", True)
    goals().close_goal(GOAL)
    (rating,) = moodle.sent("core_competency_grade_competency_in_plan")
    assert rating["grade"] == "2" and closing_tag(GOAL) in rating["note"]
    assert moodle.sent("core_competency_complete_plan")[0]["planid"] == "31"
    # A retry after a lost answer: the rating is found, not repeated; complete twice is fine.
    moodle.on("tool_lp_data_for_user_competency_summary_in_plan", {"evidence": [
        {"note": rating["note"]}]})
    moodle.on("core_competency_complete_plan",
              exception("codingerror", "The plan is already completed."))
    moodle.on("core_competency_read_plan", {"id": 31, "status": 2})
    goals().close_goal(GOAL)
    assert len(moodle.sent("core_competency_grade_competency_in_plan")) == 1


def test_a_configured_proficient_grade_wins(moodle: FakeMoodle) -> None:
    moodle.on("tool_lp_data_for_user_competency_summary_in_plan", {"evidence": []})
    moodle.on("core_competency_read_competency", {"id": 4, "scaleconfiguration": SCALE})
    moodle.on("core_competency_grade_competency_in_plan", {"id": 1})
    goals(proficient_grade=3, close_goals=False).close_goal(GOAL)
    assert moodle.sent("core_competency_grade_competency_in_plan")[0]["grade"] == "3"
    assert moodle.sent("core_competency_complete_plan") == []


def test_an_unreadable_scale_names_the_setting(moodle: FakeMoodle) -> None:
    moodle.on("core_competency_read_competency", {"id": 4, "competencyframeworkid": 2})
    moodle.on("core_competency_read_competency_framework", {"id": 2})
    with pytest.raises(ConfigError, match="CONNECTOR_MOODLE_PROFICIENT_GRADE"):
        goals().add_evidence(GOAL, EVIDENCE)


def test_notes_go_into_the_plan_description_once(moodle: FakeMoodle) -> None:
    """Source: core_competency_update_plan (plan{id, …} from the plan's update structure;
    competency/classes/external.php) and read_plan (id → plan with description, status)."""
    descriptions = {"text": "opened"}
    moodle.on("core_competency_read_plan", lambda form: {
        "id": 31, "status": 1, "description": descriptions["text"]})

    def update(form: dict[str, str]) -> dict[str, Any]:
        descriptions["text"] = form["plan[description]"]
        return {"id": 31}

    moodle.on("core_competency_update_plan", update)
    tracker = goals()
    tracker.add_note(GOAL, "Attempted Negotiation: not passed")
    tracker.add_note(GOAL, "Attempted Negotiation: not passed")
    assert len(moodle.sent("core_competency_update_plan")) == 1
    assert descriptions["text"].startswith("opened\n\nAttempted Negotiation: not passed [note ")


def test_check_online_names_skills_without_a_competency(moodle: FakeMoodle) -> None:
    """Source: core_competency_read_competency (id → competency; a missing record is
    Moodle's invalidrecord)."""
    moodle.on("core_competency_read_competency", lambda form: {"id": 4} if form["id"] == "4"
              else exception("invalidrecord", "Can't find data record"))
    report = goals({"negotiation": "4", "communication": "99", "sql": None}  # type: ignore[dict-item]
                   ).check_online([])
    assert report["key_ok"]
    assert report["missing_competencies"] == ["communication (competency 99 does not exist)",
                                              "sql (no competency)"]


def test_a_bad_goal_reference_is_refused() -> None:
    with pytest.raises(FatalAPIError, match="not a Moodle goal reference"):
        goals().add_note(GoalRef(tracker="moodle", goal_id="31"), "x")


def test_moodle_goals_with_another_lms_are_refused_at_start_up() -> None:
    """The plan owner is the learner account only Moodle as the LMS links (id_spaces)."""
    from connector.settings import Settings
    from connector.vendors.moodle import Moodle
    from connector.vendors.registry import Role, VendorEnv

    def env(**values: Any) -> VendorEnv:
        settings = Settings(goal_tracker="moodle", moodle_base_url=ROOT, moodle_token=TOKEN,
                            **values)
        return VendorEnv(settings=settings, http={}, secrets=None,  # type: ignore[arg-type]
                         configure_budget=lambda *_: None)

    with pytest.raises(ConfigError, match="CONNECTOR_LMS=moodle"):
        Moodle(env(lms="talentlms")).adapter(Role.GOALS)
    assert isinstance(Moodle(env(lms="moodle")).adapter(Role.GOALS), MoodleGoals)
    assert isinstance(Moodle(env(lms="talentlms", identity_match_by="id")).adapter(Role.GOALS),
                      MoodleGoals)
