"""Evidence taken back when its completion was voided (xAPI voiding statements).

Revision ID: 0012_xapi_voids
Revises: 0011_drift

Frozen once released (see 0001_initial). Adds one table and a nullable column to `completions` (the
event a voiding statement withdrew), so it can be re-chained after sibling revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_xapi_voids"
down_revision = "0011_drift"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evidence_voids",
        sa.Column("goal_key", sa.String(length=400), nullable=False),
        sa.Column("course_id", sa.String(length=200), nullable=False),
        sa.Column("completion_event", sa.String(length=300), nullable=False),
        sa.Column("void_event", sa.String(length=300), nullable=False),
        sa.Column("voided_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("goal_key", "course_id", "completion_event"),
    )
    with op.batch_alter_table("completions") as batch:
        batch.add_column(sa.Column("voids", sa.String(length=300)))
    op.create_index("ix_completions_voids", "completions", ["voids"])


def downgrade() -> None:
    op.drop_index("ix_completions_voids", table_name="completions")
    with op.batch_alter_table("completions") as batch:
        batch.drop_column("voids")
    op.drop_table("evidence_voids")
