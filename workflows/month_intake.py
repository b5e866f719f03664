"""A program-month's list intake: decides from workflow time whether SDU may still list, and
starts the listed citizens' cycles.

The API writes each accepted batch to the database and then signals this workflow, which starts
the pending cycles from a heartbeating activity with deterministic workflow IDs. A crash anywhere
loses nothing: rows stay pending until the next signal or the sweep after the list closes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.cycles import Cycles
    from models.calls import PendingCycles
    from models.coordination import HandoverInput
    from models.programs import ProgramVersion
    from rules import calendar

# Rows written by a request that was admitted just before the list closed are still swept.
SWEEP_GRACE = timedelta(hours=1)


def intake_queue(task_queue: str) -> str:
    """The task queue of a month's fan-outs (starting the listed cycles, telling them of the
    hand-over): the cycles' own, suffixed, so that citizens' replies never wait behind them."""
    return f"{task_queue}-intake"


class IntakeInput(BaseModel):
    program: str
    month: str
    rules: ProgramVersion
    handover_started: bool = False  # carried across continue-as-new


class Admission(BaseModel):
    """A batch SDU wants to list now."""

    count: int


class Admitted(BaseModel):
    listed_at: datetime


@workflow.defn(name="MonthIntake")
class MonthIntake:
    """One per program and month, open until an hour after the list closes."""

    @workflow.init
    def __init__(self, intake: IntakeInput) -> None:
        self._intake = intake
        self._pending = False

    @workflow.run
    async def run(self, intake: IntakeInput) -> None:
        """Start pending cycles whenever a batch is listed, and once more after the list closes."""
        await self._start_handover()
        sweep_at = calendar.list_closes(intake.rules, intake.month) + SWEEP_GRACE
        while workflow.now() < sweep_at:
            try:
                await workflow.wait_condition(
                    lambda: self._pending,
                    timeout=sweep_at - workflow.now(),
                    timeout_summary="last sweep",
                )
            except TimeoutError:
                break
            await self._start_pending()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(intake.model_copy(update={"handover_started": True}))
        await self._start_pending()

    async def _start_handover(self) -> None:
        """Gas: start the month's hand-over, which lives on after the intake ends.

        A workflow of its own rather than a child: it outlives this one by weeks.
        """
        if self._intake.rules.handover_day is None or self._intake.handover_started:
            return
        await workflow.execute_activity_method(
            Cycles.start_handover,
            HandoverInput(month=self._intake.month, rules=self._intake.rules),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )

    async def _start_pending(self) -> None:
        self._pending = False
        await workflow.execute_activity_method(
            Cycles.start_pending,
            PendingCycles(program=self._intake.program, month=self._intake.month),
            task_queue=intake_queue(workflow.info().task_queue),
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )

    @workflow.update
    def admit(self, admission: Admission) -> Admitted:
        """Admit a batch: the moment it is listed at, by the workflow's clock."""
        return Admitted(listed_at=workflow.now())

    @admit.validator
    def _list_open(self, admission: Admission) -> None:
        if not calendar.month_open_for_listing(
            self._intake.rules, self._intake.month, workflow.now()
        ):
            raise ApplicationError(
                f"the {self._intake.program} list for {self._intake.month} is closed",
                type="list_closed",
            )

    @workflow.signal
    def listed(self) -> None:
        """A batch was written to the database: start its cycles."""
        self._pending = True
