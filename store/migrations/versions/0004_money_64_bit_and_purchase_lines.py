"""Money in 64-bit columns; the line items of each food purchase.

Every tenge amount (``vouchers.amount_kzt`` and ``discount_kzt``, ``redemptions.discount_kzt``,
``goods_kzt`` and ``balance_after_kzt``) becomes BIGINT: on PostgreSQL a purchase of three items at
10⁹ ₸ overflowed the 32-bit ``goods_kzt``, and the record activity retried the insert forever.
SQLite's INTEGER is 64-bit already; batch mode rewrites its declared type all the same.

``purchase_lines`` keeps each purchase's goods (seed 004 items 26 and 7.1). Purchases recorded
before this revision have no lines.

Revision ID: 0004
Revises: 0003
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_MONEY: dict[str, tuple[tuple[str, bool], ...]] = {
    "vouchers": (("amount_kzt", True), ("discount_kzt", True)),
    "redemptions": (("discount_kzt", False), ("goods_kzt", False), ("balance_after_kzt", True)),
}


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())
    op.create_table(
        "purchase_lines",
        sa.Column("purchase_id", sa.String(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(), nullable=False),
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("qty_thousandths", sa.BigInteger(), nullable=False),
        sa.Column("unit_price_kzt", sa.BigInteger(), nullable=False),
        sa.Column("discount_kzt", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["purchase_id"], ["redemptions.purchase_id"]),
        sa.PrimaryKeyConstraint("purchase_id", "line_no"),
    )
    op.create_index(
        "ix_purchase_lines_program_month_code", "purchase_lines", ["program", "month", "code"]
    )


def downgrade() -> None:
    op.drop_index("ix_purchase_lines_program_month_code", table_name="purchase_lines")
    op.drop_table("purchase_lines")
    _retype(sa.BigInteger(), sa.Integer())


def _retype(before: sa.types.TypeEngine[int], after: sa.types.TypeEngine[int]) -> None:
    for table, columns in _MONEY.items():
        with op.batch_alter_table(table) as batch:
            for column, nullable in columns:
                batch.alter_column(
                    column, existing_type=before, type_=after, existing_nullable=nullable
                )
