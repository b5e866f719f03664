"""Composite indexes of the reports' and the pages' queries; the balance each purchase left.

Each index is explained beside its table in ``store/tables.py``. Three single-column indexes go:
each is the leading column of a new composite index, which serves every lookup it served.
``redemptions.balance_after_kzt`` stays empty for purchases recorded before this revision.

On PostgreSQL the indexes are built inside the upgrade's transaction (``CREATE INDEX``, not
``CONCURRENTLY``, which cannot run in one): writes to a table wait while its indexes are built.

Revision ID: 0002
Revises: 0001
Created: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Each composite index (named ix_<table>_<columns>), and the single-column index it replaces.
_INDEXES: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("cycles", ("program", "month", "region", "state"), "program"),
    ("sms_log", ("program", "month"), None),
    ("vouchers", ("program", "month"), None),
    ("vouchers", ("program", "issued_at"), None),
    ("vouchers", ("program", "activated_at"), None),
    ("listings", ("started", "program", "month"), "started"),
    ("account_activations", ("month", "voucher_id"), None),
    ("redemptions", ("month", "program"), "month"),
    ("redemptions", ("program", "at"), None),
)


def upgrade() -> None:
    op.add_column("redemptions", sa.Column("balance_after_kzt", sa.Integer(), nullable=True))
    for table, columns, replaced in _INDEXES:
        op.create_index(_name(table, *columns), table, list(columns))
        if replaced is not None:
            op.drop_index(_name(table, replaced), table_name=table)


def downgrade() -> None:
    for table, columns, replaced in reversed(_INDEXES):
        if replaced is not None:
            op.create_index(_name(table, replaced), table, [replaced])
        op.drop_index(_name(table, *columns), table_name=table)
    # SQLite drops a column by copying the table; batch does that, and is a plain ALTER elsewhere.
    with op.batch_alter_table("redemptions") as batch:
        batch.drop_column("balance_after_kzt")


def _name(table: str, *columns: str) -> str:
    return f"ix_{table}_{'_'.join(columns)}"
