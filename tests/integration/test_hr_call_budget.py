"""The HR vendors' API budget, counted by the simulators while the real product runs a review
cycle (`sync --once`: directory, review poll with its safety stop and confirm, worker,
completion poll, evidence): OrangeHRM calls per review read, BambooHR calls per goal opened,
per piece of evidence, per failure note, per progress change, and no directory read per
assignment. The counts are deterministic, so they are held to the targets exactly."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest

from connector.demo.org import make_org
from connector.demo.run import complete_some_courses
from connector.demo.sandboxes import Sandboxes, sandbox_settings, start_sandboxes
from connector.runtime import Runtime, build_runtime
from connector.sandbox.kit import DemoOrg, Simulator
from connector.service import sync_once

EMPLOYEES = 16


@pytest.fixture
def cycle(database_url: str) -> Iterator[tuple[Sandboxes, Runtime, DemoOrg]]:
    sb = start_sandboxes()
    org = make_org(employees=EMPLOYEES, seed=11)
    for sim in sb.sims.values():
        sim.seed(replace(org, reviews=[]))  # installed before the cycle's reviews are done
    # A low bulk limit, so the review batch stops and is confirmed as a person would.
    rt = build_runtime(sandbox_settings(sb, database_url, max_assignments_per_run=5))
    try:
        first = sync_once(rt)  # the first full cycle: nothing to do, the adoption window closes
        assert not first.poll.errors and rt.store.adoption_reason() is None
        yield sb, rt, org
    finally:
        rt.close()
        sb.stop()


def orangehrm_calls(sim: Simulator) -> int:
    """Every OrangeHRM call: the API's and the token endpoint's."""
    counts = sim.state()["counts"]
    return int(counts["calls"]) + sum(counts["token_grants"].values())


def bamboohr_calls(sim: Simulator) -> dict[str, int]:
    return dict(sim.state()["counts"])


def seed_reviews(sb: Sandboxes, org: DemoOrg) -> None:
    sb.orangehrm.seed(org)  # the same people and KPIs, now with one finished review each


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_a_review_cycle_spends_the_hr_vendors_budget_as_targeted(
        cycle: tuple[Sandboxes, Runtime, DemoOrg]) -> None:
    sb, rt, org = cycle
    seed_reviews(sb, org)
    o0, b0 = orangehrm_calls(sb.orangehrm), bamboohr_calls(sb.bamboohr)

    stopped = sync_once(rt)
    assert stopped.poll.stops and stopped.poll.reviews == 0  # over the limit: staged
    confirmed = sync_once(rt, confirm=True)
    assert confirmed.poll.reviews == EMPLOYEES and not confirmed.poll.errors
    review_calls = orangehrm_calls(sb.orangehrm) - o0
    b1 = bamboohr_calls(sb.bamboohr)

    done, failed = complete_some_courses(sb, rt.store, random.Random(11))
    assert done and failed
    evidence_cycle = sync_once(rt)
    assert not evidence_cycle.poll.errors and not evidence_cycle.work.dead
    b2 = bamboohr_calls(sb.bamboohr)

    # OrangeHRM: a review read is its final evaluation and its supervisor ratings (self
    # ratings are off); a person seen for the first time costs one contact-details read for
    # the email; the confirm reads nothing again but the listing page. Pages are 50 reviews.
    pages = 2 * (1 + EMPLOYEES // 50)  # the stopped poll's listing and the confirm's
    assert review_calls <= 3 * EMPLOYEES + pages
    routes = sb.orangehrm.state()["calls_by_route"]
    assert routes["GET /performance/reviews/<int:review_id>/evaluation/final"] == EMPLOYEES

    opening = delta(b1, b0)
    goals = opening["create-goal"]
    assert goals > 0
    assert opening.get("list-goals", 0) == 0 and opening.get("get-goal-aggregate", 0) == 0
    assert opening.pop("get-employees-directory") == 2  # one per cycle run, none per person
    assert sum(opening.values()) == goals  # one call per goal opened, all-in

    closing = delta(b2, b1)
    notes = failed
    evidence = len({(e.goal_key, e.course_id) for g in rt.store.all_identities()
                    for goal in rt.store.goals_for(g.employee_id)
                    for e in rt.store.evidence_for(goal.goal_key)})
    assert evidence > 0
    assert closing.get("list-goal-comments", 0) == 0  # neither evidence nor notes list first
    assert closing["create-goal-comment"] == evidence + notes  # one per evidence, one per note
    assert closing["update-goal-milestone-progress"] <= evidence  # one per progress change
    assert closing.get("get-goal-aggregate", 0) == 0
    assert closing.get("get-employees-directory", 0) == 1  # this cycle's one directory read

    # Another cycle's reviews of the same people: their emails are in the ledger now, so a
    # review read is its final evaluation and its supervisor ratings, plus the listing.
    seed_reviews(sb, make_org(employees=EMPLOYEES, seed=12,
                              cycle_end=_previous_cycle_end(org)))
    before = orangehrm_calls(sb.orangehrm)
    again = sync_once(rt, confirm=True)
    assert again.poll.reviews == EMPLOYEES
    spent = orangehrm_calls(sb.orangehrm) - before
    assert spent <= 2 * EMPLOYEES + 1 + EMPLOYEES // 50
    assert spent / EMPLOYEES <= 2.5


def _previous_cycle_end(org: DemoOrg) -> date:
    end = org.reviews[0].period_end
    return date(end.year, 6, 30) if end.month == 12 else date(end.year - 1, 12, 31)
