"""Staged batches and bound approvals: a batch stopped by a safety limit is kept as it was
read (`staged_batches`), and an approval keeps the plan a person was shown with its hash
(`approvals.plan`, `approvals.plan_hash`), so what runs is what was decided.

Revision ID: 0003_staged_batches
Revises: 0002_rule_ids

Frozen once released; it names no type or table of store/schema.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_staged_batches"
down_revision = "0002_rule_ids"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staged_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("plan_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text()),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("decided_by", sa.String(length=200)),
        sa.Column("decided_at", UTC_TIME),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staged_batches_stream", "staged_batches", ["stream", "state"])
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("plan", sa.Text()))
        batch.add_column(sa.Column("plan_hash", sa.String(length=64)))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("plan_hash")
        batch.drop_column("plan")
    op.drop_index("ix_staged_batches_stream", table_name="staged_batches")
    op.drop_table("staged_batches")
