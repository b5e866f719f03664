"""Ops' figures for a program-month, from the database the cycles keep current."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from api.auth import require
from api.deps import ApiDeps, deps
from api.errors import ApiError
from api.openapi import refusals
from models.calls import GoodsSold, quantity
from models.cycle import MONTH_PATTERN
from models.programs import PROGRAMS
from store.reports import goods_sold, money_totals, month_figures, voucher_use

router = APIRouter(tags=["ops"])


class MonthReport(BaseModel):
    program: str
    month: str
    by_state: dict[str, int]
    by_region: dict[str, dict[str, int]]
    sms_sent: int
    discount_total_kzt: int
    redeemed_total_kzt: int
    # Vouchers issued in the month, and those used: gas, its discount settled; food, at least
    # one purchase (README "Reports").
    vouchers_issued: int
    vouchers_used: int
    goods: dict[str, GoodsSold]  # food: the goods sold by code (seed 004 item 7.1); gas: {}


@router.get(
    "/v1/programs/{program}/months/{month}/report",
    dependencies=[Depends(require("ops"))],
    responses=refusals({404: ["unknown_program"]}),
)
async def month_report(
    program: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    api: Annotated[ApiDeps, Depends(deps)],
) -> MonthReport:
    """Cycles by state and region, SMS sent and money totals of a program-month."""
    return await month_report_of(api, program, month)


async def month_report_of(api: ApiDeps, program: str, month: str) -> MonthReport:
    """The month report the JSON route answers; the month page and its CSV show the same."""
    if program not in PROGRAMS:
        raise ApiError(404, "unknown_program", f"no program {program!r}; known: gas, food")
    async with api.sessions() as session:
        by_region, sms_sent = await month_figures(session, program=program, month=month)
        discounts, redeemed = await money_totals(session, program=program, month=month)
        issued, used = await voucher_use(session, program=program, month=month)
        sold = await goods_sold(session, program=program, month=month)
    by_state: dict[str, int] = {}
    for states in by_region.values():
        for state, count in states.items():
            by_state[state] = by_state.get(state, 0) + count
    return MonthReport(
        program=program,
        month=month,
        by_state=by_state,
        by_region=by_region,
        sms_sent=sms_sent,
        discount_total_kzt=discounts,
        redeemed_total_kzt=redeemed,
        vouchers_issued=issued,
        vouchers_used=used,
        goods={
            code: GoodsSold(qty=quantity(line.qty_thousandths), discount_kzt=line.discount_kzt)
            for code, line in sorted(sold.items())
        },
    )
