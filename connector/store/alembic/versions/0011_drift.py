"""Drift flags: what `connector reconcile` found different between the ledger and the vendors.

Revision ID: 0011_drift
Revises: 0007_notifications

One new table and touches no other, so it can be re-chained after sibling revisions without
change. Frozen once released: never edit a revision a database may have run; add the next one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_drift"
down_revision = "0007_notifications"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drift_flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=600), nullable=False),
        sa.Column("employee_id", sa.String(length=200)),
        sa.Column("goal_key", sa.String(length=300)),
        sa.Column("course_id", sa.String(length=100)),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("repairs", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_seen_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("resolved_at", UTC_TIME),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "subject", name="uq_drift_flags_kind_subject"),
    )
    op.create_index("ix_drift_flags_employee", "drift_flags", ["employee_id"])


def downgrade() -> None:
    op.drop_index("ix_drift_flags_employee", table_name="drift_flags")
    op.drop_table("drift_flags")
