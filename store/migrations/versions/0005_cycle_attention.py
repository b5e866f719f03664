"""Why ops should look at a cycle (``cycles.attention``, the Web UI's ``Attention``), kept in the
cycle's row so that the month page lists the cycles needing attention from the database.
Rows written before this revision have none until their cycle next records itself.

Revision ID: 0005
Revises: 0004
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("cycles", sa.Column("attention", sa.String(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column by copying the table; batch does that, and is a plain ALTER elsewhere.
    with op.batch_alter_table("cycles") as batch:
        batch.drop_column("attention")
