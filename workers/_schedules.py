"""Temporal Schedules of the product, visible and pausable in the Web UI."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
)

from client.connection import product_client
from models.settings import Settings
from workflows.food_daily_report import SCHEDULE_ID, DailyReportInput, FoodDailyReport


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create the food daily report's schedule (00:30 Almaty, for the day before) if missing."""
    client = product_client(client, settings)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            FoodDailyReport.run,
            DailyReportInput(),
            id=SCHEDULE_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(0)], minute=[ScheduleRange(30)])],
            time_zone_name="Asia/Almaty",
        ),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        pass
