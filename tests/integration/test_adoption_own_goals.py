"""Inside the adoption window, a goal this database opened itself needs no lookups for its
later effects: its evidence and notes go out in one call each (the window's lookups are for
what an earlier database may have done, and nothing earlier touched this goal)."""

from __future__ import annotations

import random
from pathlib import Path

from connector.demo.org import make_org
from connector.demo.run import complete_some_courses
from connector.demo.sandboxes import sandbox_settings, start_sandboxes
from connector.pollers import poll_completions, poll_reviews, sync_directory
from connector.runtime import build_runtime
from connector.worker import Worker


def test_evidence_on_goals_opened_in_the_window_is_posted_without_a_lookup(
        tmp_path: Path) -> None:
    sb = start_sandboxes()
    try:
        org = make_org(employees=12, seed=5)
        for sim in sb.sims.values():
            sim.seed(org)
        rt = build_runtime(sandbox_settings(sb, f"sqlite:///{tmp_path / 'c.db'}"))
        try:
            assert rt.store.adoption_reason() == "a new database"
            assert rt.directory is not None and rt.lms is not None
            sync_directory(rt.store, rt.directory, max_leaver_share=0.05,
                           id_spaces=rt.ctx.id_spaces)
            worker = Worker(rt.ctx)
            for source in rt.review_sources:
                poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping),
                             confirm=True)
            worker.drain()
            before = dict(sb.bamboohr.state()["counts"])
            done, failed = complete_some_courses(sb, rt.store, random.Random(5))
            assert done and failed
            poll_completions(rt.store, rt.lms)
            stats = worker.drain()
            assert not stats.dead
            assert rt.store.adoption_reason() is not None  # still inside the window
            after = dict(sb.bamboohr.state()["counts"])
        finally:
            rt.close()
    finally:
        sb.stop()
    spent = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    assert spent.get("create-goal-comment", 0) >= done + failed - 1 > 0
    assert spent.get("list-goal-comments", 0) == 0  # no lookup before evidence or a note
