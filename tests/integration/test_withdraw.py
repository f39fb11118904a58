"""`connector withdraw`: a wrong review is undone against the sandbox vendors, keeping what
learners earned; a dry run changes nothing and a second withdraw does nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.demo.sandboxes import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.errors import InputError
from connector.operations.withdraw import withdraw_reviews
from connector.runtime import Runtime, build_runtime
from connector.sandbox.kit import SANDBOX_KEY
from connector.service import sync_once
from connector.store import AssignmentState, GoalState, Store


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    sb = start_sandboxes()
    seed_organisation(sb, employees=6, missing_learners=0)
    yield sb
    sb.stop()


@pytest.fixture
def rt(sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
       ) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = sandbox_settings(sandboxes, url)
    values = {"DATABASE_URL": url,
              "TALENTLMS_BASE_URL": sandboxes.talentlms.url, "TALENTLMS_API_KEY": SANDBOX_KEY,
              "BAMBOOHR_BASE_URL": sandboxes.bamboohr.url, "BAMBOOHR_API_KEY": SANDBOX_KEY,
              "ORANGEHRM_BASE_URL": sandboxes.orangehrm.url,
              "ORANGEHRM_CLIENT_ID": "demo-client", "ORANGEHRM_CLIENT_SECRET": SANDBOX_KEY,
              "ORANGEHRM_REFRESH_TOKEN": sandboxes.orangehrm.settings()["orangehrm_refresh_token"],
              "REVIEW_SOURCES": "orangehrm"}
    for name, value in values.items():  # for the CLI
        monkeypatch.setenv(f"CONNECTOR_{name}", value)
    monkeypatch.chdir(tmp_path)
    runtime = build_runtime(settings)
    sync_once(runtime, confirm=True)
    yield runtime
    runtime.close()


def vendors(sb: Sandboxes) -> dict[str, Any]:
    return {"goals": sb.bamboohr.state()["goals"],
            "enrollments": sorted((e["user_id"], e["course_id"])
                                  for e in sb.talentlms.state()["enrollments"])}


def busy_review(rt: Runtime) -> tuple[str, str, list[str]]:
    """A review that assigned at least two courses: (review id, employee id, courses)."""
    by_review: dict[tuple[str, str], list[str]] = {}
    for a in rt.store.assignments_for():
        by_review.setdefault((a.review_id, a.employee_id), []).append(a.course_id)
    (review_id, employee_id), courses = max(by_review.items(), key=lambda kv: len(kv[1]))
    assert len(courses) >= 2
    return review_id, employee_id, courses


def test_withdraw_unenrolls_what_was_not_started_and_keeps_what_was_earned(
        rt: Runtime, sandboxes: Sandboxes) -> None:
    review_id, eid, courses = busy_review(rt)
    identity = rt.store.identity(eid)
    assert identity is not None and identity.lms_user_id
    passed = courses[0]
    sandboxes.talentlms.complete(identity.lms_user_id, passed, passed=True, score=90)
    sync_once(rt)
    assert rt.store.evidence_for(next(a.goal_key for a in rt.store.assignments_for(eid)
                                      if a.course_id == passed))
    before = vendors(sandboxes)

    preview = withdraw_reviews(rt.ctx, [review_id], dry_run=True, by="ops")
    assert vendors(sandboxes) == before  # a dry run changes nothing
    kinds = {(s.kind, s.course_id) for s in preview.steps}
    assert ("keep course", passed) in kinds
    assert all(("unenroll", c) in kinds for c in courses[1:])

    done = withdraw_reviews(rt.ctx, [review_id], by="ops")
    assert [s.text() for s in done.steps] == [s.text() for s in preview.steps]  # as shown
    after = vendors(sandboxes)
    user = str(identity.lms_user_id)
    assert (user, passed) in after["enrollments"]  # earned: kept
    assert all((user, c) not in after["enrollments"] for c in courses[1:])
    states = {a.course_id: a.state for a in rt.store.assignments_for(eid)
              if a.review_id == review_id}
    assert states[passed] is AssignmentState.COMPLETED
    assert all(states[c] is AssignmentState.CANCELLED for c in courses[1:])
    goals = {g.goal_key: g for g in rt.store.goals_for(eid)}
    assert all(g.state in (GoalState.CLOSED, GoalState.CANCELLED) for g in goals.values())
    linked = rt.store.external_id(eid, "bamboohr")  # the person's id in BambooHR
    owner = linked.external_id if linked else eid
    mine = [g for g in after["goals"] if str(g["employeeId"]) == owner]
    assert mine and all(g["closed"] for g in mine)
    notes = [c for g in mine for c in g["comments"]
             if "Withdrawn" in (c["text"] if isinstance(c, dict) else c)]
    assert len(notes) == len(mine)  # one note per goal, saying why
    assert rt.store.audit_events("withdraw.unenroll")
    assert rt.store.audit_events("withdraw.done")

    again = withdraw_reviews(rt.ctx, [review_id], by="ops")
    assert again.changes == 0 and "nothing to withdraw" in again.text()
    assert vendors(sandboxes) == after


def test_the_cli_prints_the_dry_run_and_json(rt: Runtime, sandboxes: Sandboxes,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    review_id, _eid, courses = busy_review(rt)
    rt.close()
    before = vendors(sandboxes)
    assert main(["withdraw", "--review", review_id, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(dry run, nothing changed)" in out and f"from course {courses[0]}" in out
    assert vendors(sandboxes) == before
    assert main(["withdraw", "--review", review_id, "--json", "--by", "ops"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["changes"] > 0 and not document["dry_run"]
    assert main(["withdraw", "--review", "no-such-review"]) == 2
    assert "no review 'no-such-review'" in capsys.readouterr().err


def test_a_confirmed_batch_is_withdrawn_by_its_id(sandboxes: Sandboxes, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A review poll over a limit is staged as a batch; once confirmed and carried out, the
    whole batch is withdrawn with `--batch ID`; a batch nobody confirmed has nothing to undo."""
    from connector.operations.stops import confirm_stop, waiting_stops
    from connector.operations.withdraw import reviews_in_batch

    url = f"sqlite:///{tmp_path / 'c.db'}"
    runtime = build_runtime(sandbox_settings(sandboxes, url, max_assignments_per_run=1))
    try:
        sync_once(runtime)  # over the limit: staged, nothing assigned
        [stop] = waiting_stops(runtime.store)
        with pytest.raises(InputError, match="not confirmed"):
            reviews_in_batch(runtime.store, stop.id)
        confirm_stop(runtime.store, stop_id=stop.id, by="ops", mapping=runtime.ctx.mapping)
        sync_once(runtime)
        assigned = {a.review_id for a in runtime.store.assignments_for()}
        ids, _ = reviews_in_batch(runtime.store, stop.id)
        assert assigned and assigned <= set(ids)
        result = withdraw_reviews(runtime.ctx, ids, by="ops")
        assert result.changes > 0
        assert all(a.state is not AssignmentState.ENROLLED
                   for a in runtime.store.assignments_for())
        assert withdraw_reviews(runtime.ctx, ids, by="ops").changes == 0  # harmless twice
    finally:
        runtime.close()
    store = Store.open(url)
    try:
        with pytest.raises(InputError, match="no batch #999"):
            reviews_in_batch(store, 999)
    finally:
        store.close()
