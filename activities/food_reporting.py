"""The food program's reporting endpoint: the day's activations and use, once per date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
from pydantic import BaseModel
from sqlmodel import select
from temporalio import activity

from activities.http import raise_for_retry
from models.db import Sessions
from models.records import RedemptionRecord, VoucherRecord
from rules.calendar import day_bounds


class ReportDay(BaseModel):
    day: date


class DailyFigures(BaseModel):
    """What the wallet reports to the provider for one local day (SPEC.md §2, food)."""

    program: str = "food"
    date: date
    vouchers_issued: int
    vouchers_activated: int
    purchases: int
    redeemed_kzt: int
    goods_kzt: int


class FoodReporting:
    """Activities calling the food reporting endpoint (``FOOD_PROVIDER_URL``)."""

    def __init__(self, http: httpx.AsyncClient, sessions: Sessions) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="food.daily_report")
    async def daily_report(self, report: ReportDay) -> DailyFigures:
        """Count the day's figures and put them (idempotent per date) to the provider."""
        figures = await self._figures(report.day)
        response = await self._http.put(
            f"/v1/reports/daily/{report.day.isoformat()}", json=figures.model_dump(mode="json")
        )
        raise_for_retry(response, "food reporting")
        return figures

    async def _figures(self, day: date) -> DailyFigures:
        start, end = (_utc(moment) for moment in day_bounds(day))
        async with self._sessions() as session:
            vouchers = (
                await session.exec(select(VoucherRecord).where(VoucherRecord.program == "food"))
            ).all()
            purchases = (
                await session.exec(
                    select(RedemptionRecord).where(RedemptionRecord.program == "food")
                )
            ).all()

        def within(moment: datetime | None) -> bool:
            return moment is not None and start <= _utc(moment) < end

        bought = [p for p in purchases if within(p.at)]
        return DailyFigures(
            date=day,
            vouchers_issued=sum(within(v.issued_at) for v in vouchers),
            vouchers_activated=sum(within(v.activated_at) for v in vouchers),
            purchases=len(bought),
            redeemed_kzt=sum(p.discount_kzt for p in bought),
            goods_kzt=sum(p.goods_kzt for p in bought),
        )


def _utc(moment: datetime) -> datetime:
    # Comparable whatever the driver returns: the columns hold UTC moments.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
