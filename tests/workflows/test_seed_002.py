"""Seed 002's own rules (SPEC.md §7), run under time skipping: its consent given "until
31 July 2025" and its pilot ending on the 26th of its last month. The test server's clock cannot
go back to 2025, so the seed's version is replayed, its dates moved to the months ahead (a
deployment's version, PROGRAM_DATA_DIR), every other field as shipped."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import CycleState
from models.programs import ProgramVersion, load_programs
from rules import calendar
from tests.harness import Product, fresh_product

MINUTE = timedelta(minutes=1)
GOOD = "buckwheat"


@pytest.fixture
async def seed_002(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Product]:
    """The product with seed 002's version replayed over the next two months: in force from
    the 1st of the first, consent valid until the first's last day, ending on the 26th of the
    second, as 002 ran from June to 26 September with consent until 31 July."""
    first = calendar.next_month(calendar.month_of(await env.get_current_time()))
    second = calendar.next_month(first)
    shipped = next(v for v in load_programs().versions if v.version == "food-2025-06")
    replayed = shipped.model_dump(mode="json") | {
        "version": "food-2025-06-replayed",
        "effective_from": calendar.month_start(first).date().isoformat(),
        "effective_until": date(int(second[:4]), int(second[5:]), 26).isoformat(),
        "consent_valid_until": (calendar.month_end(first) - MINUTE).date().isoformat(),
    }
    data = tmp_path / "data"
    (data / "programs").mkdir(parents=True)
    shutil.copy(EXAMPLE_PROGRAM_DATA / "programs" / "gas.json", data / "programs" / "gas.json")
    (data / "programs" / "food.json").write_text(json.dumps({"versions": [replayed]}))
    years = sorted({int(first[:4]), int(second[:4])})
    mrp = [{"year": y, "kzt": 4325, "source": "sample: test"} for y in years]
    (data / "mrp.json").write_text(json.dumps({"mrp": mrp}))
    async with fresh_product(
        env, tmp_path, program_data_dir=data, allow_sample_figures=True
    ) as running:
        yield running


def _rules(product: Product, month: str) -> ProgramVersion:
    found = load_programs(product.settings.program_data_dir).for_month("food", month)
    assert found is not None and found.version == "food-2025-06-replayed"
    return found


async def test_after_consent_valid_until_the_citizen_is_asked_again(seed_002: Product) -> None:
    """Seed 002's annex: consent is given until 31 July 2025. A consent of the first month does
    not carry into a month after that date: the citizen is texted and asked again."""
    product = seed_002
    first, _ = await product.next_month("food")
    second = calendar.next_month(first)
    rules = _rules(product, first)
    citizen = product.citizen("food", region="AKM", locality="AKKOL")
    cycle = await product.list(rules, first, citizen)
    await product.sleep_until(calendar.send_moment(rules, first) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*1") == "consent"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    await product.sms_becomes(citizen, ["consent_request", "confirmation"])

    later = await product.list(_rules(product, second), second, citizen)
    await product.sleep_until(calendar.send_moment(rules, second) + MINUTE)
    await product.state_becomes(later, CycleState.AWAITING_CONSENT)
    await product.sms_becomes(citizen, ["consent_request", "confirmation", "consent_request"])


async def test_the_pilots_last_day_ends_its_last_month(seed_002: Product) -> None:
    """Seed 002 ends on the 26th of its last month (Alg. 4): the voucher is valid, and
    purchases allowed, to the end of that day; then it lapses, not at the month's end."""
    product = seed_002
    first, _ = await product.next_month("food")
    last = calendar.next_month(first)
    rules = _rules(product, last)
    _, _, cycle, status = await product.issued_voucher(
        "food", month=last, region="AKM", locality="AKKOL"
    )
    assert product.world.vouchers[status.voucher_id]["valid_until"] == f"{last}-26"
    url = f"/v1/vouchers/{status.voucher_id}"
    pilot_ends = calendar.day_start(last, 27)
    async with product.api("wallet") as wallet:
        activated = await wallet.post(f"{url}/activate", json={})
        assert activated.status_code == 200, activated.text
        await product.sleep_until(pilot_ends - 2 * MINUTE)
        in_time = await wallet.post(f"{url}/redemptions", json=_purchase("p-26th"))
        assert in_time.status_code == 200, in_time.text
        await product.sleep_until(pilot_ends + MINUTE)
        closed = await product.state_becomes(cycle, CycleState.CLOSED)
        late = await wallet.post(f"{url}/redemptions", json=_purchase("p-27th"))
    assert late.status_code == 410, late.text
    lapsed_at = next(e.at for e in closed.history if e.event == "closed")
    assert pilot_ends <= lapsed_at < pilot_ends + 2 * MINUTE
    assert calendar.voucher_lapses(rules, last) == pilot_ends


def _purchase(purchase_id: str) -> dict[str, object]:
    return {
        "purchase_id": purchase_id,
        "shop_id": "shop-1",
        "items": [{"code": GOOD, "qty": 1, "unit_price_kzt": 500, "discount_kzt": 50}],
    }
