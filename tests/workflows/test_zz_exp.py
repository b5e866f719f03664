from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from models.cycle import CycleState
from rules import calendar
from tests.harness import Product

MINUTE = timedelta(minutes=1)

async def _a(product: Product, pause: float) -> None:
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*1") == "consent"
    await asyncio.sleep(pause)

async def _b(product: Product) -> None:
    t = time.monotonic()
    month, rules = await product.next_month("gas")
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    print("b slept", time.monotonic() - t)

async def test_a1(product: Product) -> None:
    """x"""
    await _a(product, 0)
async def test_b1(product: Product) -> None:
    """x"""
    await _b(product)
async def test_a2(product: Product) -> None:
    """x"""
    await _a(product, 0.01)
async def test_b2(product: Product) -> None:
    """x"""
    await _b(product)
async def test_a3(product: Product) -> None:
    """x"""
    await _a(product, 0.02)
async def test_b3(product: Product) -> None:
    """x"""
    await _b(product)
async def test_a4(product: Product) -> None:
    """x"""
    await _a(product, 0.04)
async def test_b4(product: Product) -> None:
    """x"""
    await _b(product)
