"""The ledger: what the connector knows and has done, per employee.

Identities (HR employee ↔ LMS user), reviews already planned, the effects ledger (one row
per idempotency key: intent before the vendor call, outcome after), goals, assignments,
completions (kept as history, never overwritten) and the evidence posted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, bindparam, delete, func, select, update

from connector.models import (
    ActionKind,
    CompletionEvent,
    Employee,
    PlanAction,
    Review,
    utcnow,
)
from connector.store.engine import Transaction, transaction, using
from connector.store.rows import (
    Action,
    Approval,
    Assignment,
    Completion,
    EvidenceRecord,
    ExternalId,
    Goal,
    Identity,
    IdentityWait,
)
from connector.store.schema import (
    actions,
    approvals,
    assignments,
    completions,
    evidence,
    goals,
    identities,
    identity_ids,
    identity_waits,
    reviews,
)
from connector.store.sql import dumps, insert_ignore, loads
from connector.store.states import (
    ActionState,
    ApprovalState,
    AssignmentState,
    GoalState,
    MatchState,
)

if TYPE_CHECKING:
    from connector.store.jobs import JobQueue

# Built once: the completion path (receiver and poller) resolves employees on every event.
_BY_LMS_USER = select(identities.c.employee_id).where(
    identities.c.lms_user_id == bindparam("lms_user_id"))
_BY_EMAIL = select(identities.c.employee_id).where(identities.c.email == bindparam("email"))


class LedgerMixin:
    engine: Engine
    clock: Callable[[], float]
    jobs: JobQueue

    # -- identities ----------------------------------------------------------------------
    def upsert_employee(self, employee: Employee, tx: Transaction | None = None) -> str | None:
        """Record the HR facts of an employee; returns the previous email when it changed."""
        email = employee.email.strip().lower() if employee.email else None
        values = dict(email=email, first_name=employee.first_name, last_name=employee.last_name,
                      role=employee.role, manager_id=employee.manager_id, updated_at=utcnow())
        with using(self.engine, tx) as c:
            row = c.execute(select(identities.c.email, identities.c.active)
                            .where(identities.c.employee_id == employee.employee_id)).first()
            if row is None:
                insert_ignore(c, identities, dict(employee_id=employee.employee_id,
                                                  match_state=MatchState.NEW.value, active=True,
                                                  **values),
                              ["employee_id"])
                return None
            # A partial record (a directory row without a role) never erases what is known.
            values = {k: v for k, v in values.items() if v is not None}
            c.execute(update(identities)
                      .where(identities.c.employee_id == employee.employee_id).values(**values))
            return row.email if email and row.email and row.email != email else None

    def identity(self, employee_id: str) -> Identity | None:
        with transaction(self.engine) as conn:
            row = conn.execute(select(identities)
                               .where(identities.c.employee_id == employee_id)).mappings().first()
            return Identity.from_row(row) if row else None

    def employee_of(self, identity: Identity) -> Employee:
        return identity.employee()

    def set_identity(self, employee_id: str, *, state: MatchState,
                     lms_user_id: str | None = None,
                     note: str | None = None, tx: Transaction | None = None) -> None:
        values: dict[str, Any] = dict(match_state=MatchState(state).value, match_note=note,
                                      updated_at=utcnow())
        if lms_user_id is not None:
            values["lms_user_id"] = lms_user_id
        with using(self.engine, tx) as c:
            c.execute(update(identities).where(identities.c.employee_id == employee_id)
                      .values(**values))

    def identity_for_decision(self, tx: Transaction, employee_id: str) -> Identity | None:
        """The identity, row-locked until `tx` ends (PostgreSQL `FOR UPDATE`; SQLite's write
        transaction holds the database already): a person's link or ignore is decided on the
        row as it is, not as another decision left it a moment earlier."""
        row = tx.connection.execute(select(identities)
                                    .where(identities.c.employee_id == employee_id)
                                    .with_for_update()).mappings().first()
        return Identity.from_row(row) if row else None

    def identities_in_state(self, state: MatchState) -> list[Identity]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(identities)
                                .where(identities.c.match_state == MatchState(state).value)
                                .order_by(identities.c.employee_id)).mappings()
            return [Identity.from_row(r) for r in rows]

    def all_identities(self) -> list[Identity]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(identities).order_by(identities.c.employee_id)).mappings()
            return [Identity.from_row(r) for r in rows]

    def employee_for_learner(self, lms_user_id: str | None, email: str | None,
                             tx: Transaction | None = None) -> str | None:
        """The HR employee behind an LMS user: by linked LMS id first, then by email."""
        with using(self.engine, tx) as c:
            if lms_user_id:
                found = c.execute(_BY_LMS_USER, {"lms_user_id": lms_user_id}).scalar()
                if found:
                    return str(found)
            if email:
                rows = c.execute(_BY_EMAIL, {"email": email.strip().lower()}).all()
                if len(rows) == 1:
                    return str(rows[0][0])
        return None

    def set_active(self, employee_id: str, active: bool, tx: Transaction | None = None) -> None:
        with using(self.engine, tx) as c:
            c.execute(update(identities).where(identities.c.employee_id == employee_id)
                      .values(active=active, left_at=None if active else utcnow(),
                              updated_at=utcnow()))

    # -- id spaces: the id each system gives a person ----------------------------------
    def external_id(self, employee_id: str, system: str,
                    tx: Transaction | None = None) -> ExternalId | None:
        """The person's id in `system`, when the ledger links one."""
        with using(self.engine, tx) as c:
            row = c.execute(select(identity_ids).where(
                identity_ids.c.employee_id == employee_id,
                identity_ids.c.system == system)).mappings().first()
            return ExternalId.from_row(row) if row else None

    def external_person(self, system: str, external_id: str,
                        tx: Transaction | None = None) -> ExternalId | None:
        """What the ledger knows of `system`'s person `external_id` (linked or not)."""
        with using(self.engine, tx) as c:
            row = c.execute(select(identity_ids).where(
                identity_ids.c.system == system,
                identity_ids.c.external_id == external_id)).mappings().first()
            return ExternalId.from_row(row) if row else None

    def externals_by_email(self, system: str, email: str,
                           tx: Transaction | None = None) -> list[ExternalId]:
        """`system`'s people with this email (trimmed, any case): the match candidates."""
        with using(self.engine, tx) as c:
            rows = c.execute(select(identity_ids).where(
                identity_ids.c.system == system,
                identity_ids.c.email == email.strip().lower())
                .order_by(identity_ids.c.external_id)).mappings()
            return [ExternalId.from_row(r) for r in rows]

    def record_external(self, system: str, external_id: str, *, email: str | None,
                        manager_id: str | None = None,
                        tx: Transaction | None = None) -> ExternalId:
        """A person as `system` lists them (a directory read): their email and manager there
        are kept current; whom they are linked to is left as it is."""
        values = dict(email=email.strip().lower() if email else None, manager_id=manager_id,
                      updated_at=utcnow())
        with using(self.engine, tx) as c:
            if not insert_ignore(c, identity_ids, dict(system=system, external_id=external_id,
                                                       employee_id=None, **values),
                                 ["system", "external_id"]):
                c.execute(update(identity_ids).where(
                    identity_ids.c.system == system,
                    identity_ids.c.external_id == external_id).values(**values))
            row = c.execute(select(identity_ids).where(
                identity_ids.c.system == system,
                identity_ids.c.external_id == external_id)).mappings().one()
            return ExternalId.from_row(row)

    def link_external(self, employee_id: str, system: str, external_id: str, *,
                      tx: Transaction | None = None) -> str | None:
        """Link `system`'s id `external_id` to the ledger's `employee_id` and end the
        person's wait there. Never takes an id from another person: returns that person's
        employee_id (and changes nothing) when the id is linked to someone else already."""
        with using(self.engine, tx) as c:
            holder = c.execute(select(identity_ids.c.employee_id).where(
                identity_ids.c.system == system,
                identity_ids.c.external_id == external_id)).first()
            if holder is not None and holder[0] not in (None, employee_id):
                return str(holder[0])
            # One id per person per system: an older link of this person is let go.
            c.execute(update(identity_ids).where(
                identity_ids.c.employee_id == employee_id, identity_ids.c.system == system,
                identity_ids.c.external_id != external_id).values(employee_id=None))
            if holder is None:
                c.execute(identity_ids.insert().values(
                    system=system, external_id=external_id, employee_id=employee_id,
                    email=None, manager_id=None, updated_at=utcnow()))
            else:
                c.execute(update(identity_ids).where(
                    identity_ids.c.system == system,
                    identity_ids.c.external_id == external_id).values(
                    employee_id=employee_id, updated_at=utcnow()))
            c.execute(delete(identity_waits).where(identity_waits.c.employee_id == employee_id,
                                                   identity_waits.c.system == system))
        return None

    def externals(self, system: str, tx: Transaction | None = None) -> list[ExternalId]:
        """Every person `system` has listed, linked or not."""
        with using(self.engine, tx) as c:
            rows = c.execute(select(identity_ids).where(identity_ids.c.system == system)
                             .order_by(identity_ids.c.external_id)).mappings()
            return [ExternalId.from_row(r) for r in rows]

    def linked_externals(self, system: str) -> list[ExternalId]:
        """`system`'s people linked to someone in the ledger."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(identity_ids).where(
                identity_ids.c.system == system, identity_ids.c.employee_id.is_not(None))
                .order_by(identity_ids.c.external_id)).mappings()
            return [ExternalId.from_row(r) for r in rows]

    def employees_with_email(self, email: str, tx: Transaction | None = None) -> list[str]:
        """The ledger's people with this email (trimmed, any case)."""
        with using(self.engine, tx) as c:
            return [str(r[0]) for r in c.execute(_BY_EMAIL, {"email": email.strip().lower()})]

    def wait_for_id(self, employee_id: str, system: str, reason: str,
                    tx: Transaction | None = None) -> bool:
        """The person's effects in `system` wait for their id there; True when new (the
        reason is kept current either way)."""
        with using(self.engine, tx) as c:
            if insert_ignore(c, identity_waits, dict(employee_id=employee_id, system=system,
                                                     reason=reason, since=utcnow()),
                             ["employee_id", "system"]):
                return True
            c.execute(update(identity_waits).where(
                identity_waits.c.employee_id == employee_id,
                identity_waits.c.system == system).values(reason=reason))
            return False

    def id_waits(self, employee_id: str | None = None,
                 tx: Transaction | None = None) -> list[IdentityWait]:
        with using(self.engine, tx) as conn:
            query = select(identity_waits).order_by(identity_waits.c.employee_id,
                                                    identity_waits.c.system)
            if employee_id is not None:
                query = query.where(identity_waits.c.employee_id == employee_id)
            return [IdentityWait.from_row(r) for r in conn.execute(query).mappings()]

    def identities_waiting(self) -> list[Identity]:
        """Everyone waiting for a person: no (or an ambiguous) LMS match, or no id in a
        system an effect goes to. `match_note` says every reason they wait."""
        waits: dict[str, list[str]] = {}
        for wait in self.id_waits():
            waits.setdefault(wait.employee_id, []).append(wait.reason)
        found = []
        for row in self.all_identities():
            reasons = waits.get(row.employee_id, [])
            if row.match_state is MatchState.PENDING:
                reasons = [row.match_note or "no LMS match", *reasons]
            if reasons:
                found.append(replace(row, match_note="; ".join(reasons)))
        return found

    # -- reviews -------------------------------------------------------------------------
    def review_fingerprint(self, source: str, review_id: str) -> str | None:
        with transaction(self.engine) as conn:
            return conn.execute(select(reviews.c.fingerprint).where(
                reviews.c.source == source, reviews.c.review_id == review_id)).scalar()

    def review_completed_at(self, source: str, review_id: str) -> datetime | None:
        """When a planned review was completed in the HR system (when its gaps were found)."""
        with transaction(self.engine) as conn:
            found: datetime | None = conn.execute(select(reviews.c.completed_at).where(
                reviews.c.source == source, reviews.c.review_id == review_id)).scalar()
            return found

    def review_count(self) -> int:
        """How many reviews have been planned (each counted once, however often re-sent)."""
        with transaction(self.engine) as conn:
            return int(conn.execute(select(func.count()).select_from(reviews)).scalar_one())

    def record_review(self, review: Review, tx: Transaction | None = None) -> None:
        with using(self.engine, tx) as c:
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
                actions.c.employee_id.in_(employee_ids),
                actions.c.state != ActionState.CANCELLED.value))
            return {r[0] for r in rows}

    def open_courses(self, employee_ids: list[str]) -> dict[str, frozenset[str]]:
        """Courses each employee is assigned for a goal that is still open."""
        with transaction(self.engine) as conn:
            rows = conn.execute(
                select(assignments.c.employee_id, assignments.c.course_id)
                .join(goals, goals.c.goal_key == assignments.c.goal_key)
                .where(assignments.c.employee_id.in_(employee_ids),
                       assignments.c.state != AssignmentState.CANCELLED.value,
                       goals.c.state == GoalState.OPEN.value))
            out: dict[str, set[str]] = {}
            for emp, course in rows:
                out.setdefault(emp, set()).add(course)
        return {k: frozenset(v) for k, v in out.items()}

    def record_action(self, action: PlanAction, state: ActionState,
                      tx: Transaction | None = None) -> bool:
        """Put a planned action in the ledger (once per key); True when it was new."""
        now = utcnow()
        with using(self.engine, tx) as c:
            return insert_ignore(c, actions, dict(
                key=action.key, kind=action.kind.value, employee_id=action.employee.employee_id,
                course_id=action.course_id, goal_key=str(action.goal) if action.goal else None,
                state=ActionState(state).value, payload=action.model_dump_json(), created_at=now,
                updated_at=now), ["key"])

    def replan_cancelled(self, action: PlanAction, tx: Transaction | None = None) -> bool:
        """A cancelled key planned again (a rehire's new review): planned work again, with the
        new review's facts. True when the key was cancelled and now is planned."""
        with using(self.engine, tx) as c:
            changed = c.execute(update(actions).where(
                actions.c.key == action.key,
                actions.c.state == ActionState.CANCELLED.value).values(
                state=ActionState.PLANNED.value, payload=action.model_dump_json(),
                updated_at=utcnow()))
            return bool(changed.rowcount)

    def begin_effect(self, key: str, kind: str, employee_id: str, *,
                     course_id: str | None = None, goal_key: str | None = None,
                     payload: str = "{}") -> ActionState | None:
        """Record the intent to make an effect; return the state the key was in before.

        None: new. PLANNED/WAITING: never attempted. INTENT: an earlier attempt may or may
        not have reached the vendor (ask it first). DONE/CANCELLED: do nothing.
        """
        now = utcnow()
        with transaction(self.engine) as conn:
            if insert_ignore(conn, actions, dict(
                    key=key, kind=kind, employee_id=employee_id, course_id=course_id,
                    goal_key=goal_key, state=ActionState.INTENT.value, payload=payload,
                    created_at=now, updated_at=now), ["key"]):
                return None
            previous = ActionState(conn.execute(select(actions.c.state)
                                                .where(actions.c.key == key)).scalar_one())
            if previous in (ActionState.PLANNED, ActionState.WAITING):
                conn.execute(update(actions).where(actions.c.key == key)
                             .values(state=ActionState.INTENT.value, updated_at=now))
            return previous

    def action(self, key: str) -> Action | None:
        with transaction(self.engine) as conn:
            row = conn.execute(select(actions).where(actions.c.key == key)).mappings().first()
            return Action.from_row(row) if row else None

    def action_states(self, employee_id: str) -> dict[str, ActionState]:
        """Every effect key of the employee and its state (plan actions and the rest)."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(actions.c.key, actions.c.state)
                                .where(actions.c.employee_id == employee_id))
            return {str(key): ActionState(state) for key, state in rows}

    def actions_for(self, employee_id: str, states: tuple[ActionState, ...]) -> list[PlanAction]:
        """The employee's plan actions in `states`. Other effects share the table (evidence,
        notes, closes: payload `{}`) and are left out: they are not plan actions."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(actions.c.payload).where(
                actions.c.employee_id == employee_id,
                actions.c.state.in_([ActionState(s).value for s in states]),
                actions.c.kind.in_([k.value for k in ActionKind]))
                .order_by(actions.c.created_at, actions.c.key))
            return [PlanAction.model_validate_json(r[0]) for r in rows]

    def set_action_state(self, key: str, state: ActionState, result: Any = None,
                         tx: Transaction | None = None, *,
                         only_from: tuple[ActionState, ...] = ()) -> bool:
        cond = actions.c.key == key
        if only_from:
            cond = and_(cond, actions.c.state.in_([ActionState(s).value for s in only_from]))
        values: dict[str, Any] = dict(state=ActionState(state).value, updated_at=utcnow())
        if result is not None:
            values["result"] = dumps(result)
        with using(self.engine, tx) as c:
            return bool(c.execute(update(actions).where(cond).values(**values)).rowcount)

    # -- goals and assignments -----------------------------------------------------------
    def save_goal(self, tx: Transaction, *, goal_key: str, employee_id: str, skill_id: str,
                  cycle: str, title: str, course_ids: list[str], tracker: str | None,
                  goal_id: str | None, milestone_ids: dict[str, str], gap_found_at: datetime,
                  due_date: str | None, rule_index: int | None,
                  state: GoalState = GoalState.OPEN, rule_id: str | None = None,
                  rule_version: str | None = None,
                  mapping_version: str | None = None) -> None:
        """Record a goal; a goal recorded ahead as PENDING (a recertification cycle) keeps
        its facts and becomes open with the tracker's ids."""
        conn = tx.connection
        values = dict(employee_id=employee_id, skill_id=skill_id, cycle=cycle, title=title,
                      course_ids=dumps(course_ids), tracker=tracker, goal_id=goal_id,
                      milestone_ids=dumps(milestone_ids), state=GoalState(state).value,
                      progress=0.0,
                      gap_found_at=gap_found_at, due_date=due_date, rule_index=rule_index,
                      rule_id=rule_id, rule_version=rule_version,
                      mapping_version=mapping_version, opened_at=utcnow())
        if not insert_ignore(conn, goals, dict(goal_key=goal_key, **values), ["goal_key"]):
            conn.execute(update(goals).where(goals.c.goal_key == goal_key).values(
                tracker=tracker, goal_id=goal_id, milestone_ids=dumps(milestone_ids),
                state=GoalState(state).value, opened_at=utcnow()))

    def goal(self, goal_key: str, tx: Transaction | None = None) -> Goal | None:
        with using(self.engine, tx) as c:
            row = c.execute(select(goals).where(goals.c.goal_key == goal_key)).mappings().first()
            return Goal.from_row(row) if row else None

    def open_goals(self) -> list[Goal]:
        """Every goal still in progress (open, or recorded ahead and pending), any employee."""
        states = (GoalState.OPEN.value, GoalState.PENDING.value)
        with transaction(self.engine) as conn:
            rows = conn.execute(select(goals).where(goals.c.state.in_(states))
                                .order_by(goals.c.goal_key)).mappings()
            return [Goal.from_row(r) for r in rows]

    def goals_for(self, employee_id: str, *, state: GoalState | None = None) -> list[Goal]:
        cond = goals.c.employee_id == employee_id
        if state:
            cond = and_(cond, goals.c.state == GoalState(state).value)
        with transaction(self.engine) as conn:
            rows = conn.execute(select(goals).where(cond).order_by(goals.c.goal_key)).mappings()
            return [Goal.from_row(r) for r in rows]

    def add_goal_course(self, goal_key: str, course_id: str, tx: Transaction) -> None:
        """Link one more course to a goal (a re-opened review added it after the goal
        opened); a course already linked changes nothing."""
        conn = tx.connection
        found = conn.execute(select(goals.c.course_ids)
                             .where(goals.c.goal_key == goal_key)).scalar()
        if found is None:
            return
        linked = json_list(found)
        if course_id not in linked:
            conn.execute(update(goals).where(goals.c.goal_key == goal_key)
                         .values(course_ids=dumps([*linked, course_id])))

    def set_goal_progress(self, goal_key: str, percent: float, tx: Transaction) -> None:
        tx.connection.execute(update(goals).where(goals.c.goal_key == goal_key)
                              .values(progress=percent))

    def close_goal(self, goal_key: str, closed_at: datetime, tx: Transaction) -> None:
        """Every linked course is done: the goal is closed at 100 %."""
        tx.connection.execute(update(goals).where(goals.c.goal_key == goal_key).values(
            state=GoalState.CLOSED.value, progress=100.0, closed_at=closed_at))

    def withdraw_goal(self, goal_key: str, at: datetime, tx: Transaction, *,
                      state: GoalState = GoalState.CANCELLED) -> None:
        """Withdrawn: the goal ends as it stands (its progress is what was earned), closed
        when something was earned, else cancelled."""
        tx.connection.execute(update(goals).where(goals.c.goal_key == goal_key).values(
            state=GoalState(state).value, closed_at=at))

    def cancel_assignment(self, tx: Transaction, employee_id: str, course_id: str,
                          goal_key: str) -> None:
        """Withdrawn before the learner started: the enrollment was removed."""
        tx.connection.execute(update(assignments).where(
            assignments.c.employee_id == employee_id, assignments.c.course_id == course_id,
            assignments.c.goal_key == goal_key).values(state=AssignmentState.CANCELLED.value))

    def reviews_with_id(self, review_id: str) -> list[tuple[str, str]]:
        """(source, employee id) of every recorded review with this id (one per source)."""
        with transaction(self.engine) as conn:
            rows = conn.execute(select(reviews.c.source, reviews.c.employee_id)
                                .where(reviews.c.review_id == review_id)
                                .order_by(reviews.c.source))
            return [(str(r.source), str(r.employee_id)) for r in rows]

    def save_assignment(self, tx: Transaction, *, employee_id: str, course_id: str,
                        goal_key: str, review_id: str, due_date: str | None) -> None:
        insert_ignore(tx.connection, assignments, dict(
            employee_id=employee_id, course_id=course_id, goal_key=goal_key,
            review_id=review_id, state=AssignmentState.ENROLLED.value, due_date=due_date,
            enrolled_at=utcnow()), ["employee_id", "course_id", "goal_key"])

    def assignments_for(self, employee_id: str | None = None,
                        state: AssignmentState | None = None) -> list[Assignment]:
        query = select(assignments).order_by(assignments.c.employee_id, assignments.c.course_id)
        if employee_id is not None:
            query = query.where(assignments.c.employee_id == employee_id)
        if state is not None:
            query = query.where(assignments.c.state == AssignmentState(state).value)
        with transaction(self.engine) as conn:
            return [Assignment.from_row(r) for r in conn.execute(query).mappings()]

    def complete_assignment(self, tx: Transaction, employee_id: str, course_id: str,
                            goal_key: str, completed_at: datetime) -> None:
        tx.connection.execute(update(assignments).where(
            assignments.c.employee_id == employee_id, assignments.c.course_id == course_id,
            assignments.c.goal_key == goal_key).values(state=AssignmentState.COMPLETED.value,
                                                       completed_at=completed_at))

    # -- completions and evidence --------------------------------------------------------
    def record_completion(self, event: CompletionEvent, employee_id: str | None,
                          tx: Transaction | None = None) -> bool:
        with using(self.engine, tx) as c:
            return insert_ignore(c, completions, dict(
                source=event.source, event_id=event.event_id, employee_id=employee_id,
                lms_user_id=event.lms_user_id, course_id=event.course_id,
                outcome=event.outcome.value, completed_at=event.completed_at, score=event.score,
                certificate_url=event.certificate_url, expires_at=event.expires_at,
                recorded_at=utcnow(), voids=event.voids), ["source", "event_id"])

    def completions_for(self, employee_id: str, course_id: str | None = None
                        ) -> list[Completion]:
        cond = completions.c.employee_id == employee_id
        if course_id is not None:
            cond = and_(cond, completions.c.course_id == course_id)
        with transaction(self.engine) as conn:
            rows = conn.execute(select(completions).where(cond)
                                .order_by(completions.c.completed_at)).mappings()
            return [Completion.from_row(r) for r in rows]

    def evidence_for(self, goal_key: str) -> list[EvidenceRecord]:
        with transaction(self.engine) as conn:
            rows = conn.execute(select(evidence).where(evidence.c.goal_key == goal_key)
                                .order_by(evidence.c.course_id)).mappings()
            return [EvidenceRecord.from_row(r) for r in rows]

    def save_evidence(self, tx: Transaction, goal_key: str, course_id: str, event_id: str,
                      completed_at: datetime) -> bool:
        return insert_ignore(tx.connection, evidence, dict(
            goal_key=goal_key, course_id=course_id, completion_event=event_id,
            completed_at=completed_at, posted_at=utcnow()), ["goal_key", "course_id"])

    # -- approvals -----------------------------------------------------------------------
    def request_approval(self, review: Review, summary: str, *, plan: Any = None,
                         plan_hash: str | None = None) -> bool:
        """Ask a person about a review's plan; `plan` (JSON-able) is what they are shown and
        `plan_hash` what approving binds the job to. False when it is asked already."""
        with transaction(self.engine) as conn:
            return insert_ignore(conn, approvals, dict(
                employee_id=review.employee.employee_id, review_source=review.source,
                review_id=review.review_id, summary=summary,
                payload=review.model_dump_json(), state=ApprovalState.PENDING.value,
                created_at=utcnow(), plan=None if plan is None else dumps(plan),
                plan_hash=plan_hash), ["review_source", "review_id"])

    def renew_approval(self, review: Review, summary: str, *, plan: Any,
                       plan_hash: str) -> bool:
        """An approved plan that no longer matches what would run: pending again, with the
        plan as it is now. False when the approval is not approved (nothing to renew)."""
        with transaction(self.engine) as conn:
            changed = conn.execute(update(approvals).where(
                approvals.c.review_source == review.source,
                approvals.c.review_id == review.review_id,
                approvals.c.state == ApprovalState.APPROVED.value).values(
                    state=ApprovalState.PENDING.value, summary=summary, plan=dumps(plan),
                    plan_hash=plan_hash, payload=review.model_dump_json(), decided_by=None,
                    decided_at=None))
            return bool(changed.rowcount)

    def approvals_list(self, state: ApprovalState | None = ApprovalState.PENDING
                       ) -> list[Approval]:
        query = select(approvals).order_by(approvals.c.id)
        if state:
            query = query.where(approvals.c.state == ApprovalState(state).value)
        with transaction(self.engine) as conn:
            return [Approval.from_row(r) for r in conn.execute(query).mappings()]

    def approval(self, approval_id: int, tx: Transaction | None = None) -> Approval | None:
        with using(self.engine, tx) as c:
            row = c.execute(select(approvals).where(approvals.c.id == approval_id)
                            ).mappings().first()
            return Approval.from_row(row) if row else None

    def approval_for_decision(self, tx: Transaction, approval_id: int) -> Approval | None:
        """The approval, row-locked until `tx` ends (PostgreSQL `FOR UPDATE`; SQLite's write
        transaction holds the database already): two people deciding the same plan at once
        decide one after the other, and the second sees the first's decision."""
        row = tx.connection.execute(select(approvals).where(approvals.c.id == approval_id)
                                    .with_for_update()).mappings().first()
        return Approval.from_row(row) if row else None

    def decide_approval(self, approval_id: int, state: ApprovalState, by: str,
                        tx: Transaction | None = None) -> Approval | None:
        """Approve or reject a pending approval; the row as it was (pending), or None when
        there is no such pending approval (already decided: a double submit changes nothing).
        The update itself is conditional on `pending`, so two concurrent deciders cannot both
        win."""
        with using(self.engine, tx) as c:
            row = c.execute(select(approvals).where(
                approvals.c.id == approval_id,
                approvals.c.state == ApprovalState.PENDING.value)).mappings().first()
            if row is None:
                return None
            changed = c.execute(update(approvals).where(
                approvals.c.id == approval_id,
                approvals.c.state == ApprovalState.PENDING.value)
                .values(state=ApprovalState(state).value, decided_by=by, decided_at=utcnow()))
            return Approval.from_row(row) if changed.rowcount else None

def json_list(value: str) -> list[str]:
    return list(loads(value) or [])
