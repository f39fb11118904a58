"""The console's newer flows in a real browser: confirm a safety stop, preview a mapping
change, download a report (and the screenshots of those pages for docs/console.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from connector.store import BatchState
from tests.browser.conftest import Console, sign_in

pytestmark = pytest.mark.browser


def test_confirm_a_safety_stop(page: Any, console: Console, shots: Path) -> None:
    sign_in(page, console)
    page.click("a.tile[href='/console/stops']")
    stop = console.seeded.stop_id
    assert "Stopped Person1" in page.inner_text(f"#stop-{stop}")
    page.screenshot(path=str(shots / "stops.png"), full_page=True)
    page.click(f"#stop-{stop} >> button:has-text('Confirm')")
    page.wait_for_selector(f"text=confirmed stop #{stop}: 2 event(s) queued")
    batch = console.store.staged_batch(stop)
    assert batch is not None and (batch.state, batch.decided_by) == (BatchState.CONFIRMED, "olga")


def test_preview_a_mapping_change(page: Any, console: Console, shots: Path) -> None:
    sign_in(page, console)
    page.click("nav >> text=Mapping")
    text = page.input_value("#text")
    assert 'courses = ["101", "102"]' in text  # the active file, ready to edit
    page.fill("#text", text.replace('courses = ["101", "102"]', 'courses = ["101", "118"]'))
    page.click("button:has-text('Preview')")
    preview = page.inner_text("#preview")
    assert "2 assignment(s) added" in preview and "+ Grace Hopper: course 118" in preview
    page.screenshot(path=str(shots / "mapping.png"), full_page=True)


def test_download_a_report(page: Any, console: Console, shots: Path) -> None:
    sign_in(page, console)
    page.click("nav >> text=Reports")
    assert page.locator("figure.chart svg").count() == 6
    page.screenshot(path=str(shots / "reports.png"))  # the first reports, at laptop size
    page.locator("#funnel-by-course").screenshot(path=str(shots / "reports-funnel.png"))
    with page.expect_download() as download:
        page.click("text=Download funnel-by-course.csv")
    path = download.value.path()
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert rows[0] == ["course", "title", "assigned", "completed", "evidence posted"]
    assert ["101", "Negotiation basics", "2", "1", "1"] in rows
