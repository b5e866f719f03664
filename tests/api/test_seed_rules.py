"""The seeds read a second time (SPEC.md §7, issue 11), through the product's API: lists refused
without the figures or the configuration they need, the gas activation details of the order
(Alg. 21-25), and a discount never settled from sample figures unless the deployment allows it."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from api import create_app
from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import CycleState
from models.program_data import ProgramDataError
from models.settings import Settings
from rules import calendar
from tests.harness import Product, eventually, fresh_product
from workers import create_worker


@pytest.fixture
async def strict_product(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Product]:
    """The product as a real deployment runs it: sample figures not allowed, and its own copy
    of the example's program data, into which a test may drop real figures."""
    shutil.copytree(EXAMPLE_PROGRAM_DATA, tmp_path / "data")
    async with fresh_product(
        env, tmp_path, program_data_dir=tmp_path / "data", allow_sample_figures=False
    ) as running:
        yield running


async def _list(product: Product, program: str, month: str, **record: Any) -> Any:
    citizen = product.citizen(program, **record)
    async with product.api("sdu") as sdu:
        return await sdu.post(
            f"/v1/programs/{program}/months/{month}/recipients",
            json={"recipients": [citizen.model_dump(mode="json", exclude_none=True)]},
        )


# --- lists refused without what they need (SPEC.md §7 "missing figures are never guessed") ---


async def test_a_year_without_an_mrp_refuses_the_food_list(product: Product) -> None:
    """A food month of a year with no MRP in the data is refused, 409 reference_data_missing
    naming the figure, instead of paying the last known year's MRP."""
    answer = await _list(product, "food", "2029-03")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "reference_data_missing"
    assert "MRP 2029" in answer.json()["detail"]


async def test_a_sample_mrp_refuses_the_list_where_samples_are_not_allowed(
    strict_product: Product,
) -> None:
    """The example's 2027 MRP is labelled sample: a deployment that does not allow sample
    figures refuses the list, naming the figure."""
    month, _ = await strict_product.next_month("food")
    answer = await _list(strict_product, "food", month)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "reference_data_missing"
    assert f"MRP {month[:4]}: only a sample" in answer.json()["detail"]


async def test_seed_004_months_refuse_lists_until_its_support_number_is_set(
    product: Product,
) -> None:
    """Seed 004's annex prints no support number: its months refuse lists with 409
    program_not_configured naming the missing value, so no blank is ever texted."""
    answer = await _list(product, "food", "2026-03", region="PAV", locality="PAVLODAR")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "program_not_configured"
    assert "support_phone" in answer.json()["detail"]


# --- gas activation (gas order Alg. 21-25) ---------------------------------------------------


async def test_the_provider_activates_a_voucher_at_its_offices(product: Product) -> None:
    """Gas order Alg. 21: a citizen without eGov Mobile activates at the provider's offices;
    the provider's staff enter the account and confirm, same rules (CONTRACTS.md §1)."""
    _, _, cycle, status = await product.issued_voucher("gas")
    account = product.account()
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("provider") as provider:
        shown = await provider.post(f"{url}/account", json={"account_number": account})
        confirmed = await provider.post(f"{url}/confirm", json={})
    assert shown.status_code == 200, shown.text
    assert shown.json()["account_number"] == account
    assert confirmed.json() == {"state": "ACTIVATED"}, confirmed.text
    assert (await product.status(cycle)).state == CycleState.ACTIVATED


async def test_confirming_records_the_acceptance_of_the_public_offer(product: Product) -> None:
    """Gas order Alg. 22-23: confirming accepts the provider's public offer; the voucher's
    history keeps that acceptance, with the account, before the activation."""
    _, _, _, status = await product.issued_voucher("gas")
    account = product.account()
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/account", json={"account_number": account})
        await wallet.post(f"{url}/confirm", json={})
        history = (await wallet.get(url)).json()["history"]
    events = [h["event"] for h in history]
    assert events.index("offer_accepted") == events.index("activated") - 1
    accepted = history[events.index("offer_accepted")]
    assert accepted["account_number"] == account and "public offer" in accepted["offer"]


async def test_an_account_in_use_is_refused_before_the_providers_lookup(
    product: Product,
) -> None:
    """Gas order Alg. 24-25: first "is a voucher already activated on this account this
    month", then the provider's look-up. An account with this month's voucher that the provider
    no longer lists is refused as in use (409), not as unknown (404)."""
    _, _, _, first = await product.issued_voucher("gas")
    _, _, _, second = await product.issued_voucher("gas", month=first.month)
    account = product.account()
    async with product.api("wallet") as wallet:
        await wallet.post(
            f"/v1/vouchers/{first.voucher_id}/account", json={"account_number": account}
        )
        await wallet.post(f"/v1/vouchers/{first.voucher_id}/confirm", json={})
        del product.world.accounts[account]  # closed at the provider since
        taken = await wallet.post(
            f"/v1/vouchers/{second.voucher_id}/account", json={"account_number": account}
        )
    assert (taken.status_code, taken.json()["error"]) == (409, "account_already_used")


# --- a discount from sample tariffs is not settled (SPEC.md §7) ------------------------------


async def test_a_discount_from_sample_tariffs_waits_until_real_figures_are_loaded(
    strict_product: Product, tmp_path: Path
) -> None:
    """Every shipped tariff is a sample: the cycle does not settle from it but waits, flagged
    Attention=tariff_missing; once the real figures are dropped into PROGRAM_DATA_DIR it
    settles from them at its next daily look, and the flag comes off."""
    product = strict_product
    _, rules, cycle, status = await product.issued_voucher("gas")
    account = product.account("KAR")
    url = f"/v1/vouchers/{status.voucher_id}"
    async with product.api("wallet") as wallet:
        await wallet.post(f"{url}/account", json={"account_number": account})
        await wallet.post(f"{url}/confirm", json={})
    handover = calendar.handover_moment(rules, status.month)
    assert handover is not None
    await product.sleep_until(handover + timedelta(minutes=2))
    await product.state_becomes(cycle, CycleState.HANDED_OVER)
    async with product.api("provider") as provider:
        reading = {"account_number": account, "volume_m3": "100"}
        await provider.post(
            f"/v1/programs/gas/months/{status.month}/consumption", json={"readings": [reading]}
        )
    waiting = await _attention_becomes(product, cycle, "tariff_missing")
    assert (
        waiting.state == CycleState.HANDED_OVER and status.voucher_id not in product.world.discounts
    )

    real = {
        "region": "KAR",
        "effective_from": calendar.month_start(status.month).date().isoformat(),
        "price_group1_kzt_per_m3": "40.00",
        "price_group9_kzt_per_m3": "30.00",
        "norm_m3": "200",
        "price_source": "order: prices agreed by the regulator (test figures)",
        "norm_source": "resolution of the akimat of Karaganda region of 12.06.2025 No. 32/01",
    }
    (tmp_path / "data" / "gas_tariffs.json").write_text(json.dumps({"tariffs": [real]}))
    await product.sleep_until(await product.now() + timedelta(days=1, minutes=5))
    settled = await product.state_becomes(cycle, CycleState.SETTLED)
    assert settled.discount_kzt == 1000  # (40 - 30) x 100 m³ of the real figures
    assert settled.attention is None


async def _attention_becomes(product: Product, cycle: Any, reason: str) -> Any:
    async def probe() -> Any:
        return await product.status(cycle)

    return await eventually(probe, lambda s: s.attention == reason)


async def test_a_contradicting_file_stops_the_worker_and_the_api_at_start(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """CONTRACTS.md §3: a PROGRAM_DATA_DIR file that contradicts a shipped, published version is
    refused at start with an error naming the file and the field; nothing runs on it."""
    bad = tmp_path / "data" / "programs" / "food.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"versions": [{"version": "food-2025-12", "send_day": 6}]}))
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'product.db'}",
        program_data_dir=tmp_path / "data",
    )
    with pytest.raises(ProgramDataError, match="send_day") as worker_refused:
        create_worker(env.client, settings)
    assert worker_refused.value.file == bad
    app = create_app(env.client, settings)
    with pytest.raises(ProgramDataError, match="send_day"):
        async with app.router.lifespan_context(app):
            pass
    with pytest.raises(ValidationError, match="PROGRAM_DATA_DIR"):
        Settings(program_data_dir=tmp_path / "no such folder")
