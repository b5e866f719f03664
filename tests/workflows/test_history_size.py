"""What a cycle costs in history: the events a whole month records, per path.

Every event is paid a million times a month (Temporal's billing, its storage, a replay on every
cache miss), so each path's count has a ceiling here; lowering one is a change worth making,
raising one needs a reason.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from models.cycle import CycleState
from rules import calendar
from tests.harness import Product

MINUTE = timedelta(minutes=1)
# The ceilings: the counts of 1.0 (happy gas 132 to 138, unanswered 47), with room for how many
# workflow tasks the server happens to batch (each task is three events).
HAPPY_GAS_MONTH = 140
UNANSWERED_MONTH = 50


async def events_of(cycle: WorkflowHandle[Any, Any]) -> Counter[str]:
    """The cycle's history events counted by type (and marker name)."""
    counts: Counter[str] = Counter()
    async for event in cycle.fetch_history_events():
        kind = event.WhichOneof("attributes") or "unknown"
        if kind == "marker_recorded_event_attributes":
            kind = f"marker:{event.marker_recorded_event_attributes.marker_name}"
        counts[kind.removesuffix("_event_attributes")] += 1
    return counts


async def test_a_happy_gas_month_stays_within_its_history_ceiling(product: Product) -> None:
    """Consent, activation, hand-over and settlement record at most ``HAPPY_GAS_MONTH`` events."""
    _, rules, cycle, status = await product.issued_voucher("gas")
    account = product.account("KAR")
    async with product.api("wallet") as wallet:
        shown = await wallet.post(
            f"/v1/vouchers/{status.voucher_id}/account", json={"account_number": account}
        )
        assert shown.status_code == 200, shown.text
        confirmed = await wallet.post(f"/v1/vouchers/{status.voucher_id}/confirm", json={})
        assert confirmed.status_code == 200, confirmed.text
    handover = calendar.handover_moment(rules, status.month)
    assert handover is not None
    await product.sleep_until(handover + 2 * MINUTE)
    await product.state_becomes(cycle, CycleState.HANDED_OVER)
    async with product.api("provider") as provider:
        readings = {"readings": [{"account_number": account, "volume_m3": "12.5"}]}
        answer = await provider.post(
            f"/v1/programs/gas/months/{status.month}/consumption", json=readings
        )
        assert answer.status_code == 202, answer.text
    await product.state_becomes(cycle, CycleState.SETTLED)
    await cycle.result()
    counts = await events_of(cycle)
    print(f"happy gas month: {counts.total()} events {dict(sorted(counts.items()))}")
    assert counts.total() <= HAPPY_GAS_MONTH


async def test_an_unanswered_month_stays_within_its_history_ceiling(product: Product) -> None:
    """Texted, reminded, lapsed: at most ``UNANSWERED_MONTH`` events."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.consent_deadline(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.CONSENT_EXPIRED)
    await cycle.result()
    assert product.sms(citizen) == ["consent_request", "reminder"]
    counts = await events_of(cycle)
    print(f"unanswered month: {counts.total()} events {dict(sorted(counts.items()))}")
    assert counts.total() <= UNANSWERED_MONTH
