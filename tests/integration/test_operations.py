"""Operating the product from the CLI, on both engines: db, status, trace, dead letters,
identities, approvals, import (all or nothing, safety limits, idempotent), directory leavers
and recertification. Vendors are in-memory fakes of the ports; the CLI runs in-process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.cli import main
from connector.errors import SafetyStop
from connector.executor import Context
from connector.models import CompletionEvent, Employee, Rating, Review
from connector.pollers import sync_directory
from connector.recert import check_recertifications
from connector.store import Store
from connector.worker import Worker
from mappings.loader import load_mapping, load_mapping_text
from tests.support.fakes import FakeGoals, FakeLMS

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"
HEADER = "Employee ID,Email,Job Title,Review ID,Cycle,Completed On,Skill,Rating\n"


Opener = Callable[[str], Store]


@pytest.fixture
def store_at() -> Iterator[Opener]:
    """`Store.open` for the test's own look at the database, closed when the test ends (the
    CLI opens and closes its own store per run)."""
    opened: list[Store] = []

    def _open(url: str) -> Store:
        opened.append(Store.open(url))
        return opened[-1]

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The CLI's environment: this test's database, and the example mapping without its
    share limit (which a 1-to-4-person test company always exceeds)."""
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "max_assignment_share = 0.5", ""), encoding="utf-8")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("CONNECTOR_MAPPING_FILE", str(mapping))
    monkeypatch.chdir(tmp_path)  # no stray .env or connector.db from the checkout
    return database_url


def review_file(tmp_path: Path, people: int, *, rating: int = 1) -> Path:
    rows = [f"E{i},e{i}@example.com,Account Executive,R{i},2026-H1,2026-06-30,Negotiation,"
            f"{rating}\n" for i in range(people)]
    path = tmp_path / f"reviews-{people}.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_db_upgrade_twice_and_status_json(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["jobs"] == {"pending": 0, "running": 0, "done": 0, "dead": 0}
    assert report["dead_letters"] == 0


def test_import_is_all_or_nothing_and_idempotent(store_at: Opener, env: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "E1,e1@example.com,Account Executive,R1,2026-H1,2026-06-30,"
                   "Negotiation,1\nE2,e2@example.com,Account Executive,R2,2026-H1,not-a-date,"
                   "Negotiation,1\n", encoding="utf-8")
    assert main(["import", "--reviews", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "nothing was queued" in err and "Traceback" not in err
    store = store_at(env)
    assert store.inbox_count() == 0

    good = review_file(tmp_path, 3)
    assert main(["import", "--reviews", str(good)]) == 0
    assert main(["import", "--reviews", str(good)]) == 0
    assert store.inbox_count() == 3
    assert "3 already imported" in capsys.readouterr().out


def test_import_refuses_out_of_scale_and_conflicting_ratings_unless_partial(
    store_at: Opener, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ratings the planner could never use are rejected rows with their lines: exit 2 and
    nothing queued, unless --allow-partial queues the rest; a future date only warns."""
    path = tmp_path / "scale.csv"
    rows = [
        "E1,e1@example.com,Account Executive,R1,2026-H1,2026-06-30,Negotiation,7",
        "E2,e2@example.com,Account Executive,R2,2026-H1,2026-06-30,Negotiation,1",
        "E2,e2@example.com,Account Executive,R2,2026-H1,2026-06-30,Negotiation,2",
        "E3,E3@Example.com,Account Executive,R3,2026-H1,2099-01-01,Negotiation,1",
    ]
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["import", "--reviews", str(path)]) == 2
    err = capsys.readouterr().err
    assert "2 row(s) rejected, nothing was queued" in err
    assert "scale.csv:2: rating 7 is outside the mapping's scale 1-5" in err
    assert "scale.csv:4: review 'R2': 'Negotiation' rated by manager is 2 at line 4 but 1 at " \
        "line 3" in err
    store = store_at(env)
    assert store.inbox_count() == 0
    assert main(["import", "--reviews", str(path), "--allow-partial"]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "scale.csv:5: review 'R3'" in out and "in the future" in out
    # R1 (its one rating rejected: nothing to plan), R2 (without the contradiction) and R3
    assert store.inbox_count() == 3


def test_import_over_the_safety_limit_stops_until_confirmed(store_at: Opener,
        env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONNECTOR_MAX_ASSIGNMENTS_PER_RUN", "5")
    path = review_file(tmp_path, 4)  # 4 people x 2 negotiation courses = 8 assignments
    assert main(["import", "--reviews", str(path)]) == 2
    assert "CONNECTOR_MAX_ASSIGNMENTS_PER_RUN = 5" in capsys.readouterr().err
    store = store_at(env)
    assert store.inbox_count() == 0
    assert store.audit_events("safety.assignments")
    assert main(["import", "--reviews", str(path), "--confirm"]) == 0
    assert store.inbox_count() == 4
    assert store.audit_events("safety.confirmed")


def test_dead_letters_list_and_replay(store_at: Opener, env: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    store = store_at(env)
    job_id = store.jobs.add("nonsense", {})
    Worker(Context(store=store, mapping=load_mapping(EXAMPLE))).drain()
    assert main(["dead-letters", "list"]) == 0
    assert f"#{job_id} nonsense" in capsys.readouterr().out
    assert main(["dead-letters", "replay"]) == 2  # needs an id or --all
    assert main(["dead-letters", "replay", str(job_id)]) == 0
    assert store.jobs.counts().get("pending") == 1
    assert main(["dead-letters", "replay", "999"]) == 2


def test_trace_of_an_unknown_employee_is_a_clear_error(
        env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "nobody"]) == 2
    assert "'nobody' is not known" in capsys.readouterr().err


def test_identity_link_resumes_waiting_work(store_at: Opener, env: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    store = store_at(env)
    lms, goals = FakeLMS(), FakeGoals()  # nobody has an LMS account yet
    ctx = Context(store=store, mapping=load_mapping(EXAMPLE), lms=lms, goals=goals)
    assert main(["import", "--reviews", str(review_file(tmp_path, 1))]) == 0
    Worker(ctx).drain()
    assert not lms.enrollments
    assert main(["identities", "pending"]) == 0
    assert "E0" in capsys.readouterr().out
    with pytest.MonkeyPatch.context() as mp:  # no LMS to ask: linked, and it says so
        mp.setenv("CONNECTOR_LMS", "none")
        assert main(["identities", "link", "E0", "u77"]) == 0
    assert "(not checked: no LMS is configured)" in capsys.readouterr().out
    Worker(ctx).drain()
    assert set(lms.enrollments) == {("u77", "101"), ("u77", "102")}
    assert main(["trace", "E0"]) == 0
    out = capsys.readouterr().out
    assert "linked to LMS user u77 by a person" in out
    assert "because review R0" in out  # every assignment explains itself


def test_approval_waits_then_runs_with_who_and_when(store_at: Opener, env: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("required = false", "required = true")
    store = store_at(env)
    lms, goals = FakeLMS({"e0@example.com": "u1"}), FakeGoals()
    ctx = Context(store=store, mapping=load_mapping_text(text, "approval.toml"), lms=lms,
                  goals=goals)
    assert main(["import", "--reviews", str(review_file(tmp_path, 1))]) == 0
    Worker(ctx).drain()
    assert not lms.enrollments and not goals.goals
    assert main(["approvals", "list"]) == 0
    assert "(E0), review R0 (csv)" in capsys.readouterr().out
    assert main(["approvals", "approve", "1", "--by", "hr.lead"]) == 0
    Worker(ctx).drain()
    assert set(lms.enrollments) == {("u1", "101"), ("u1", "102")}
    [approved] = store.audit_events("approval.approved")
    assert "by hr.lead at" in approved.message
    # Approving twice is harmless (nothing changes, nothing queued); the other decision on a
    # decided plan is refused.
    assert main(["approvals", "approve", "1"]) == 0
    assert "already approved (by hr.lead)" in capsys.readouterr().out
    assert main(["approvals", "reject", "1"]) == 2
    assert len(store.audit_events("approval.approved")) == 1


class FakeDirectory:
    name = "fakehr"

    def __init__(self, people: list[Employee], complete: bool = True) -> None:
        self.people, self.complete = people, complete

    def list_employees(self) -> tuple[list[Employee], bool]:
        return list(self.people), self.complete


def _people(n: int) -> list[Employee]:
    return [Employee(employee_id=f"E{i}", email=f"e{i}@example.com") for i in range(n)]


def test_leavers_only_from_a_complete_read_and_within_the_limit(store_at: Opener,
                                                                database_url: str) -> None:
    store = store_at(database_url)
    everyone = _people(40)
    sync_directory(store, FakeDirectory(everyone), max_leaver_share=0.05)
    assert len(store.all_identities()) == 0  # queued, not yet applied
    Worker(Context(store=store, mapping=load_mapping(EXAMPLE))).drain()
    assert len(store.all_identities()) == 40

    # A truncated read never marks anyone as a leaver.
    assert sync_directory(store, FakeDirectory(everyone[:10], complete=False),
                          max_leaver_share=0.05) == (0, 0)  # unchanged facts: nothing new
    # Losing 10 of 40 (25 %) is over the 5 % limit: stop, change nothing.
    with pytest.raises(SafetyStop, match="10 of 40"):
        sync_directory(store, FakeDirectory(everyone[:30]), max_leaver_share=0.05)
    assert not store.jobs.counts().get("pending")
    # A person confirms: the ten leave.
    assert sync_directory(store, FakeDirectory(everyone[:30]), max_leaver_share=0.05,
                          confirm=True)[1] == 10
    Worker(Context(store=store, mapping=load_mapping(EXAMPLE))).drain()
    assert sum(not r.active for r in store.all_identities()) == 10


def test_recertification_opens_a_new_cycle_once(store_at: Opener, database_url: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'goal_title = "Raise {skill}', 'recertify_every_days = 365\ngoal_title = "Raise {skill}',
        1)
    assert "recertify_every_days = 365" in text
    mapping = load_mapping_text(text, "recert.toml")
    store = store_at(database_url)
    lms, goals = FakeLMS({"e0@example.com": "u1"}), FakeGoals()
    start = datetime(2025, 1, 10, tzinfo=UTC)
    ctx = Context(store=store, mapping=mapping, lms=lms, goals=goals, now=lambda: start)
    r = Review(review_id="R1", source="csv", cycle="2025H1", completed_at=start,
               employee=Employee(employee_id="E0", email="e0@example.com",
                                 role="Account Executive"),
               ratings=(Rating(skill_key="Negotiation", value=1),))
    store.ingest("csv", "R1", "review", {"review": r.model_dump(mode="json")}, employee_id="E0")
    Worker(ctx).drain()
    for n, course in enumerate(("101", "102")):
        event = CompletionEvent(source="fakelms", event_id=f"c{n}", course_id=course,
                                lms_user_id="u1", completed_at=start + timedelta(days=5))
        store.ingest("fakelms", event.event_id, "completion",
                     {"completion": event.model_dump(mode="json")}, employee_id="E0")
    Worker(ctx).drain()
    [old] = store.goals_for("E0")
    assert old.state == "closed"

    assert check_recertifications(ctx, start + timedelta(days=300)) == 0  # not yet due
    later = start + timedelta(days=400)
    ctx.now = lambda: later
    assert check_recertifications(ctx, later) == 1
    assert check_recertifications(ctx, later) == 0  # once
    Worker(ctx).drain()
    goals_now = store.goals_for("E0")
    assert len(goals_now) == 2
    new = next(g for g in goals_now if g.goal_key != old.goal_key)
    assert new.state == "open" and new.cycle.startswith("recert-")
    assert len(goals.goals) == 2  # a second goal in the tracker; the first stays closed
    assert store.evidence_for(old.goal_key)  # history kept
