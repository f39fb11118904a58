"""The one schema, for SQLite and PostgreSQL alike. Every table the connector keeps is here.

Times are stored as UTC (`UtcDateTime` attaches the zone again on read, since SQLite keeps
none); job scheduling uses epoch seconds (`Float`) because it is compared on every claim.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both engines; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; times must carry a zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", UtcDateTime, nullable=False),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("event_id", String(300), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("employee_id", String(200)),
    Column("payload", Text, nullable=False),
    Column("raw", LargeBinary),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("employee_id", String(200)),
    Column("inbox_id", Integer),
    # pending → running → done | pending (retry) | dead
    Column("state", String(20), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=8),
    Column("run_after", Float, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires", Float),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
)
Index("ix_jobs_claim", jobs.c.state, jobs.c.run_after, jobs.c.id)
Index("ix_jobs_employee", jobs.c.employee_id, jobs.c.state, jobs.c.id)

identities = Table(
    "identities",
    metadata,
    Column("employee_id", String(200), primary_key=True),
    Column("email", String(320)),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("role", String(200)),
    Column("manager_id", String(200)),
    Column("lms_user_id", String(200)),
    # new (not yet needed) | linked | pending (needs a person: no or an ambiguous match) | ignored
    Column("match_state", String(20), nullable=False, default="new"),
    Column("match_note", Text),
    Column("active", Boolean, nullable=False, default=True),
    Column("left_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_identities_email", identities.c.email)
Index("ix_identities_lms_user", identities.c.lms_user_id)

# One person, several id spaces: the id each system gives a person, keyed by (system, id).
# `employee_id` is the ledger's key (the review source's id); NULL while a system lists a
# person (a directory read) that no one in the ledger matches yet. `manager_id` is the
# person's manager in the same system, as that system reads it.
identity_ids = Table(
    "identity_ids",
    metadata,
    Column("system", String(100), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("employee_id", String(200)),
    Column("email", String(320)),
    Column("manager_id", String(200)),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_identity_ids_employee", identity_ids.c.employee_id, identity_ids.c.system)
Index("ix_identity_ids_email", identity_ids.c.system, identity_ids.c.email)

# A person whose effects in `system` wait for their id there (no match, or an ambiguous one):
# shown by `connector identities pending`, cleared when the id is linked.
identity_waits = Table(
    "identity_waits",
    metadata,
    Column("employee_id", String(200), primary_key=True),
    Column("system", String(100), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("since", UtcDateTime, nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("review_id", String(200), primary_key=True),
    Column("employee_id", String(200), nullable=False),
    Column("cycle", String(100), nullable=False),
    Column("completed_at", UtcDateTime, nullable=False),
    Column("fingerprint", String(40), nullable=False),
    Column("planned_at", UtcDateTime, nullable=False),
)

# The ledger of effects: one row per plan action (idempotency key), intent before the call,
# outcome after it. `state`: awaiting_approval | planned | intent | done | waiting | cancelled.
actions = Table(
    "actions",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("employee_id", String(200), nullable=False),
    Column("course_id", String(200)),
    Column("goal_key", String(400)),
    Column("state", String(30), nullable=False),
    Column("payload", Text, nullable=False),
    Column("result", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_actions_employee", actions.c.employee_id, actions.c.state)

goals = Table(
    "goals",
    metadata,
    Column("goal_key", String(400), primary_key=True),
    Column("employee_id", String(200), nullable=False),
    Column("skill_id", String(200), nullable=False),
    Column("cycle", String(100), nullable=False),
    Column("title", Text, nullable=False),
    Column("course_ids", Text, nullable=False),  # JSON list, milestone order
    Column("tracker", String(40)),
    Column("goal_id", String(200)),
    Column("milestone_ids", Text),  # JSON {course_id: milestone id}
    Column("state", String(20), nullable=False),  # open | closed | cancelled
    Column("progress", Float, nullable=False, default=0.0),
    Column("gap_found_at", UtcDateTime, nullable=False),
    Column("due_date", String(10)),
    Column("rule_index", Integer),  # rows before 0002: the rule's position (a fallback)
    Column("opened_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("rule_id", String(200)),  # the rule's stable id (Mapping.rule_by_id)
    Column("rule_version", String(40)),  # a hash of what the rule said when planned
    Column("mapping_version", String(40)),  # a hash of the mapping it was planned under
)
Index("ix_goals_employee", goals.c.employee_id, goals.c.state)

assignments = Table(
    "assignments",
    metadata,
    Column("employee_id", String(200), primary_key=True),
    Column("course_id", String(200), primary_key=True),
    Column("goal_key", String(400), primary_key=True),
    Column("review_id", String(200), nullable=False),
    Column("state", String(20), nullable=False),  # enrolled | completed | cancelled
    Column("due_date", String(10)),
    Column("enrolled_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
)

completions = Table(
    "completions",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("event_id", String(300), primary_key=True),
    Column("employee_id", String(200)),
    Column("lms_user_id", String(200)),
    Column("course_id", String(200), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("completed_at", UtcDateTime, nullable=False),
    Column("score", Float),
    Column("certificate_url", Text),
    Column("expires_at", UtcDateTime),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("voids", String(300)),  # a voiding statement: the event id it withdrew
)
Index("ix_completions_employee_course", completions.c.employee_id, completions.c.course_id)
Index("ix_completions_voids", completions.c.voids)

evidence = Table(
    "evidence",
    metadata,
    Column("goal_key", String(400), primary_key=True),
    Column("course_id", String(200), primary_key=True),
    Column("completion_event", String(300), nullable=False),
    Column("completed_at", UtcDateTime, nullable=False),
    Column("posted_at", UtcDateTime, nullable=False),
)

# Evidence taken back: the completion behind it was withdrawn (an xAPI voiding statement).
# The evidence row stays (history); a row here says which of its completions was voided, by
# which event and when. A later completion of the course renews the evidence row.
evidence_voids = Table(
    "evidence_voids",
    metadata,
    Column("goal_key", String(400), primary_key=True),
    Column("course_id", String(200), primary_key=True),
    Column("completion_event", String(300), primary_key=True),
    Column("void_event", String(300), nullable=False),
    Column("voided_at", UtcDateTime, nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text),
    Column("last_success_at", UtcDateTime),
    Column("last_error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("employee_id", String(200)),
    Column("event", String(60), nullable=False),
    Column("message", Text, nullable=False),
    Column("cause", Text),  # JSON: review → skill → rating → target → gap → rule → …
    Column("ref", String(400)),  # action key, goal key, inbox id…
)
Index("ix_audit_employee", audit.c.employee_id, audit.c.id)

rate_budget = Table(
    "rate_budget",
    metadata,
    Column("vendor", String(100), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("capacity", Float, nullable=False),
    Column("refill_per_second", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Who may refresh a kept credential right now (connector/tokens.py): one row per chain, taken
# by a conditional write, so two processes never both hold it; `expires_at` (epoch seconds)
# lets the next process take it from a holder that was killed.
token_leases = Table(
    "token_leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("employee_id", String(200), nullable=False),
    Column("review_source", String(100), nullable=False),
    Column("review_id", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(20), nullable=False),  # pending | approved | rejected
    Column("decided_by", String(200)),
    Column("decided_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    # The plan a person is shown (JSON) and its hash: approving binds the job to it.
    Column("plan", Text),
    Column("plan_hash", String(64)),
    UniqueConstraint("review_source", "review_id", name="uq_approvals_review"),
)

# A batch stopped by a safety limit, stored as it was read (no jobs): its stream's cursor
# waits until a person confirms (the batch is queued as stored) or discards it.
staged_batches = Table(
    "staged_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream", String(200), nullable=False),  # cursor name, or import:<file>
    Column("source", String(200), nullable=False),  # how people call it
    Column("kind", String(20), nullable=False),  # reviews | leavers
    Column("state", String(20), nullable=False),  # waiting | confirmed | discarded | superseded
    Column("reasons", Text, nullable=False),  # JSON list: one sentence per limit broken
    Column("summary", Text, nullable=False),  # JSON: the plan as shown
    Column("plan_hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # JSON: the reviews, or the directory read
    Column("cursor", Text),  # where the stream's cursor moves once decided
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_by", String(200)),
    Column("decided_at", UtcDateTime),
)
Index("ix_staged_batches_stream", staged_batches.c.stream, staged_batches.c.state)

# Failed console sign-ins, one row each, by subject ("user:<name>", "address:<ip>"): the
# console's rate limit counts them here so every console process shares one count.
console_logins = Table(
    "console_logins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(300), nullable=False),
    Column("at", Float, nullable=False),  # epoch seconds, compared on every sign-in
)
Index("ix_console_logins_subject", console_logins.c.subject, console_logins.c.at)

# Notifications sent (connector/notifications): one row per occurrence, claimed before it is
# sent and marked when it was, so restarts and other processes never repeat one.
notifications = Table(
    "notifications",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("claimed_at", Float, nullable=False),  # epoch seconds; a stale claim is retried
    Column("sent_at", Float),
)
# Drift between the ledger and the vendors (`connector reconcile`): one row per finding,
# unique on (kind, subject), so a finding is flagged (and audited) once however often it is
# seen; `repairs` counts what the connector re-did about it (a re-enrollment is done at most
# once: removed again, it is left removed and flagged).
drift_flags = Table(
    "drift_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),  # enrollment_removed | goal_deleted | ...
    Column("subject", String(600), nullable=False),  # what it is about (a goal key, ...)
    Column("employee_id", String(200)),
    Column("goal_key", String(300)),
    Column("course_id", String(100)),
    Column("state", String(20), nullable=False),  # open | repaired | resolved
    Column("repairs", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    UniqueConstraint("kind", "subject", name="uq_drift_flags_kind_subject"),
)
Index("ix_drift_flags_employee", drift_flags.c.employee_id)

# Tombstones of erased people (`connector erase`, connector/operations/erase.py): one row per
# way the person could come back (their ledger id, email, LMS user id, each system's id),
# each kept only as a one-way hash, so a later poll, import, webhook or directory read about
# them is recognised and dropped without the connector keeping who they were.
erasures = Table(
    "erasures",
    metadata,
    Column("key_hash", String(64), primary_key=True),  # sha256 of "<kind>:<value>"
    Column("pseudonym", String(100), nullable=False),  # what their rows now say instead
    Column("erased_at", UtcDateTime, nullable=False),
    Column("erased_by", String(200), nullable=False),
)

# The LMS's course titles as last read (connector/store/catalogue.py): pages and reports name
# a course the way people know it without asking the LMS on every page. Not personal data.
course_titles = Table(
    "course_titles",
    metadata,
    Column("course_id", String(200), primary_key=True),
    Column("title", String(500), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),  # when the LMS last listed it so
)
