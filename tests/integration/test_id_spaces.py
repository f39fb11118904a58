"""One person, several id spaces, on both engines: the goal tracker gets its own id for a
person (linked by email through the directory read), a person it cannot be matched to waits in
`identities pending` with the reason (never a goal on a guessed record), and a later directory
read that finds them links them and resumes the waiting goal.

The vendors are port fakes that remember which id each call was for; the store, planner,
executor, directory sync and worker are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime

import pytest

from connector.executor import Context
from connector.id_spaces import IdSpaces
from connector.models import Employee, Evidence, GoalKey, GoalRef, Rating, Review
from connector.operations.identities import pending_identities
from connector.pollers import sync_directory
from connector.store import ActionState, Store
from connector.worker import Worker
from mappings.loader import load_mapping
from tests.support.fakes import FakeGoals, FakeLMS

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAPPING = load_mapping("mappings/example.toml")
TRACKER = "fakegoals"
ANN = Employee(employee_id="101", email="Ann@Example.com", first_name="Ann",
               role="Account Executive", manager_id="109")
BEN = Employee(employee_id="102", email="ben@example.com", first_name="Ben",
               role="Account Executive")


class OwnedGoals(FakeGoals):
    """The tracker fake, remembering whose record each goal was opened on (and the manager
    it was shared with), and each training record's owner."""

    def __init__(self) -> None:
        super().__init__()
        self.owners: dict[str, tuple[str, str | None]] = {}
        self.trainings: list[str] = []

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        self.owners[str(key)] = (employee.employee_id, employee.manager_id)
        return super().open_goal(employee, key, title, due_date, courses)

    def record_training(self, employee_id: str, evidence: Evidence) -> str | None:
        self.trainings.append(employee_id)
        return None


class Directory:
    """The tracker's own directory, numbering people its own way."""

    name = TRACKER

    def __init__(self, people: list[Employee]) -> None:
        self.people = people

    def list_employees(self) -> tuple[list[Employee], bool]:
        return list(self.people), True


def review(employee: Employee, *, source: str = "hr") -> Review:
    return Review(review_id=f"R{employee.employee_id}", source=source, cycle="2026H1",
                  employee=employee, completed_at=datetime(2026, 3, 1, tzinfo=UTC),
                  ratings=(Rating(skill_key="negotiation", value=2),))


class Loop:
    def __init__(self, url: str, spaces: IdSpaces) -> None:
        self.store = Store.open(url, jitter=lambda: 0.0)
        self.goals = OwnedGoals()
        self.lms = FakeLMS({"ann@example.com": "9001", "ben@example.com": "9002"})
        self.spaces = spaces
        self.ctx = Context(store=self.store, mapping=MAPPING, lms=self.lms, goals=self.goals,
                           now=lambda: NOW, id_spaces=spaces)
        self.worker = Worker(self.ctx)

    def send(self, r: Review) -> None:
        self.store.ingest(r.source, r.review_id, "review", {"review": r.model_dump(mode="json")},
                          employee_id=r.employee.employee_id)
        self.worker.drain()

    def read_directory(self, people: list[Employee]) -> tuple[int, int]:
        result = sync_directory(self.store, Directory(people), max_leaver_share=1.0,
                                id_spaces=self.spaces)
        self.worker.drain()
        return result


@pytest.fixture
def loop(database_url: str) -> Iterator[Loop]:
    it = Loop(database_url, IdSpaces(match_by="email", directory=TRACKER))
    yield it
    it.store.close()


TRACKER_PEOPLE = [
    Employee(employee_id="5001", email="ann@example.com", manager_id="5009"),
    Employee(employee_id="5009", email="boss@example.com"),
    Employee(employee_id="5002", email="someone.else@example.com"),
]


def test_the_goal_lands_on_the_trackers_own_record_for_the_person(loop: Loop) -> None:
    loop.read_directory(TRACKER_PEOPLE)
    loop.send(review(ANN))
    [(owner, manager)] = loop.goals.owners.values()
    assert owner == "5001"  # the tracker's id, not the review source's 101
    assert manager == "5009"  # the manager as the tracker's directory reads them
    link = loop.store.external_id("101", TRACKER)
    assert link is not None and link.external_id == "5001"
    assert pending_identities(loop.store) == []


def test_a_person_the_directory_has_not_read_waits_with_the_reason(loop: Loop) -> None:
    loop.read_directory(TRACKER_PEOPLE)
    loop.send(review(BEN))  # ben@ is not in the tracker's directory
    assert loop.goals.owners == {}  # no goal on a guessed record
    assert loop.lms.enrollments  # the courses do not wait for the goal
    [waiting] = pending_identities(loop.store)
    assert waiting.employee_id == "102"
    assert "ben@example.com" in (waiting.match_note or "")
    assert "directory" in (waiting.match_note or "")
    goal_actions = [a for a in loop.store.actions_for("102", (ActionState.WAITING,))
                    if a.key.startswith("goal:")]
    assert len(goal_actions) == 1
    # The person is added in the tracker: the next directory read links them and the goal
    # that waited is opened on their record.
    loop.read_directory([*TRACKER_PEOPLE,
                         Employee(employee_id="5003", email="BEN@example.com")])
    assert [owner for owner, _ in loop.goals.owners.values()] == ["5003"]
    assert pending_identities(loop.store) == []


def test_two_tracker_people_with_one_email_are_never_guessed_between(loop: Loop) -> None:
    loop.read_directory([Employee(employee_id="5001", email="ann@example.com"),
                         Employee(employee_id="5004", email="ann@example.com")])
    loop.send(review(ANN))
    assert loop.goals.owners == {}
    [waiting] = pending_identities(loop.store)
    assert "5001" in (waiting.match_note or "") and "5004" in (waiting.match_note or "")


def test_an_id_linked_to_one_person_is_never_given_to_another(loop: Loop) -> None:
    loop.read_directory(TRACKER_PEOPLE)
    loop.send(review(ANN))
    other = Employee(employee_id="103", email="ann@example.com", role="Account Executive")
    assert loop.store.link_external("103", TRACKER, "5001") == "101"
    loop.send(review(other))
    assert [owner for owner, _ in loop.goals.owners.values()] == ["5001"]  # Ann's only
    assert [w.employee_id for w in pending_identities(loop.store)] == ["103"]


def test_unlinked_people_are_never_taken_for_leavers(loop: Loop) -> None:
    loop.send(review(BEN))  # in the ledger, never matched to the directory
    assert loop.read_directory(TRACKER_PEOPLE)[1] == 0
    row = loop.store.identity("102")
    assert row is not None and row.active


def test_a_directory_change_keeps_the_ledgers_person_current(loop: Loop) -> None:
    loop.read_directory(TRACKER_PEOPLE)
    loop.send(review(ANN))
    moved = [Employee(employee_id="5001", email="ann.new@example.com", role="Team Lead"),
             *TRACKER_PEOPLE[1:]]
    loop.read_directory(moved)
    row = loop.store.identity("101")
    assert row is not None and row.email == "ann.new@example.com" and row.role == "Team Lead"
    assert loop.store.identity("5001") is None  # no second person under the tracker's id


def test_without_a_directory_only_the_trackers_own_reviews_have_an_id(
        database_url: str) -> None:
    it = Loop(database_url, IdSpaces(match_by="email", directory=None))
    try:
        it.send(review(ANN))
        assert it.goals.owners == {}
        [waiting] = pending_identities(it.store)
        assert "CONNECTOR_DIRECTORY" in (waiting.match_note or "")
        it.send(review(BEN, source=TRACKER))  # a review from the tracker itself
        assert [owner for owner, _ in it.goals.owners.values()] == ["102"]
    finally:
        it.store.close()


def test_matching_by_id_uses_the_review_sources_id_as_it_is(database_url: str) -> None:
    it = Loop(database_url, IdSpaces(match_by="id"))
    try:
        it.send(review(ANN))
        assert list(it.goals.owners.values()) == [("101", "109")]
    finally:
        it.store.close()


def test_a_training_record_goes_to_the_trackers_id(loop: Loop) -> None:
    from connector.completions import handle_completion
    from connector.models import CompletionEvent, Outcome

    loop.read_directory(TRACKER_PEOPLE)
    loop.send(review(ANN))
    [goal] = loop.store.goals_for("101")
    event = CompletionEvent(source="fakelms", event_id="c1", course_id=goal.course_ids[0],
                            lms_user_id="9001", employee_id="101",
                            completed_at=datetime(2026, 3, 5, tzinfo=UTC),
                            outcome=Outcome.PASSED, score=90)
    handle_completion(loop.ctx, event)
    assert loop.goals.trainings == ["5001"]
