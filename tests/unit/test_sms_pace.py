"""A worker's SMS pace (``activities.sms_gateway.Pace``): evenly spaced, and a send whose turn is
too far off gives way instead of holding a turn."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.exceptions import ApplicationError

from activities.sms_gateway import LONGEST_TURN_WAIT_S, Pace


async def test_sends_are_spaced_evenly_at_the_workers_rate() -> None:
    """Five sends at 50 a second take at least four intervals (80 ms), none in a burst."""
    pace = Pace(per_second=50)
    started = time.monotonic()
    for _ in range(5):
        await pace.turn()
    assert time.monotonic() - started >= 4 / 50 - 0.005


async def test_a_send_whose_turn_is_too_far_off_gives_way_until_then() -> None:
    """At one a second, the sends past ``LONGEST_TURN_WAIT_S`` are refused as ``Paced`` with
    the delay to their turn, and take no turn: the next send is still the next slot."""
    pace = Pace(per_second=1)
    waiting = [asyncio.create_task(pace.turn()) for _ in range(int(LONGEST_TURN_WAIT_S) + 3)]
    await asyncio.sleep(0)  # every send has asked for its turn
    refused = [task for task in waiting if task.done() and task.exception() is not None]
    for task in waiting:
        task.cancel()
    assert len(refused) == 2
    for task in refused:
        error = task.exception()
        assert isinstance(error, ApplicationError) and error.type == "Paced"
        assert error.next_retry_delay is not None
        assert error.next_retry_delay.total_seconds() > LONGEST_TURN_WAIT_S
    with pytest.raises(ApplicationError):
        await pace.turn()  # still more than five seconds off: the refused took no turn
