"""The schema of the first release, frozen: every table, written out as it was then.

Revision ID: 0001_initial
Revises: (none)

Frozen once released: never edit a revision a database may have run; add the next one. It
names no type or table of store/schema.py, which moves on; `UTC_TIME` is what `UtcDateTime`
stores. Databases made before Alembic by the release's own `0001_initial` (`create_all`,
recorded in `schema_migrations`) are stamped with this revision, not re-created
(see store/migrations.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)

TABLES = (  # in the order they are made
    "schema_migrations",
    "inbox",
    "jobs",
    "identities",
    "reviews",
    "actions",
    "goals",
    "assignments",
    "completions",
    "evidence",
    "cursors",
    "audit",
    "rate_budget",
    "approvals",
)


def upgrade() -> None:
    # The ledger of the releases before Alembic (alembic_version has replaced it): kept, as
    # those databases have it, so every database has one schema whichever way it came.
    op.create_table(
        "schema_migrations",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("applied_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("employee_id", sa.String(length=200)),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary()),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("employee_id", sa.String(length=200)),
        sa.Column("inbox_id", sa.Integer()),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.Float(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100)),
        sa.Column("lease_expires", sa.Float()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float()),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_claim", "jobs", ["state", "run_after", "id"])
    op.create_index("ix_jobs_employee", "jobs", ["employee_id", "state", "id"])
    op.create_table(
        "identities",
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320)),
        sa.Column("first_name", sa.String(length=200)),
        sa.Column("last_name", sa.String(length=200)),
        sa.Column("role", sa.String(length=200)),
        sa.Column("manager_id", sa.String(length=200)),
        sa.Column("lms_user_id", sa.String(length=200)),
        sa.Column("match_state", sa.String(length=20), nullable=False),
        sa.Column("match_note", sa.Text()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("left_at", UTC_TIME),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("employee_id"),
    )
    op.create_index("ix_identities_email", "identities", ["email"])
    op.create_index("ix_identities_lms_user", "identities", ["lms_user_id"])
    op.create_table(
        "reviews",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("review_id", sa.String(length=200), nullable=False),
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("cycle", sa.String(length=100), nullable=False),
        sa.Column("completed_at", UTC_TIME, nullable=False),
        sa.Column("fingerprint", sa.String(length=40), nullable=False),
        sa.Column("planned_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("source", "review_id"),
    )
    op.create_table(
        "actions",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("course_id", sa.String(length=200)),
        sa.Column("goal_key", sa.String(length=400)),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("result", sa.Text()),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_actions_employee", "actions", ["employee_id", "state"])
    op.create_table(
        "goals",
        sa.Column("goal_key", sa.String(length=400), nullable=False),
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("skill_id", sa.String(length=200), nullable=False),
        sa.Column("cycle", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("course_ids", sa.Text(), nullable=False),
        sa.Column("tracker", sa.String(length=40)),
        sa.Column("goal_id", sa.String(length=200)),
        sa.Column("milestone_ids", sa.Text()),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("gap_found_at", UTC_TIME, nullable=False),
        sa.Column("due_date", sa.String(length=10)),
        sa.Column("rule_index", sa.Integer()),
        sa.Column("opened_at", UTC_TIME),
        sa.Column("closed_at", UTC_TIME),
        sa.PrimaryKeyConstraint("goal_key"),
    )
    op.create_index("ix_goals_employee", "goals", ["employee_id", "state"])
    op.create_table(
        "assignments",
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("course_id", sa.String(length=200), nullable=False),
        sa.Column("goal_key", sa.String(length=400), nullable=False),
        sa.Column("review_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("due_date", sa.String(length=10)),
        sa.Column("enrolled_at", UTC_TIME),
        sa.Column("completed_at", UTC_TIME),
        sa.PrimaryKeyConstraint("employee_id", "course_id", "goal_key"),
    )
    op.create_table(
        "completions",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("employee_id", sa.String(length=200)),
        sa.Column("lms_user_id", sa.String(length=200)),
        sa.Column("course_id", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("completed_at", UTC_TIME, nullable=False),
        sa.Column("score", sa.Float()),
        sa.Column("certificate_url", sa.Text()),
        sa.Column("expires_at", UTC_TIME),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("source", "event_id"),
    )
    op.create_index("ix_completions_employee_course", "completions", ["employee_id", "course_id"])
    op.create_table(
        "evidence",
        sa.Column("goal_key", sa.String(length=400), nullable=False),
        sa.Column("course_id", sa.String(length=200), nullable=False),
        sa.Column("completion_event", sa.String(length=300), nullable=False),
        sa.Column("completed_at", UTC_TIME, nullable=False),
        sa.Column("posted_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("goal_key", "course_id"),
    )
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text()),
        sa.Column("last_success_at", UTC_TIME),
        sa.Column("last_error", sa.Text()),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("employee_id", sa.String(length=200)),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text()),
        sa.Column("ref", sa.String(length=400)),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_employee", "audit", ["employee_id", "id"])
    op.create_table(
        "rate_budget",
        sa.Column("vendor", sa.String(length=100), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("capacity", sa.Float(), nullable=False),
        sa.Column("refill_per_second", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("vendor"),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("review_source", sa.String(length=100), nullable=False),
        sa.Column("review_id", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200)),
        sa.Column("decided_at", UTC_TIME),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_source", "review_id", name="uq_approvals_review"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
