"""A year of the real product against the sandbox vendors, on SQLite and on PostgreSQL.

Ten people at one company live through two review cycles (H1, H2). Between them: passes,
a failure then a pass, courses finished long before a review (ignored, accepted inside the
window, reset), a recertification that comes due, an e-mail change, a leaver who is rehired,
a run stopped by a safety limit and confirmed, an approval step, and an employee without an
LMS account who waits in the identity queue until a person links them. After every step the
test reads BambooHR, TalentLMS and the ledger back and checks what each of them now holds.

Time is the scenario's (2025-01 to 2026-02), injected into the product; the sandboxes run
on loopback. The whole year takes a few seconds per engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.demo.sandboxes import start_sandboxes
from connector.errors import SafetyStop
from connector.store import ActionState, ApprovalState, MatchState
from tests.support.scenario import Person, ScenarioClock, YearWorld, at

pytestmark = pytest.mark.slow

ROLE = "Account Executive"
KPIS = ["Negotiation", "Communication", "Customer focus", "Data literacy"]
COURSES = {"101": "Negotiation Fundamentals", "103": "Clear Business Writing",
           "105": "Listening for Needs", "111": "Data Literacy 101"}

# One rule per prior_completion mode, and one recertification.
MAPPING = """
[scale]
min = 1
max = 5

[raters]
precedence = ["manager", "self"]

[targets]
default = 3

[targets.roles."Account Executive"]
negotiation = 4
communication = 4
customer_focus = 4
data_literacy = 4

[[skills]]
id = "negotiation"
aliases = ["Negotiation"]

[[skills]]
id = "communication"
aliases = ["Communication"]

[[skills]]
id = "customer_focus"
name = "customer focus"
aliases = ["Customer focus"]

[[skills]]
id = "data_literacy"
name = "data literacy"
aliases = ["Data literacy"]

[[rules]]                     # rules[0]: a pass from before the review never counts
skill = "negotiation"
courses = ["101"]
due_in_days = 60
prior_completion = "ignore"

[[rules]]                     # rules[1]: a pass up to 120 days before the review counts
skill = "communication"
courses = ["103"]
prior_completion = "accept_within_days"
accept_within_days = 120

[[rules]]                     # rules[2]: an earlier pass is wiped; the course is taken again
skill = "customer_focus"
courses = ["105"]
prior_completion = "reset"

[[rules]]                     # rules[3]: the skill comes due again 180 days after the pass
skill = "data_literacy"
courses = ["111"]
recertify_every_days = 180

[limits]
max_courses_per_review = 3
max_assignments_per_run = 8
"""
APPROVAL = "\n[approval]\nrequired = true\n"

PAM = Person("201", "Pam", "Pass", "1201")          # passes: evidence, milestone, closed
FAY = Person("202", "Fay", "Fail", "1202")          # fails, then passes
IVY = Person("203", "Ivy", "Ignore", "1203")        # passed 101 in 2024 ("ignore")
ABE = Person("204", "Abe", "Accept", "1204")        # passed 103 100 days before the review
OLIVE = Person("205", "Olive", "Outside", "1205")   # passed 103 312 days before the review
RITA = Person("206", "Rita", "Reset", "1206")       # passed 105 in 2024 ("reset")
CORA = Person("207", "Cora", "Recert", "1207")      # data literacy, recertified every 180 days
ELI = Person("208", "Eli", "Email", "1208")         # changes e-mail address in September
MONA = Person("209", "Mona", "Missing", None)       # no LMS account until a person links one
LEO = Person("210", "Leo", "Leaver", None)          # leaves in October, rehired in November
PEOPLE = [PAM, FAY, IVY, ABE, OLIVE, RITA, CORA, ELI, MONA, LEO]
MONA_LMS = "1309"  # the account the LMS admin makes for Mona, under another address
LEO_LMS = "1210"   # the account the LMS admin makes for Leo when he is rehired

#            Negotiation, Communication, Customer focus, Data literacy (targets: 4)
H1 = {PAM: [2, 4, 4, 4], FAY: [2, 4, 4, 4], IVY: [2, 4, 4, 4], ABE: [4, 2, 4, 4],
      OLIVE: [4, 2, 4, 4], RITA: [4, 4, 2, 4], CORA: [4, 4, 4, 2], ELI: [4, 2, 4, 4],
      MONA: [2, 4, 4, 4], LEO: [2, 4, 4, 4]}
H2 = {**{p: [4, 4, 4, 4] for p in PEOPLE},
      PAM: [4, 4, 2, 4], ELI: [2, 4, 4, 4], LEO: [2, 4, 4, 4]}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def goal(person: Person, skill: str, cycle: str) -> str:
    return f"{person.employee_id}/{skill}/{cycle}"


def waiting_for_a_person(w: YearWorld) -> set[str]:
    """Employee ids `connector identities pending` lists."""
    out = w.cli("identities", "pending")
    return {line.split()[0] for line in out.splitlines()
            if line.strip() and line != "no identities waiting"}


@pytest.fixture
def world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[YearWorld]:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)  # for the operator's CLI
    sb = start_sandboxes()
    w = YearWorld(sb, database_url, tmp_path, ScenarioClock(at("2025-01-06")))
    try:
        yield w
    finally:
        w.close()
        sb.stop()


def test_a_year_of_reviews_courses_and_goals(world: YearWorld) -> None:
    hire_everyone(world)
    history_from_before_the_connector(world)
    h1_review_cycle_stopped_by_a_safety_limit_then_confirmed(world)
    a_person_links_the_missing_identity(world)
    a_pass_and_a_failure(world)
    the_failure_followed_by_a_pass(world)
    an_email_change(world)
    the_retake_after_a_reset_and_a_pass_after_the_email_change(world)
    a_leaver(world)
    the_leaver_is_rehired(world)
    h2_review_cycle_waits_for_approval(world)
    recertification_comes_due(world)
    the_recertification_is_passed(world)
    vendors_and_ledger_agree(world)


def hire_everyone(w: YearWorld) -> None:
    w.seed(PEOPLE, ROLE, COURSES, KPIS)
    w.start(MAPPING)
    queued, leavers = w.sync_directory(max_leaver_share=0.2)
    assert (queued, leavers) == (10, 0)
    w.drain()
    identities = w.store.all_identities()
    assert [r.employee_id for r in identities] == [p.employee_id for p in PEOPLE]
    assert all(r.active and r.match_state == "new" for r in identities)
    assert w.bamboohr()["goals"] == [] and w.talentlms()["enrollments"] == []


def history_from_before_the_connector(w: YearWorld) -> None:
    """Courses finished before any review: kept as history, assigned to nothing."""
    w.clock.move_to(at("2025-06-30"))
    for person, course, day in ((IVY, "101", "2024-03-01"), (RITA, "105", "2024-06-01"),
                                (OLIVE, "103", "2024-09-01"), (ABE, "103", "2025-04-01")):
        assert person.lms_user_id is not None
        w.admin_enroll(person.lms_user_id, course)
        w.finish_course(person.lms_user_id, course, at(day))
    assert w.poll_completions() == 4
    w.drain()
    for person in (IVY, RITA, OLIVE, ABE):
        assert [c.outcome for c in w.store.completions_for(person.employee_id)] == ["passed"]
        assert "completion.unassigned" in w.events(person.employee_id)
    assert w.bamboohr()["goals"] == []


def h1_review_cycle_stopped_by_a_safety_limit_then_confirmed(w: YearWorld) -> None:
    w.clock.move_to(at("2025-07-11"))
    w.add_reviews({p.employee_id: r for p, r in H1.items()}, start="2025-01-01",
                  end="2025-06-30", due="2025-07-14", completed="2025-07-10")
    before, inbox = w.vendor_snapshot(), w.store.inbox_count()
    with pytest.raises(SafetyStop, match=re.escape(
            "10 new course assignments exceed limits.max_assignments_per_run = 8")):
        w.poll_reviews()
    # Nothing queued, the cursor kept, no vendor touched.
    assert w.store.inbox_count() == inbox
    assert w.store.cursor("orangehrm.reviews") is None
    assert w.store.jobs.counts().get("pending", 0) == 0
    assert w.vendor_snapshot() == before
    assert len(w.store.audit_events("safety.assignments")) == 1

    assert w.poll_reviews(confirm=True) == 10  # a person checked the plan and confirmed
    assert len(w.store.audit_events("safety.confirmed")) == 1
    w.drain()
    assert w.poll_reviews() == 0  # the cursor moved: nothing is read twice

    for person in (PAM, FAY):  # a plain gap: goal with one milestone, course enrolled
        key = goal(person, "negotiation", "2025-H1")
        vendor = w.vendor_goal(key)
        assert vendor["title"] == "Raise negotiation from 2 to 4"
        assert vendor["status"] == "in_progress" and vendor["comments"] == []
        assert [m["title"] for m in vendor["milestones"]] == ["Negotiation Fundamentals"]
        assert "completedDateTime" not in vendor["milestones"][0]
        assert w.enrollment(str(person.lms_user_id), "101") is not None
        assert w.identity(person.employee_id).lms_user_id == person.lms_user_id

    # "ignore": the 2024 pass is no evidence; the LMS is left as it is.
    key = goal(IVY, "negotiation", "2025-H1")
    assert w.ledger_goal(key).state == "open" and w.store.evidence_for(key) == []
    assert w.vendor_goal(key)["comments"] == []
    assert "completion.ignored" in w.events(IVY.employee_id)
    assert w.enrollment("1203", "101") == {"user_id": "1203", "course_id": "101",
                                           "role": "learner", "completion_status": "Completed"}

    # "accept_within_days": 100 days before the review is inside the 120-day window.
    key = goal(ABE, "communication", "2025-H1")
    assert w.ledger_goal(key).state == "closed"
    assert [e.completed_at.date().isoformat() for e in w.store.evidence_for(key)] == \
        ["2025-04-01"]
    vendor = w.vendor_goal(key)
    assert vendor["status"] == "closed" and vendor["percentComplete"] == 100
    assert [c["text"].splitlines()[0] for c in vendor["comments"]] == [
        "Completed Clear Business Writing in TalentLMS on 2025-04-01"]
    # ... and 312 days before is outside it.
    key = goal(OLIVE, "communication", "2025-H1")
    assert w.ledger_goal(key).state == "open" and w.store.evidence_for(key) == []
    assert any("outside the 120-day window" in a.message
               for a in w.store.audit_trail(OLIVE.employee_id)
               if a.event == "completion.ignored")

    # "reset": removeuserfromcourse + addusertocourse; the ledger keeps the 2024 pass.
    key = goal(RITA, "customer_focus", "2025-H1")
    tlms = w.talentlms()
    assert tlms["calls_by_route"].get("GET removeuserfromcourse") == 1
    assert w.enrolled("1206", "105")["completion_status"] == "not_attempted"
    assert w.ledger_goal(key).state == "open" and w.store.evidence_for(key) == []
    assert len(w.store.completions_for(RITA.employee_id, "105")) == 1
    for person in (IVY, ABE, OLIVE):  # no other mode resets anything
        assert w.enrolled(str(person.lms_user_id), "101" if person is IVY else "103")[
            "completion_status"] == "Completed"

    # No LMS account: the goal opens, the enrollment waits for a person.
    assert waiting_for_a_person(w) == {MONA.employee_id, LEO.employee_id}
    for person in (MONA, LEO):
        assert w.identity(person.employee_id).match_state == "pending"
        states = w.action_states(person.employee_id)
        assert states[f"enroll:{person.employee_id}:101:"
                      f"{goal(person, 'negotiation', '2025-H1')}"] == ActionState.WAITING
        assert w.vendor_goal(goal(person, "negotiation", "2025-H1"))["status"] == "in_progress"
    assert tlms["counts"]["users"] == 8  # the connector created no learner
    assert w.check_recertifications() == 0


def a_person_links_the_missing_identity(w: YearWorld) -> None:
    w.clock.move_to(at("2025-07-20"))
    w.add_learner(MONA_LMS, "mona.k@lms.example.com", "Mona", "Missing")
    out = w.cli("identities", "link", MONA.employee_id, MONA_LMS)
    assert "waiting work is queued" in out
    assert w.enrollment(MONA_LMS, "101") is None  # nothing happens until a worker runs
    w.drain()
    identity = w.identity(MONA.employee_id)
    assert (identity.match_state, identity.lms_user_id) == ("linked", MONA_LMS)
    assert w.enrollment(MONA_LMS, "101") is not None
    assert [(a.course_id, a.state) for a in w.store.assignments_for(MONA.employee_id)] \
        == [("101", "enrolled")]
    assert waiting_for_a_person(w) == {LEO.employee_id}


def a_pass_and_a_failure(w: YearWorld) -> None:
    w.clock.move_to(at("2025-08-06"))
    w.finish_course("1202", "101", at("2025-08-01"), passed=False, score=40)
    w.finish_course("1201", "101", at("2025-08-05"), score=92)
    assert w.poll_completions() == 2
    w.drain()

    key = goal(PAM, "negotiation", "2025-H1")
    row = w.ledger_goal(key)
    assert (row.state, row.progress) == ("closed", 100.0)
    assert len(w.store.evidence_for(key)) == 1
    vendor = w.vendor_goal(key)
    assert vendor["status"] == "closed" and vendor["percentComplete"] == 100
    assert vendor["milestones"][0].get("completedDateTime")
    assert [c["text"].splitlines() for c in vendor["comments"]] == [[
        "Completed Negotiation Fundamentals in TalentLMS on 2025-08-05",
        "[evidence 101 2025-08-05]"]]
    assert [a.state for a in w.store.assignments_for(PAM.employee_id)] == ["completed"]

    key = goal(FAY, "negotiation", "2025-H1")
    assert w.ledger_goal(key).state == "open" and w.store.evidence_for(key) == []
    vendor = w.vendor_goal(key)
    assert vendor["status"] == "in_progress"
    assert "completedDateTime" not in vendor["milestones"][0]
    assert [c["text"].splitlines()[0] for c in vendor["comments"]] == [
        "Attempted Negotiation Fundamentals in TalentLMS on 2025-08-01: not passed"]
    assert vendor["comments"][0]["text"].splitlines()[1].startswith("[note ")  # retry-safe tag
    assert "goal.note" in w.events(FAY.employee_id)


def the_failure_followed_by_a_pass(w: YearWorld) -> None:
    w.clock.move_to(at("2025-08-21"))
    w.finish_course("1207", "111", at("2025-08-10"))
    w.finish_course("1202", "101", at("2025-08-20"))
    assert w.poll_completions() == 2
    w.drain()

    key = goal(FAY, "negotiation", "2025-H1")
    assert w.ledger_goal(key).state == "closed"
    evidence = w.store.evidence_for(key)
    assert [e.completed_at.date().isoformat() for e in evidence] == ["2025-08-20"]
    comments = [c["text"] for c in w.vendor_goal(key)["comments"]]
    assert len(comments) == 2 and comments[0].splitlines()[0].endswith("not passed")  # stays
    assert sum("[evidence " in c for c in comments) == 1  # evidence only for the pass
    assert w.vendor_goal(key)["status"] == "closed"

    assert w.ledger_goal(goal(CORA, "data_literacy", "2025-H1")).state == "closed"


def an_email_change(w: YearWorld) -> None:
    w.clock.move_to(at("2025-09-02"))
    new_email = "eli.e@example.com"
    w.change_in_bamboohr(ELI.employee_id, workEmail=new_email)
    w.change_in_orangehrm(ELI, ROLE, new_email)
    assert w.sync_directory(max_leaver_share=0.2) == (1, 0)  # only Eli changed
    w.drain()
    identity = w.identity(ELI.employee_id)
    assert identity.email == new_email
    assert (identity.match_state, identity.lms_user_id) == ("linked", ELI.lms_user_id)
    assert "identity.email_changed" in w.events(ELI.employee_id)


def the_retake_after_a_reset_and_a_pass_after_the_email_change(w: YearWorld) -> None:
    w.clock.move_to(at("2025-09-11"))
    w.finish_course("1206", "105", at("2025-09-05"))
    w.finish_course("1208", "103", at("2025-09-10"))  # the LMS still has Eli's old address
    assert w.poll_completions() == 2
    w.drain()
    key = goal(RITA, "customer_focus", "2025-H1")
    assert w.ledger_goal(key).state == "closed"
    assert [e.completed_at.date().isoformat() for e in w.store.evidence_for(key)] == \
        ["2025-09-05"]  # the retake, never the 2024 pass
    assert w.vendor_goal(key)["status"] == "closed"
    key = goal(ELI, "communication", "2025-H1")
    assert w.ledger_goal(key).state == "closed"
    assert w.vendor_goal(key)["status"] == "closed"
    assert w.store.audit_events("completion.unmatched") == []


def a_leaver(w: YearWorld) -> None:
    """Leo (identity still pending, enrollment waiting) leaves: the directory read that
    misses him breaks the 5 % leaver limit first, then a person confirms."""
    w.clock.move_to(at("2025-10-01"))
    w.change_in_bamboohr(LEO.employee_id, status="Inactive")
    before = w.vendor_snapshot()
    states_before = w.action_states(LEO.employee_id)
    with pytest.raises(SafetyStop, match="1 of 10 employees"):
        w.sync_directory(max_leaver_share=0.05)
    w.drain()
    assert w.identity(LEO.employee_id).active
    assert w.action_states(LEO.employee_id) == states_before

    assert w.sync_directory(max_leaver_share=0.05, confirm=True) == (0, 1)
    w.drain()
    assert not w.identity(LEO.employee_id).active
    states = w.action_states(LEO.employee_id)
    key = goal(LEO, "negotiation", "2025-H1")
    assert states[f"enroll:{LEO.employee_id}:101:{key}"] == ActionState.CANCELLED
    assert states[f"learner:{LEO.employee_id}"] == ActionState.CANCELLED
    assert states[f"goal:{key}"] == ActionState.DONE  # what was done stays done
    # Nothing deleted or closed anywhere: the goal stays as it was, in BambooHR and here.
    assert w.vendor_snapshot() == before
    assert w.vendor_goal(key)["status"] == "in_progress"
    assert w.ledger_goal(key).state == "open"
    assert "employee.left" in w.events(LEO.employee_id)
    assert sum(r.active for r in w.store.all_identities()) == 9


def the_leaver_is_rehired(w: YearWorld) -> None:
    w.clock.move_to(at("2025-11-15"))
    w.change_in_bamboohr(LEO.employee_id, status="Active")
    w.add_learner(LEO_LMS, LEO.email, LEO.first, LEO.last)  # the LMS admin makes his account
    assert w.sync_directory(max_leaver_share=0.05) == (1, 0)
    w.drain()
    identity = w.identity(LEO.employee_id)
    assert identity.active
    events = w.events(LEO.employee_id)
    assert events.index("employee.left") < events.index("employee.rehired")
    # The same identity continues: its history is kept, what was cancelled stays cancelled.
    assert len(w.store.goals_for(LEO.employee_id)) == 1
    assert w.action_states(LEO.employee_id)[
        f"enroll:{LEO.employee_id}:101:{goal(LEO, 'negotiation', '2025-H1')}"
    ] == ActionState.CANCELLED


def h2_review_cycle_waits_for_approval(w: YearWorld) -> None:
    w.clock.move_to(at("2026-01-11"))
    w.start(MAPPING + APPROVAL, name="mapping-with-approval.toml")  # the admin switched it on
    assert w.check_recertifications() == 0  # Cora's is due on 2026-02-06
    w.add_reviews({p.employee_id: r for p, r in H2.items()}, start="2025-07-01",
                  end="2025-12-31", due="2026-01-14", completed="2026-01-10")
    before = w.vendor_snapshot()
    assert w.poll_reviews() == 10  # 3 assignments: under the limit
    w.drain()

    waiting = w.store.approvals_list(ApprovalState.PENDING)
    assert sorted(r.employee_id for r in waiting) == ["201", "208", "210"]
    assert w.vendor_snapshot() == before  # plans wait; nothing reached a vendor
    listed = w.cli("approvals", "list")
    # Each plan reads as a decision: who, skill rating → target, rule, courses, goal title.
    assert all(f"({eid}), review " in listed for eid in ("201", "208", "210"))
    assert "(orangehrm)" in listed and "→ target" in listed and "; goal '" in listed
    assert "enroll:" not in listed

    # A person approves (at the wall-clock time, not the scenario's).
    started = datetime.now(UTC).replace(microsecond=0)
    assert "approved 3 plan(s)" in w.cli("approvals", "approve", "--all", "--by", "hr.lead")
    assert w.enrollment("1201", "105") is None  # approved, not yet carried out
    w.drain()
    decided = [r for r in w.store.approvals_list(None) if r.state != "pending"]
    assert sorted(r.employee_id for r in decided) == ["201", "208", "210"]
    for row in decided:
        assert (row.state, row.decided_by) == ("approved", "hr.lead")
        assert _utc(row.decided_at) >= started
    for eid in ("201", "208", "210"):
        trail = w.store.audit_trail(eid)
        events = [a.event for a in trail]
        waited, approved = events.index("review.awaiting_approval"), \
            events.index("approval.approved")
        assert waited < approved < max(i for i, e in enumerate(events) if e == "course.assign")
        said = re.fullmatch(r"plan for review orangehrm:\d+ approved by hr\.lead at (\S+)",
                            trail[approved].message)
        assert said is not None, trail[approved].message
        assert datetime.fromisoformat(said.group(1)) >= started

    # Executed: Pam's new goal and course; Eli's on the same LMS user despite the new address.
    assert w.vendor_goal(goal(PAM, "customer_focus", "2025-H2"))["status"] == "in_progress"
    assert w.enrollment("1201", "105") is not None
    assert w.talentlms()["calls_by_route"].get("GET removeuserfromcourse") == 1  # no prior
    assert w.vendor_goal(goal(ELI, "negotiation", "2025-H2"))["status"] == "in_progress"
    assert w.enrollment(str(ELI.lms_user_id), "101") is not None
    assert w.identity(ELI.employee_id).lms_user_id == ELI.lms_user_id
    # Leo, rehired: the same identity, now matched to his new account by e-mail.
    identity = w.identity(LEO.employee_id)
    assert (identity.match_state, identity.lms_user_id) == ("linked", LEO_LMS)
    assert w.enrollment(LEO_LMS, "101") is not None
    assert w.vendor_goal(goal(LEO, "negotiation", "2025-H2"))["status"] == "in_progress"
    assert w.vendor_goal(goal(LEO, "negotiation", "2025-H1"))["status"] == "in_progress"
    assert w.talentlms()["counts"]["users"] == 10  # 8 + Mona's + Leo's, none by the connector


def recertification_comes_due(w: YearWorld) -> None:
    w.clock.move_to(at("2026-02-10"))
    assert w.enrolled("1207", "111")["completion_status"] == "Completed"
    assert w.check_recertifications() == 1
    assert w.check_recertifications() == 0  # opened once
    w.drain()
    # The course is assigned again: the LMS enrollment starts over (remove + add).
    assert w.enrolled("1207", "111")["completion_status"] == "not_attempted"
    assert w.talentlms()["calls_by_route"].get("GET removeuserfromcourse") == 2
    old = goal(CORA, "data_literacy", "2025-H1")
    new = goal(CORA, "data_literacy", "recert-2026-02-06")
    assert w.ledger_goal(new).state == "open"
    vendor = w.vendor_goal(new)
    assert vendor["title"].startswith("Recertify data literacy")
    assert vendor["status"] == "in_progress"
    # The old cycle is history: still closed, still with its evidence.
    assert w.ledger_goal(old).state == "closed"
    assert [e.completed_at.date().isoformat() for e in w.store.evidence_for(old)] == \
        ["2025-08-10"]
    old_vendor = w.vendor_goal(old)
    assert old_vendor["status"] == "closed"
    assert sum("[evidence 111 2025-08-10]" in c["text"] for c in old_vendor["comments"]) == 1
    assert len(w.vendor_goals_of(CORA.employee_id)) == 2
    assert "recertification.due" in w.events(CORA.employee_id)


def the_recertification_is_passed(w: YearWorld) -> None:
    w.clock.move_to(at("2026-02-21"))
    w.finish_course("1207", "111", at("2026-02-20"))
    assert w.poll_completions() == 1
    w.drain()
    old = goal(CORA, "data_literacy", "2025-H1")
    new = goal(CORA, "data_literacy", "recert-2026-02-06")
    assert w.ledger_goal(new).state == "closed"
    assert [e.completed_at.date().isoformat() for e in w.store.evidence_for(new)] == \
        ["2026-02-20"]
    assert [e.completed_at.date().isoformat() for e in w.store.evidence_for(old)] == \
        ["2025-08-10"]
    assert w.vendor_goal(new)["status"] == "closed"
    assert w.check_recertifications() == 0


def vendors_and_ledger_agree(w: YearWorld) -> None:
    """The end of the year: every goal and assignment the ledger holds is in the vendors
    exactly once and in the same state, and nothing is dead or stuck."""
    bamboo, tlms = w.bamboohr(), w.talentlms()
    goals = [g for p in PEOPLE for g in w.store.goals_for(p.employee_id)]
    assert len(goals) == len(bamboo["goals"]) == 14
    for row in goals:
        vendor = w.vendor_goal(row.goal_key)
        assert (vendor["status"] == "closed") == (row.state == "closed"), row.goal_key
    enrolled = {(e["user_id"], e["course_id"]) for e in tlms["enrollments"]}
    assignments = w.store.assignments_for()
    assert len(assignments) == 13
    for a in assignments:
        lms_user = w.identity(a.employee_id).lms_user_id
        assert (lms_user, a.course_id) in enrolled
    assert w.store.jobs.dead_letters() == []
    assert w.store.identities_in_state(MatchState.PENDING) == []
    assert tlms["counts"]["users"] == 10
