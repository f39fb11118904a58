"""The console's safety stops, mapping preview, reports, LMS suggestions, rate budget and
vendor links through Flask's test client: what they show, what an operator may do (the same
operation as the CLI, an audit row naming the user), and every refusal 4xx, never 5xx."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector.cli import main
from connector.inbound import plan_batch
from connector.store import ActionState, BatchState, JobState, MatchState, Store
from mappings.loader import load_mapping
from tests.console.conftest import EVIL, EXAMPLE_MAPPING, Seeded, csrf_of, stopped_review

Client = tuple[FlaskClient, str]
NEW_PAGES = ["/console/stops", "/console/mapping", "/console/reports",
             "/console/identities/E1/suggestions", "/console/reports/overdue.csv"]
EDIT = EXAMPLE_MAPPING.read_text(encoding="utf-8").replace(
    'courses = ["101", "102"]', 'courses = ["101", "118"]')
BROKEN = "[scale]\nmin = 'x'\n\n[[rules]]\nskill = 'nope'\n"


def actions(stop_id: int) -> list[str]:
    return [f"/console/stops/{stop_id}/confirm", f"/console/stops/{stop_id}/discard"]


@pytest.mark.parametrize("path", [*NEW_PAGES, "/console/reports/nothing.csv"])
def test_signed_out_the_new_pages_redirect_to_sign_in(app: Flask, seeded: Seeded,
                                                      path: str) -> None:
    answer = app.test_client().get(path)
    assert answer.status_code == 302 and "/console/sign-in" in answer.headers["Location"]


@pytest.mark.parametrize("path", NEW_PAGES)
def test_the_new_pages_render_for_a_viewer(viewer: Client, seeded: Seeded, path: str) -> None:
    assert viewer[0].get(path).status_code == 200


def test_the_stops_page_shows_why_and_the_plan(viewer: Client, seeded: Seeded) -> None:
    page = viewer[0].get("/console/stops").get_data(as_text=True)
    assert "exceed CONNECTOR_MAX_ASSIGNMENTS_PER_RUN = 3" in page
    assert "Stopped Person1" in page and "Raise negotiation" in page
    assert "Negotiation basics <small>(101)</small><br>Closing the deal <small>(102)</small>" \
        in page  # the plan's courses by their LMS titles
    assert "Confirm stop" not in page  # a viewer is offered no action


def test_an_operator_confirms_a_stop_once_and_the_audit_names_them(
        operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    answer = client.post(f"/console/stops/{seeded.stop_id}/confirm",
                         data={"csrf_token": token}, follow_redirects=True)
    assert answer.status_code == 200
    assert f"confirmed stop #{seeded.stop_id}: 2 event(s) queued" in answer.get_data(as_text=True)
    batch = store.staged_batch(seeded.stop_id)
    assert batch is not None and (batch.state, batch.decided_by) == (BatchState.CONFIRMED, "olga")
    [row] = store.audit_events("safety.confirmed")
    assert "confirmed by olga" in row.message
    again = client.post(f"/console/stops/{seeded.stop_id}/confirm", data={"csrf_token": token},
                        follow_redirects=True)
    assert "already confirmed" in again.get_data(as_text=True)
    assert len(store.audit_events("safety.confirmed")) == 1


def test_an_operator_discards_a_stop(operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    answer = client.post(f"/console/stops/{seeded.stop_id}/discard", data={"csrf_token": token},
                         follow_redirects=True)
    assert f"discarded stop #{seeded.stop_id}: 2 review(s) skipped" in answer.get_data(
        as_text=True)
    assert "discarded by olga" in store.audit_events("stop.discarded")[0].message


def test_a_confirm_whose_plan_changed_queues_nothing_and_says_what_changed(
        operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    # S1 got course 101 meanwhile (the ledger holds it): the plan is another now.
    _, planned = plan_batch(store, load_mapping(EXAMPLE_MAPPING), [stopped_review(1)])
    store.record_action(next(a for a in planned if a.course_id == "101"), ActionState.DONE)
    answer = client.post(f"/console/stops/{seeded.stop_id}/confirm", data={"csrf_token": token},
                         follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "was not confirmed: the plan is no longer" in text
    assert store.jobs.counts().get(JobState.PENDING.value, 0) == 2  # only the seeded reviews


@pytest.mark.parametrize("verb", ["confirm", "discard"])
def test_stop_actions_are_refused_to_a_viewer_without_csrf_and_for_unknown_ids(
        app: Flask, viewer: Client, operator: Client, store: Store, seeded: Seeded,
        verb: str) -> None:
    path = f"/console/stops/{seeded.stop_id}/{verb}"
    vclient, vtoken = viewer
    assert vclient.post(path, data={"csrf_token": vtoken}).status_code == 403
    client, token = operator
    assert client.post(path, data={}).status_code == 400
    assert client.post(path, data={"csrf_token": "forged"}).status_code == 403
    assert client.post(f"/console/stops/999/{verb}", data={"csrf_token": token}).status_code \
        == 404
    out = app.test_client()
    signed_out = out.post(path, data={"csrf_token": csrf_of(out)})
    assert signed_out.status_code == 302
    assert store.staged_batch(seeded.stop_id).state is BatchState.WAITING  # type: ignore[union-attr]


def test_the_mapping_page_shows_the_active_rules(viewer: Client, seeded: Seeded) -> None:
    page = viewer[0].get("/console/mapping").get_data(as_text=True)
    assert "negotiation:101+102" in page and "rules[0]" in page
    assert "Negotiation basics <small>(101)</small><br>Closing the deal <small>(102)</small>" \
        in page
    assert "Account Executive: 4" in page


def test_a_preview_shows_added_removed_and_unchanged_by_skill_and_role(
        viewer: Client, store: Store, seeded: Seeded) -> None:
    client, token = viewer
    before = store.jobs.counts()
    answer = client.post("/console/mapping/preview", data={"csrf_token": token, "text": EDIT})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<strong>2</strong> assignment(s) added" in page
    assert "<strong>2</strong> no longer made" in page and "<strong>3</strong> unchanged" in page
    # A course by its LMS title as last read, or by its id when none was read yet.
    assert "+ Grace Hopper: course 118" in page
    assert "\u2212 Grace Hopper: Closing the deal <small>(102)</small>" in page
    assert store.jobs.counts() == before  # nothing changed


def test_the_person_page_and_the_rules_name_courses_by_title(viewer: Client, store: Store,
                                                            seeded: Seeded) -> None:
    person = viewer[0].get("/console/people/E2").get_data(as_text=True)
    goals = person[person.index("<h2>Goals</h2>"):person.index("<h2>Story</h2>")]
    assert "Negotiation basics <small>(101)</small>" in goals
    assert "Closing the deal <small>(102)</small>" in goals
    rules = viewer[0].get("/console/mapping").get_data(as_text=True)
    assert "course 103" in rules  # no title read for it: its id, said as a course
    store.course_titles.remember({"103": "<b>Write & speak</b>"})  # vendor text: escaped
    rules = viewer[0].get("/console/mapping").get_data(as_text=True)
    assert "&lt;b&gt;Write &amp; speak&lt;/b&gt; <small>(103)</small>" in rules


def test_an_uploaded_preview_reads_the_file(viewer: Client, seeded: Seeded) -> None:
    client, token = viewer
    answer = client.post("/console/mapping/preview", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(EDIT.encode()), "edited.toml")})
    assert answer.status_code == 200 and "Preview of edited.toml" in answer.get_data(
        as_text=True)


def test_an_invalid_preview_gives_every_problem_as_connector_check_does(
        viewer: Client, seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    client, token = viewer
    answer = client.post("/console/mapping/preview", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(BROKEN.encode()), "broken.toml")})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "nothing was planned" in page
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(path.parent)
    assert main(["check", "--mapping", "broken.toml"]) == 2
    problems = capsys.readouterr().err.removeprefix("error: ").splitlines()
    assert problems[0] == "broken.toml: 3 problems in the mapping:"
    for line in problems[1:]:
        assert f"<li>{line.strip()}</li>".replace("'", "&#39;") in page


@pytest.mark.parametrize("form", [{}, {"text": "  "}])
def test_an_empty_preview_or_one_without_csrf_is_refused(viewer: Client, seeded: Seeded,
                                                         form: dict[str, str]) -> None:
    client, token = viewer
    assert client.post("/console/mapping/preview", data=form).status_code == 400
    assert client.post("/console/mapping/preview",
                       data={**form, "csrf_token": token}).status_code == 422


def test_the_reports_page_draws_every_report(viewer: Client, seeded: Seeded) -> None:
    page = viewer[0].get("/console/reports").get_data(as_text=True)
    for title in ("Skill gaps by skill", "Skill gaps by role", "Skill gaps by manager",
                  "Funnel by course", "Funnel by skill", "Goals opened and closed by week",
                  "Overdue courses"):
        assert title in page
    assert page.count("<svg") == 6  # every report but the overdue list has a chart
    assert "<script" not in page and "=HYPERLINK" in page  # shown as text, escaped
    assert 'href="/console/reports/funnel-by-course.csv"' in page


def test_a_report_downloads_as_csv_with_formulas_neutralised(viewer: Client,
                                                             seeded: Seeded) -> None:
    answer = viewer[0].get("/console/reports/overdue.csv")
    assert answer.mimetype == "text/csv"
    assert 'filename="overdue.csv"' in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0][:3] == ["employee id", "employee", "manager"]
    names = {r[1] for r in rows[1:]}
    assert names == {"'" + EVIL + " Smith"}
    assert {r[2] for r in rows[1:]} == {"Grace Hopper (E2)"}


def test_course_titles_in_the_reports_stay_text(viewer: Client, store: Store,
                                                seeded: Seeded) -> None:
    def download(name: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(
            viewer[0].get(f"/console/reports/{name}.csv").get_data(as_text=True))))

    overdue = download("overdue")
    assert overdue[0][4:6] == ["course", "course title"]
    courses = {r[4] for r in overdue[1:]}
    assert courses
    store.course_titles.remember(dict.fromkeys(courses, EVIL))  # an LMS title, formula-like
    for name, id_column, title_column in (("overdue", 4, 5), ("funnel-by-course", 0, 1)):
        titles = {r[title_column] for r in download(name)[1:] if r[id_column] in courses}
        assert titles == {"'" + EVIL}, name


def test_the_funnel_counts_assigned_completed_and_evidence(viewer: Client,
                                                           seeded: Seeded) -> None:
    rows = list(csv.reader(io.StringIO(
        viewer[0].get("/console/reports/funnel-by-course.csv").get_data(as_text=True))))
    assert rows[0] == ["course", "title", "assigned", "completed", "evidence posted"]
    # By the LMS title as last read; a course with none read yet is shown by its id alone.
    assert ["101", "Negotiation basics", "2", "1", "1"] in rows
    assert ["103", "", "1", "0", "0"] in rows


def test_an_unknown_report_is_404(viewer: Client, seeded: Seeded) -> None:
    assert viewer[0].get("/console/reports/nothing.csv").status_code == 404


def test_suggestions_are_checked_against_the_lms_and_linkable(
        operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    page = client.get("/console/identities/E1/suggestions").get_data(as_text=True)
    assert "user u41" in page and "same name (ada.lovelace@example.com)" in page
    answer = client.post("/console/identities/E1/link",
                         data={"csrf_token": token, "lms_user_id": "u41"},
                         follow_redirects=True)
    assert "linked E1 → LMS user u41 (ada.lovelace@example.com)" in answer.get_data(
        as_text=True)
    identity = store.identity("E1")
    assert identity is not None and identity.match_state is MatchState.LINKED


def test_a_link_to_a_user_the_lms_does_not_have_is_refused(operator: Client, store: Store,
                                                           seeded: Seeded) -> None:
    client, token = operator
    answer = client.post("/console/identities/E1/link",
                         data={"csrf_token": token, "lms_user_id": "u404"},
                         follow_redirects=True)
    assert "has no user &#39;u404&#39;; nothing was linked" in answer.get_data(as_text=True)
    assert store.identity("E1").match_state is MatchState.PENDING  # type: ignore[union-attr]


def test_suggestions_for_an_unknown_employee_are_404(viewer: Client, seeded: Seeded) -> None:
    assert viewer[0].get("/console/identities/nobody/suggestions").status_code == 404


def test_the_overview_links_stops_and_shows_the_rate_budget(viewer: Client, store: Store,
                                                            seeded: Seeded) -> None:
    store.configure_budget("talentlms", 2000)
    page = viewer[0].get("/console").get_data(as_text=True)
    assert '<strong>1</strong> safety stop(s) waiting' in page
    assert 'href="/console/stops"' in page and 'href="/console/reports"' in page
    assert "TalentLMS" in page and "<td class=\"num\">2000</td>" in page


def test_the_overview_names_a_broken_token_chain_with_its_fix(viewer: Client, store: Store,
                                                              seeded: Seeded) -> None:
    store.cursor_failed("goals.reviews", "AuthenticationError: OrangeHRM refused the refresh "
                        "token (invalid_grant): consent again in OrangeHRM and set "
                        "CONNECTOR_ORANGEHRM_REFRESH_TOKEN to the new refresh token")
    page = viewer[0].get("/console").get_data(as_text=True)
    assert ("The OrangeHRM token chain is broken: OrangeHRM refused the refresh token. To fix "
            "it, consent again in OrangeHRM and set CONNECTOR_ORANGEHRM_REFRESH_TOKEN") in page


def test_the_person_page_links_goals_and_courses_in_the_vendors(viewer: Client,
                                                                seeded: Seeded) -> None:
    page = viewer[0].get("/console/people/E3").get_data(as_text=True)
    assert 'href="https://example.talentlms.com/course/edit/id:101"' in page
    assert 'href="https://example.bamboohr.com/employees/employee.php?id=E3"' in page
