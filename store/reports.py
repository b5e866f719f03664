"""Figures the database counts over many rows: ops' month report, the food daily report, and
the benchmarks' progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.orm import Mapped
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.tables import (
    CycleRecord,
    PurchaseLineRecord,
    RedemptionRecord,
    SmsRecord,
    VoucherRecord,
)


class DayCounts(NamedTuple):
    """A program's vouchers and purchases within one day's bounds."""

    issued: int
    activated: int
    purchases: int
    redeemed_kzt: int
    goods_kzt: int
    used: int = 0  # vouchers with at least one purchase within the bounds


class Sold(NamedTuple):
    """One good's purchases: quantity in thousandths of its unit, discount in tenge."""

    qty_thousandths: int
    discount_kzt: int


async def month_figures(
    session: AsyncSession, *, program: str, month: str
) -> tuple[dict[str, dict[str, int]], int]:
    """Cycles by region and state, and the number of SMS sent, for a program-month."""
    rows = await session.exec(
        select(CycleRecord.region, CycleRecord.state, func.count())
        .where(CycleRecord.program == program, CycleRecord.month == month)
        .group_by(CycleRecord.region, CycleRecord.state)
    )
    by_region: dict[str, dict[str, int]] = {}
    for region, state, count in rows.all():
        by_region.setdefault(region, {})[state] = count
    sms = await session.exec(
        select(func.count())
        .select_from(SmsRecord)
        .where(SmsRecord.program == program, SmsRecord.month == month)
    )
    return by_region, sms.one()


async def money_totals(session: AsyncSession, *, program: str, month: str) -> tuple[int, int]:
    """Settled gas discounts and food purchases drawn from vouchers, in tenge."""
    discounts = await session.exec(
        select(func.coalesce(func.sum(VoucherRecord.discount_kzt), 0)).where(
            VoucherRecord.program == program, VoucherRecord.month == month
        )
    )
    redeemed = await session.exec(
        select(func.coalesce(func.sum(RedemptionRecord.discount_kzt), 0)).where(
            RedemptionRecord.program == program, RedemptionRecord.month == month
        )
    )
    return int(discounts.one() or 0), int(redeemed.one() or 0)


class RegionFigures(NamedTuple):
    """A region's figures that ``month_figures`` leaves out: who was texted, and the money."""

    asked: int  # consent requests the gateway accepted
    reminded: int  # reminders the gateway accepted
    value_issued_kzt: int  # food: the vouchers' face value; gas vouchers have none
    vouchers_used: int  # as voucher_use counts them
    settled_kzt: int  # gas: discounts settled; food: purchases drawn from vouchers


async def figures_by_region(
    session: AsyncSession, *, program: str, month: str
) -> dict[str, RegionFigures]:
    """A program-month's consent requests, reminders, vouchers and money by region (``make
    simulate``'s table); summed over the regions, the money is the month report's totals."""
    texted = await session.exec(
        select(SmsRecord.region, SmsRecord.kind, func.count())
        .where(SmsRecord.program == program, SmsRecord.month == month)
        .where(col(SmsRecord.kind).in_(("consent_request", "reminder")))
        .group_by(SmsRecord.region, SmsRecord.kind)
    )
    of_month = (VoucherRecord.program == program, VoucherRecord.month == month)
    values = await session.exec(
        select(VoucherRecord.region, func.coalesce(func.sum(VoucherRecord.amount_kzt), 0))
        .where(*of_month)
        .group_by(VoucherRecord.region)
    )
    figures: dict[str, dict[str, int]] = {}
    for region, kind, count in texted.all():
        figures.setdefault(region, {})["asked" if kind == "consent_request" else "reminded"] = count
    for region, value in values.all():
        figures.setdefault(region, {})["value_issued_kzt"] = int(value or 0)
    # Used and settled as voucher_use and money_totals count them: gas, a discount settled;
    # food, at least one purchase and what purchases drew.
    used = (
        select(
            VoucherRecord.region,
            func.count(col(VoucherRecord.discount_kzt)),
            func.coalesce(func.sum(VoucherRecord.discount_kzt), 0),
        )
        .where(*of_month)
        .group_by(VoucherRecord.region)
        if program == "gas"
        else select(
            RedemptionRecord.region,
            func.count(func.distinct(RedemptionRecord.voucher_id)),
            func.coalesce(func.sum(RedemptionRecord.discount_kzt), 0),
        )
        .where(RedemptionRecord.program == program, RedemptionRecord.month == month)
        .group_by(RedemptionRecord.region)
    )
    for region, count, kzt in (await session.exec(used)).all():
        figures.setdefault(region, {}).update(vouchers_used=count, settled_kzt=int(kzt or 0))
    zero = dict.fromkeys(RegionFigures._fields, 0)
    return {region: RegionFigures(**(zero | counts)) for region, counts in figures.items()}


async def voucher_use(session: AsyncSession, *, program: str, month: str) -> tuple[int, int]:
    """A program-month's vouchers issued, and those used: for gas a discount settled, for food
    at least one purchase."""
    issued = await session.exec(
        select(func.count())
        .select_from(VoucherRecord)
        .where(VoucherRecord.program == program, VoucherRecord.month == month)
    )
    if program == "gas":
        used = await session.exec(
            select(func.count())
            .select_from(VoucherRecord)
            .where(VoucherRecord.program == program, VoucherRecord.month == month)
            .where(col(VoucherRecord.discount_kzt).is_not(None))
        )
    else:
        used = await session.exec(
            select(func.count(func.distinct(RedemptionRecord.voucher_id))).where(
                RedemptionRecord.program == program, RedemptionRecord.month == month
            )
        )
    return issued.one(), used.one()


async def goods_sold(session: AsyncSession, *, program: str, month: str) -> dict[str, Sold]:
    """A program-month's purchase lines summed by goods code."""
    rows = await session.exec(
        select(
            PurchaseLineRecord.code,
            func.sum(PurchaseLineRecord.qty_thousandths),
            func.sum(PurchaseLineRecord.discount_kzt),
        )
        .where(PurchaseLineRecord.program == program, PurchaseLineRecord.month == month)
        .group_by(PurchaseLineRecord.code)
    )
    return {code: Sold(int(qty), int(discount)) for code, qty, discount in rows.all()}


async def day_goods_sold(
    session: AsyncSession, *, program: str, start: datetime, end: datetime
) -> dict[str, Sold]:
    """The purchase lines of the program's purchases within [start, end), summed by code."""
    at = col(RedemptionRecord.at)
    rows = await session.exec(
        select(
            PurchaseLineRecord.code,
            func.sum(PurchaseLineRecord.qty_thousandths),
            func.sum(PurchaseLineRecord.discount_kzt),
        )
        .join(
            RedemptionRecord,
            col(RedemptionRecord.purchase_id) == col(PurchaseLineRecord.purchase_id),
        )
        .where(RedemptionRecord.program == program, at >= start, at < end)
        .group_by(PurchaseLineRecord.code)
    )
    return {code: Sold(int(qty), int(discount)) for code, qty, discount in rows.all()}


async def day_counts(
    session: AsyncSession, *, program: str, start: datetime, end: datetime
) -> DayCounts:
    """Vouchers issued and activated, and purchases with their sums, within [start, end).

    Each is counted over a range of an indexed moment (``ix_vouchers_program_issued_at`` and
    the like): a night reads one day's rows.
    """
    issued = await _count_vouchers(session, program, col(VoucherRecord.issued_at), start, end)
    activated = await _count_vouchers(session, program, col(VoucherRecord.activated_at), start, end)
    at = col(RedemptionRecord.at)
    purchases, redeemed, goods, used = (
        await session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(RedemptionRecord.discount_kzt), 0),
                func.coalesce(func.sum(RedemptionRecord.goods_kzt), 0),
                func.count(func.distinct(RedemptionRecord.voucher_id)),
            ).where(RedemptionRecord.program == program, at >= start, at < end)
        )
    ).one()
    return DayCounts(issued, activated, purchases, int(redeemed), int(goods), used)


async def _count_vouchers(
    session: AsyncSession, program: str, moment: Mapped[Any], start: datetime, end: datetime
) -> int:
    """How many of the program's vouchers have ``moment`` within [start, end)."""
    counted = await session.exec(
        select(func.count())
        .select_from(VoucherRecord)
        .where(VoucherRecord.program == program, moment >= start, moment < end)
    )
    return counted.one()


async def count_in_state(session: AsyncSession, *, state: str) -> int:
    """How many cycles, of any program and month, are in ``state``."""
    return await _count_cycles(session, [col(CycleRecord.state) == state])


async def count_checked(session: AsyncSession, *, program: str, month: str) -> int:
    """How many of a program-month's cycles are past their phone check: a phone found (its
    pseudonym recorded) or ``NO_PHONE``."""
    phone_known = col(CycleRecord.phone_ref).is_not(None)
    checked = or_(phone_known, col(CycleRecord.state) == "NO_PHONE")
    return await _count_cycles(session, [*_of_month(program, month), checked])


async def count_reachable(
    session: AsyncSession, *, program: str, month: str, state: str | None = None
) -> int:
    """How many of a program-month's cycles a reply reaches: the phone known (and in ``state``,
    if given)."""
    return await _count_cycles(session, _reachable(program, month, state))


async def reachable_citizens(
    session: AsyncSession, *, program: str, month: str, state: str | None = None, limit: int
) -> list[str]:
    """The citizen pseudonyms of at most ``limit`` cycles :func:`count_reachable` counts."""
    refs = await session.exec(
        select(CycleRecord.citizen_ref).where(*_reachable(program, month, state)).limit(limit)
    )
    return list(refs.all())


def _of_month(program: str, month: str) -> list[ColumnElement[bool]]:
    return [col(CycleRecord.program) == program, col(CycleRecord.month) == month]


def _reachable(program: str, month: str, state: str | None) -> list[ColumnElement[bool]]:
    reachable = [*_of_month(program, month), col(CycleRecord.phone_ref).is_not(None)]
    if state is not None:
        reachable.append(col(CycleRecord.state) == state)
    return reachable


async def _count_cycles(session: AsyncSession, where: list[ColumnElement[bool]]) -> int:
    counted = await session.exec(select(func.count()).select_from(CycleRecord).where(*where))
    return counted.one()


class FlaggedCycle(NamedTuple):
    """A cycle ops should look at: its pseudonymous ID, where it stands and why."""

    cycle_id: str
    region: str
    state: str
    attention: str


async def attention_cycles(
    session: AsyncSession, *, program: str, month: str, limit: int
) -> list[FlaggedCycle]:
    """At most ``limit`` of a program-month's cycles flagged for ops, by region and ID."""
    rows = await session.exec(
        select(CycleRecord.cycle_id, CycleRecord.region, CycleRecord.state, CycleRecord.attention)
        .where(*_of_month(program, month), col(CycleRecord.attention).is_not(None))
        .order_by(col(CycleRecord.region), col(CycleRecord.cycle_id))
        .limit(limit)
    )
    return [FlaggedCycle(c, r, s, a or "") for c, r, s, a in rows.all()]
