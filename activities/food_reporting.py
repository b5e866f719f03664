"""The food program's reporting endpoint: the day's activations and use, once per date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import DailyFigures, ReportDay
from rules.calendar import day_bounds
from store.engine import Sessions
from store.tables import RedemptionRecord, VoucherRecord


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
        """The day's figures, each counted by the database over a range of an indexed moment
        (``ix_vouchers_program_issued_at`` and the like): a night reads one day's rows."""
        start, end = (moment.astimezone(UTC) for moment in day_bounds(day))
        async with self._sessions() as session:
            issued = await _count_vouchers(session, col(VoucherRecord.issued_at), start, end)
            activated = await _count_vouchers(session, col(VoucherRecord.activated_at), start, end)
            at = col(RedemptionRecord.at)
            purchases, redeemed, goods = (
                await session.exec(
                    select(
                        func.count(),
                        func.coalesce(func.sum(RedemptionRecord.discount_kzt), 0),
                        func.coalesce(func.sum(RedemptionRecord.goods_kzt), 0),
                    ).where(RedemptionRecord.program == "food", at >= start, at < end)
                )
            ).one()
        return DailyFigures(
            date=day,
            vouchers_issued=issued,
            vouchers_activated=activated,
            purchases=purchases,
            redeemed_kzt=int(redeemed),
            goods_kzt=int(goods),
        )


async def _count_vouchers(
    session: AsyncSession, moment: Mapped[Any], start: datetime, end: datetime
) -> int:
    """How many food vouchers have ``moment`` within [start, end)."""
    counted = await session.exec(
        select(func.count())
        .select_from(VoucherRecord)
        .where(VoucherRecord.program == "food", moment >= start, moment < end)
    )
    return counted.one()
