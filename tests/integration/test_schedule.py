"""The food daily report's Temporal Schedule, on a real dev server (the test server has none)."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from devtools.embedded import run_embedded
from models.settings import Settings
from simulators.state import World
from tests.harness import eventually
from workers import ensure_schedules
from workflows.food_daily_report import SCHEDULE_ID


async def test_the_daily_report_schedule_runs_at_00_30_almaty_and_reports(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The schedule exists once (idempotent), fires daily at 00:30 Asia/Almaty, and a triggered
    run puts a report to the food reporting endpoint."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'product.db'}",
        task_queue=f"cycles-{uuid.uuid4().hex[:8]}",
    )
    client = dev_server.client
    async with run_embedded(client, settings, World()) as product:
        await ensure_schedules(client, settings)
        await ensure_schedules(client, settings)
        handle = client.get_schedule_handle(SCHEDULE_ID)
        described = await handle.describe()
        spec = described.schedule.spec
        assert spec.time_zone_name == "Asia/Almaty"
        assert [(c.hour[0].start, c.minute[0].start) for c in spec.calendars] == [(0, 30)]
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "FoodDailyReport"

        await handle.trigger()

        async def reports() -> dict[str, object]:
            return product.world.food_reports

        sent = await eventually(reports, lambda r: len(r) == 1, seconds=30)
        (report,) = sent.values()
        assert isinstance(report, dict) and report["program"] == "food"
        await handle.delete()
