"""Program definitions: the rules of SPEC.md §2 as versioned data.

A program (``gas`` or ``food``) is a list of versions, each with an effective period. A month is
run under the version in force on the month's send day (the day its citizens are first texted);
the resolved version travels with every cycle of that month, so editing a definition never
changes a cycle already running.

The definitions live in ``models/data/programs/<program>.json`` and are validated here.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, time
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ProgramCode = Literal["gas", "food"]
Lang = Literal["ru", "kk"]
Assistance = Literal["TSA", "HOUSING"]
PROGRAMS: tuple[ProgramCode, ...] = ("gas", "food")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Territory(_Frozen):
    """Where a program runs: whole regions, or (food) named localities inside regions."""

    regions: tuple[str, ...]
    localities: tuple[str, ...] | None = None  # None: the whole of each region


class SendingWindow(_Frozen):
    """Local hours (Asia/Almaty) inside which SMS may go out; ``closes`` is exclusive."""

    opens: time = time(9, 0)
    closes: time = time(21, 0)


class ReplyCodes(_Frozen):
    agree: str = "21*1"
    refuse: str = "21*2"


class SmsTexts(_Frozen):
    """Texts per language; ``{phone}`` is replaced by the support number."""

    consent_request: dict[Lang, str]
    confirmation: dict[Lang, str]


class VoucherRule(_Frozen):
    """What a voucher is worth.

    ``gas_discount``: the amount is known only after consumption (benefit x min(volume, norm)).
    ``fixed_mrp``: ``mrp_multiplier`` x the MRP of the month's year per family member, adjusted
    per region by ``regional_multiplier`` (never above ``max_multiplier``, the trade markup cap).
    """

    kind: Literal["gas_discount", "fixed_mrp"]
    per: Literal["recipient", "family_member"]
    mrp_multiplier: float = 1.0
    regional_multiplier: dict[str, float] = Field(default_factory=dict)
    max_multiplier: float | None = None


class ProgramVersion(_Frozen):
    """One version of a program's rules, in force from ``effective_from`` to ``effective_until``.

    Days are days of the month; a day past the month's end means the month's last day.
    ``None`` for ``consent_deadline_day`` / ``activation_until_day`` means the end of the month.
    """

    program: ProgramCode
    version: str
    title: str
    source: str
    sample_figures: bool = False
    effective_from: date
    effective_until: date | None = None
    territory: Territory
    eligible_assistance: tuple[Assistance, ...]
    list_cutoff_day: int = Field(ge=1, le=31)
    send_day: int = Field(ge=1, le=31)
    late_additions: bool
    reminder_after_days: int = Field(ge=1, le=31)
    consent_deadline_day: int | None = Field(default=None, ge=1, le=31)
    consent_scope: Literal["month", "program_period"]
    activation_from_day: int = Field(ge=1, le=31)
    activation_until_day: int | None = Field(default=None, ge=1, le=31)
    handover_day: int | None = Field(default=None, ge=1, le=31)
    # How long after the hand-over a gas cycle waits for the provider's consumption before it
    # stops and asks ops to look (Attention=no_consumption).
    consumption_wait_days: int = Field(default=45, ge=1, le=366)
    # How many purchases one food voucher takes at most (answered 409 purchase_limit_reached
    # beyond): each is an update on the cycle, and a cycle's history must stay bounded (Temporal
    # terminates a workflow at 51,200 events). Not in the seeds: an operational bound.
    max_purchases_per_voucher: int = Field(default=200, ge=1, le=1_000)
    reply_codes: ReplyCodes = ReplyCodes()
    short_number: str
    support_phone: str
    sending_window: SendingWindow = SendingWindow()
    sms: SmsTexts
    voucher: VoucherRule

    @model_validator(mode="after")
    def _days_in_order(self) -> ProgramVersion:
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError(f"{self.version}: effective_until before effective_from")
        if self.sending_window.closes <= self.sending_window.opens:
            raise ValueError(f"{self.version}: sending window closes before it opens")
        return self

    def in_force_on(self, day: date) -> bool:
        """Whether this version's effective period includes ``day``."""
        return self.effective_from <= day and (
            self.effective_until is None or day <= self.effective_until
        )

    def send_date(self, month: str) -> date:
        """The local date of the send day in ``month`` (``YYYY-MM``), clamped to the month."""
        year, number = int(month[:4]), int(month[5:7])
        last = calendar.monthrange(year, number)[1]
        return date(year, number, min(self.send_day, last))

    def covers(self, region: str, locality: str | None) -> bool:
        """Whether a citizen living in ``region`` (and ``locality``) is in the territory."""
        if region not in self.territory.regions:
            return False
        return self.territory.localities is None or locality in self.territory.localities

    def text(self, kind: Literal["consent_request", "confirmation"], lang: Lang) -> str:
        texts: dict[Lang, str] = getattr(self.sms, kind)
        return texts.get(lang, texts["ru"]).replace("{phone}", self.support_phone)


class ProgramBook(_Frozen):
    """Every version of every program, newest last per program."""

    versions: tuple[ProgramVersion, ...]

    def for_month(self, program: str, month: str) -> ProgramVersion | None:
        """The version in force on ``month``'s send day (``month`` is ``YYYY-MM``), if any.

        The send day is when the month's cycle first reaches citizens, so a version published
        mid-month (food's seed 004, on 5 January 2026) runs that month if it is in force by then.
        """
        for version in self.versions:
            if version.program == program and version.in_force_on(version.send_date(month)):
                return version
        return None

    def by_short_number(self, short_number: str) -> list[ProgramVersion]:
        return [v for v in self.versions if v.short_number == short_number]


@cache
def load_programs() -> ProgramBook:
    """Load and validate the program definitions shipped in ``models/data/programs``."""
    folder = resources.files("models") / "data" / "programs"
    versions: list[ProgramVersion] = []
    for program in PROGRAMS:
        raw = json.loads((folder / f"{program}.json").read_text(encoding="utf-8"))
        versions.extend(ProgramVersion.model_validate(item) for item in raw["versions"])
    return ProgramBook(versions=tuple(versions))
