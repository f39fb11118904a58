"""In-memory fakes of the PORTS (not of our own code), counting every effect they receive.

Used by the executor and worker tests of the pipeline; vendor adapters are tested against
`responses` and the sandbox simulators instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from connector.errors import RetriableAPIError
from connector.models import (
    CompletionEvent,
    Course,
    Employee,
    Evidence,
    GoalKey,
    GoalRef,
    LearnerRef,
    Progress,
)


class ManualClock:
    """Time that moves only when a test sets `now` (epoch or monotonic seconds, as the code
    under test expects): leases, backoff and token expiry become exact, and nothing sleeps."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeLMS:
    name = "fakelms"
    creates_learners = True

    def __init__(self, learners: dict[str, str] | None = None, fail_enrolls: int = 0) -> None:
        self.learners = dict(learners or {})  # email → user id
        self.enrollments: Counter[tuple[str, str]] = Counter()
        self.calls: Counter[str] = Counter()
        self.fail_enrolls = fail_enrolls

    def find_learner(self, employee: Employee) -> LearnerRef | None:
        self.calls["find"] += 1
        uid = self.learners.get((employee.email or "").lower())
        return LearnerRef(lms_user_id=uid, email=employee.email) if uid else None

    def learner(self, lms_user_id: str) -> LearnerRef | None:
        self.calls["learner"] += 1
        email = next((e for e, uid in self.learners.items() if uid == lms_user_id), None)
        return LearnerRef(lms_user_id=lms_user_id, email=email) if email else None

    def create_learner(self, employee: Employee) -> LearnerRef:
        self.calls["create"] += 1
        uid = f"u{len(self.learners) + 1}"
        self.learners[(employee.email or "").lower()] = uid
        return LearnerRef(lms_user_id=uid, email=employee.email)

    def list_courses(self) -> list[Course]:
        return [Course(course_id=str(i), name=f"Course {i}") for i in range(100, 130)]

    def enroll(self, learner: LearnerRef, course_id: str) -> None:
        self.calls["enroll"] += 1
        if self.fail_enrolls > 0:
            self.fail_enrolls -= 1
            raise RetriableAPIError("flaky", vendor="fakelms", operation="enroll", status=503)
        self.enrollments[(learner.lms_user_id, course_id)] = 1  # the LMS dedupes by design

    def enroll_many(self, pairs: Sequence[tuple[LearnerRef, str]]
                    ) -> dict[tuple[str, str], Exception | None]:
        out: dict[tuple[str, str], Exception | None] = {}
        for learner, course in pairs:
            self.enroll(learner, course)
            out[(learner.lms_user_id, course)] = None
        return out

    def progress(self, learner: LearnerRef, course_id: str) -> Progress:
        return Progress(course_id=course_id, lms_user_id=learner.lms_user_id,
                        status="not_started")

    def completions_since(self, cursor: str | None
                          ) -> tuple[list[CompletionEvent], str | None, bool]:
        return [], cursor, False


class FakeGoals:
    name = "fakegoals"
    closes_goals = True

    def __init__(self) -> None:
        self.goals: dict[str, dict] = {}
        self.calls: Counter[str] = Counter()

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        g = self.goals.get(str(key))
        return GoalRef(tracker=self.name, goal_id=g["id"], milestone_ids=g["milestones"]) if g \
            else None

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        self.calls["open"] += 1
        gid = f"g{len(self.goals) + 1}"
        self.goals[str(key)] = {"id": gid, "title": title, "due": due_date,
                                "milestones": {c: f"m{i}" for i, (c, _) in enumerate(courses)},
                                "evidence": [], "notes": [], "done": set(), "closed": False}
        return GoalRef(tracker=self.name, goal_id=gid,
                       milestone_ids=self.goals[str(key)]["milestones"])

    def _by_id(self, ref: GoalRef) -> dict:
        return next(g for g in self.goals.values() if g["id"] == ref.goal_id)

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool:
        return evidence.text() in self._by_id(goal)["evidence"]

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        self.calls["evidence"] += 1
        self._by_id(goal)["evidence"].append(evidence.text())

    def add_note(self, goal: GoalRef, text: str) -> None:
        self.calls["note"] += 1
        self._by_id(goal)["notes"].append(text)

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        self._by_id(goal)["done"].add(course_id)

    def close_goal(self, goal: GoalRef) -> None:
        self.calls["close"] += 1
        self._by_id(goal)["closed"] = True
