"""`connector trace` reads like a story for people, on both engines: levels rounded as goal
titles round them, the HR system named with its own review id, and each skipped item once
(no `course -` rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.cli import main
from connector.executor import Context
from connector.handlers import process_review
from connector.models import Employee, Rating, Review
from connector.store import Store
from mappings.loader import load_mapping
from tests.support.fakes import FakeGoals, FakeLMS

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"


def test_trace_rounds_levels_names_the_review_and_counts_skips_once(
        database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = Store.open(database_url)
    try:
        ctx = Context(store=store, mapping=load_mapping(EXAMPLE),
                      lms=FakeLMS({"ann@example.com": "u1"}), goals=FakeGoals())
        review = Review(
            review_id="OHRM-77", source="fakehr", cycle="2026-H1",
            completed_at=datetime(2026, 6, 30, tzinfo=UTC),
            employee=Employee(employee_id="E1", email="ann@example.com", first_name="Ann",
                              last_name="Lee", role="Account Executive"),
            ratings=tuple(Rating(skill_key=s, value=1.88889) for s in
                          ("Negotiation skills", "Customer focus", "Technical skills")))
        process_review(ctx, review)
    finally:
        store.close()
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert main(["trace", "E1"]) == 0
    out = capsys.readouterr().out
    assert "1.88889" not in out and "1.11111" not in out
    assert "negotiation: rated 1.89 against a target of 4 (gap 2.11)" in out
    assert "because review OHRM-77 (fakehr, 2026-H1) rated negotiation" in out
    assert "rated negotiation 1.89 vs target 4 (gap 2.11, rule negotiation:" in out
    assert "course -" not in out
    skips = [line for line in out.splitlines() if "planned.skipped" in line]
    assert len(skips) == 4  # technical_depth 108, 109; customer_focus 105, 106 (its goal: no row)
    assert any("customer_focus: course 105: limit max_courses_per_review" in s for s in skips)
