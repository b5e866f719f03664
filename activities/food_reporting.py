"""The food program's reporting endpoint: the day's activations and use, once per date."""

from __future__ import annotations

from datetime import UTC, date

import httpx
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import DailyFigures, GoodsSold, ReportDay, quantity
from rules.calendar import day_bounds
from store import reports
from store.engine import Sessions


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
        """The day's figures: a local day, counted over its bounds in UTC."""
        start, end = (moment.astimezone(UTC) for moment in day_bounds(day))
        async with self._sessions() as session:
            counts = await reports.day_counts(session, program="food", start=start, end=end)
            sold = await reports.day_goods_sold(session, program="food", start=start, end=end)
        return DailyFigures(
            date=day,
            vouchers_issued=counts.issued,
            vouchers_activated=counts.activated,
            vouchers_used=counts.used,
            purchases=counts.purchases,
            redeemed_kzt=counts.redeemed_kzt,
            goods_kzt=counts.goods_kzt,
            goods={
                code: GoodsSold(qty=quantity(line.qty_thousandths), discount_kzt=line.discount_kzt)
                for code, line in sorted(sold.items())
            },
        )
