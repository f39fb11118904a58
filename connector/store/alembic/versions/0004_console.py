"""The console's failed sign-ins, counted in the store so every console process shares the
rate limit.

Revision ID: 0004_console
Revises: 0003_staged_batches

Frozen once released: never edit a revision a database may have run; add the next one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_console"
down_revision = "0003_staged_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_logins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_console_logins_subject", "console_logins", ["subject", "at"])


def downgrade() -> None:
    op.drop_index("ix_console_logins_subject", table_name="console_logins")
    op.drop_table("console_logins")
