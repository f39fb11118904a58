"""The console in a real browser: sign in, approve a plan, link an identity, open an
employee's story; the same flows make the screenshots in docs/console/ (`make screenshots`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.store import ApprovalState, MatchState
from tests.browser.conftest import TABLET, Console, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_lands_on_the_overview(page: Any, console: Console, shots: Path) -> None:
    page.goto(f"{console.url}/console/approvals")
    assert "/console/sign-in" in page.url
    page.fill("#name", "olga")
    page.fill("#password", "correct horse battery")
    page.screenshot(path=str(shots / "sign-in.png"))
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Plans waiting for approval')")  # back where asked
    page.click("nav >> text=Overview")
    assert "2" in page.inner_text("a.tile[href='/console/approvals'] strong")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    page.set_viewport_size(TABLET)
    page.screenshot(path=str(shots / "overview-tablet.png"), full_page=True)


def test_a_wrong_password_stays_signed_out(page: Any, console: Console) -> None:
    page.goto(f"{console.url}/console")
    page.fill("#name", "olga")
    page.fill("#password", "not the password")
    page.click("button:has-text('Sign in')")
    assert "do not match" in page.inner_text("main")
    assert "/console/sign-in" in page.url


def test_approve_a_plan(page: Any, console: Console, shots: Path) -> None:
    sign_in(page, console)
    page.click("nav >> text=Approvals")
    first = console.seeded.approval_ids[0]
    page.screenshot(path=str(shots / "approvals.png"), full_page=True)
    page.click(f"#approval-{first} >> button:has-text('Approve')")
    page.wait_for_selector(f"text=approved approval #{first}")
    assert page.locator(f"#approval-{first}").count() == 0
    row = console.store.approval(first)
    assert row is not None and (row.state, row.decided_by) == (ApprovalState.APPROVED, "olga")


def test_link_an_identity(page: Any, console: Console, shots: Path) -> None:
    sign_in(page, console)
    page.click("nav >> text=Identities")
    page.fill("#employee-E1 >> input[name=lms_user_id]", "u77")
    page.screenshot(path=str(shots / "identities.png"), full_page=True)
    page.click("#employee-E1 >> button:has-text('Link')")
    page.wait_for_selector("text=linked E1 → LMS user u77")
    identity = console.store.identity("E1")
    assert identity is not None
    assert (identity.match_state, identity.lms_user_id) == (MatchState.LINKED, "u77")


def test_open_an_employee_story(page: Any, console: Console, shots: Path) -> None:
    sign_in(page, console)
    page.click("nav >> text=People")
    page.fill("#q", "grace")
    page.click("button:has-text('Search')")
    page.screenshot(path=str(shots / "people.png"), full_page=True)
    page.click("text=Grace Hopper")
    page.wait_for_selector("h1:has-text('Grace Hopper')")
    story = page.inner_text("ol.timeline")
    assert "Skill gap found" in story and "a gap of 2" in story
    page.screenshot(path=str(shots / "person.png"), full_page=True)


def test_dead_letters_in_plain_words(page: Any, console: Console, shots: Path) -> None:
    sign_in(page, console)
    page.click("nav >> text=Dead letters")
    assert "refused our credentials" in page.inner_text("main")
    page.screenshot(path=str(shots / "dead-letters.png"), full_page=True)
    page.click("button:has-text('Replay all')")
    page.wait_for_selector("text=queued 1 job(s) again")


def test_a_viewer_sees_no_action_buttons(page: Any, console: Console) -> None:
    sign_in(page, console, "vic")
    page.click("nav >> text=Approvals")
    assert page.locator("button:has-text('Approve')").count() == 0
