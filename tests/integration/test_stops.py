"""Safety stops an operator can act on, on both engines: a stopped batch (an import, a reviews
poll, a directory read) is staged as read with no jobs; `status` shows it one sentence per
limit; `stops show` prints its plan; confirm carries out exactly the stored batch (bound by
its plan hash, without reading the vendor again) and moves the cursor; discard skips it;
deciding twice is harmless; a stop in one stream does not hold up the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.cli import main
from connector.errors import SafetyStop
from connector.executor import Context
from connector.models import Employee, Rating, Review
from connector.operations import stops
from connector.operations.status import status_report
from connector.pollers import poll_all, poll_reviews, sync_directory
from connector.runtime import Runtime
from connector.settings import Settings
from connector.store import BatchState, Store
from connector.worker import Worker
from mappings.loader import load_mapping, load_mapping_text
from tests.support.fakes import FakeLMS

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"
HEADER = "Employee ID,Email,Job Title,Review ID,Cycle,Completed On,Skill,Rating\n"
WHEN = datetime(2026, 6, 30, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI's environment: this test's database and a mapping file it may edit."""
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("CONNECTOR_MAPPING_FILE", str(mapping))
    monkeypatch.chdir(tmp_path)
    return mapping


def review_file(tmp_path: Path, people: int) -> Path:
    rows = [f"E{i},e{i}@example.com,Account Executive,R{i},2026-H1,2026-06-30,Negotiation,1\n"
            for i in range(people)]
    path = tmp_path / f"reviews-{people}.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def review(n: int) -> Review:
    return Review(review_id=f"R{n}", source="fakehr", cycle="2026-H1", completed_at=WHEN,
                  employee=Employee(employee_id=f"E{n}", email=f"e{n}@example.com",
                                    first_name="Person", last_name=str(n),
                                    role="Account Executive"),
                  ratings=(Rating(skill_key="Negotiation", value=1),))


class CountingSource:
    """A review source that counts its reads: a waiting stop must not read it again."""

    name = "fakehr"

    def __init__(self, reviews: list[Review]) -> None:
        self.reviews, self.reads = reviews, 0

    def reviews_completed_since(self, cursor: str | None) -> tuple[list[Review], str | None]:
        self.reads += 1
        return ([], cursor) if cursor == "after-batch" else (list(self.reviews), "after-batch")


class FakeDirectory:
    name = "fakedir"

    def __init__(self, people: list[Employee]) -> None:
        self.people, self.reads = people, 0

    def list_employees(self) -> tuple[list[Employee], bool]:
        self.reads += 1
        return list(self.people), True


def limited(max_assignments: int = 5) -> Settings:
    return Settings(_env_file=None, max_assignments_per_run=max_assignments)  # type: ignore[call-arg]


def test_an_import_over_a_limit_is_staged_shown_and_confirmed_once(
        env: Path, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONNECTOR_MAX_ASSIGNMENTS_PER_RUN", "5")
    path = review_file(tmp_path, 4)  # 4 people x 2 negotiation courses = 8 assignments
    assert main(["import", "--reviews", str(path)]) == 2
    err = capsys.readouterr().err
    reason = "8 new course assignments exceed CONNECTOR_MAX_ASSIGNMENTS_PER_RUN = 5"
    assert err.count(reason) == 1  # said once, as its own sentence
    assert "connector plan" not in err and "stops show 1" in err

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "safety stops waiting for a person: 1" in out
    assert f"    - {reason}.\n" in out and "connector stops show 1" in out
    assert main(["status", "--json"]) == 0
    [waiting] = json.loads(capsys.readouterr().out)["stops_waiting"]
    assert waiting["id"] == 1 and waiting["reasons"] == [reason]

    assert main(["stops", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "4 review(s) → 8 course assignment(s) and 4 goal(s) for 4 employee(s)" in shown
    assert "(E0, e0@example.com)" in shown and "courses: 101, 102" in shown
    assert "goal: " in shown

    s = Store.open(database_url)
    try:
        assert s.inbox_count() == 0 and not s.jobs.counts().get("pending")
        assert main(["stops", "confirm", "1", "--by", "hr.lead"]) == 0
        assert "4 event(s) queued" in capsys.readouterr().out
        assert s.inbox_count() == 4
        assert main(["stops", "confirm", "1"]) == 0  # harmless: nothing changes
        assert "already confirmed (by hr.lead)" in capsys.readouterr().out
        assert s.inbox_count() == 4 and len(s.audit_events("safety.confirmed")) == 1
        assert status_report(s).stops == []
        # The same file again with --confirm queues nothing new (already imported).
        assert main(["import", "--reviews", str(path), "--confirm"]) == 0
        assert s.inbox_count() == 4
    finally:
        s.close()


def test_confirm_refuses_when_the_plan_changed_and_shows_the_difference(
        env: Path, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONNECTOR_MAX_ASSIGNMENTS_PER_RUN", "5")
    assert main(["import", "--reviews", str(review_file(tmp_path, 4))]) == 2
    text = env.read_text(encoding="utf-8")
    env.write_text(text.replace('courses = ["101", "102"]', 'courses = ["101"]', 1),
                   encoding="utf-8")
    assert 'courses = ["101"]' in env.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["stops", "confirm", "1"]) == 2
    err = capsys.readouterr().err
    assert "the plan is no longer the one shown" in err
    assert "- assign course 102 to E0" in err
    assert "waits as stop #2" in err
    s = Store.open(database_url)
    try:
        assert s.inbox_count() == 0
        [old, now] = s.staged_batches(None)
        assert old.state is BatchState.SUPERSEDED and now.state is BatchState.WAITING
        assert now.summary["assignments"] == 4 and now.payload == old.payload
        assert main(["stops", "confirm", "1"]) == 0  # the old one: harmless, nothing runs
        assert s.inbox_count() == 0
        assert main(["stops", "confirm", "2"]) == 0  # the plan as read now
        assert s.inbox_count() == 4
    finally:
        s.close()


def test_a_polled_batch_waits_without_reading_again_then_confirm_moves_the_cursor(
        store: Store) -> None:
    mapping = load_mapping(EXAMPLE)
    source = CountingSource([review(n) for n in range(4)])
    with pytest.raises(SafetyStop, match="stop #1"):
        poll_reviews(store, source, limits=(limited(), mapping))
    with pytest.raises(SafetyStop, match="stop #1"):  # the stream waits on its stop
        poll_reviews(store, source, limits=(limited(), mapping))
    assert source.reads == 1 and store.cursor("fakehr.reviews") is None
    assert store.inbox_count() == 0 and len(store.audit_events("safety.assignments")) == 1

    decision = stops.confirm_stop(store, stop_id=1, by="hr.lead", mapping=mapping)
    assert (decision.changed, decision.queued) == (True, 4)
    assert source.reads == 1  # carried out as stored: the vendor was not read again
    assert store.cursor("fakehr.reviews") == "after-batch"
    assert store.inbox_count() == 4
    again = stops.confirm_stop(store, stop_id=1, by="someone", mapping=mapping)
    assert (again.changed, again.queued, again.decided_by) == (False, 0, "hr.lead")
    assert poll_reviews(store, source, limits=(limited(), mapping)) == 0  # reads on


def test_discard_marks_the_reviews_skipped_and_moves_the_cursor(store: Store) -> None:
    mapping = load_mapping(EXAMPLE)
    source = CountingSource([review(n) for n in range(4)])
    with pytest.raises(SafetyStop):
        poll_reviews(store, source, limits=(limited(), mapping))
    decision = stops.discard_stop(store, stop_id=1, by="hr.lead")
    assert decision.changed and decision.state is BatchState.DISCARDED
    assert [a.ref for a in store.audit_events("review.skipped")] == [
        f"fakehr:R{n}" for n in range(4)]
    assert store.audit_trail("E0")[-1].event == "review.skipped"
    assert store.cursor("fakehr.reviews") == "after-batch" and store.inbox_count() == 0
    assert not stops.discard_stop(store, stop_id=1, by="hr.lead").changed
    assert len(store.audit_events("review.skipped")) == 4
    with pytest.raises(Exception, match="no safety stop #9"):
        stops.discard_stop(store, stop_id=9, by="hr.lead")


def test_sync_confirm_carries_out_the_waiting_batch_as_stored(store: Store) -> None:
    mapping = load_mapping(EXAMPLE)
    source = CountingSource([review(n) for n in range(4)])
    with pytest.raises(SafetyStop):
        poll_reviews(store, source, limits=(limited(), mapping))
    assert poll_reviews(store, source, limits=(limited(), mapping), confirm=True) == 4
    assert store.staged_batches(BatchState.CONFIRMED)[0].decided_by == "--confirm"
    assert store.inbox_count() == 4


def people(n: int) -> list[Employee]:
    return [Employee(employee_id=f"E{i}", email=f"e{i}@example.com", first_name="P",
                     last_name=str(i)) for i in range(n)]


def test_a_leaver_stop_is_staged_once_and_confirmed_without_reading_again(
        store: Store) -> None:
    ctx = Context(store=store, mapping=load_mapping(EXAMPLE))
    sync_directory(store, FakeDirectory(people(40)), max_leaver_share=0.05)
    Worker(ctx).drain()
    directory = FakeDirectory(people(30))
    for _ in range(2):  # the next round finds the same leavers: one stop, one audit row
        with pytest.raises(SafetyStop, match="10 of 40 employees"):
            sync_directory(store, directory, max_leaver_share=0.05)
    [batch] = store.staged_batches()
    assert batch.kind == "leavers" and len(store.audit_events("safety.leavers")) == 1
    assert "CONNECTOR_MAX_LEAVER_SHARE" in batch.reasons[0]
    assert [p["employee_id"] for p in batch.summary["leavers"]][:2] == ["E30", "E31"]
    reads = directory.reads
    decision = stops.confirm_stop(store, stop_id=batch.id, by="hr.lead", mapping=None)
    assert decision.queued == 10 and directory.reads == reads
    Worker(ctx).drain()
    assert sum(not r.active for r in store.all_identities()) == 10


def test_a_directory_stop_does_not_hold_up_reviews_and_completions(store: Store) -> None:
    mapping = load_mapping_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "max_assignment_share = 0.5", ""), "mapping.toml")
    ctx = Context(store=store, mapping=mapping, lms=FakeLMS())
    sync_directory(store, FakeDirectory(people(40)), max_leaver_share=0.05)
    Worker(ctx).drain()
    source = CountingSource([review(1)])
    rt = Runtime(settings=Settings(_env_file=None), store=store, ctx=ctx,  # type: ignore[call-arg]
                 review_sources=[source], directory=FakeDirectory(people(30)))
    report = poll_all(rt)
    assert len(report.stops) == 1 and "10 of 40 employees" in report.stops[0]
    assert report.reviews == 1 and source.reads == 1  # the reviews stream still ran
    assert store.cursor("fakelms.completions") is not None or any(
        p.name == "fakelms.completions" for p in store.pollers())


def test_the_mappings_share_limit_spares_a_two_person_import(
        env: Path, tmp_path: Path, database_url: str) -> None:
    assert "max_assignment_share = 0.5" in env.read_text(encoding="utf-8")
    assert main(["import", "--reviews", str(review_file(tmp_path, 2))]) == 0  # 2 of 2 = 100 %
    s = Store.open(database_url)
    try:
        assert s.inbox_count() == 2 and s.staged_batches() == []
    finally:
        s.close()
