"""The LMS's course titles as last read, so pages and reports show titles, not ids.

Revision ID: 0014_course_titles
Revises: 0013_erasure

Frozen once released (see 0001_initial). Adds one table and touches no other, so it can be
re-chained after sibling revisions without change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_course_titles"
down_revision = "0013_erasure"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "course_titles",
        sa.Column("course_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("course_id"),
    )


def downgrade() -> None:
    op.drop_table("course_titles")
