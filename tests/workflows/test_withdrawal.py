"""Withdrawal (SPEC.md §3, state WITHDRAWN): SDU removes a citizen from the month's list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.cycle import CycleState, Withdrawal
from models.voucher import Activated, FoodActivation
from rules import calendar
from tests.harness import Product, eventually
from workflows.citizen_cycle import CitizenCycle

MINUTE = timedelta(minutes=1)


async def test_withdrawn_before_the_send_day_is_never_texted(product: Product) -> None:
    """A withdrawal before the 7th ends the cycle WITHDRAWN, and no SMS goes out, then or later."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.day_start(month, 3))
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    assert await _withdraw(cycle) == CycleState.WITHDRAWN
    await product.state_becomes(cycle, CycleState.WITHDRAWN)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    assert product.sms(citizen) == []
    assert product.world.vouchers == {}


async def test_withdrawn_while_awaiting_consent_takes_no_more_replies(product: Product) -> None:
    """A withdrawal after the request ends the cycle: no reminder, and a later 21*1 is late."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert await _withdraw(cycle) == CycleState.WITHDRAWN
    await product.state_becomes(cycle, CycleState.WITHDRAWN)
    assert await product.reply(cycle, "21*1") == "late"
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(days=8))
    assert product.sms(citizen) == ["consent_request"]
    assert product.world.vouchers == {}


async def test_withdrawn_after_the_voucher_closes_it_in_the_wallet(product: Product) -> None:
    """A withdrawal of an issued, unactivated voucher ends WITHDRAWN with one ``closed`` event."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*1") == "consent"
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    assert product.world.voucher_events == []

    assert await _withdraw(cycle) == CycleState.WITHDRAWN
    await product.state_becomes(cycle, CycleState.WITHDRAWN)
    events = await eventually(lambda: _events(product), lambda e: len(e) == 1)
    assert events[0][0] == status.voucher_id
    assert events[0][1]["type"] == "closed"
    await product.sleep_until(calendar.activation_window(rules, month)[1] + MINUTE)
    assert [event["type"] for _, event in product.world.voucher_events] == ["closed"]


async def test_withdrawing_twice_answers_withdrawn_once_more(product: Product) -> None:
    """A second withdrawal (SDU retrying) answers ``WITHDRAWN`` again and closes nothing twice,
    whether it reaches the cycle still closing the voucher or already closed."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*1") == "consent"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    # The wallet is down for a while: the cycle closes the voucher once it is back.
    product.world.fail("wallet", times=2)
    assert await _withdraw(cycle) == CycleState.WITHDRAWN

    assert await product.cycles.withdraw(cycle.id) == "WITHDRAWN"
    await product.env.sleep(MINUTE)  # past the wallet retries' back-off
    status = await eventually(
        lambda: product.status(cycle), lambda s: s.state == CycleState.WITHDRAWN, seconds=30
    )
    assert [e.event for e in status.history].count("withdrawal_requested") == 1
    assert product.world.requests["wallet"] == 1 + 3  # the voucher, then the notice's attempts
    assert [event["type"] for _, event in product.world.voucher_events] == ["closed"]


async def test_withdrawing_an_activated_voucher_is_refused(product: Product) -> None:
    """Once the citizen has activated the voucher, a withdrawal fails with ``already_activated``."""
    _, _, cycle, status = await product.issued_voucher("food")
    activated = await cycle.execute_update(
        CitizenCycle.activate, FoodActivation(), result_type=Activated
    )
    assert activated.balance_kzt == status.amount_kzt

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _withdraw(cycle)
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "already_activated"
    assert (await product.status(cycle)).state == CycleState.ACTIVATED
    assert product.world.voucher_events == []


async def test_withdrawing_a_cycle_that_ended_is_refused(product: Product) -> None:
    """Withdrawing a closed cycle (NO_PHONE) is refused by the server and changes nothing."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", with_phone=False)
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.NO_PHONE)
    await cycle.result()

    # A cycle returns as soon as it reaches a final state, so no validator is left to answer:
    # the server refuses the update itself (the API's withdrawal route maps this to 409).
    with pytest.raises(RPCError) as refused:
        await _withdraw(cycle)
    assert refused.value.status == RPCStatusCode.NOT_FOUND
    assert (await cycle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert (await product.status(cycle)).state == CycleState.NO_PHONE


async def _withdraw(cycle: WorkflowHandle[Any, Any]) -> CycleState:
    result: CycleState = await cycle.execute_update(
        CitizenCycle.withdraw, Withdrawal(), result_type=CycleState
    )
    return result


async def _events(product: Product) -> list[tuple[str, dict[str, Any]]]:
    return product.world.voucher_events
