"""One person, several id spaces: each system's id for a person, and who waits for one.

Revision ID: 0005_id_spaces
Revises: 0004_console

`identity_ids` links the id a system (the review source, the goal tracker, the directory)
gives a person to the ledger's key; `identity_waits` lists the people whose effects in a
system wait for their id there. Both are new tables: nothing existing changes, so a database
upgraded from 0001 keeps working with the review source's ids as before until a directory
read links the others.

Frozen once released: never edit a revision a database may have run; add the next one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_id_spaces"
down_revision = "0004_console"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identity_ids",
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("employee_id", sa.String(length=200)),
        sa.Column("email", sa.String(length=320)),
        sa.Column("manager_id", sa.String(length=200)),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("system", "external_id"),
    )
    op.create_index("ix_identity_ids_employee", "identity_ids", ["employee_id", "system"])
    op.create_index("ix_identity_ids_email", "identity_ids", ["system", "email"])
    op.create_table(
        "identity_waits",
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("employee_id", "system"),
    )


def downgrade() -> None:
    op.drop_table("identity_waits")
    op.drop_index("ix_identity_ids_email", table_name="identity_ids")
    op.drop_index("ix_identity_ids_employee", table_name="identity_ids")
    op.drop_table("identity_ids")
