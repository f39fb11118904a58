"""Goals remember their rule by its stable id, and the rule's and mapping's versions.

Revision ID: 0002_rule_ids
Revises: 0001_initial

Before this, a goal knew its rule only by position (`rule_index`), so inserting or reordering
rules handed open goals another rule. Rows written before keep `rule_index` as the fallback
(`Mapping.rule_by_id(None, index)`); their new columns stay empty, because which rule an old
position meant is known only to the mapping file of the day, not to SQL.

Frozen once released: never edit it; add the next revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rule_ids"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

COLUMNS = (("rule_id", 200), ("rule_version", 40), ("mapping_version", 40))


def upgrade() -> None:
    with op.batch_alter_table("goals") as batch:
        for name, length in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length)))


def downgrade() -> None:
    with op.batch_alter_table("goals") as batch:
        for name, _length in reversed(COLUMNS):
            batch.drop_column(name)
