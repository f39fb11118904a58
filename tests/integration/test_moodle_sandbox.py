"""Moodle as LMS and goal tracker, the real product against the Moodle simulator, on both
engines: one account is one id (the learner link is the plan owner's id), completions are
read once per open learner per poll, evidence is rated once however often the loop runs, and
every plan is completed when its courses are."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from connector.demo.sandboxes import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.pollers import open_courses, poll_all, poll_completions
from connector.runtime import build_runtime
from connector.store import AssignmentState, GoalState
from connector.vendors.registry import Role
from connector.worker import Worker

CAST = {Role.LMS: "moodle", Role.GOALS: "moodle", Role.REVIEWS: "orangehrm"}


@pytest.fixture
def sb() -> Iterator[Sandboxes]:
    running = start_sandboxes(CAST)
    try:
        yield running
    finally:
        running.stop()


def test_the_whole_loop_on_moodle(sb: Sandboxes, database_url: str) -> None:
    seed_organisation(sb, employees=6, missing_learners=1)
    rt = build_runtime(sandbox_settings(sb, database_url, max_assignment_share=1.0))
    try:
        report = poll_all(rt)
        assert report.errors == [] and report.reviews == 6
        stats = Worker(rt.ctx).drain()
        assert stats.dead == 0, stats.errors
        store, moodle = rt.store, sb.moodle
        state = moodle.state()
        goals = [g for i in store.all_identities() for g in store.goals_for(i.employee_id)]
        assert goals and len(state["goals"]) == len(goals)
        # The plan's owner is the learner the LMS side matched: one account, one id.
        learners = {i.employee_id: i.lms_user_id for i in store.all_identities()}
        plan_owner = {p["id"]: str(p["userid"]) for p in state["goals"]}
        for goal in goals:
            assert goal.goal_id is not None
            plan_id = int(goal.goal_id.split(":")[0])
            assert plan_owner[plan_id] == learners[goal.employee_id]
            linked = store.external_id(goal.employee_id, "moodle")
            assert linked is not None and linked.external_id == learners[goal.employee_id]
        assert all(p["status"] == 1 and len(p["competencies"]) == 1 for p in state["goals"])
        enrolled = store.assignments_for(state=AssignmentState.ENROLLED)
        assert len(state["enrollments"]) == len(enrolled)
        assert all(e["roleid"] == 5 and e["timeend"] > 0 for e in state["enrollments"])

        for row in enrolled:
            sim_user = learners[row.employee_id]
            assert sim_user is not None
            moodle.complete(sim_user, row.course_id, passed=True, score=80)
        before = dict(moodle.state()["calls"])
        open_learners = len(open_courses(store))
        new, _ = poll_completions(store, rt.ctx.lms)
        assert new == len(enrolled)
        calls = moodle.state()["calls"]

        def spent(fn: str) -> int:
            return int(calls.get(fn, 0)) - int(before.get(fn, 0))

        assert spent("core_enrol_get_users_courses") == open_learners  # one read per learner
        assert spent("core_completion_get_course_completion_status") == len(enrolled)
        stats = Worker(rt.ctx).drain()
        assert stats.dead == 0, stats.errors
        assert all(g.state is GoalState.CLOSED for eid in learners
                   for g in store.goals_for(eid))
        state = moodle.state()
        assert all(p["status"] == 2 for p in state["goals"])
        ratings = len(state["evidence"])
        assert ratings == len(enrolled) + len(goals)  # one per course, one proficient each
        assert sum(1 for e in state["evidence"] if e["grade"] == 2) \
            == len(goals)

        # The loop again: nothing open is read, nothing is rated twice.
        assert open_courses(store) == {}
        poll_completions(store, rt.ctx.lms)
        Worker(rt.ctx).drain()
        assert len(moodle.state()["evidence"]) == ratings
    finally:
        rt.close()


def test_a_rating_whose_answer_was_lost_is_not_given_twice(sb: Sandboxes,
                                                           sqlite_url: str) -> None:
    """Moodle carries out the rating, the answer never arrives: the retry reads the
    competency's evidence back, finds the tagged note and does not rate again. (SQLite only:
    the store's part is the same as in the whole loop above, run on both engines.)"""
    seed_organisation(sb, employees=4, missing_learners=0)
    rt = build_runtime(sandbox_settings(sb, sqlite_url, max_assignment_share=1.0,
                                        http_read_timeout=0.2, job_max_attempts=8))
    try:
        poll_all(rt, confirm=True)
        Worker(rt.ctx).drain()
        store, moodle = rt.store, sb.moodle
        learners = {i.employee_id: i.lms_user_id for i in store.all_identities()}
        enrolled = store.assignments_for(state=AssignmentState.ENROLLED)
        assert enrolled
        for row in enrolled:
            moodle.complete(str(learners[row.employee_id]), row.course_id, passed=True,
                            score=75)
        moodle.post("/_sandbox/switches", {"lose": {
            "core_competency_grade_competency_in_plan": 2}})
        poll_completions(store, rt.ctx.lms)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            Worker(rt.ctx).drain()
            if all(g.state is GoalState.CLOSED for eid in learners
                   for g in store.goals_for(eid)):
                break
            time.sleep(0.3)
        goals = [g for eid in learners for g in store.goals_for(eid)]
        assert goals and all(g.state is GoalState.CLOSED for g in goals)
        assert not store.jobs.dead_letters()
        state = moodle.state()
        assert len(state["evidence"]) == len(enrolled) + len(goals)
        assert state["calls"]["answers lost"] == 2  # two ratings were done but unanswered
        rated = [(e["planid"], e["note"]) for e in state["evidence"]]
        assert len(rated) == len(set(rated))  # and none was given twice
    finally:
        rt.close()
