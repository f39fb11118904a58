"""Approvals a person can read and that bind, on both engines: `approvals list` shows per
plan the employee, skill, rating → target, rule, course titles and goal title; `approvals
show` the whole plan with causes; the approved job runs the plan that was shown, and a plan
that changed after approval waits for approval again instead of running."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.cli import main
from connector.executor import Context
from connector.handlers import process_review
from connector.models import Employee, Rating, Review
from connector.operations import approvals
from connector.store import ApprovalState, Store
from connector.worker import Worker
from mappings.loader import load_mapping_text
from tests.support.fakes import FakeGoals, FakeLMS

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"
APPROVAL = EXAMPLE.read_text(encoding="utf-8").replace("required = false", "required = true")
WHEN = datetime(2026, 6, 30, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


def review(rating: float = 1.88889) -> Review:
    return Review(review_id="OHRM-77", source="fakehr", cycle="2026-H1", completed_at=WHEN,
                  employee=Employee(employee_id="E1", email="ann@example.com",
                                    first_name="Ann", last_name="Lee",
                                    role="Account Executive"),
                  ratings=(Rating(skill_key="Negotiation", value=rating),))


def context(store: Store, text: str = APPROVAL) -> Context:
    return Context(store=store, mapping=load_mapping_text(text, "approval.toml"),
                   lms=FakeLMS({"ann@example.com": "u1"}), goals=FakeGoals())


def test_an_approval_reads_as_a_decision_not_as_keys(
        store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert process_review(context(store), review()) == "awaiting_approval"
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert main(["approvals", "list"]) == 0
    out = capsys.readouterr().out
    assert "#1 Ann Lee (E1), review OHRM-77 (fakehr)" in out
    assert "negotiation: rated 1.89 → target 4 (rule negotiation:101+102)" in out
    assert "Course 101 (101), Course 102 (102)" in out  # titles from the LMS catalogue
    assert "goal 'Raise negotiation from 1.89 to 4 (2026-H1)'" in out
    assert "enroll:" not in out and "1.88889" not in out
    assert main(["approvals", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "because review OHRM-77 (fakehr, 2026-H1) rated negotiation" in shown
    assert "gap 2.11" in shown and "assign course 101 to E1" in shown
    assert main(["approvals", "show", "9"]) == 2


def test_an_approved_plan_runs_as_shown(store: Store) -> None:
    ctx = context(store)
    process_review(ctx, review(1))
    [row] = store.approvals_list()
    assert row.plan_hash and row.plan["items"][0]["courses"][0]["title"] == "Course 101"
    decision = approvals.approve(store, approval_id=row.id, by="hr.lead")
    assert decision.changed and decision.job_id is not None
    again = approvals.approve(store, approval_id=row.id, by="hr.lead")
    assert not again.changed and again.job_id is None  # twice: no second job
    Worker(ctx).drain()
    assert ctx.lms is not None and set(ctx.lms.enrollments) == {  # type: ignore[attr-defined]
        ("u1", "101"), ("u1", "102")}


def test_a_plan_changed_after_approval_waits_again_instead_of_running(store: Store) -> None:
    process_review(context(store), review(1))
    [row] = store.approvals_list()
    approvals.approve(store, approval_id=row.id, by="hr.lead")
    # The admin edits the rule between the approval and the job: it would assign other work.
    changed = context(store, APPROVAL.replace('courses = ["101", "102"]',
                                              'courses = ["101", "109"]', 1))
    Worker(changed).drain()
    assert changed.lms is not None and not changed.lms.enrollments  # type: ignore[attr-defined]
    [again] = store.approvals_list(ApprovalState.PENDING)
    assert again.id == row.id and again.plan_hash != row.plan_hash
    assert any("course 109" in line for line in again.plan["lines"])
    [note] = store.audit_events("approval.plan_changed")
    assert "waits for approval again" in note.message
