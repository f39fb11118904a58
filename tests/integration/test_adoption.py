"""A new or restored database adopts what earlier databases did in the vendors.

Two databases, one after the other, against the same sandboxes: the second opens its
adoption window, asks before each goal and evidence, and leaves every goal, enrollment and
evidence comment exactly once. Outside the window a cycle makes no extra reads.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.demo.run import complete_some_courses
from connector.demo.sandboxes import Sandboxes, sandbox_settings, seed_organisation, start_sandboxes
from connector.runtime import Runtime, build_runtime
from connector.service import sync_once
from connector.store import Store


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    sb = start_sandboxes()
    seed_organisation(sb, employees=8, missing_learners=0)
    yield sb
    sb.stop()


def runtime(sb: Sandboxes, path: Path) -> Runtime:
    return build_runtime(sandbox_settings(sb, f"sqlite:///{path}"))


def vendor_facts(sb: Sandboxes) -> dict[str, Any]:
    goals = sb.bamboohr.state()["goals"]
    comments = Counter((g["employeeId"], g["title"], c["text"] if isinstance(c, dict) else c)
                       for g in goals for c in g["comments"])
    enrollments = sb.talentlms.state()["enrollments"]
    return {"goals": Counter((g["employeeId"], g["title"]) for g in goals),
            "comments": comments, "enrollments": len(enrollments)}


def full_life(sb: Sandboxes, rt: Runtime) -> None:
    """Reviews → goals and enrollments; about half the courses passed → evidence."""
    sync_once(rt, confirm=True)
    complete_some_courses(sb, rt.store, random.Random(3))
    sync_once(rt, confirm=True)


def test_a_second_database_adopts_every_goal_and_evidence_instead_of_repeating_them(
        sandboxes: Sandboxes, tmp_path: Path) -> None:
    first = runtime(sandboxes, tmp_path / "first.db")
    full_life(sandboxes, first)
    first.close()
    before = vendor_facts(sandboxes)
    assert before["goals"] and before["comments"]
    assert max(before["goals"].values()) == 1 and max(before["comments"].values()) == 1

    second = runtime(sandboxes, tmp_path / "second.db")  # new, the vendors full of markers
    assert second.ctx.adopting
    assert second.store.adoption_reason() == "a new database"
    sync_once(second, confirm=True)
    assert vendor_facts(sandboxes) == before  # nothing made twice
    adopted = second.store.audit_events("goal.open.adopted")
    assert len(adopted) == sum(before["goals"].values())
    assert second.store.audit_events("goal.evidence.adopted")
    # One full cycle later the window is closed, and stays closed for the next process.
    assert not second.ctx.adopting and second.store.adoption_reason() is None
    assert second.store.audit_events("adoption.closed")
    second.close()
    third = runtime(sandboxes, tmp_path / "second.db")
    assert not third.ctx.adopting
    third.close()


def test_without_the_window_a_new_database_would_open_every_goal_again(
        sandboxes: Sandboxes, tmp_path: Path) -> None:
    """What the window prevents (so the test above cannot pass by accident)."""
    first = runtime(sandboxes, tmp_path / "first.db")
    full_life(sandboxes, first)
    first.close()
    opened = sum(vendor_facts(sandboxes)["goals"].values())
    second = runtime(sandboxes, tmp_path / "second.db")
    second.ctx.adopting = False
    sync_once(second, confirm=True)
    assert sum(vendor_facts(sandboxes)["goals"].values()) == 2 * opened
    second.close()


def test_outside_the_window_a_cycle_reads_nothing_extra(
        sandboxes: Sandboxes, tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = Store.open(f"sqlite:///{path}")
    store.close_adoption()  # a database that has always known what it did
    store.close()
    rt = runtime(sandboxes, path)
    assert not rt.ctx.adopting
    full_life(sandboxes, rt)
    counts = sandboxes.bamboohr.state()["counts"]
    goals = len(sandboxes.bamboohr.state()["goals"])
    evidence = sum(len(g["comments"]) for g in sandboxes.bamboohr.state()["goals"])
    rt.close()
    # Each goal is created once and never looked up first; no evidence is looked up first.
    assert counts.get("create-goal") == goals, counts
    assert not counts.get("list-goals") and not counts.get("list-comments"), counts
    assert evidence


def test_db_restored_opens_the_window_once_and_a_full_cycle_closes_it(
        sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.db"
    rt = runtime(sandboxes, path)
    full_life(sandboxes, rt)  # its first cycle closed the window
    assert rt.store.adoption_reason() is None
    rt.close()
    before = vendor_facts(sandboxes)
    # The database is restored from last week's backup, which knew none of it.
    backup = tmp_path / "backup.db"
    old = Store.open(f"sqlite:///{backup}")
    old.close_adoption()  # its own first cycle was long done
    old.close()
    path.write_bytes(backup.read_bytes())
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{path}")
    assert main(["db", "restored"]) == 0
    assert "adoption window" in capsys.readouterr().out
    assert main(["db", "restored"]) == 0
    assert "already open" in capsys.readouterr().out
    restored = runtime(sandboxes, path)
    assert restored.ctx.adopting
    sync_once(restored, confirm=True)
    assert vendor_facts(sandboxes) == before
    assert restored.store.adoption_reason() is None
    restored.close()
