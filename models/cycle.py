"""The citizen cycle's messages: its input, the replies and requests it takes, what it reports.

One pydantic model per workflow input, update and query, so the Temporal payloads are typed and
versionable (STYLE.md §2).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from models.programs import Assistance, Lang, ProgramCode
from models.rulebook import RulesRef
from models.text import PrintableStr
from models.voucher import Account

# A month as the API and the cycles name it: YYYY-MM, years 1000-9999.
MONTH_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"


class CycleState(StrEnum):
    """The states a cycle can be seen in (SPEC.md §3); the Temporal UI filters on them."""

    SCHEDULED = "SCHEDULED"
    NO_PHONE = "NO_PHONE"
    AWAITING_CONSENT = "AWAITING_CONSENT"
    REMINDED = "REMINDED"
    REFUSED = "REFUSED"
    CONSENT_EXPIRED = "CONSENT_EXPIRED"
    VOUCHER_ISSUED = "VOUCHER_ISSUED"
    ACCOUNT_PENDING_CONFIRMATION = "ACCOUNT_PENDING_CONFIRMATION"
    ACTIVATED = "ACTIVATED"
    VOUCHER_EXPIRED = "VOUCHER_EXPIRED"
    HANDED_OVER = "HANDED_OVER"
    SETTLED = "SETTLED"
    CLOSED = "CLOSED"
    WITHDRAWN = "WITHDRAWN"


FINAL_STATES = frozenset(
    {
        CycleState.NO_PHONE,
        CycleState.REFUSED,
        CycleState.CONSENT_EXPIRED,
        CycleState.VOUCHER_EXPIRED,
        CycleState.SETTLED,
        CycleState.CLOSED,
        CycleState.WITHDRAWN,
    }
)
AWAITING_STATES = frozenset({CycleState.AWAITING_CONSENT, CycleState.REMINDED})
# The citizen has used the voucher: SDU can no longer withdraw them (409 ``already_activated``).
ACTIVATED_STATES = frozenset(
    {CycleState.ACTIVATED, CycleState.HANDED_OVER, CycleState.SETTLED, CycleState.CLOSED}
)


class Citizen(BaseModel):
    """A potential recipient as SDU lists them."""

    iin: str = Field(pattern=r"^[0-9]{12}$")
    region: PrintableStr
    locality: PrintableStr | None = None
    lang: Lang = "ru"
    family_size: int = Field(default=1, ge=1, le=30)
    assistance: list[Assistance] = Field(default_factory=lambda: list[Assistance](["TSA"]))


class CycleInput(BaseModel):
    """Everything a cycle needs, resolved when the citizen is listed; its rules by reference
    (``models.rulebook``), so that a cycle's input stays well under a kilobyte."""

    program: ProgramCode
    month: str = Field(pattern=MONTH_PATTERN)
    citizen: Citizen
    citizen_ref: str
    rules_ref: RulesRef
    voucher_amount_kzt: int | None = None
    listed_at: datetime | None = None  # when the intake admitted the batch (workflow time)
    # Seconds after the send moment this citizen is texted (``SEND_SPREAD_MINUTES``).
    send_offset_s: int = Field(default=0, ge=0)


class Reply(BaseModel):
    """An inbound SMS routed to this cycle by the webhook."""

    message_id: str
    text: str
    received_at: datetime


ReplyResult = Literal["consent", "refusal", "unrecognised", "late", "duplicate", "no_cycle"]


class ReplyOutcome(BaseModel):
    result: ReplyResult


class Withdrawal(BaseModel):
    """SDU removed the citizen from the month's list."""

    reason: str = "sdu_correction"


class Correction(BaseModel):
    """SDU re-sent a listed citizen with other details (family size, region, language, …)
    before the cut-off: the record the cycle goes on with, and the voucher value it implies."""

    citizen: Citizen
    voucher_amount_kzt: int | None = None


class CycleEvent(BaseModel):
    """One line of a cycle's history, as ops and the wallet see it."""

    at: datetime
    event: str
    detail: dict[str, str] = Field(default_factory=dict)


class CycleStatus(BaseModel):
    """What the ``status`` query answers."""

    cycle_id: str
    program: ProgramCode
    month: str
    region: str
    state: CycleState
    voucher_id: str
    valid_until: date | None = None
    amount_kzt: int | None = None
    balance_kzt: int | None = None
    account: Account | None = None
    discount_kzt: int | None = None
    attention: str | None = None  # why ops should look: discount_mismatch, no_consumption, …
    history: list[CycleEvent]


def cycle_id(program: str, month: str, citizen_ref: str) -> str:
    """The deterministic workflow ID of a citizen's cycle: one per program, month and citizen."""
    return f"cycle-{program}-{month}-{citizen_ref}"


def voucher_id(cycle: str) -> str:
    """The deterministic ID of the voucher a cycle issues, so a retried issue is the same one."""
    return "V" + hashlib.sha256(f"voucher:{cycle}".encode()).hexdigest()[:19].upper()
