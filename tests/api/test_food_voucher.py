"""A food voucher after consent (SPEC.md §3 steps 6-7): activation, purchases of socially
significant goods from its balance, the lapse at the month's end, the daily report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from models.cycle import CycleState
from models.reference import load_reference
from rules import calendar
from tests.harness import Product, eventually
from workflows.food_daily_report import DailyReportInput, FoodDailyReport

GOOD = load_reference().food_goods()[0].code
# A line large enough that its value and its good's cap (45,000 ₸) exceed any voucher here: the
# balance alone bounds these purchases.
QTY, PRICE = 1000, 500


def _purchase(purchase_id: str, discount: int, code: str = GOOD) -> dict[str, Any]:
    return {
        "purchase_id": purchase_id,
        "shop_id": "shop-1",
        "items": [{"code": code, "qty": QTY, "unit_price_kzt": PRICE, "discount_kzt": discount}],
    }


async def test_purchases_draw_on_the_balance_once_each(product: Product) -> None:
    """Activation gives MRP x family size; a repeated purchase gets the same answer, once."""
    _, _, _, status = await product.issued_voucher("food", family_size=2)
    amount = status.amount_kzt
    assert amount is not None and amount > 0
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        activated = await wallet.post(f"{url}/activate", json={})
        first = await wallet.post(f"{url}/redemptions", json=_purchase("p-1", 300))
        repeated = await wallet.post(f"{url}/redemptions", json=_purchase("p-1", 300))
        view = (await wallet.get(url)).json()

    assert activated.json() == {"state": "ACTIVATED", "balance_kzt": amount}
    assert first.json() == {"balance_kzt": amount - 300}
    assert repeated.json() == first.json()
    assert view["balance_kzt"] == amount - 300
    assert [h["purchase_id"] for h in view["history"] if h["event"] == "redeemed"] == ["p-1"]


async def test_a_purchase_beyond_the_balance_is_refused(product: Product) -> None:
    """409 insufficient_balance, and the balance is untouched."""
    _, _, _, status = await product.issued_voucher("food")
    amount = status.amount_kzt or 0
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/activate", json={})
        too_much = await wallet.post(f"{url}/redemptions", json=_purchase("p-2", amount + 1))
        exact = await wallet.post(f"{url}/redemptions", json=_purchase("p-3", amount))
    assert (too_much.status_code, too_much.json()["error"]) == (409, "insufficient_balance")
    assert exact.json() == {"balance_kzt": 0}


async def test_goods_off_the_national_list_are_refused(product: Product) -> None:
    """A line with a code not on the socially significant list gets 422 ineligible_goods."""
    _, _, _, status = await product.issued_voucher("food")
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/activate", json={})
        answer = await wallet.post(f"{url}/redemptions", json=_purchase("p-4", 10, "caviar"))
        goods = await wallet.get("/v1/programs/food/goods")
    assert (answer.status_code, answer.json()["error"]) == (422, "ineligible_goods")
    assert GOOD in {g["code"] for g in goods.json()["goods"]}


async def test_a_purchase_before_activation_is_refused(product: Product) -> None:
    """A voucher not activated yet answers 409 not_activated."""
    _, _, _, status = await product.issued_voucher("food")
    async with product.api("wallet") as wallet:
        answer = await wallet.post(
            f"/v1/vouchers/{status.voucher_id}/redemptions", json=_purchase("p-5", 10)
        )
    assert (answer.status_code, answer.json()["error"]) == (409, "not_activated")


async def test_the_unspent_balance_lapses_at_the_month_end(product: Product) -> None:
    """At 00:00 on the 1st the voucher is CLOSED, the wallet told, and purchases answer 410."""
    _, rules, cycle, status = await product.issued_voucher("food")
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/activate", json={})
        await wallet.post(f"{url}/redemptions", json=_purchase("p-6", 100))
        await product.sleep_until(calendar.month_end(status.month) + timedelta(minutes=1))
        await product.state_becomes(cycle, CycleState.CLOSED)
        late = await wallet.post(f"{url}/redemptions", json=_purchase("p-7", 1))
    assert (late.status_code, late.json()["error"]) == (410, "voucher_closed")
    lapsed = (status.amount_kzt or 0) - 100
    assert (
        status.voucher_id,
        {"type": "closed", "lapsed_kzt": lapsed},
    ) in product.world.voucher_events


async def test_a_purchase_retried_after_the_cycle_closed_gets_its_first_answer(
    product: Product,
) -> None:
    """After the month's end, with the cycle closed, a purchase it applied is answered 200 with
    the balance it left, changing nothing; a new purchase 410, another voucher's purchase_id 409
    purchase_id_conflict (CONTRACTS.md §1)."""
    month, rules = await product.next_month("food")
    cycles = [await product.list(rules, month, product.citizen("food")) for _ in range(2)]
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
    issued = []
    for cycle in cycles:
        await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
        assert await product.reply(cycle, "21*1") == "consent"
        issued.append(await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED))
    mine, theirs = (f"/v1/vouchers/{status.voucher_id}" for status in issued)
    purchases = [(mine, "p-11", 300), (mine, "p-12", 200), (theirs, "p-13", 100)]
    async with product.api("wallet") as wallet:
        for url in (mine, theirs):
            await wallet.post(f"{url}/activate", json={})
        first = [
            await wallet.post(f"{url}/redemptions", json=_purchase(p, discount))
            for url, p, discount in purchases
        ]
        await product.sleep_until(calendar.month_end(month) + timedelta(minutes=1))
        for cycle in cycles:
            await _completed(cycle)
        again = [
            await wallet.post(f"{url}/redemptions", json=_purchase(p, discount))
            for url, p, discount in purchases
        ]
        leaked = await wallet.post(f"{mine}/redemptions", json=_purchase("p-13", 100))
        new = await wallet.post(f"{mine}/redemptions", json=_purchase("p-14", 1))
    async with product.api("ops") as ops:
        report = (await ops.get(f"/v1/programs/food/months/{month}/report")).json()

    mine_kzt, theirs_kzt = (status.amount_kzt or 0 for status in issued)
    balances = [mine_kzt - 300, mine_kzt - 500, theirs_kzt - 100]
    assert [a.json() for a in first] == [{"balance_kzt": b} for b in balances]
    assert [(a.status_code, a.json()) for a in again] == [(200, a.json()) for a in first]
    assert (leaked.status_code, leaked.json()["error"]) == (409, "purchase_id_conflict")
    assert (new.status_code, new.json()["error"]) == (410, "voucher_closed")
    assert report["redeemed_total_kzt"] == 600


async def _completed(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait (bounded) until the cycle's workflow has completed: it then takes no updates."""

    async def status() -> WorkflowExecutionStatus | None:
        return (await handle.describe()).status

    await eventually(status, lambda found: found == WorkflowExecutionStatus.COMPLETED)


async def test_an_unactivated_food_voucher_expires_at_the_month_end(product: Product) -> None:
    """Never activated: VOUCHER_EXPIRED at the month's end, activation then answers 410."""
    _, _, cycle, status = await product.issued_voucher("food")
    await product.sleep_until(calendar.month_end(status.month) + timedelta(minutes=1))
    await product.state_becomes(cycle, CycleState.VOUCHER_EXPIRED)
    async with product.api("wallet") as wallet:
        late = await wallet.post(f"/v1/vouchers/{status.voucher_id}/activate", json={})
    assert (late.status_code, late.json()["error"]) == (410, "activation_closed")


async def test_the_daily_report_counts_the_day(product: Product) -> None:
    """The report for the send day has the voucher issued, activated and one purchase."""
    _, _, _, status = await product.issued_voucher("food")
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/activate", json={})
        await wallet.post(f"{url}/redemptions", json=_purchase("p-8", 250))
    day = calendar.local_date(await product.now())
    figures = await product.client.execute_workflow(
        FoodDailyReport.run,
        DailyReportInput(day=day),
        id=f"report-{day}",
        task_queue=product.settings.task_queue,
    )
    expected = {
        "program": "food",
        "date": day.isoformat(),
        "vouchers_issued": 1,
        "vouchers_activated": 1,
        "purchases": 1,
        "redeemed_kzt": 250,
        "goods_kzt": QTY * PRICE,
    }
    assert figures.model_dump(mode="json") == expected
    assert product.world.food_reports[day.isoformat()] == expected


async def test_the_ops_report_totals_the_purchases(product: Product) -> None:
    """``redeemed_total_kzt`` is the sum drawn from the month's vouchers."""
    _, _, _, status = await product.issued_voucher("food")
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/activate", json={})
        await wallet.post(f"{url}/redemptions", json=_purchase("p-9", 120))
        await wallet.post(f"{url}/redemptions", json=_purchase("p-10", 80))

    async def report() -> dict[str, Any]:
        async with product.api("ops") as ops:
            answer = await ops.get(f"/v1/programs/food/months/{status.month}/report")
        return dict(answer.json())

    figures = await eventually(report, lambda r: r["redeemed_total_kzt"] == 200)
    assert figures["by_state"] == {"ACTIVATED": 1}
