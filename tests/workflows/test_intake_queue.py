"""The month's fan-outs run on the intake queue, away from the cycles' replies; the intake and the
hand-over replay across that change.

To record the intake's and the hand-over's histories (a gas month from the list to the hand-over)
run once with the environment variable set, and commit the JSON files it writes to
``histories/`` (``test_replay.py`` replays every file there)::

    RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows/test_intake_queue.py -k test_record
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from models.cycle import CycleState
from rules import calendar
from tests.harness import Product, eventually
from tests.workflows.test_replay import DEV_KEYS, HISTORIES, _replay
from workflows.month_intake import intake_queue

RECORDED = ("month_intake-gas", "gas_handover-gas")


async def test_the_listed_cycles_are_started_from_the_intake_queue(product: Product) -> None:
    """A listing's ``cycles.start_pending`` is scheduled on ``<queue>-intake``, and runs there."""
    month, rules = await product.next_month("gas")
    cycle = await product.list(rules, month, product.citizen("gas"))
    await product.state_becomes(cycle, CycleState.SCHEDULED)  # a worker polls the intake queue

    intake = product.client.get_workflow_handle(f"intake-gas-{month}")
    queues = await _scheduled(intake, "cycles.start_pending")
    assert queues == {intake_queue(product.settings.task_queue)}


async def test_the_hand_over_news_goes_out_from_the_intake_queue(product: Product) -> None:
    """``cycles.announce_handover`` is scheduled on the intake queue; ``gas.hand_over`` is not."""
    handover, _ = await _gas_month_to_the_handover(product)

    assert await _scheduled(handover, "cycles.announce_handover") == {
        intake_queue(product.settings.task_queue)
    }
    assert await _scheduled(handover, "gas.hand_over") == {product.settings.task_queue}


async def test_the_intake_and_the_hand_over_replay(product: Product) -> None:
    """A gas month's intake and hand-over, run to their ends, replay without non-determinism."""
    handover, intake = await _gas_month_to_the_handover(product)
    for handle in (intake, handover):
        await _replay(await handle.fetch_history(), product.settings.payload_keys)


def test_the_intake_and_the_hand_over_have_recorded_histories() -> None:
    """Histories of the intake and the hand-over are kept for ``test_replay.py`` to replay."""
    stems = [path.stem for path in HISTORIES.glob("*.json")]
    for name in RECORDED:
        assert any(stem.startswith(f"{name}-") for stem in stems), name


@pytest.mark.skipif(
    os.environ.get("RECORD_HISTORIES") != "1", reason="records only with RECORD_HISTORIES=1"
)
async def test_record_intake_and_handover_histories(product: Product) -> None:
    """Write the intake's and the hand-over's histories to ``histories/`` (see above)."""
    assert product.settings.payload_keys == DEV_KEYS, "record with the default payload key"
    handover, intake = await _gas_month_to_the_handover(product)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    for name, handle in zip(RECORDED, (intake, handover), strict=True):
        history = await handle.fetch_history()
        await _replay(history, product.settings.payload_keys)
        (HISTORIES / f"{name}-{stamp}.json").write_text(history.to_json(), encoding="utf-8")


async def _gas_month_to_the_handover(
    product: Product,
) -> tuple[WorkflowHandle[Any, Any], WorkflowHandle[Any, Any]]:
    """A gas voucher activated and handed over; the month's hand-over and intake both closed."""
    _, rules, cycle, status = await product.issued_voucher("gas")
    account = product.account()
    async with product.api("wallet") as wallet:
        url = f"/v1/vouchers/{status.voucher_id}"
        await wallet.post(f"{url}/account", json={"account_number": account})
        confirmed = await wallet.post(f"{url}/confirm", json={})
    assert confirmed.json() == {"state": "ACTIVATED"}, confirmed.text
    moment = calendar.handover_moment(rules, status.month)
    assert moment is not None
    await product.sleep_until(moment + timedelta(minutes=2))
    await product.state_becomes(cycle, CycleState.HANDED_OVER)

    handover = product.client.get_workflow_handle(f"handover-gas-{status.month}")
    intake = product.client.get_workflow_handle(f"intake-gas-{status.month}")
    for handle in (handover, intake):
        await eventually(handle.describe, lambda d: d.status == WorkflowExecutionStatus.COMPLETED)
    return handover, intake


async def _scheduled(handle: WorkflowHandle[Any, Any], activity: str) -> set[str]:
    """The task queues ``activity`` was scheduled on by the workflow (waits for the first)."""

    async def queues() -> set[str]:
        try:
            events = [event async for event in handle.fetch_history_events()]
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return set()
            raise
        return {
            event.activity_task_scheduled_event_attributes.task_queue.name
            for event in events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and event.activity_task_scheduled_event_attributes.activity_type.name == activity
        }

    return await eventually(queues, bool)
