from __future__ import annotations
import asyncio, time
from datetime import timedelta
from models.cycle import CycleState
from rules import calendar
from tests.harness import Product

MINUTE = timedelta(minutes=1)

async def _run(product: Product, skip: bool) -> None:
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    product.world.fail("sms", status=500, times=3)
    product.world.fail("sms", status=429, times=2, retry_after=1)
    t = time.monotonic()
    n0 = await product.now()
    assert await product.reply(cycle, "21*1") == "consent"
    if skip:
        await product.env.sleep(timedelta(seconds=30))
    while len(product.sms(citizen)) < 2:
        await asyncio.sleep(0.05)
    print("skip" if skip else "plain", time.monotonic() - t, product.world.requests["sms"], (await product.now()) - n0)

async def test_plain(product: Product) -> None:
    """x"""
    await _run(product, False)

async def test_skip(product: Product) -> None:
    """x"""
    await _run(product, True)
