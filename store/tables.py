"""What the product keeps in its database: the cycles' current figures and their auditable acts.

The database holds pseudonyms, never a raw phone number; the IIN is kept only where the consent
record must name the person (the audit trail of SPEC.md §3 step 5).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

# Money is whole tenge in 64-bit columns: a line of 10⁶ units at 10⁹ ₸ (the bounds of
# models.voucher.PurchaseLine), 500 lines to a purchase, still fits (a 32-bit column overflows at
# 2.1 billion tenge, which three items at 10⁹ ₸ reach).
MONEY = BigInteger


class CycleRecord(SQLModel, table=True):
    """One row per citizen cycle, kept current by the cycle: the source of reports and routing."""

    __tablename__ = "cycles"
    __table_args__ = (
        # The ops report counts a program-month's cycles by region and state (reports.month_figures)
        # from this index alone. It also serves any lookup by program, which the single-column
        # index on program did until revision 0002.
        Index("ix_cycles_program_month_region_state", "program", "month", "region", "state"),
    )

    cycle_id: str = Field(primary_key=True)
    program: str
    month: str = Field(index=True)
    region: str
    state: str = Field(index=True)
    citizen_ref: str = Field(index=True)
    phone_ref: str | None = Field(default=None, index=True)
    short_number: str | None = None
    voucher_id: str = Field(index=True)
    updated_at: datetime
    # Why ops should look (the Web UI's ``Attention``); None while nothing is wrong.
    attention: str | None = None


class SmsRecord(SQLModel, table=True):
    """Every SMS the gateway accepted, one per idempotency key."""

    __tablename__ = "sms_log"
    # The ops report counts a program-month's SMS (reports.month_figures).
    __table_args__ = (Index("ix_sms_log_program_month", "program", "month"),)

    idempotency_key: str = Field(primary_key=True)
    cycle_id: str = Field(index=True)
    kind: str
    message_id: str
    program: str
    month: str
    region: str
    accepted_at: datetime


class ConsentRecord(SQLModel, table=True):
    """An auditable consent or refusal: who, when, through which message, under which rules."""

    __tablename__ = "consents"

    message_id: str = Field(primary_key=True)
    cycle_id: str = Field(index=True)
    citizen_ref: str = Field(index=True)
    iin: str
    program: str
    program_version: str = Field(index=True)
    month: str
    decision: str  # "agree" | "refuse"
    received_at: datetime
    recorded_at: datetime


class VoucherRecord(SQLModel, table=True):
    """A voucher issued into the wallet."""

    __tablename__ = "vouchers"
    __table_args__ = (
        # The ops report sums a program-month's gas discounts (reports.money_totals).
        Index("ix_vouchers_program_month", "program", "month"),
        # The food daily report counts one day's issued and activated vouchers
        # (reports.day_counts), each a range of one of these moments.
        Index("ix_vouchers_program_issued_at", "program", "issued_at"),
        Index("ix_vouchers_program_activated_at", "program", "activated_at"),
    )

    voucher_id: str = Field(primary_key=True)
    cycle_id: str = Field(index=True)
    program: str
    month: str
    region: str
    amount_kzt: int | None = Field(default=None, sa_type=MONEY)
    valid_until: date
    issued_at: datetime
    activated_at: datetime | None = None
    account_number: str | None = None
    discount_kzt: int | None = Field(default=None, sa_type=MONEY)
    volume_m3: str | None = None


class ListingRecord(SQLModel, table=True):
    """A citizen SDU listed for a program-month: one row each, whatever the re-sends.

    ``citizen`` (the listed record, with the IIN) is kept only until the cycle has started;
    from then on the cycle holds it and the row keeps the pseudonym alone.
    """

    __tablename__ = "listings"
    # The intake pages through a program-month's listings not started yet
    # (queries.pending_listings): the primary key alone would step over every started one on each
    # page. It also serves any lookup by ``started``, which the single-column index did until
    # revision 0002.
    __table_args__ = (Index("ix_listings_started_program_month", "started", "program", "month"),)

    program: str = Field(primary_key=True)
    month: str = Field(primary_key=True)
    citizen_ref: str = Field(primary_key=True)
    region: str
    citizen: str | None = None  # JSON of models.cycle.Citizen while the cycle is pending
    listed_at: datetime
    started: bool = False
    # A keyed digest of the record as SDU last sent it (rules.pseudonyms.record_digest): a
    # re-send that differs is a correction. Empty for rows listed before revision 0003.
    fingerprint: str | None = None


class InboundSmsRecord(SQLModel, table=True):
    """An SMS reply received through the webhook, kept before it is answered."""

    __tablename__ = "inbound_sms"

    message_id: str = Field(primary_key=True)
    phone_ref: str = Field(index=True)
    short_number: str
    text: str
    received_at: datetime
    cycle_id: str | None = None
    result: str | None = None  # None until the cycle has taken it


class AccountActivation(SQLModel, table=True):
    """A gas personal account's activated voucher for a month: the primary key is the rule
    "one activated voucher per personal account per month", enforced by the database."""

    __tablename__ = "account_activations"
    # The month's hand-over pages through its activations in voucher order (keyset, after the
    # last voucher sent: vouchers.handover_page): each page a range of this index, not a sort of
    # the whole month.
    __table_args__ = (Index("ix_account_activations_month_voucher_id", "month", "voucher_id"),)

    month: str = Field(primary_key=True)
    account_number: str = Field(primary_key=True)
    voucher_id: str = Field(index=True)
    cycle_id: str
    activated_at: datetime
    handed_over_at: datetime | None = None


class RedemptionRecord(SQLModel, table=True):
    """A food purchase paid partly from a voucher, and the balance the shop was told it left."""

    __tablename__ = "redemptions"
    __table_args__ = (
        # The ops report sums a program-month's purchases (reports.money_totals). It also serves
        # any lookup by month, which the single-column index on month did until revision 0002.
        Index("ix_redemptions_month_program", "month", "program"),
        # The food daily report sums one day's purchases (reports.day_counts).
        Index("ix_redemptions_program_at", "program", "at"),
    )

    # One purchase_id, one purchase, whichever voucher: a second voucher's purchase under the same
    # ID is refused (purchase_id_conflict), never written over the first (vouchers.save_redemption).
    purchase_id: str = Field(primary_key=True)
    voucher_id: str = Field(index=True)
    program: str
    month: str
    region: str
    shop_id: str
    discount_kzt: int = Field(sa_type=MONEY)
    goods_kzt: int = Field(sa_type=MONEY)
    at: datetime
    # None for purchases recorded before revision 0002, which did not keep it.
    balance_after_kzt: int | None = Field(default=None, sa_type=MONEY)


class PurchaseLineRecord(SQLModel, table=True):
    """One line of a food purchase: the good, how much, at what price, with what discount (seed
    004 item 26 has the shop report them; item 7.1 asks for the volume of goods sold)."""

    __tablename__ = "purchase_lines"
    # The ops report sums a program-month's goods by code (reports.goods_sold).
    __table_args__ = (Index("ix_purchase_lines_program_month_code", "program", "month", "code"),)

    purchase_id: str = Field(primary_key=True, foreign_key="redemptions.purchase_id")
    line_no: int = Field(primary_key=True)
    program: str
    month: str
    code: str
    # Thousandths of the good's unit (a purchase line's qty has at most three decimals): an exact
    # integer on every database, which SQLite's NUMERIC is not.
    qty_thousandths: int = Field(sa_type=MONEY)
    unit_price_kzt: int = Field(sa_type=MONEY)
    discount_kzt: int = Field(sa_type=MONEY)
