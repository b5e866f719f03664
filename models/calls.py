"""What a workflow hands to an activity and gets back: one pydantic model per call."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from models.programs import ProgramVersion
from models.voucher import Account, PurchaseLine


# BMG: bmg.find_phone
class PhoneLookup(BaseModel):
    iin: str


class PhoneFound(BaseModel):
    phone: str | None
    phone_ref: str | None = None  # keyed pseudonym, for routing replies


# SDU: sdu.journal
class JournalEntry(BaseModel):
    program: str
    month: str
    iin: str
    event: str
    at: datetime


# The SMS gateway: sms.send
SmsKind = Literal["consent_request", "reminder", "confirmation"]


class OutgoingSms(BaseModel):
    cycle_id: str
    kind: SmsKind
    sender: str  # the program's short number
    to: str
    text: str
    program: str
    month: str
    region: str
    at: datetime  # workflow time of the send, for the log


class SmsAccepted(BaseModel):
    message_id: str


# The Social Wallet: wallet.issue_voucher, wallet.notify
class VoucherIssue(BaseModel):
    voucher_id: str
    cycle_id: str
    program: str
    month: str
    region: str
    iin: str
    valid_until: date
    amount_kzt: int | None = None
    members: int | None = None
    issued_at: datetime  # workflow time


class VoucherNotice(BaseModel):
    voucher_id: str
    type: str  # "expired" | "discount" | "closed"
    detail: dict[str, Any] = {}


# The gas provider: gas.find_account, gas.hand_over, gas.settle
class AccountFound(BaseModel):
    account: Account | None


class HandoverMonth(BaseModel):
    month: str
    at: datetime  # workflow time of the hand-over


class Settlement(BaseModel):
    voucher_id: str
    month: str
    account_number: str
    volume_m3: Decimal
    discount_kzt: int


# Reference data: reference.gas_tariff
class TariffQuery(BaseModel):
    region: str
    on: date


# The food reporting endpoint: food.daily_report
class ReportDay(BaseModel):
    day: date


class GoodsSold(BaseModel):
    """How much of one good the vouchers paid for, and the discount drawn for it (seed 004
    item 7.1: "the volume of goods sold")."""

    qty: int | float  # in the good's unit (food_goods.json), to three decimals
    discount_kzt: int


def quantity(thousandths: int) -> int | float:
    """A quantity kept in thousandths of its unit, as a JSON number (whole when it is)."""
    whole, rest = divmod(thousandths, 1000)
    return whole if rest == 0 else thousandths / 1000


class DailyFigures(BaseModel):
    """What the wallet reports to the provider for one local day (SPEC.md §2, food).

    ``vouchers_used``: vouchers with at least one purchase that day; ``goods``: that day's
    purchases by goods code.
    """

    program: str = "food"
    date: date
    vouchers_issued: int
    vouchers_activated: int
    vouchers_used: int = 0
    purchases: int
    redeemed_kzt: int
    goods_kzt: int
    goods: dict[str, GoodsSold] = {}


# The product's own records: records.*
class CycleSnapshot(BaseModel):
    cycle_id: str
    program: str
    month: str
    region: str
    state: str
    citizen_ref: str
    voucher_id: str
    phone_ref: str | None = None
    short_number: str | None = None
    at: datetime
    attention: str | None = None


class ConsentAct(BaseModel):
    message_id: str
    cycle_id: str
    citizen_ref: str
    iin: str
    program: str
    program_version: str
    month: str
    decision: str  # "agree" | "refuse"
    received_at: datetime
    recorded_at: datetime


class ConsentQuery(BaseModel):
    citizen_ref: str
    program_version: str


class AccountClaim(BaseModel):
    month: str
    account_number: str
    voucher_id: str
    cycle_id: str
    at: datetime
    row: CycleSnapshot | None = None  # the cycle's row once claimed, written with the claim


class ActivationAct(BaseModel):
    voucher_id: str
    at: datetime
    account_number: str | None = None
    row: CycleSnapshot | None = None  # the cycle's row once activated, written with it


class RedemptionAct(BaseModel):
    purchase_id: str
    voucher_id: str
    program: str
    month: str
    region: str
    shop_id: str
    discount_kzt: int
    goods_kzt: int
    at: datetime
    balance_after_kzt: int  # the balance the cycle answered
    lines: list[PurchaseLine] = []  # the goods sold, in the shop's order


# Many cycles at once: cycles.start_pending, cycles.announce_handover
class PendingCycles(BaseModel):
    program: str
    month: str
    # The rules the intake screened the list by; absent in intakes started before it was passed.
    rules: ProgramVersion | None = None


class HandoverDone(BaseModel):
    month: str
