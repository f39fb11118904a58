"""The refresh lease of a kept token chain: one process at a time renews a credential.

Revision ID: 0006_token_lease
Revises: 0005_id_spaces

Frozen once released (see 0001_initial). Adds one table and touches no other, so it can be
re-chained after sibling revisions without change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_token_lease"
down_revision = "0005_id_spaces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("token_leases")
