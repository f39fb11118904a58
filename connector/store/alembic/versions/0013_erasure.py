"""Tombstones of erased people: a later event about them is recognised, never stored.

Revision ID: 0013_erasure
Revises: 0012_xapi_voids

Frozen once released (see 0001_initial). Adds one table and touches no other, so it can be
re-chained after sibling revisions without change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_erasure"
down_revision = "0012_xapi_voids"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("pseudonym", sa.String(length=100), nullable=False),
        sa.Column("erased_at", UTC_TIME, nullable=False),
        sa.Column("erased_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )


def downgrade() -> None:
    op.drop_table("erasures")
