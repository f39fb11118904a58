"""Moodle as LMS and goal tracker, the real product against the Moodle simulator, on both
engines: one account is one id (the learner link is the plan owner's id), completions are
read once per open learner per poll, evidence is rated once however often the loop runs, and
every plan is completed when its courses are."""

from __future__ import annotations

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
    seed_organisation(sb, employees=9, missing_learners=1)
    rt = build_runtime(sandbox_settings(sb, database_url, max_assignment_share=1.0))
    try:
        report = poll_all(rt)
        assert report.errors == [] and report.reviews == 9
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
