"""A gas voucher after consent (SPEC.md §3 steps 6-7): activation on a personal account through
the wallet's routes, the hand-over on the 30th, and the discount from the provider's consumption."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import CycleState, voucher_id
from models.reference import load_reference
from rules import calendar
from tests.harness import Product, eventually


async def _activate(product: Product, voucher_id: str, account: str) -> None:
    async with product.api("wallet") as wallet:
        shown = await wallet.post(
            f"/v1/vouchers/{voucher_id}/account", json={"account_number": account}
        )
        assert shown.status_code == 200, shown.text
        confirmed = await wallet.post(f"/v1/vouchers/{voucher_id}/confirm", json={})
        assert confirmed.json() == {"state": "ACTIVATED"}, confirmed.text


async def test_an_unknown_account_then_a_valid_one_activates(product: Product) -> None:
    """404 account_not_found lets the citizen try again; the valid account is shown, confirmed."""
    _, _, cycle, status = await product.issued_voucher("gas")
    account = product.account("AST")
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        unknown = await wallet.post(f"{url}/account", json={"account_number": "0000000000"})
        too_early = await wallet.post(f"{url}/confirm", json={})
        shown = await wallet.post(f"{url}/account", json={"account_number": account})
        pending = (await product.status(cycle)).state
        confirmed = await wallet.post(f"{url}/confirm", json={})
        again = await wallet.post(f"{url}/confirm", json={})
        view = await wallet.get(url)

    assert (unknown.status_code, unknown.json()["error"]) == (404, "account_not_found")
    assert (too_early.status_code, too_early.json()["error"]) == (409, "no_account_entered")
    assert shown.json() == {
        "voucher_id": status.voucher_id,
        "account_number": account,
        "holder": "Test Holder",
        "address": "Test street 1",
        "region": "AST",
    }
    assert pending == CycleState.ACCOUNT_PENDING_CONFIRMATION
    assert confirmed.json() == {"state": "ACTIVATED"} and again.json() == {"state": "ACTIVATED"}
    assert view.json()["state"] == "ACTIVATED" and view.json()["account_number"] == account


async def test_an_account_holds_one_activated_voucher_a_month(product: Product) -> None:
    """A second voucher entering an account already activated this month gets 409."""
    _, _, _, first = await product.issued_voucher("gas")
    month = first.month
    _, _, _, second = await product.issued_voucher("gas", month=month)
    account = product.account()
    await _activate(product, first.voucher_id, account)
    async with product.api("wallet") as wallet:
        taken = await wallet.post(
            f"/v1/vouchers/{second.voucher_id}/account", json={"account_number": account}
        )
    assert (taken.status_code, taken.json()["error"]) == (409, "account_already_used")


async def test_two_vouchers_confirming_one_account_at_once_exactly_one_wins(
    product: Product,
) -> None:
    """Both see the account free; confirmed concurrently, one is activated and one gets 409."""
    _, _, _, first = await product.issued_voucher("gas")
    _, _, _, second = await product.issued_voucher("gas", month=first.month)
    account = product.account()
    async with product.api("wallet") as wallet:
        for voucher in (first, second):
            shown = await wallet.post(
                f"/v1/vouchers/{voucher.voucher_id}/account", json={"account_number": account}
            )
            assert shown.status_code == 200
        answers = await asyncio.gather(
            *(wallet.post(f"/v1/vouchers/{v.voucher_id}/confirm", json={}) for v in (first, second))
        )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert {a.json().get("error") for a in answers if a.status_code == 409} == {
        "account_already_used"
    }


async def test_activation_after_the_29th_is_refused_and_the_voucher_expires(
    product: Product,
) -> None:
    """On the 30th the voucher is VOUCHER_EXPIRED, the wallet is told, activation answers 410."""
    _, rules, cycle, status = await product.issued_voucher("gas")
    await product.sleep_until(
        calendar.activation_window(rules, status.month)[1] + timedelta(minutes=1)
    )
    await product.state_becomes(cycle, CycleState.VOUCHER_EXPIRED)
    async with product.api("wallet") as wallet:
        late = await wallet.post(
            f"/v1/vouchers/{status.voucher_id}/account", json={"account_number": product.account()}
        )
    assert (late.status_code, late.json()["error"]) == (410, "activation_closed")
    assert (status.voucher_id, {"type": "expired"}) in product.world.voucher_events


async def _settled(
    product: Product, volume: str, reported: int | None = None
) -> tuple[dict[str, Any], int]:
    """Activate, pass the hand-over, report ``volume``; return the view and expected discount."""
    _, rules, cycle, status = await product.issued_voucher("gas")
    account = product.account("KAR")
    await _activate(product, status.voucher_id, account)
    handover = calendar.handover_moment(rules, status.month)
    assert handover is not None
    await product.sleep_until(handover + timedelta(minutes=2))
    await product.state_becomes(cycle, CycleState.HANDED_OVER)
    async with product.api("provider") as provider:
        answer = await provider.post(
            f"/v1/programs/gas/months/{status.month}/consumption",
            json={
                "readings": [
                    {"account_number": account, "volume_m3": volume, "discount_kzt": reported},
                    {"account_number": "9999999999", "volume_m3": "1"},
                ]
            },
        )
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 1, "unknown_accounts": ["9999999999"]}
    await product.state_becomes(cycle, CycleState.SETTLED)
    tariff = load_reference(EXAMPLE_PROGRAM_DATA).gas_tariff(
        "KAR", calendar.month_start(status.month).date()
    )
    assert tariff is not None
    benefit = tariff.price_group1_kzt_per_m3 - tariff.price_group9_kzt_per_m3
    expected = int(
        (benefit * min(Decimal(volume), tariff.norm_m3)).quantize(Decimal(1), ROUND_HALF_UP)
    )
    async with product.api("wallet") as wallet:
        view = (await wallet.get(f"/v1/vouchers/{status.voucher_id}")).json()
    return {**view, "norm": tariff.norm_m3, "month": status.month}, expected


async def test_the_discount_below_the_norm_is_benefit_times_volume(product: Product) -> None:
    """10.5 m³ (under every region's norm) is discounted in full; provider and wallet are told."""
    view, expected = await _settled(product, "10.5")
    assert view["discount_kzt"] == expected > 0
    assert product.world.discounts[view["voucher_id"]]["discount_kzt"] == expected
    assert (
        view["voucher_id"],
        {"type": "discount", "discount_kzt": expected, "volume_m3": "10.5"},
    ) in product.world.voucher_events


async def test_the_discount_above_the_norm_is_capped_at_the_norm(product: Product) -> None:
    """Ten thousand m³ get the discount of the region's monthly norm, no more."""
    view, expected = await _settled(product, "10000")
    assert view["discount_kzt"] == expected


async def test_a_provider_discount_that_differs_is_flagged(product: Product) -> None:
    """A provider figure off by one tenge is not accepted: the formula's is settled, ops flagged."""
    _, rules, cycle, status = await product.issued_voucher("gas")
    view, expected = await _settled(product, "20", reported=1)
    assert view["discount_kzt"] == expected
    attention = [h for h in view["history"] if h["event"] == "attention"]
    assert attention and attention[0]["reason"] == "discount_mismatch"


async def test_hand_over_goes_once_at_the_start_of_the_30th(product: Product) -> None:
    """The month's activated vouchers reach the provider just after 00:00 on the 30th."""
    _, rules, _, status = await product.issued_voucher("gas")
    account = product.account()
    await _activate(product, status.voucher_id, account)
    handover = calendar.handover_moment(rules, status.month)
    assert handover is not None and handover == calendar.day_start(status.month, 30)
    await product.sleep_until(handover - timedelta(minutes=1))
    assert status.month not in product.world.handovers
    await product.sleep_until(handover + timedelta(minutes=2))
    sent = await eventually(lambda: _handover(product, status.month), lambda h: len(h) == 1)
    assert sent == [{"voucher_id": status.voucher_id, "account_number": account}]


async def _handover(product: Product, month: str) -> list[dict[str, Any]]:
    return product.world.handovers.get(month, [])


async def test_a_provider_down_answers_503_and_loses_nothing(product: Product) -> None:
    """The wallet gets 503 temporarily_unavailable, not a hang; once the provider is back the
    same account goes through."""
    _, _, cycle, status = await product.issued_voucher("gas")
    account = product.account()
    product.world.fail("gas", status=503, times=1_000)
    url = f"/v1/vouchers/{status.voucher_id}/account"
    async with product.api("wallet") as wallet:
        down = await wallet.post(url, json={"account_number": account})
        product.world.faults["gas"].clear()
        back = await wallet.post(url, json={"account_number": account})
    assert (down.status_code, down.json()["error"]) == (503, "temporarily_unavailable")
    assert back.status_code == 200
    assert (await product.status(cycle)).state == CycleState.ACCOUNT_PENDING_CONFIRMATION


async def test_an_account_number_that_is_not_one_is_422(product: Product) -> None:
    """Path-like or empty account numbers never reach the provider's URL."""
    _, _, _, status = await product.issued_voucher("gas")
    url = f"/v1/vouchers/{status.voucher_id}/account"
    async with product.api("wallet") as wallet:
        answers = [
            await wallet.post(url, json={"account_number": number})
            for number in ("../handovers/2026-12", "", "12 34")
        ]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert product.world.requests["gas"] == 0


async def test_a_re_sent_consumption_batch_settles_once(product: Product) -> None:
    """The provider re-sending its readings after settlement gets 202 and pays nothing twice."""
    view, expected = await _settled(product, "12")
    account = view["account_number"]
    async with product.api("provider") as provider:
        again = await provider.post(
            f"/v1/programs/gas/months/{view['month']}/consumption",
            json={"readings": [{"account_number": account, "volume_m3": "99"}]},
        )
    assert again.status_code == 202 and again.json()["accepted"] == 1
    assert product.world.discounts[view["voucher_id"]]["discount_kzt"] == expected
    discounts = [e for v, e in product.world.voucher_events if e["type"] == "discount"]
    assert len(discounts) == 1


async def test_the_gas_report_counts_a_settled_voucher_as_used(product: Product) -> None:
    """CONTRACTS.md §1: a gas voucher is used once its discount is settled; gas has no goods."""
    view, expected = await _settled(product, "10.5")
    async with product.api("ops") as ops:
        report = (await ops.get(f"/v1/programs/gas/months/{view['month']}/report")).json()
    assert (report["vouchers_issued"], report["vouchers_used"], report["goods"]) == (1, 1, {})
    assert report["discount_total_kzt"] == expected


async def test_a_voucher_asked_for_before_it_is_issued_is_found_once_issued(
    product: Product,
) -> None:
    """The API keeps a voucher's cycle once found, never a "no such voucher": the wallet asking
    too early gets 404 not_found, and the voucher once issued."""
    month, rules = await product.next_month("gas")
    cycle = await product.list(rules, month, product.citizen("gas"))
    url = f"/v1/vouchers/{voucher_id(cycle.id)}"
    async with product.api("wallet") as wallet:
        early = await wallet.get(url)
        await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
        await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
        assert await product.reply(cycle, "21*1") == "consent"
        await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
        issued, again = await wallet.get(url), await wallet.get(url)

    assert (early.status_code, early.json()["error"]) == (404, "not_found")
    assert issued.status_code == again.status_code == 200
    assert issued.json()["state"] == again.json()["state"] == "VOUCHER_ISSUED"
