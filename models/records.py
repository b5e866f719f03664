"""What the product keeps in its database: the cycles' current figures and their auditable acts.

The database holds pseudonyms, never a raw phone number; the IIN is kept only where the consent
record must name the person (the audit trail of SPEC.md §3 step 5).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel


class CycleRecord(SQLModel, table=True):
    """One row per citizen cycle, kept current by the cycle: the source of reports and routing."""

    __tablename__ = "cycles"

    cycle_id: str = Field(primary_key=True)
    program: str = Field(index=True)
    month: str = Field(index=True)
    region: str
    state: str = Field(index=True)
    citizen_ref: str = Field(index=True)
    phone_ref: str | None = Field(default=None, index=True)
    short_number: str | None = None
    voucher_id: str = Field(index=True)
    updated_at: datetime


class SmsRecord(SQLModel, table=True):
    """Every SMS the gateway accepted, one per idempotency key."""

    __tablename__ = "sms_log"

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

    voucher_id: str = Field(primary_key=True)
    cycle_id: str = Field(index=True)
    program: str
    month: str
    region: str
    amount_kzt: int | None = None
    valid_until: date
    issued_at: datetime
    activated_at: datetime | None = None
    account_number: str | None = None
    discount_kzt: int | None = None
    volume_m3: str | None = None


class ListingRecord(SQLModel, table=True):
    """A citizen SDU listed for a program-month: one row each, whatever the re-sends.

    ``citizen`` (the listed record, with the IIN) is kept only until the cycle has started;
    from then on the cycle holds it and the row keeps the pseudonym alone.
    """

    __tablename__ = "listings"

    program: str = Field(primary_key=True)
    month: str = Field(primary_key=True)
    citizen_ref: str = Field(primary_key=True)
    region: str
    citizen: str | None = None  # JSON of models.cycle.Citizen while the cycle is pending
    listed_at: datetime
    started: bool = Field(default=False, index=True)


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

    month: str = Field(primary_key=True)
    account_number: str = Field(primary_key=True)
    voucher_id: str = Field(index=True)
    cycle_id: str
    activated_at: datetime
    handed_over_at: datetime | None = None


class RedemptionRecord(SQLModel, table=True):
    """A food purchase paid partly from a voucher."""

    __tablename__ = "redemptions"

    purchase_id: str = Field(primary_key=True)
    voucher_id: str = Field(index=True)
    program: str
    month: str = Field(index=True)
    region: str
    shop_id: str
    discount_kzt: int
    goods_kzt: int
    at: datetime
