"""Every console page and action through Flask's test client, on both engines: what an
operator and a viewer see and may do, and every refusal (signed out, viewer acting, CSRF
missing or wrong, unknown ids) answered 4xx, never 5xx."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector.store import ApprovalState, JobState, MatchState, Store
from tests.console.conftest import Seeded, Users, csrf_of, sign_in, users_text

PAGES = ["/console", "/console/dead-letters", "/console/identities", "/console/approvals",
         "/console/people", "/console/people?q=ada", "/console/people/E2"]
Client = tuple[FlaskClient, str]


@pytest.mark.parametrize("path", [*PAGES, "/console/people/nobody", "/console/nothing-here"])
def test_signed_out_every_console_url_redirects_to_sign_in(app: Flask, seeded: Seeded,
                                                           path: str) -> None:
    answer = app.test_client().get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/sign-in")


def test_signed_out_a_post_redirects_to_sign_in_and_changes_nothing(
        app: Flask, store: Store, seeded: Seeded) -> None:
    client = app.test_client()
    token = csrf_of(client)
    answer = client.post(f"/console/approvals/{seeded.approval_ids[0]}/approve",
                         data={"csrf_token": token})
    assert answer.status_code == 302 and "/console/sign-in" in answer.headers["Location"]
    assert store.approval(seeded.approval_ids[0]).state is ApprovalState.PENDING  # type: ignore[union-attr]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_renders_for_a_viewer(viewer: Client, seeded: Seeded, path: str) -> None:
    client, _ = viewer
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]


def test_the_overview_counts_link_to_their_pages(viewer: Client, seeded: Seeded) -> None:
    page = viewer[0].get("/console").get_data(as_text=True)
    assert '<strong>2</strong> plan(s) waiting for approval' in page
    assert '<strong>1</strong> identity waiting' in page
    assert '<strong>1</strong> dead letter(s)' in page
    for target in ("/console/approvals", "/console/identities", "/console/dead-letters"):
        assert f'href="{target}"' in page
    assert "hr.reviews" in page and "could not be reached" in page  # the poller's error


def test_the_approvals_page_shows_who_and_what(viewer: Client, seeded: Seeded) -> None:
    page = viewer[0].get("/console/approvals").get_data(as_text=True)
    assert "Ada Lovelace" in page and "Negotiation 1<" in page
    # What is decided on, in words: skill, rating → target, the rule, courses by title, goal.
    assert "<strong>negotiation</strong> 1 → 4 <small>(rule negotiation:101+102)" in page
    assert "Courses: Negotiation basics <small>(101)</small>, Closing the deal" in page
    assert "Goal: “Raise negotiation from 1 to 4 (2026-H1)”" in page
    assert "enroll:" not in page and "open_goal" not in page
    assert ">Approve</button>" not in page  # a viewer is offered no action


def test_sign_in_with_a_wrong_password_is_refused(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    answer = client.post("/console/sign-in", data={
        "name": "olga", "password": "wrong password!", "csrf_token": csrf_of(client)})
    assert answer.status_code == 401
    assert "do not match" in answer.get_data(as_text=True)
    assert client.get("/console").status_code == 302


def test_sign_in_goes_back_to_the_page_asked_for_but_never_elsewhere(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client)
    form = {"name": "olga", "password": "correct horse battery", "csrf_token": token}
    answer = client.post("/console/sign-in", data={**form, "next": "/console/people?q=x"})
    assert answer.headers["Location"] == "/console/people?q=x"
    client = app.test_client()
    form["csrf_token"] = csrf_of(client)
    answer = client.post("/console/sign-in", data={**form, "next": "//evil.example/console"})
    assert answer.headers["Location"] == "/console"


def test_sign_in_without_its_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    csrf_of(client)
    answer = client.post("/console/sign-in", data={"name": "olga",
                                                   "password": "correct horse battery"})
    assert answer.status_code == 400


def test_sign_out_ends_the_session(operator: Client) -> None:
    client, token = operator
    assert client.post("/console/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/console").status_code == 302


def test_a_user_removed_from_the_settings_is_signed_out_on_the_next_request(
        operator: Client, users: Users) -> None:
    client, _ = operator
    assert client.get("/console").status_code == 200
    users.text = users_text(vic="viewer")
    assert client.get("/console").status_code == 302


def test_settings_broken_while_running_let_nobody_in(operator: Client, users: Users) -> None:
    client, _ = operator
    users.text = "olga:operator"  # no hash: the settings no longer read
    assert client.get("/console").status_code == 302
    page = client.get("/console/sign-in").get_data(as_text=True)
    assert "No console users are set up" in page


def test_a_user_demoted_in_the_settings_may_no_longer_act(
        operator: Client, users: Users, seeded: Seeded) -> None:
    client, token = operator
    users.text = users_text(olga="viewer", vic="viewer")
    answer = client.post("/console/dead-letters/replay", data={"csrf_token": token})
    assert answer.status_code == 403


def test_a_session_expires(store: Store, users: Users) -> None:
    from connector.console import create_app
    from connector.settings import Settings

    now = [1_000_000.0]
    app = create_app(store, Settings(console_secret_key="k" * 40, console_session_minutes=5),
                     users=users.directory(), clock=lambda: now[0])
    client = app.test_client()
    sign_in(client, "olga")
    assert client.get("/console").status_code == 200
    now[0] += 5 * 60 + 1
    assert client.get("/console").status_code == 302


def test_cookies_are_http_only_and_same_site(app: Flask) -> None:
    client = app.test_client()
    answer = client.get("/console/sign-in")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie


def test_cookies_are_secure_when_served_over_tls(store: Store, users: Users) -> None:
    from connector.console import create_app
    from connector.settings import Settings

    app = create_app(store, Settings(console_secret_key="k" * 40, console_secure_cookies=True),
                     users=users.directory())
    assert "Secure" in app.test_client().get("/console/sign-in").headers["Set-Cookie"]


def test_no_secret_key_no_console(store: Store) -> None:
    from connector.console import create_app
    from connector.errors import ConfigError
    from connector.settings import Settings

    with pytest.raises(ConfigError, match="CONNECTOR_CONSOLE_SECRET_KEY: not set"):
        create_app(store, Settings())
    with pytest.raises(ConfigError, match="too short"):
        create_app(store, Settings(console_secret_key="short"))
    assert create_app(store, Settings(), demo=True) is not None


# -- actions --------------------------------------------------------------------------------
def test_approve_one_records_who_decided(operator: Client, store: Store,
                                         seeded: Seeded) -> None:
    client, token = operator
    first = seeded.approval_ids[0]
    answer = client.post(f"/console/approvals/{first}/approve", data={"csrf_token": token},
                         follow_redirects=True)
    assert answer.status_code == 200
    assert f"approved approval #{first}" in answer.get_data(as_text=True)
    row = store.approval(first)
    assert row is not None and (row.state, row.decided_by) == (ApprovalState.APPROVED, "olga")
    [audit] = store.audit_events("approval.approved")
    assert "by olga" in audit.message
    again = client.post(f"/console/approvals/{first}/reject", data={"csrf_token": token},
                        follow_redirects=True)
    assert "already approved" in again.get_data(as_text=True)
    assert store.audit_events("approval.rejected") == []


def test_reject_a_selection(operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    answer = client.post("/console/approvals/decide", data={
        "csrf_token": token, "decision": "reject", "ids": seeded.approval_ids})
    assert answer.status_code == 302
    assert [a.decided_by for a in store.approvals_list(ApprovalState.REJECTED)] == ["olga"] * 2


def test_approve_all(operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    client.post("/console/approvals/decide", data={"csrf_token": token, "decision": "approve",
                                                   "all": "1"})
    assert store.approvals_list(ApprovalState.PENDING) == []
    assert len(store.audit_events("approval.approved")) == 2


def test_link_and_ignore_an_identity(operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    answer = client.post("/console/identities/E1/link",
                         data={"csrf_token": token, "lms_user_id": "u77"},
                         follow_redirects=True)
    assert "linked E1 → LMS user u77" in answer.get_data(as_text=True)
    identity = store.identity("E1")
    assert identity is not None and identity.lms_user_id == "u77"
    assert "(olga)" in store.audit_events("identity.linked")[0].message
    client.post("/console/identities/E2/ignore", data={"csrf_token": token})
    assert store.identity("E2").match_state is MatchState.IGNORED  # type: ignore[union-attr]


def test_a_link_without_a_user_id_changes_nothing(operator: Client, store: Store,
                                                  seeded: Seeded) -> None:
    client, token = operator
    answer = client.post("/console/identities/E1/link", data={"csrf_token": token},
                         follow_redirects=True)
    assert "type the LMS user id" in answer.get_data(as_text=True)
    assert store.identity("E1").match_state is MatchState.PENDING  # type: ignore[union-attr]


def test_replay_one_then_all(operator: Client, store: Store, seeded: Seeded) -> None:
    client, token = operator
    answer = client.post(f"/console/dead-letters/{seeded.dead_job}/replay",
                         data={"csrf_token": token}, follow_redirects=True)
    assert "queued 1 job(s) again" in answer.get_data(as_text=True)
    assert store.jobs.job_state(seeded.dead_job) is JobState.PENDING
    again = client.post(f"/console/dead-letters/{seeded.dead_job}/replay",
                        data={"csrf_token": token}, follow_redirects=True)
    assert again.status_code == 200 and "nothing changed" in again.get_data(as_text=True)
    empty = client.post("/console/dead-letters/replay", data={"csrf_token": token},
                        follow_redirects=True)
    assert "no dead letters to replay" in empty.get_data(as_text=True)
    assert "by olga" in store.audit_events("dead_letter.replayed")[0].message


ACTIONS = ["/console/approvals/{a}/approve", "/console/approvals/{a}/reject",
           "/console/approvals/decide", "/console/identities/E1/link",
           "/console/identities/E1/ignore", "/console/dead-letters/{j}/replay",
           "/console/dead-letters/replay"]


@pytest.mark.parametrize("action", ACTIONS)
def test_a_viewer_may_not_act(viewer: Client, store: Store, seeded: Seeded,
                              action: str) -> None:
    client, token = viewer
    path = action.format(a=seeded.approval_ids[0], j=seeded.dead_job)
    answer = client.post(path, data={"csrf_token": token, "decision": "approve", "all": "1",
                                     "lms_user_id": "u9"})
    assert answer.status_code == 403
    assert "may read the console but not act" in answer.get_data(as_text=True)
    assert store.audit_events("approval.approved") == []
    assert store.identity("E1").match_state is MatchState.PENDING  # type: ignore[union-attr]


@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_without_or_with_a_wrong_csrf_token_is_refused(
        operator: Client, store: Store, seeded: Seeded, action: str) -> None:
    client, _ = operator
    path = action.format(a=seeded.approval_ids[0], j=seeded.dead_job)
    form = {"decision": "approve", "all": "1", "lms_user_id": "u9"}
    assert client.post(path, data=form).status_code == 400
    assert client.post(path, data={**form, "csrf_token": "forged"}).status_code == 403
    assert store.approvals_list(ApprovalState.PENDING) != []
    assert store.jobs.job_state(seeded.dead_job) is JobState.DEAD


@pytest.mark.parametrize(("path", "form"), [
    ("/console/approvals/999/approve", {}),
    ("/console/approvals/decide", {"decision": "approve", "ids": ["999"]}),
    ("/console/identities/nobody/link", {"lms_user_id": "u1"}),
    ("/console/identities/nobody/ignore", {}),
    ("/console/dead-letters/999/replay", {}),
])
def test_unknown_ids_are_404(operator: Client, seeded: Seeded, path: str,
                             form: dict[str, object]) -> None:
    client, token = operator
    assert client.post(path, data={**form, "csrf_token": token}).status_code == 404


def test_unknown_pages_and_bad_input_are_4xx(operator: Client, seeded: Seeded) -> None:
    client, token = operator
    assert client.get("/console/people/nobody").status_code == 404
    assert client.get("/console/no-such-page").status_code == 404
    assert client.get("/console/approvals/decide").status_code == 405
    assert client.post("/console/approvals/decide", data={
        "csrf_token": token, "decision": "explode", "all": "1"}).status_code == 400
    assert client.post("/console/approvals/decide", data={
        "csrf_token": token, "decision": "approve", "ids": ["x"]}).status_code == 400
    assert client.post("/console/approvals/1/destroy",
                       data={"csrf_token": token}).status_code == 404


def test_employee_text_cannot_inject_markup(operator: Client, store: Store,
                                            seeded: Seeded) -> None:
    from connector.models import Employee

    store.upsert_employee(Employee(employee_id="E3", first_name="<b>Bold</b>",
                                   email="e3@example.com"))
    client, _ = operator
    page = client.get("/console/people?q=bold").get_data(as_text=True)
    assert "<b>Bold</b>" not in page and "&lt;b&gt;Bold&lt;/b&gt;" in page
    dead = client.get("/console/dead-letters").get_data(as_text=True)
    assert "<script>x</script>" not in dead and "refused our credentials" in dead


def test_people_search_by_name_email_or_id(viewer: Client, seeded: Seeded) -> None:
    client, _ = viewer
    for query in ("lovelace", "ada@example", "E1"):
        page = client.get(f"/console/people?q={query}").get_data(as_text=True)
        assert "Ada Lovelace" in page and "Grace Hopper" not in page


def test_an_employee_story_shows_the_reason(viewer: Client, seeded: Seeded) -> None:
    page = viewer[0].get("/console/people/E2").get_data(as_text=True)
    assert "Grace Hopper" in page and "Skill gap found" in page
    assert "rated negotiation 1 → 1, target 3: a gap of 2, rules[0]" in page


def test_no_secret_in_any_page(operator: Client, seeded: Seeded) -> None:
    client, _ = operator
    for path in PAGES:
        page = client.get(path).get_data(as_text=True)
        assert "$argon2" not in page and "k" * 40 not in page


def test_an_approval_without_a_readable_plan_shows_its_summary() -> None:
    from datetime import UTC, datetime

    from connector.console.pages import _plan_items
    from connector.store import Approval, ApprovalState

    def approval(plan: object) -> Approval:
        return Approval(id=1, employee_id="E1", review_source="csv", review_id="R1",
                        summary="negotiation 1 → 4: 2 course(s)", payload="{}",
                        state=ApprovalState.PENDING, decided_by=None, decided_at=None,
                        created_at=datetime.now(UTC), plan=plan)

    for plan in (None, {}, {"items": []}, {"items": "x"}):
        assert _plan_items(approval(plan)) == [{"summary": "negotiation 1 → 4: 2 course(s)"}]
