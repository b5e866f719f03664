"""The gas month's hand-over: on the hand-over day the activated vouchers go to the provider.

One per gas month, started by the month's intake. Sends the list (in idempotent chunks) at the
hand-over moment of SPEC.md §2, then tells each handed-over cycle, which then waits for the
provider's consumption.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.cycles import Cycles
    from activities.gas_provider import GasProvider
    from models.calls import HandoverDone, HandoverMonth
    from models.coordination import HandoverInput
    from rules import calendar
    from workflows.month_intake import intake_queue


HANDOVER_GRACE = timedelta(minutes=1)


class HandoverOutcome(BaseModel):
    handed_over: int
    cycles_told: int


@workflow.defn(name="GasHandover")
class GasHandover:
    """Hands the month's activated gas vouchers over to the provider, once."""

    @workflow.run
    async def run(self, handover: HandoverInput) -> HandoverOutcome:
        """Sleep until the hand-over moment, send the list, tell the cycles."""
        moment = calendar.handover_moment(handover.rules, handover.month)
        assert moment is not None, "a gas program has a hand-over day"
        # A confirmation accepted in the last second of the 29th is written a moment later.
        moment += HANDOVER_GRACE
        if (delay := moment - workflow.now()) > timedelta(0):
            await workflow.sleep(delay, summary="hand-over day")
        sent: int = await workflow.execute_activity_method(
            GasProvider.hand_over,
            HandoverMonth(month=handover.month, at=workflow.now()),
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10)),
        )
        told: int = await workflow.execute_activity_method(
            Cycles.announce_handover,
            HandoverDone(month=handover.month),
            task_queue=intake_queue(workflow.info().task_queue),
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10)),
        )
        return HandoverOutcome(handed_over=sent, cycles_told=told)
