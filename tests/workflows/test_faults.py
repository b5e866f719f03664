"""Outside systems failing (CONTRACTS.md §2): retried with back-off, and never a second effect.

The simulators answer scripted faults (``world.fail``); ``world.requests`` counts every request a
system received, faulted or not. Retry back-off is a server timer: moving the clock past it
(``_past_the_back_off``) fires the retry at once, and the bounded polls still pass if the retry
happens in real time instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from models.cycle import Citizen, CycleState
from rules import calendar
from tests.harness import Product, eventually, fresh_product
from workflows.cycle_steps import CALL_TIMEOUT

MINUTE = timedelta(minutes=1)
PATIENCE = 30.0  # seconds a poll waits for retries running in real time


async def test_gateway_errors_and_rate_limits_still_give_one_consent_request(
    product: Product,
) -> None:
    """Three 500s and two 429s from the gateway: the request is retried until one SMS goes out."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    product.world.fail("sms", status=500, times=3)
    product.world.fail("sms", status=429, times=2, retry_after=1)

    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await _past_the_back_off(product)
    await eventually(
        lambda: product.status(cycle),
        lambda s: s.state == CycleState.AWAITING_CONSENT,
        seconds=PATIENCE,
    )
    assert product.world.requests["sms"] == 6
    assert product.sms(citizen) == ["consent_request"]
    assert len(product.world.messages) == 1


async def test_gateway_errors_and_rate_limits_still_give_one_confirmation(
    product: Product,
) -> None:
    """Three 500s and two 429s on the confirmation: one confirmation SMS, one voucher."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    product.world.fail("sms", status=500, times=3)
    product.world.fail("sms", status=429, times=2, retry_after=1)

    assert await product.reply(cycle, "21*1") == "consent"
    await _past_the_back_off(product)
    await eventually(_kinds(product, citizen), lambda kinds: len(kinds) == 2, seconds=PATIENCE)
    assert product.sms(citizen) == ["consent_request", "confirmation"]
    assert product.world.requests["sms"] == 1 + 6
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    assert list(product.world.vouchers) == [status.voucher_id]


async def test_the_gateway_retry_after_is_honoured(product: Product) -> None:
    """A 429 asking for ten minutes: no new attempt before they pass, the SMS right after."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    product.world.fail("sms", status=429, times=1, retry_after=600)
    send = calendar.send_moment(rules, month)

    await product.sleep_until(send + MINUTE)
    await eventually(_counter(product, "sms"), lambda n: n == 1)
    await product.sleep_until(send + 9 * MINUTE)
    assert product.world.requests["sms"] == 1
    assert product.sms(citizen) == []
    await product.sleep_until(send + 12 * MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert product.world.requests["sms"] == 2
    assert product.sms(citizen) == ["consent_request"]


async def test_a_gateway_down_until_the_window_closes_texts_at_the_next_opening(
    product: Product,
) -> None:
    """The gateway refusing from 09:00 until after 21:00: no SMS at night; the request goes out
    once, when the window opens the next morning."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    product.world.fail("sms", status=429, times=1, retry_after=13 * 3600)  # retry at 22:00
    send = calendar.send_moment(rules, month)

    await product.sleep_until(send + MINUTE)
    await eventually(_counter(product, "sms"), lambda n: n == 1)
    await product.sleep_until(send + timedelta(hours=14))  # 23:00
    night = await product.status(cycle)
    assert night.state == CycleState.SCHEDULED
    assert "sms_delayed" in [event.event for event in night.history]
    assert product.sms(citizen) == []

    next_morning = send + timedelta(days=1)
    await product.sleep_until(next_morning + MINUTE)
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    requested = next(e.at for e in status.history if e.event == "consent_requested")
    assert next_morning <= requested < next_morning + MINUTE
    assert product.sms(citizen) == ["consent_request"]
    assert product.world.requests["sms"] == 2


async def test_a_gateway_down_until_the_deadline_sends_nothing_late(product: Product) -> None:
    """The gateway refusing every day until the consent deadline: the request is never sent
    after it, and the cycle expires unasked."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    product.world.fail("sms", status=429, times=40, retry_after=13 * 3600)  # each day's try

    deadline = calendar.consent_deadline(rules, month)
    await product.sleep_until(deadline + timedelta(hours=10))
    status = await product.state_becomes(cycle, CycleState.CONSENT_EXPIRED)
    events = [event.event for event in status.history]
    assert "sms_not_sent" in events and "consent_requested" not in events
    assert product.sms(citizen) == []
    days = (deadline - calendar.send_moment(rules, month)).days + 1
    assert product.world.requests["sms"] == days  # one try a day, none after the deadline


async def test_a_reminder_the_gateway_holds_back_is_dropped_once_the_citizen_consents(
    product: Product,
) -> None:
    """The gateway refusing the reminder until the night; the citizen consents meanwhile: the
    reminder is called off, the voucher and confirmation go out at once, no reminder later."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    requested = next(e.at for e in status.history if e.event == "consent_requested")
    due = calendar.reminder_due(rules, requested)
    product.world.fail("sms", status=429, times=1, retry_after=13 * 3600)

    await product.sleep_until(due + MINUTE)
    await eventually(_counter(product, "sms"), lambda n: n == 2)
    await product.sleep_until(due + timedelta(hours=2))
    assert await product.reply(cycle, "21*1") == "consent"
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    await eventually(_kinds(product, citizen), lambda kinds: kinds[-1:] == ["confirmation"])
    await product.sleep_until(due + timedelta(days=1, hours=1))

    assert product.sms(citizen) == ["consent_request", "confirmation"]
    events = [(e.event, e.detail.get("kind")) for e in (await product.status(cycle)).history]
    assert ("sms_not_sent", "reminder") in events and ("reminded", None) not in events


async def test_wallet_errors_still_give_one_voucher(product: Product) -> None:
    """The wallet answering 500 three times: retried, one voucher, issued once."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    product.world.fail("wallet", status=500, times=3)

    assert await product.reply(cycle, "21*1") == "consent"
    await _past_the_back_off(product)
    status = await eventually(
        lambda: product.status(cycle),
        lambda s: s.state == CycleState.VOUCHER_ISSUED,
        seconds=PATIENCE,
    )
    assert product.world.requests["wallet"] == 4
    assert list(product.world.vouchers) == [status.voucher_id]
    assert [e.event for e in status.history].count("voucher_issued") == 1
    await eventually(_kinds(product, citizen), lambda kinds: len(kinds) == 2)
    assert product.sms(citizen) == ["consent_request", "confirmation"]


async def test_bmg_error_is_retried_and_the_cycle_proceeds(product: Product) -> None:
    """BMG answering 500 once is not "no phone": the lookup is retried and the citizen texted."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    product.world.fail("bmg", status=500, times=1)
    cycle = await product.list(rules, month, citizen)

    await _past_the_back_off(product)
    await eventually(_counter(product, "bmg"), lambda n: n == 2, seconds=PATIENCE)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert product.sms(citizen) == ["consent_request"]
    assert product.world.journal == []


async def test_sdu_journal_errors_still_give_one_entry(product: Product) -> None:
    """SDU's journal answering 500 twice: the NO_PHONE entry is retried and recorded once."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", with_phone=False)
    product.world.fail("sdu", status=500, times=2)
    cycle = await product.list(rules, month, citizen)

    await _past_the_back_off(product)
    await eventually(
        lambda: product.status(cycle),
        lambda s: s.state == CycleState.NO_PHONE,
        seconds=PATIENCE,
    )
    assert product.world.requests["sdu"] == 3
    assert len(product.world.journal) == 1
    assert product.world.journal[0]["event"] == "NO_PHONE"
    assert product.world.journal[0]["iin"] == citizen.iin


async def _past_the_back_off(product: Product) -> None:
    """Move the clock past a few retries' back-off (1 s, 2 s, 4 s, … or ``Retry-After``)."""
    await product.env.sleep(MINUTE)


def _kinds(product: Product, citizen: Citizen) -> Callable[[], Awaitable[list[str]]]:
    """A probe for ``eventually``: the kinds of SMS ``citizen`` received."""

    async def kinds() -> list[str]:
        return product.sms(citizen)

    return kinds


def _counter(product: Product, system: str) -> Callable[[], Awaitable[int]]:
    """A probe for ``eventually``: how many requests ``system`` has received."""

    async def requests() -> int:
        return product.world.requests[system]

    return requests


async def test_a_call_retried_leaves_no_timeout_running_after_its_worker_stops(
    env: WorkflowEnvironment, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """BMG failing the phone check once: the retry goes through a workflow timer, not inside the
    workflow task, so the failed attempt's start-to-close timeout does not outlive the worker
    (sdk-core panicked "receive half not dropped" when it fired after the worker had stopped)."""
    async with fresh_product(env, tmp_path) as product:
        month, rules = await product.next_month("gas")
        citizen = product.citizen("gas")
        product.world.fail("bmg", times=1)
        cycle = await product.list(rules, month, citizen)
        await product.state_becomes(cycle, CycleState.SCHEDULED)
        await eventually(_counter(product, "bmg"), lambda n: n == 2)
    await asyncio.sleep(CALL_TIMEOUT.total_seconds() + 2)  # past the first attempt's timeout
    assert "receive half not dropped" not in capfd.readouterr().err
