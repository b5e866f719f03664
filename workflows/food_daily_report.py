"""The food program's daily report to the provider, started each night by a Schedule."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.food_reporting import FoodReporting
    from models.calls import DailyFigures, ReportDay
    from rules import calendar

SCHEDULE_ID = "food-daily-report"


class DailyReportInput(BaseModel):
    """The day to report; by default the local day before the run (the schedule's case)."""

    day: date | None = None


@workflow.defn(name="FoodDailyReport")
class FoodDailyReport:
    """Reports one day's food voucher activations and purchases."""

    @workflow.run
    async def run(self, report: DailyReportInput) -> DailyFigures:
        """Count the day and put the report; a re-run for the same day replaces it."""
        day = report.day or calendar.local_date(workflow.now()) - timedelta(days=1)
        figures: DailyFigures = await workflow.execute_activity_method(
            FoodReporting.daily_report,
            ReportDay(day=day),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10)),
        )
        return figures
