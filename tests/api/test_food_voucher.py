"""A food voucher after consent (SPEC.md §3 steps 6-7): activation, purchases of socially
significant goods from its balance, the lapse at the month's end, the daily report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from client.cycles import CycleRefused
from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import CycleState
from models.reference import load_reference
from models.voucher import Purchase
from rules import calendar
from store import vouchers
from store.engine import create_engine, create_sessions
from tests.harness import Product, eventually
from workflows.food_daily_report import DailyReportInput, FoodDailyReport

GOOD = load_reference(EXAMPLE_PROGRAM_DATA).food_goods()[0].code
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
        "vouchers_used": 1,
        "purchases": 1,
        "redeemed_kzt": 250,
        "goods_kzt": QTY * PRICE,
        "goods": {GOOD: {"qty": QTY, "discount_kzt": 250}},
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


# --- money that cannot go wrong (issue 12 item 2; SPEC.md §7 "Per-good cap") -------------------


def _line(code: str, qty: Any, price: int, discount: int) -> dict[str, Any]:
    return {"code": code, "qty": qty, "unit_price_kzt": price, "discount_kzt": discount}


async def _active_voucher(product: Product, **changes: Any) -> tuple[str, int]:
    """An activated food voucher's URL and its balance."""
    _, _, _, status = await product.issued_voucher("food", **changes)
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        activated = await wallet.post(f"{url}/activate", json={})
    return url, activated.json()["balance_kzt"]


async def test_a_line_discount_above_the_lines_value_is_refused(product: Product) -> None:
    """Issue 12: one item at 1 ₸ with a 4,325 ₸ discount emptied the voucher; now 422
    discount_above_limit, and the balance is untouched."""
    url, balance = await _active_voucher(product)
    body = {"purchase_id": "cheap", "shop_id": "s", "items": [_line(GOOD, 1, 1, balance)]}
    async with product.api("wallet") as wallet:
        refused = await wallet.post(f"{url}/redemptions", json=body)
        view = (await wallet.get(url)).json()
    assert (refused.status_code, refused.json()["error"]) == (422, "discount_above_limit")
    assert view["balance_kzt"] == balance


async def test_a_line_discount_above_qty_times_the_goods_cap_is_refused(product: Product) -> None:
    """SPEC.md §7 (seed 004 items 2.1, 2.5, 12): at most qty × the good's cap, even where the
    line's value is higher; exactly the cap passes."""
    good = load_reference().food_good("milk")
    assert good is not None and good.max_discount_per_unit_kzt is not None
    cap = good.max_discount_per_unit_kzt
    url, balance = await _active_voucher(product)
    over = {"purchase_id": "m-1", "shop_id": "s", "items": [_line("milk", 3, 1000, 3 * cap + 1)]}
    at_cap = {"purchase_id": "m-2", "shop_id": "s", "items": [_line("milk", 3, 1000, 3 * cap)]}
    half = {"purchase_id": "m-3", "shop_id": "s", "items": [_line("milk", "0.5", 1000, cap)]}
    async with product.api("wallet") as wallet:
        refused = await wallet.post(f"{url}/redemptions", json=over)
        taken = await wallet.post(f"{url}/redemptions", json=at_cap)
        fraction = await wallet.post(f"{url}/redemptions", json=half)
    assert (refused.status_code, refused.json()["error"]) == (422, "discount_above_limit")
    assert "items[0]" in refused.json()["detail"]
    assert taken.json() == {"balance_kzt": balance - 3 * cap}
    assert (fraction.status_code, fraction.json()["error"]) == (422, "discount_above_limit")


async def test_the_goods_list_carries_each_goods_cap(product: Product) -> None:
    """CONTRACTS.md §1: ``{"goods":[{"code","name","unit","max_discount_per_unit_kzt"}]}``."""
    async with product.api("wallet") as wallet:
        goods = (await wallet.get("/v1/programs/food/goods")).json()["goods"]
    expected = [
        {
            "code": g.code,
            "name": g.name,
            "unit": g.unit,
            "max_discount_per_unit_kzt": g.max_discount_per_unit_kzt,
        }
        for g in load_reference().food_goods()
    ]
    assert goods == expected


async def test_sums_that_could_overflow_64_bits_are_malformed(product: Product) -> None:
    """Quantities and prices are bounded so that no sum overflows: beyond them, 422 malformed."""
    url, balance = await _active_voucher(product)
    async with product.api("wallet") as wallet:
        answers = [
            await wallet.post(
                f"{url}/redemptions",
                json={"purchase_id": f"big-{n}", "shop_id": "s", "items": [line]},
            )
            for n, line in enumerate(
                [
                    _line(GOOD, 10**6 + 1, 1, 0),
                    _line(GOOD, 1, 10**9 + 1, 0),
                    _line(GOOD, 1, 1, 10**9 + 1),
                    _line(GOOD, 10**30, 10**9, 0),
                ]
            )
        ]
        view = (await wallet.get(url)).json()
    assert [(a.status_code, a.json()["error"]) for a in answers] == [(422, "malformed")] * 4
    assert view["balance_kzt"] == balance


async def test_a_purchase_id_of_another_voucher_is_a_conflict_and_changes_nothing(
    product: Product,
) -> None:
    """Issue 12: the same purchase_id on a second voucher replaced the first voucher's record
    (the report's total dropped). Now 409 purchase_id_conflict: neither balance moves, the first
    record stays, and the report counts the first purchase only."""
    month, rules = await product.next_month("food")
    cycles = [await product.list(rules, month, product.citizen("food")) for _ in range(2)]
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
    urls = []
    for cycle in cycles:
        await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
        assert await product.reply(cycle, "21*1") == "consent"
        status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
        urls.append(f"/v1/vouchers/{status.voucher_id}")
    first, second = urls
    async with product.api("wallet") as wallet:
        balances = [
            (await wallet.post(f"{u}/activate", json={})).json()["balance_kzt"] for u in urls
        ]
        taken = await wallet.post(f"{first}/redemptions", json=_purchase("shared", 300))
        conflict = await wallet.post(f"{second}/redemptions", json=_purchase("shared", 100))
        views = [(await wallet.get(u)).json() for u in urls]
    async with product.api("ops") as ops:
        report = (await ops.get(f"/v1/programs/food/months/{month}/report")).json()
    assert taken.json() == {"balance_kzt": balances[0] - 300}
    assert (conflict.status_code, conflict.json()["error"]) == (409, "purchase_id_conflict")
    assert [v["balance_kzt"] for v in views] == [balances[0] - 300, balances[1]]
    assert report["redeemed_total_kzt"] == 300


async def test_a_purchase_id_taken_meanwhile_is_refused_by_the_cycle_and_changes_nothing(
    product: Product,
) -> None:
    """The cycle's own path (the API's look-up raced by another voucher's insert): the record
    activity's refusal is non-retryable, the cycle answers purchase_id_conflict at once, its
    balance does not move, and the voucher goes on taking purchases."""
    month, rules = await product.next_month("food")
    cycles = [await product.list(rules, month, product.citizen("food")) for _ in range(2)]
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
    for cycle in cycles:
        await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
        assert await product.reply(cycle, "21*1") == "consent"
        await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
        await product.cycles.activate(cycle.id)
    mine, theirs = cycles
    await product.cycles.redeem(theirs.id, Purchase.model_validate(_purchase("raced", 100)))
    before = (await product.status(mine)).balance_kzt
    assert before is not None
    with pytest.raises(CycleRefused) as refused:
        await product.cycles.redeem(mine.id, Purchase.model_validate(_purchase("raced", 50)))
    after = await product.cycles.redeem(mine.id, Purchase.model_validate(_purchase("next", 10)))
    assert refused.value.code == "purchase_id_conflict"
    assert after.balance_kzt == before - 10


async def test_a_purchase_keeps_its_line_items(product: Product) -> None:
    """SPEC.md §7 (seed 004 items 26, 7.1): each line's code, quantity, unit price and discount
    are kept with the purchase."""
    url, _ = await _active_voucher(product)
    lines = [_line("milk", 2, 400, 100), _line("potatoes", "1.5", 200, 40)]
    async with product.api("wallet") as wallet:
        answer = await wallet.post(
            f"{url}/redemptions", json={"purchase_id": "lines", "shop_id": "s", "items": lines}
        )
    assert answer.status_code == 200, answer.text
    engine = create_engine(product.settings.database_url)
    try:
        async with create_sessions(engine)() as session:
            kept = await vouchers.purchase_lines(session, purchase_id="lines")
    finally:
        await engine.dispose()
    assert [
        (k.line_no, k.code, k.qty_thousandths, k.unit_price_kzt, k.discount_kzt) for k in kept
    ] == [(0, "milk", 2000, 400, 100), (1, "potatoes", 1500, 200, 40)]


async def test_the_report_counts_vouchers_issued_and_used_and_the_goods_sold(
    product: Product,
) -> None:
    """CONTRACTS.md §1: ``vouchers_issued``, ``vouchers_used`` (food: at least one purchase)
    and ``goods`` by code (seed 004 item 7.1), quantities in the good's unit."""
    month, rules = await product.next_month("food")
    cycles = [await product.list(rules, month, product.citizen("food")) for _ in range(2)]
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
    for cycle in cycles:
        await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
        assert await product.reply(cycle, "21*1") == "consent"
        await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    used = (await product.status(cycles[0])).voucher_id
    url = f"/v1/vouchers/{used}"
    purchases = [
        [_line("milk", 2, 400, 100), _line("potatoes", "1.5", 200, 40)],
        [_line("milk", "0.5", 400, 20)],
    ]
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/activate", json={})
        for number, items in enumerate(purchases):
            body = {"purchase_id": f"r-{number}", "shop_id": "s", "items": items}
            assert (await wallet.post(f"{url}/redemptions", json=body)).status_code == 200
    async with product.api("ops") as ops:
        report = (await ops.get(f"/v1/programs/food/months/{month}/report")).json()
        gas_month = (await product.next_month("gas"))[0]
        gas = (await ops.get(f"/v1/programs/gas/months/{gas_month}/report")).json()
    assert (report["vouchers_issued"], report["vouchers_used"]) == (2, 1)
    assert report["goods"] == {
        "milk": {"qty": 2.5, "discount_kzt": 120},
        "potatoes": {"qty": 1.5, "discount_kzt": 40},
    }
    assert (gas["vouchers_issued"], gas["vouchers_used"], gas["goods"]) == (0, 0, {})
