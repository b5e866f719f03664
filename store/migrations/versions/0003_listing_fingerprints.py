"""The digest of each listed citizen's record, so that a re-sent record that differs is seen as
SDU's correction (``listings.fingerprint``). Rows listed before this revision have none: their
first re-send sets it, and only a later difference counts as a correction.

Revision ID: 0003
Revises: 0002
Created: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("listings", sa.Column("fingerprint", sa.String(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column by copying the table; batch does that, and is a plain ALTER elsewhere.
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("fingerprint")
