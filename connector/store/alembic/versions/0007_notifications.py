"""Notifications sent: one row per occurrence (a stop, a dead letter, a waiting person, a
failing poller), so a restart or a second process never sends the same one twice.

Revision ID: 0007_notifications
Revises: 0006_token_lease

Frozen once released (see 0001_initial). Adds one table and touches no other.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_notifications"
down_revision = "0006_token_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("kind", "key"),
    )


def downgrade() -> None:
    op.drop_table("notifications")
