"""The operations a person runs (connector.operations), called directly on both engines.

Each is safe to repeat (a second submit: one effect, one job, one audit row, and a result
that says nothing changed) and atomic (a real database error while queueing the work leaves
the decision unmade: the table the work goes to is renamed away under the store's feet).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from connector.errors import InputError, StoreError
from connector.executor import Context
from connector.models import CompletionEvent, Employee, LearnerRef, Rating, Review
from connector.operations import approvals, dead_letters, identities
from connector.operations.backfill import backfill
from connector.operations.status import status_report
from connector.operations.trace import employee_trace
from connector.runtime import Runtime
from connector.settings import Settings
from connector.store import ApprovalState, JobState, MatchState, Store
from mappings.loader import load_mapping
from tests.support.fakes import FakeLMS
from tests.support.ledger_states import dead_letter

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"
WHEN = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


@contextmanager
def table_gone(store: Store, table: str) -> Iterator[None]:
    """A real database failure inside the block: the table is not there. It is put back
    afterwards (the PostgreSQL test database is shared by the whole run)."""
    with store.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_gone"))
    try:
        yield
    finally:
        with store.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table}_gone RENAME TO {table}"))


def employee(store: Store, eid: str = "E1", state: MatchState = MatchState.PENDING) -> None:
    store.upsert_employee(Employee(employee_id=eid, email=f"{eid.lower()}@example.com"))
    store.set_identity(eid, state=state, note="no LMS user with this email")


def _count_jobs(store: Store, kind: str) -> int:
    with store.engine.begin() as conn:
        return int(conn.execute(text("SELECT count(*) FROM jobs WHERE kind = :k"),
                                {"k": kind}).scalar_one())


# -- identities -----------------------------------------------------------------------------
def test_linking_twice_links_once_and_queues_one_resume(store: Store) -> None:
    employee(store)
    first = identities.link_identity(store, employee_id="E1", lms_user_id="u7", by="hr.lead")
    again = identities.link_identity(store, employee_id="E1", lms_user_id="u7", by="hr.lead")
    assert first.changed and not again.changed
    assert "already linked to the same user" in again.message
    assert _count_jobs(store, "resume") == 1
    [linked] = store.audit_events("identity.linked")
    assert "u7 by a person (hr.lead)" in linked.message
    identity = store.identity("E1")
    assert identity is not None
    assert (identity.match_state, identity.lms_user_id) == (MatchState.LINKED, "u7")
    assert identities.pending_identities(store) == []


def test_relinking_to_another_user_is_a_new_decision(store: Store) -> None:
    employee(store)
    identities.link_identity(store, employee_id="E1", lms_user_id="u7", by="a")
    moved = identities.link_identity(store, employee_id="E1", lms_user_id="u8", by="b")
    assert moved.changed
    assert "(was LMS user u7)" in store.audit_events("identity.linked")[-1].message
    assert _count_jobs(store, "resume") == 2


def test_a_link_whose_job_cannot_be_queued_is_not_made(store: Store) -> None:
    employee(store)
    with table_gone(store, "jobs"), pytest.raises(StoreError):
        identities.link_identity(store, employee_id="E1", lms_user_id="u7", by="hr.lead")
    identity = store.identity("E1")
    assert identity is not None and identity.match_state is MatchState.PENDING
    assert identity.lms_user_id is None
    assert store.audit_events("identity.linked") == []


def test_ignoring_twice_audits_once(store: Store) -> None:
    employee(store)
    assert identities.ignore_identity(store, employee_id="E1", by="hr.lead").changed
    again = identities.ignore_identity(store, employee_id="E1", by="hr.lead")
    assert not again.changed and "already ignored" in again.message
    assert len(store.audit_events("identity.ignored")) == 1


def test_an_unknown_employee_is_a_clear_error(store: Store) -> None:
    with pytest.raises(InputError, match="'nobody' is not known"):
        identities.link_identity(store, employee_id="nobody", lms_user_id="u1", by="x")
    with pytest.raises(InputError, match="'nobody' is not known"):
        identities.ignore_identity(store, employee_id="nobody", by="x")


# -- approvals ------------------------------------------------------------------------------
def waiting_plan(store: Store, review_id: str = "R1", eid: str = "E1") -> int:
    review = Review(review_id=review_id, source="csv", cycle="2026-H1", completed_at=WHEN,
                    employee=Employee(employee_id=eid, email=f"{eid.lower()}@example.com"),
                    ratings=(Rating(skill_key="Negotiation", value=1),))
    assert store.request_approval(review, "2 courses")
    return next(a.id for a in store.approvals_list(ApprovalState.PENDING)
                if a.review_id == review_id)


def test_approving_twice_queues_the_plan_once(store: Store) -> None:
    approval_id = waiting_plan(store)
    first = approvals.approve(store, approval_id=approval_id, by="hr.lead")
    again = approvals.approve(store, approval_id=approval_id, by="someone.else")
    assert first.changed and first.job_id is not None
    assert not again.changed and again.job_id is None
    assert "already approved (by hr.lead)" in again.message
    assert _count_jobs(store, "review") == 1
    assert len(store.audit_events("approval.approved")) == 1
    row = store.approval(approval_id)
    assert row is not None and (row.state, row.decided_by) == (ApprovalState.APPROVED,
                                                                "hr.lead")


def test_a_rejection_after_an_approval_changes_nothing(store: Store) -> None:
    approval_id = waiting_plan(store)
    approvals.approve(store, approval_id=approval_id, by="hr.lead")
    late = approvals.reject(store, approval_id=approval_id, by="other")
    assert not late.changed and late.state is ApprovalState.APPROVED
    assert store.audit_events("approval.rejected") == []


def test_an_approval_whose_job_cannot_be_queued_stays_pending(store: Store) -> None:
    approval_id = waiting_plan(store)
    with table_gone(store, "jobs"), pytest.raises(StoreError):
        approvals.approve(store, approval_id=approval_id, by="hr.lead")
    row = store.approval(approval_id)
    assert row is not None and row.state is ApprovalState.PENDING and row.decided_by is None
    assert store.audit_events("approval.approved") == []


def test_deciding_everything_pending_once(store: Store) -> None:
    waiting_plan(store, "R1", "E1")
    waiting_plan(store, "R2", "E2")
    decided = approvals.decide_pending(store, state=ApprovalState.REJECTED, by="hr.lead")
    assert [d.changed for d in decided] == [True, True]
    assert approvals.decide_pending(store, state=ApprovalState.REJECTED, by="hr.lead") == []
    assert _count_jobs(store, "review") == 0  # a rejected plan queues nothing
    assert len(store.audit_events("approval.rejected")) == 2
    with pytest.raises(InputError, match="no pending approval #999"):
        approvals.approve(store, approval_id=999, by="x")


# -- dead letters ---------------------------------------------------------------------------
def test_replaying_twice_requeues_once(store: Store) -> None:
    job_id = dead_letter(store)
    assert [d.id for d in dead_letters.list_dead_letters(store)] == [job_id]
    first = dead_letters.replay(store, job_id=job_id, by="ops")
    assert first.changed and first.message.startswith("queued 1 job(s) again")
    with pytest.raises(InputError, match=r"the job is pending .*nothing changed"):
        dead_letters.replay(store, job_id=job_id, by="ops")
    assert not dead_letters.replay(store, by="ops").changed  # --all: none left
    assert store.jobs.job_state(job_id) is JobState.PENDING
    [audited] = store.audit_events("dead_letter.replayed")
    assert audited.ref == f"job:{job_id}" and "by ops" in audited.message
    with pytest.raises(InputError, match="no dead letter #999"):
        dead_letters.replay(store, job_id=999, by="ops")


def test_a_replay_that_cannot_be_audited_leaves_the_dead_letter(store: Store) -> None:
    job_id = dead_letter(store)
    with table_gone(store, "audit"), pytest.raises(StoreError):
        dead_letters.replay(store, job_id=job_id, by="ops")
    assert store.jobs.job_state(job_id) is JobState.DEAD


# -- backfill -------------------------------------------------------------------------------
class HistoryLMS(FakeLMS):
    """An LMS that keeps learner history (the ability backfill needs)."""

    def learner_history(self, learner: LearnerRef) -> list[CompletionEvent]:
        return [CompletionEvent(source="fakelms", event_id=f"{learner.lms_user_id}-{n}",
                                course_id=course, lms_user_id=learner.lms_user_id,
                                completed_at=at)
                for n, (course, at) in enumerate([("101", WHEN),
                                                  ("102", datetime(2020, 1, 1, tzinfo=UTC))])]


def runtime(store: Store, lms: FakeLMS) -> Runtime:
    ctx = Context(store=store, mapping=load_mapping(EXAMPLE), lms=lms)
    return Runtime(settings=Settings(_env_file=None), store=store, ctx=ctx)  # type: ignore[call-arg]


def test_backfill_twice_keeps_history_once(store: Store) -> None:
    employee(store, "E1", MatchState.NEW)
    employee(store, "E2", MatchState.NEW)  # no LMS user: skipped
    rt = runtime(store, HistoryLMS({"e1@example.com": "u1"}))
    since = datetime(2025, 1, 1, tzinfo=UTC)
    first = backfill(rt, since=since, by="ops")
    assert (first.learners, first.kept, first.linked) == (1, 1, 1)  # 2020 is before --since
    again = backfill(rt, since=since, by="ops")
    assert (again.learners, again.kept, again.linked, again.changed) == (1, 0, 0, False)
    assert "nothing new" in again.message
    assert len(store.audit_events("backfill")) == 1
    assert [c.course_id for c in store.completions_for("E1")] == ["101"]
    identity = store.identity("E1")
    assert identity is not None and identity.match_state is MatchState.LINKED


def test_a_backfill_that_cannot_be_audited_keeps_nothing(store: Store) -> None:
    employee(store, "E1", MatchState.NEW)
    rt = runtime(store, HistoryLMS({"e1@example.com": "u1"}))
    with table_gone(store, "audit"), pytest.raises(StoreError):
        backfill(rt, since=datetime(2025, 1, 1, tzinfo=UTC), by="ops")
    assert store.completions_for("E1") == []
    identity = store.identity("E1")
    assert identity is not None and identity.match_state is MatchState.NEW


def test_backfill_needs_an_lms_with_history(store: Store) -> None:
    with pytest.raises(InputError, match="past completions"):
        backfill(runtime(store, FakeLMS()), since=WHEN, by="ops")


# -- status and trace -----------------------------------------------------------------------
def test_status_counts_what_waits_for_a_person(store: Store) -> None:
    employee(store)
    waiting_plan(store)
    dead_letter(store)
    report = status_report(store)
    assert (report.identities_pending, report.approvals_pending, report.dead_letters) == \
        (1, 1, 1)
    assert report.as_json()["jobs"] == {"pending": 0, "running": 0, "done": 0, "dead": 1}


def test_trace_tells_the_story_and_refuses_strangers(store: Store) -> None:
    employee(store)
    identities.link_identity(store, employee_id="E1", lms_user_id="u7", by="hr.lead")
    story = employee_trace(store, employee_id="E1")
    assert story.identity.lms_user_id == "u7"
    document = story.as_json()
    assert document["employee"]["match_state"] == "linked"
    assert isinstance(document["employee"]["updated_at"], str)
    assert [a["event"] for a in document["audit"]] == ["identity.linked"]
    with pytest.raises(InputError, match="'nobody' is not known"):
        employee_trace(store, employee_id="nobody")
