"""What HR staff read: the console names pollers, job states and limits in words, sends them
to its own pages rather than to a terminal command, and keeps each page's title a title."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from connector.console.plain import console_words, poller_name
from connector.store import Store
from tests.console.conftest import EXAMPLE_MAPPING, Seeded

Client = tuple[FlaskClient, str]


def test_a_poller_is_named_by_its_vendor_and_what_it_reads() -> None:
    assert poller_name("bamboohr.directory") == "BambooHR: employee directory"
    assert poller_name("orangehrm.reviews") == "OrangeHRM: finished reviews"
    assert poller_name("talentlms.completions") == "TalentLMS: course completions"
    assert poller_name("hr.reviews") == "HR system: finished reviews"  # named by its role
    assert poller_name("crm.some_stream") == "crm: some stream"  # unknown: as written


def test_a_command_in_a_stored_message_becomes_the_console_page_that_does_it() -> None:
    assert console_words("no user matches a@b; assignments wait for "
                         "`connector identities link`") == (
        "no user matches a@b; assignments wait for a person to link them on the "
        "Identities page")
    assert console_words("see `connector stops show 4`") == "see the Safety stops page"
    # no console page for it: the command stays as written, never a wrong page
    assert console_words("run `connector withdraw --review 3`") == (
        "run `connector withdraw --review 3`")


def test_a_limit_named_in_a_message_is_said_in_words() -> None:
    assert console_words("negotiation: course 106: limit max_courses_per_review") == (
        "negotiation: course 106: over the limit on new courses per review "
        "(max_courses_per_review)")
    assert console_words("limit max_unknown_thing") == "limit max_unknown_thing"


def test_the_overview_title_is_only_a_title_and_names_things_in_words(
        viewer: Client, store: Store, seeded: Seeded) -> None:
    page = viewer[0].get("/console").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert title is not None and title.group(1) == "Overview · Skill-gap connector"
    assert "waiting to run" in page and "failed for good (dead letters)" in page
    assert "Reading from the vendors" in page and "HR system: finished reviews" in page


def test_a_person_waiting_for_an_lms_match_is_sent_to_the_identities_page(
        viewer: Client, store: Store, seeded: Seeded) -> None:
    store.audit(None, "E1", "identity.pending",
                "no LMS user matches; assignments wait for `connector identities link`", None)
    page = viewer[0].get("/console/people/E1").get_data(as_text=True)
    assert 'href="/console/identities#employee-E1"' in page
    assert "link them on the Identities page" in page
    assert "connector identities link" not in page
    assert 'href="/console/people"' in page  # a way back to the search


def test_a_dead_letter_names_its_work_and_its_employee(viewer: Client, seeded: Seeded) -> None:
    page = viewer[0].get("/console/dead-letters").get_data(as_text=True)
    row = page[page.index(f'id="job-{seeded.dead_job}"'):]
    row = row[:row.index("</tr>")]
    assert "Plan a review" in row and f"job #{seeded.dead_job} (review)" in row
    assert ">Grace Hopper</a>" in row


def test_an_approval_names_the_review_and_its_source_in_words(viewer: Client,
                                                              seeded: Seeded) -> None:
    page = viewer[0].get("/console/approvals").get_data(as_text=True)
    assert "review R1 from csv" in page and f"plan #{seeded.approval_ids[0]}" in page


def test_empty_pages_say_there_is_nothing_to_do(viewer: Client, store: Store) -> None:
    assert "nothing to decide now" in viewer[0].get("/console/approvals").get_data(as_text=True)
    assert "Nothing to do now" in viewer[0].get("/console/identities").get_data(as_text=True)
    found = viewer[0].get("/console/people?q=nobody-here").get_data(as_text=True)
    assert "Try part of the name" in found and 'href="/console/people">list everyone' in found


def test_a_preview_names_a_cell_s_one_rule_once_not_on_every_line(viewer: Client,
                                                                 seeded: Seeded) -> None:
    edit = EXAMPLE_MAPPING.read_text(encoding="utf-8").replace(
        'courses = ["101", "102"]', 'courses = ["101", "118"]')
    client, token = viewer
    page = client.post("/console/mapping/preview",
                       data={"csrf_token": token, "text": edit}).get_data(as_text=True)
    cell = page[page.index('<span class="added">+ Grace Hopper: course 118'):]
    cell = cell[:cell.index("</td>")]
    before = page[:page.index('<span class="added">+ Grace Hopper: course 118')]
    assert before.rstrip().endswith("</small><br>") and "by rule " in before[-200:]
    assert "by rule rule" not in before
    assert "(rule" not in cell and "negotiation:" not in cell
