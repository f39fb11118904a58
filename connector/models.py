"""Domain models shared by the core, the store and every vendor adapter.

Immutable (frozen) pydantic models: a review or a plan action is a fact, and facts do not change
after they are made. Every time is timezone-aware UTC; naive times are refused at the boundary
so that no vendor's local clock leaks into the ledger.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time zone is required (for example 2026-03-01T10:00:00Z)")
    return value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_require_utc)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Employee(Frozen):
    """A person as the HR system knows them. `employee_id` is the HR system's stable id."""

    employee_id: str = Field(min_length=1)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    manager_id: str | None = None
    active: bool = True

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email or self.employee_id

    @property
    def keyed_by_email(self) -> bool:
        """Filed under the lowercased email because the source gave no HR id (a provisional
        key, resolved by email); derived, so stored payloads and digests are unchanged."""
        return self.email is not None and self.employee_id == self.email.lower()


class Rating(Frozen):
    """One rating of one skill in a review, on the source's own scale."""

    skill_key: str = Field(min_length=1)
    skill_label: str | None = None
    value: float | None = None
    label: str | None = None  # a textual rating ("Meets expectations") mapped by the mapping file
    scale_min: float | None = None
    scale_max: float | None = None
    rater: str = "manager"
    comment: str | None = None


class Review(Frozen):
    """A finished performance review: who, which cycle, when, and the ratings."""

    review_id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    cycle: str = Field(min_length=1)
    employee: Employee
    completed_at: UtcDateTime
    ratings: tuple[Rating, ...] = ()

    def fingerprint(self) -> str:
        """A stable hash of the ratings, so a re-opened review with changes is noticed."""
        payload = json.dumps(
            [r.model_dump(mode="json") for r in self.ratings], sort_keys=True
        ).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


class Cause(Frozen):
    """Why an action exists: review → skill → rating → target → gap → rule."""

    review_id: str
    source: str
    cycle: str
    skill_id: str
    rating_key: str  # the skill as the source named it
    rating_raw: str  # the rating as the source gave it ("2 of 1-5", "Needs improvement")
    rating: float  # normalised onto the mapping's scale
    rater: str
    target: float
    gap: float
    rule_index: int  # rules[N] in the mapping file when planned (a fallback for old rows)
    rule_id: str | None = None  # the rule's stable id (`Mapping.rule_by_id`)
    rule_version: str | None = None  # a hash of what that rule said
    mapping_version: str | None = None  # a hash of the whole mapping it was planned under


class SkillGap(Frozen):
    employee_id: str
    skill_id: str
    rating: float
    target: float
    gap: float
    cause: Cause


class Course(Frozen):
    course_id: str
    name: str | None = None


class GoalKey(Frozen):
    """One development goal per (employee, skill, review cycle)."""

    employee_id: str
    skill_id: str
    cycle: str

    def __str__(self) -> str:
        return f"{self.employee_id}/{self.skill_id}/{self.cycle}"


class ActionKind(StrEnum):
    ENSURE_LEARNER = "ensure_learner"
    ENROLL = "enroll"
    OPEN_GOAL = "open_goal"


class PlanAction(Frozen):
    """One side effect the executor must make happen exactly once.

    `key` is the idempotency key: the same key is never executed twice, whatever retries,
    crashes or duplicate deliveries happen.
    """

    kind: ActionKind
    employee: Employee
    course_id: str | None = None
    course_ids: tuple[str, ...] = ()  # OPEN_GOAL: the courses linked to the goal
    goal: GoalKey | None = None
    goal_title: str | None = None
    due_date: date | None = None
    priority: int = 0
    causes: tuple[Cause, ...] = ()

    @property
    def key(self) -> str:
        e = self.employee.employee_id
        if self.kind is ActionKind.ENSURE_LEARNER:
            return f"learner:{e}"
        if self.kind is ActionKind.ENROLL:
            return f"enroll:{e}:{self.course_id}:{self.goal}"
        return f"goal:{self.goal}"


class Unmapped(Frozen):
    """A rated skill the mapping cannot place, or a gap with no rule: shown, never dropped."""

    employee_id: str
    review_id: str
    skill_key: str
    reason: str


class Skipped(Frozen):
    """An action the planner chose not to make, and why (limit reached, already assigned…)."""

    employee_id: str
    review_id: str
    skill_id: str
    course_id: str | None
    reason: str


class Plan(Frozen):
    actions: tuple[PlanAction, ...] = ()
    gaps: tuple[SkillGap, ...] = ()
    unmapped: tuple[Unmapped, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    VOIDED = "voided"  # an xAPI voiding statement: `CompletionEvent.voids` names its target


class CompletionEvent(Frozen):
    """A learner finished (or failed) a course in the LMS."""

    source: str  # "talentlms", "lms-webhook", "xapi"…
    event_id: str  # dedupe key within the source
    course_id: str
    lms_user_id: str | None = None
    email: str | None = None
    employee_id: str | None = None
    completed_at: UtcDateTime
    outcome: Outcome = Outcome.PASSED
    score: float | None = None
    certificate_url: str | None = None
    expires_at: UtcDateTime | None = None
    course_name: str | None = None
    # A withdrawn completion (an xAPI voiding statement): the event id it takes back. The
    # course is the voided event's, found in the ledger; `course_id` is "" until then.
    voids: str | None = None


class Evidence(Frozen):
    """What the connector posts on a development goal for one completion."""

    goal: GoalKey
    course_id: str
    course_name: str | None
    lms_name: str
    completed_at: UtcDateTime
    outcome: Outcome = Outcome.PASSED
    score: float | None = None
    certificate_url: str | None = None

    def text(self) -> str:
        """The comment shown to the employee and manager on the goal."""
        course = self.course_name or f"course {self.course_id}"
        day = self.completed_at.date().isoformat()
        if self.outcome is Outcome.FAILED:
            head = f"Attempted {course} in {self.lms_name} on {day}: not passed"
        else:
            head = f"Completed {course} in {self.lms_name} on {day}"
        parts = [head]
        if self.score is not None:
            parts.append(f"score {self.score:g}")
        if self.certificate_url:
            parts.append(f"certificate {self.certificate_url}")
        return "; ".join(parts)


class LearnerRef(Frozen):
    """An LMS user as found or created by a `LearningPlatform`."""

    lms_user_id: str
    email: str | None = None
    login: str | None = None


class Progress(Frozen):
    """A learner's state in one course, as the LMS reports it."""

    course_id: str
    lms_user_id: str
    status: Outcome | Literal["not_started"]
    percent: float = 0.0
    completed_at: UtcDateTime | None = None
    enrolled: bool = True
    score: float | None = None
    certificate_url: str | None = None
    expires_at: UtcDateTime | None = None


class GoalRef(Frozen):
    """A development goal as created in a `GoalTracker`, with its milestone ids per course."""

    tracker: str
    goal_id: str
    milestone_ids: dict[str, str] = Field(default_factory=dict)  # course_id → milestone id


def utcnow() -> datetime:
    return datetime.now(UTC)


def completion_event_id(user_id: str, course_id: str, seconds: int, outcome: Outcome) -> str:
    """The dedupe key of a completion: a pass and a failure in the same second stay apart,
    and the reconciler's reading of the same pass (from the progress call) gets the same id."""
    base = f"{user_id}:{course_id}:{seconds}"
    return base if outcome is Outcome.PASSED else f"{base}:{outcome.value}"
