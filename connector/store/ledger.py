"""The ledger: what the connector knows and has done, per employee.

Identities (HR employee ↔ LMS user), reviews already planned, the effects ledger (one row
per idempotency key: intent before the vendor call, outcome after), goals, assignments,
completions (kept as history, never overwritten) and the evidence posted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, select, update

from connector.models import (
    ActionKind,
    CompletionEvent,
    Employee,
    PlanAction,
    Review,
    utcnow,
)
from connector.store.engine import transaction
from connector.store.schema import (
    actions,
    approvals,
    assignments,
    completions,
    evidence,
    goals,
    identities,
    reviews,
)
from connector.store.sql import dumps, insert_ignore, loads

if TYPE_CHECKING:
    from connector.store.jobs import JobQueue

# Built once: the completion path (receiver and poller) resolves employees on every event.
_BY_LMS_USER = select(identities.c.employee_id).where(
    identities.c.lms_user_id == bindparam("lms_user_id"))
_BY_EMAIL = select(identities.c.employee_id).where(identities.c.email == bindparam("email"))

# Effect states in the actions table.
AWAITING_APPROVAL, PLANNED, INTENT, DONE, WAITING, CANCELLED = (
    "awaiting_approval", "planned", "intent", "done", "waiting", "cancelled")


class LedgerMixin:
    engine: Engine
    clock: Callable[[], float]
    jobs: JobQueue

    def _tx(self, conn: Connection | None) -> Any:
        """Use the caller's transaction when given, else open one."""
        from contextlib import nullcontext

        return nullcontext(conn) if conn is not None else transaction(self.engine)

    # -- identities ----------------------------------------------------------------------
    def upsert_employee(self, employee: Employee, conn: Connection | None = None) -> str | None:
        """Record the HR facts of an employee; returns the previous email when it changed."""
        email = employee.email.strip().lower() if employee.email else None
        values = dict(email=email, first_name=employee.first_name, last_name=employee.last_name,
                      role=employee.role, manager_id=employee.manager_id, updated_at=utcnow())
        with self._tx(conn) as c:
            row = c.execute(select(identities.c.email, identities.c.active)
                            .where(identities.c.employee_id == employee.employee_id)).first()
            if row is None:
                insert_ignore(c, identities, dict(employee_id=employee.employee_id,
                                                  match_state="new", active=True, **values),
                              ["employee_id"])
                return None
            # A partial record (a directory row without a role) never erases what is known.
            values = {k: v for k, v in values.items() if v is not None}
            c.execute(update(identities)
                      .where(identities.c.employee_id == employee.employee_id).values(**values))
            return row.email if email and row.email and row.email != email else None

    def identity(self, employee_id: str) -> dict[str, Any] | None:
        with transaction(self.engine) as conn:
            row = conn.execute(select(identities)
                               .where(identities.c.employee_id == employee_id)).mappings().first()
            return dict(row) if row else None

    def employee_of(self, row: dict[str, Any]) -> Employee:
        return Employee(employee_id=row["employee_id"], email=row["email"],
                        first_name=row["first_name"], last_name=row["last_name"],
                        role=row["role"], manager_id=row["manager_id"], active=row["active"])

    def set_identity(self, employee_id: str, *, state: str, lms_user_id: str | None = None,
                     note: str | None = None, conn: Connection | None = None) -> None:
        values: dict[str, Any] = dict(match_state=state, match_note=note, updated_at=utcnow())
        if lms_user_id is not None:
            values["lms_user_id"] = lms_user_id
        with self._tx(conn) as c:
            c.execute(update(identities).where(identities.c.employee_id == employee_id)
                      .values(**values))

    def identities_in_state(self, state: str) -> list[dict[str, Any]]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(identities).where(identities.c.match_state == state)
                                .order_by(identities.c.employee_id)).mappings()
            return [dict(r) for r in rows]

    def all_identities(self) -> list[dict[str, Any]]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(identities).order_by(identities.c.employee_id)).mappings()
            return [dict(r) for r in rows]

    def employee_for_learner(self, lms_user_id: str | None, email: str | None,
                             conn: Connection | None = None) -> str | None:
        """The HR employee behind an LMS user: by linked LMS id first, then by email."""
        with self._tx(conn) as c:
            if lms_user_id:
                found = c.execute(_BY_LMS_USER, {"lms_user_id": lms_user_id}).scalar()
                if found:
                    return str(found)
            if email:
                rows = c.execute(_BY_EMAIL, {"email": email.strip().lower()}).all()
                if len(rows) == 1:
                    return str(rows[0][0])
        return None

    def set_active(self, employee_id: str, active: bool, conn: Connection | None = None) -> None:
        with self._tx(conn) as c:
            c.execute(update(identities).where(identities.c.employee_id == employee_id)
                      .values(active=active, left_at=None if active else utcnow(),
                              updated_at=utcnow()))

    # -- reviews -------------------------------------------------------------------------
    def review_fingerprint(self, source: str, review_id: str) -> str | None:
        with transaction(self.engine) as conn:
            return conn.execute(select(reviews.c.fingerprint).where(
                reviews.c.source == source, reviews.c.review_id == review_id)).scalar()

    def record_review(self, review: Review, conn: Connection | None = None) -> None:
        with self._tx(conn) as c:
            c.execute(delete(reviews).where(reviews.c.source == review.source,
                                            reviews.c.review_id == review.review_id))
            c.execute(reviews.insert().values(
                source=review.source, review_id=review.review_id,
                employee_id=review.employee.employee_id, cycle=review.cycle,
                completed_at=review.completed_at, fingerprint=review.fingerprint(),
                planned_at=utcnow()))

    # -- the effects ledger --------------------------------------------------------------
    def done_keys(self, employee_ids: list[str]) -> set[str]:
        """Keys already planned or executed (anything but cancelled) for these employees."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(actions.c.key).where(
                actions.c.employee_id.in_(employee_ids), actions.c.state != CANCELLED))
            return {r[0] for r in rows}

    def open_courses(self, employee_ids: list[str]) -> dict[str, frozenset[str]]:
        """Courses each employee is assigned for a goal that is still open."""
        with transaction(self.engine) as conn:
            rows = conn.execute(
                select(assignments.c.employee_id, assignments.c.course_id)
                .join(goals, goals.c.goal_key == assignments.c.goal_key)
                .where(assignments.c.employee_id.in_(employee_ids),
                       assignments.c.state != "cancelled", goals.c.state == "open"))
            out: dict[str, set[str]] = {}
            for emp, course in rows:
                out.setdefault(emp, set()).add(course)
        return {k: frozenset(v) for k, v in out.items()}

    def record_action(self, action: PlanAction, state: str,
                      conn: Connection | None = None) -> bool:
        """Put a planned action in the ledger (once per key); True when it was new."""
        now = utcnow()
        with self._tx(conn) as c:
            return insert_ignore(c, actions, dict(
                key=action.key, kind=action.kind.value, employee_id=action.employee.employee_id,
                course_id=action.course_id, goal_key=str(action.goal) if action.goal else None,
                state=state, payload=action.model_dump_json(), created_at=now, updated_at=now),
                ["key"])

    def begin_effect(self, key: str, kind: str, employee_id: str, *,
                     course_id: str | None = None, goal_key: str | None = None,
                     payload: str = "{}") -> str | None:
        """Record the intent to make an effect; return the state the key was in before.

        None: new. "planned"/"waiting": never attempted. "intent": an earlier attempt may or
        may not have reached the vendor (ask it first). "done"/"cancelled": do nothing.
        """
        now = utcnow()
        with transaction(self.engine) as conn:
            if insert_ignore(conn, actions, dict(
                    key=key, kind=kind, employee_id=employee_id, course_id=course_id,
                    goal_key=goal_key, state=INTENT, payload=payload, created_at=now,
                    updated_at=now), ["key"]):
                return None
            previous = conn.execute(select(actions.c.state).where(actions.c.key == key)
                                    ).scalar_one()
            if previous in (PLANNED, WAITING):
                conn.execute(update(actions).where(actions.c.key == key)
                             .values(state=INTENT, updated_at=now))
            return str(previous)

    def action(self, key: str) -> dict[str, Any] | None:
        with transaction(self.engine) as conn:
            row = conn.execute(select(actions).where(actions.c.key == key)).mappings().first()
            return dict(row) if row else None

    def actions_for(self, employee_id: str, states: tuple[str, ...]) -> list[PlanAction]:
        """The employee's plan actions in `states`. Other effects share the table (evidence,
        notes, closes: payload `{}`) and are left out: they are not plan actions."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(actions.c.payload).where(
                actions.c.employee_id == employee_id, actions.c.state.in_(states),
                actions.c.kind.in_([k.value for k in ActionKind]))
                .order_by(actions.c.created_at, actions.c.key))
            return [PlanAction.model_validate_json(r[0]) for r in rows]

    def set_action_state(self, key: str, state: str, result: Any = None,
                         conn: Connection | None = None, *,
                         only_from: tuple[str, ...] = ()) -> bool:
        cond = actions.c.key == key
        if only_from:
            cond = and_(cond, actions.c.state.in_(only_from))
        values: dict[str, Any] = dict(state=state, updated_at=utcnow())
        if result is not None:
            values["result"] = dumps(result)
        with self._tx(conn) as c:
            return bool(c.execute(update(actions).where(cond).values(**values)).rowcount)

    # -- goals and assignments -----------------------------------------------------------
    def save_goal(self, conn: Connection, *, goal_key: str, employee_id: str, skill_id: str,
                  cycle: str, title: str, course_ids: list[str], tracker: str | None,
                  goal_id: str | None, milestone_ids: dict[str, str], gap_found_at: datetime,
                  due_date: str | None, rule_index: int | None, state: str = "open") -> None:
        """Record a goal; a goal recorded ahead as "pending" (a recertification cycle) keeps
        its facts and becomes open with the tracker's ids."""
        values = dict(employee_id=employee_id, skill_id=skill_id, cycle=cycle, title=title,
                      course_ids=dumps(course_ids), tracker=tracker, goal_id=goal_id,
                      milestone_ids=dumps(milestone_ids), state=state, progress=0.0,
                      gap_found_at=gap_found_at, due_date=due_date, rule_index=rule_index,
                      opened_at=utcnow())
        if not insert_ignore(conn, goals, dict(goal_key=goal_key, **values), ["goal_key"]):
            conn.execute(update(goals).where(goals.c.goal_key == goal_key).values(
                tracker=tracker, goal_id=goal_id, milestone_ids=dumps(milestone_ids),
                state=state, opened_at=utcnow()))

    def goal(self, goal_key: str, conn: Connection | None = None) -> dict[str, Any] | None:
        with self._tx(conn) as c:
            row = c.execute(select(goals).where(goals.c.goal_key == goal_key)).mappings().first()
            return _goal_row(row) if row else None

    def goals_for(self, employee_id: str, *, state: str | None = None) -> list[dict[str, Any]]:
        cond = goals.c.employee_id == employee_id
        if state:
            cond = and_(cond, goals.c.state == state)
        with transaction(self.engine) as conn:
            rows = conn.execute(select(goals).where(cond).order_by(goals.c.goal_key)).mappings()
            return [_goal_row(r) for r in rows]

    def update_goal(self, goal_key: str, conn: Connection | None = None, **values: Any) -> None:
        with self._tx(conn) as c:
            c.execute(update(goals).where(goals.c.goal_key == goal_key).values(**values))

    def save_assignment(self, conn: Connection, *, employee_id: str, course_id: str,
                        goal_key: str, review_id: str, due_date: str | None) -> None:
        insert_ignore(conn, assignments, dict(
            employee_id=employee_id, course_id=course_id, goal_key=goal_key,
            review_id=review_id, state="enrolled", due_date=due_date, enrolled_at=utcnow()),
            ["employee_id", "course_id", "goal_key"])

    def assignments_for(self, employee_id: str | None = None,
                        state: str | None = None) -> list[dict[str, Any]]:
        query = select(assignments).order_by(assignments.c.employee_id, assignments.c.course_id)
        if employee_id is not None:
            query = query.where(assignments.c.employee_id == employee_id)
        if state is not None:
            query = query.where(assignments.c.state == state)
        with transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def complete_assignment(self, conn: Connection, employee_id: str, course_id: str,
                            goal_key: str, completed_at: datetime) -> None:
        conn.execute(update(assignments).where(
            assignments.c.employee_id == employee_id, assignments.c.course_id == course_id,
            assignments.c.goal_key == goal_key).values(state="completed",
                                                       completed_at=completed_at))

    # -- completions and evidence --------------------------------------------------------
    def record_completion(self, event: CompletionEvent, employee_id: str | None,
                          conn: Connection | None = None) -> bool:
        with self._tx(conn) as c:
            return insert_ignore(c, completions, dict(
                source=event.source, event_id=event.event_id, employee_id=employee_id,
                lms_user_id=event.lms_user_id, course_id=event.course_id,
                outcome=event.outcome.value, completed_at=event.completed_at, score=event.score,
                certificate_url=event.certificate_url, expires_at=event.expires_at,
                recorded_at=utcnow()), ["source", "event_id"])

    def completions_for(self, employee_id: str, course_id: str | None = None
                        ) -> list[dict[str, Any]]:
        cond = completions.c.employee_id == employee_id
        if course_id is not None:
            cond = and_(cond, completions.c.course_id == course_id)
        with transaction(self.engine) as conn:
            rows = conn.execute(select(completions).where(cond)
                                .order_by(completions.c.completed_at)).mappings()
            return [dict(r) for r in rows]

    def evidence_for(self, goal_key: str) -> list[dict[str, Any]]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(evidence).where(evidence.c.goal_key == goal_key)
                                .order_by(evidence.c.course_id)).mappings()
            return [dict(r) for r in rows]

    def save_evidence(self, conn: Connection, goal_key: str, course_id: str, event_id: str,
                      completed_at: datetime) -> bool:
        return insert_ignore(conn, evidence, dict(
            goal_key=goal_key, course_id=course_id, completion_event=event_id,
            completed_at=completed_at, posted_at=utcnow()), ["goal_key", "course_id"])

    # -- approvals -----------------------------------------------------------------------
    def request_approval(self, review: Review, summary: str) -> bool:
        with transaction(self.engine) as conn:
            return insert_ignore(conn, approvals, dict(
                employee_id=review.employee.employee_id, review_source=review.source,
                review_id=review.review_id, summary=summary,
                payload=review.model_dump_json(), state="pending", created_at=utcnow()),
                ["review_source", "review_id"])

    def approvals_list(self, state: str | None = "pending") -> list[dict[str, Any]]:
        query = select(approvals).order_by(approvals.c.id)
        if state:
            query = query.where(approvals.c.state == state)
        with transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def decide_approval(self, approval_id: int, state: str, by: str) -> dict[str, Any] | None:
        with transaction(self.engine) as conn:
            row = conn.execute(select(approvals).where(approvals.c.id == approval_id,
                                                       approvals.c.state == "pending")
                               ).mappings().first()
            if row is None:
                return None
            conn.execute(update(approvals).where(approvals.c.id == approval_id)
                         .values(state=state, decided_by=by, decided_at=utcnow()))
            return dict(row)


def _goal_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["course_ids"] = loads(out["course_ids"]) or []
    out["milestone_ids"] = loads(out["milestone_ids"]) or {}
    return out
