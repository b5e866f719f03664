"""The product's tables, and the adoption of a database created before migrations.

Before migrations, each process called ``SQLModel.metadata.create_all``. On such a database a
table already there is kept, rows and indexes as they are, and only the missing tables are
created. Its timestamps are converted on PostgreSQL if they are naive (``timestamp without time
zone``, which sqlmodel before 0.0.45 made for ``datetime`` fields, and which asyncpg refuses
aware values for), reading what they hold as UTC. SQLite has one DATETIME type either way.

Revision ID: 0001
Revises:
Created: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = (
    "cycles",
    "sms_log",
    "consents",
    "vouchers",
    "listings",
    "inbound_sms",
    "account_activations",
    "redemptions",
)


def upgrade() -> None:
    _create(
        "cycles",
        sa.Column("cycle_id", sa.String(), primary_key=True),
        sa.Column("program", sa.String(), nullable=False),
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("citizen_ref", sa.String(), nullable=False),
        sa.Column("phone_ref", sa.String(), nullable=True),
        sa.Column("short_number", sa.String(), nullable=True),
        sa.Column("voucher_id", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        indexes=("program", "month", "state", "citizen_ref", "phone_ref", "voucher_id"),
    )
    _create(
        "sms_log",
        sa.Column("idempotency_key", sa.String(), primary_key=True),
        sa.Column("cycle_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("program", sa.String(), nullable=False),
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        indexes=("cycle_id",),
    )
    _create(
        "consents",
        sa.Column("message_id", sa.String(), primary_key=True),
        sa.Column("cycle_id", sa.String(), nullable=False),
        sa.Column("citizen_ref", sa.String(), nullable=False),
        sa.Column("iin", sa.String(), nullable=False),
        sa.Column("program", sa.String(), nullable=False),
        sa.Column("program_version", sa.String(), nullable=False),
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        indexes=("cycle_id", "citizen_ref", "program_version"),
    )
    _create(
        "vouchers",
        sa.Column("voucher_id", sa.String(), primary_key=True),
        sa.Column("cycle_id", sa.String(), nullable=False),
        sa.Column("program", sa.String(), nullable=False),
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("amount_kzt", sa.Integer(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_number", sa.String(), nullable=True),
        sa.Column("discount_kzt", sa.Integer(), nullable=True),
        sa.Column("volume_m3", sa.String(), nullable=True),
        indexes=("cycle_id",),
    )
    _create(
        "listings",
        sa.Column("program", sa.String(), primary_key=True),
        sa.Column("month", sa.String(), primary_key=True),
        sa.Column("citizen_ref", sa.String(), primary_key=True),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("citizen", sa.String(), nullable=True),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.Boolean(), nullable=False),
        indexes=("started",),
    )
    _create(
        "inbound_sms",
        sa.Column("message_id", sa.String(), primary_key=True),
        sa.Column("phone_ref", sa.String(), nullable=False),
        sa.Column("short_number", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_id", sa.String(), nullable=True),
        sa.Column("result", sa.String(), nullable=True),
        indexes=("phone_ref",),
    )
    _create(
        "account_activations",
        sa.Column("month", sa.String(), primary_key=True),
        sa.Column("account_number", sa.String(), primary_key=True),
        sa.Column("voucher_id", sa.String(), nullable=False),
        sa.Column("cycle_id", sa.String(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        indexes=("voucher_id",),
    )
    _create(
        "redemptions",
        sa.Column("purchase_id", sa.String(), primary_key=True),
        sa.Column("voucher_id", sa.String(), nullable=False),
        sa.Column("program", sa.String(), nullable=False),
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("shop_id", sa.String(), nullable=False),
        sa.Column("discount_kzt", sa.Integer(), nullable=False),
        sa.Column("goods_kzt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        indexes=("voucher_id", "month"),
    )


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)


def _create(table: str, *columns: sa.Column[object], indexes: tuple[str, ...]) -> None:
    """Create ``table`` and its single-column indexes (named as sqlmodel names them), or adopt
    the table ``create_all`` made."""
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(table):
        op.create_table(table, *columns)
        for column in indexes:
            op.create_index(f"ix_{table}_{column}", table, [column])
        return
    if op.get_bind().dialect.name != "postgresql":
        return
    for found in inspector.get_columns(table):
        if isinstance(found["type"], sa.DateTime) and not found["type"].timezone:
            op.alter_column(
                table,
                found["name"],
                type_=sa.DateTime(timezone=True),
                existing_type=found["type"],
                postgresql_using=f"\"{found['name']}\" AT TIME ZONE 'UTC'",
            )
