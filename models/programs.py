"""Program definitions: the rules of SPEC.md §2 as versioned data.

A program (``gas`` or ``food``) is a list of versions, each with an effective period. A month is
run under the version in force on the month's send day (the day its citizens are first texted);
the resolved version travels with every cycle of that month, so editing a definition never
changes a cycle already running.

The definitions live in ``models/data/programs/<program>.json`` and are validated here; a
deployment adds its own (``PROGRAM_DATA_DIR``, :mod:`models.program_data`). Each version says
where its rules come from: ``source`` names the legal text, ``sources`` the article of each field.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable
from datetime import date, time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.program_data import ProgramDataError, field_of, read_json, unknown_files

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


# The placeholders a text may hold, and the version field each one is filled from.
PLACEHOLDERS = {"phone": "support_phone"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class ProgramNotConfigured(ValueError):
    """A version's texts hold a placeholder without a value: it cannot text anyone yet."""


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
    # Food: what the shop's reduced price is. Seed 002 (Alg. 2.1, 6): the purchase price
    # without trade markup; seed 004 (Alg. 2.1, 12): a discount within the maximum trade markup.
    reduced_price: Literal["purchase_price_without_markup", "within_max_trade_markup"] | None = None


class ProgramVersion(_Frozen):
    """One version of a program's rules, in force from ``effective_from`` to ``effective_until``.

    Days are days of the month; a day past the month's end means the month's last day.
    ``None`` for ``consent_deadline_day`` / ``activation_until_day`` means the end of the month.
    """

    program: ProgramCode
    version: str
    title: str
    source: str
    # The article each field comes from (``"effective_until": "order item 9"``), or why it is a
    # labelled interpretation or a sample value.
    sources: dict[str, str] = Field(default_factory=dict)
    effective_from: date
    # The pilot's last day: a month it ends inside is cut short there (rules.calendar).
    effective_until: date | None = None
    territory: Territory
    eligible_assistance: tuple[Assistance, ...]
    list_cutoff_day: int = Field(ge=1, le=31)
    send_day: int = Field(ge=1, le=31)
    reminder_after_days: int = Field(ge=1, le=31)
    consent_deadline_day: int | None = Field(default=None, ge=1, le=31)
    consent_scope: Literal["month", "program_period"]
    # The last day a program-period consent counts for (seed 002's annex: "consent is given
    # until 31 July 2025"): a month whose send day is later asks the citizen again.
    consent_valid_until: date | None = None
    # Months after the pilot's end at which its results report is due (seed 002, item 3.2).
    results_report_after_months: int | None = Field(default=None, ge=0, le=36)
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
    # Blank where the seed prints a blank (seed 004): the version cannot text until it is set.
    support_phone: str = Field(pattern=r"^(\+?[0-9]{3,15})?$")
    sending_window: SendingWindow = SendingWindow()
    sms: SmsTexts
    voucher: VoucherRule

    @model_validator(mode="after")
    def _days_in_order(self) -> ProgramVersion:
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError(f"{self.version}: effective_until before effective_from")
        if self.sending_window.closes <= self.sending_window.opens:
            raise ValueError(f"{self.version}: sending window closes before it opens")
        for kind in ("consent_request", "confirmation"):
            texts: dict[Lang, str] = getattr(self.sms, kind)
            for text in texts.values():
                unknown = set(_PLACEHOLDER.findall(text)) - set(PLACEHOLDERS)
                if unknown:
                    raise ValueError(f"{self.version}: unknown placeholder {sorted(unknown)}")
        unknown_fields = {
            key for key in self.sources if key.split(".")[0] not in type(self).model_fields
        }
        if unknown_fields:
            raise ValueError(f"{self.version}: sources of unknown fields {sorted(unknown_fields)}")
        return self

    @property
    def takes_late_additions(self) -> bool:
        """Whether SDU may still add citizens after the send day (gas item 16: they are texted
        on arrival). Follows from the days: food's list closes the day before its send day."""
        return self.list_cutoff_day >= self.send_day

    def unset_placeholders(self) -> list[str]:
        """The fields its texts need that have no value yet (seed 004's blank support number)."""
        used = {
            name
            for kind in ("consent_request", "confirmation")
            for text in getattr(self.sms, kind).values()
            for name in _PLACEHOLDER.findall(text)
        }
        fields = sorted(PLACEHOLDERS[name] for name in used)
        return [field for field in fields if not str(getattr(self, field)).strip()]

    @property
    def configured(self) -> bool:
        """Whether every placeholder of its texts has a value: only then may it text anyone."""
        return not self.unset_placeholders()

    def consent_carries_over(self, month: str) -> bool:
        """Whether a consent from an earlier month of this version still counts in ``month``:
        ``program_period`` consent, until ``consent_valid_until`` (by the month's send day)."""
        if self.consent_scope != "program_period":
            return False
        return self.consent_valid_until is None or self.send_date(month) <= self.consent_valid_until

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
        """The SMS text in ``lang`` (Russian when missing), its placeholders filled.

        Raises:
            ProgramNotConfigured: a placeholder of the text has no value: a blank is never sent.
        """
        texts: dict[Lang, str] = getattr(self.sms, kind)
        text = texts.get(lang, texts["ru"])

        def value(match: re.Match[str]) -> str:
            filled = str(getattr(self, PLACEHOLDERS[match[1]])).strip()
            if not filled:
                raise ProgramNotConfigured(
                    f"{self.version}: {PLACEHOLDERS[match[1]]} is not set, the texts need it"
                )
            return filled

        return _PLACEHOLDER.sub(value, text)


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


def shipped_versions() -> list[dict[str, Any]]:
    """The raw versions shipped in ``models/data/programs``, gas first."""
    folder = resources.files("models") / "data" / "programs"
    raw: list[dict[str, Any]] = []
    for program in PROGRAMS:
        text = (folder / f"{program}.json").read_text(encoding="utf-8")
        raw.extend(json.loads(text)["versions"])
    return raw


@cache
def load_programs(data_dir: Path | None = None) -> ProgramBook:
    """The shipped program versions and, with ``data_dir`` (``PROGRAM_DATA_DIR``), a deployment's.

    A deployment's version either is new (it may not overlap any other version of its program)
    or completes a shipped one of the same name: it may fill a field the seed left blank (seed
    004's support number) and must repeat every other field it gives unchanged.

    Raises:
        ProgramDataError: a deployment's file is unreadable, invalid or contradicts a shipped
            version; the error names the file and the field.
    """
    versions = {raw["version"]: ProgramVersion.model_validate(raw) for raw in shipped_versions()}
    shipped = dict(versions)
    if data_dir is not None:
        unknown_files(Path(data_dir))  # a folder that is not one is refused here
        for file in sorted((Path(data_dir) / "programs").glob("*.json")):
            for version in _deployment_versions(file, shipped):
                if version.version in versions and version.version not in shipped:
                    raise ProgramDataError(file, "version", f"{version.version} defined twice")
                _refuse_overlap(file, version, versions.values())
                versions[version.version] = version
    order = {program: number for number, program in enumerate(PROGRAMS)}
    ordered = sorted(versions.values(), key=lambda v: (order[v.program], v.effective_from))
    return ProgramBook(versions=tuple(ordered))


def _deployment_versions(file: Path, shipped: dict[str, ProgramVersion]) -> list[ProgramVersion]:
    raw = read_json(file)
    entries = raw.get("versions") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ProgramDataError(file, "versions", 'expected {"versions": [...]}')
    found = []
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ProgramDataError(file, f"versions[{number}]", "expected an object")
        base = shipped.get(str(entry.get("version")))
        merged = entry if base is None else _completion(file, base, entry)
        try:
            found.append(ProgramVersion.model_validate(merged))
        except ValidationError as invalid:
            raise ProgramDataError(file, field_of(invalid), str(invalid)) from invalid
    return found


def _completion(file: Path, base: ProgramVersion, entry: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the blanks ``entry`` fills; a published value it changes is refused."""
    published = base.model_dump(mode="json")
    for field, value in entry.items():
        if field not in published:
            raise ProgramDataError(file, field, f"no such field of {base.version}")
        if value != published[field] and published[field] != "":
            raise ProgramDataError(
                file,
                field,
                f"{value!r} contradicts the published version {base.version} "
                f"({published[field]!r})",
            )
    return {**published, **entry}


def _refuse_overlap(file: Path, version: ProgramVersion, others: Iterable[ProgramVersion]) -> None:
    for other in others:
        if other.program != version.program or other.version == version.version:
            continue
        if _period(version)[0] <= _period(other)[1] and _period(other)[0] <= _period(version)[1]:
            raise ProgramDataError(
                file,
                "effective_from",
                f"{version.version} ({_shown(version)}) overlaps {other.version} ({_shown(other)})",
            )


def _period(version: ProgramVersion) -> tuple[date, date]:
    return version.effective_from, version.effective_until or date.max


def _shown(version: ProgramVersion) -> str:
    return f"{version.effective_from} to {version.effective_until or 'open'}"
