"""Determinism guard: complete cycles replay against today's workflow code (STYLE.md §8).

Two kinds of replay:

* live: every path below is run to its end on the test server, its history fetched and replayed
  at once through the worker's own plugin (converter, codec, sandbox);
* recorded: every ``histories/*.json`` is replayed, so a change that breaks running workflows
  fails CI. The histories recorded from release 1.0 are the baseline every later build replays
  (docs/CHANGING-WORKFLOWS.md): every path of the cycle (gas to its settlement, gas to its
  voucher's expiry, food used and closed, food unanswered, a refusal, a withdrawal, a correction,
  no phone, an SMS gateway that fails before it takes the request), the intake and the hand-over.

To record the histories of a release (only when cutting one, from its tagged commit), run once
with the environment variable set, and commit the JSON files it writes::

    RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows/test_replay.py -k test_record_histories

Each run writes one file per path, named ``<path>-<UTC time of recording>.json``, next to the
older ones. Never re-record a history only to make its replay pass: a history that no longer
replays is a running workflow that would break in production; patch the change instead. The
histories hold synthetic citizens only (``simulators.cohort``), their payloads encrypted with the
default development payload key (``Settings.payload_keys``), as the worker would.

The same module checks what any history exposes in clear: workflow IDs and search attributes are
never encoded, so they must carry no IIN or phone number (CONTRACTS.md §4).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from client.codec import parse_keys
from client.plugin import ProductPlugin
from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models import rulebook
from models.cycle import Citizen, CycleState, CycleStatus
from models.programs import load_programs
from models.reference import load_reference
from models.settings import Settings
from rules import calendar
from tests.harness import Product, eventually
from workflows.catalog import WORKFLOWS

MINUTE = timedelta(minutes=1)
HISTORIES = Path(__file__).parent / "histories"
# The recorded histories' payloads are encrypted with the default (development) payload key; keep
# its id in ``PAYLOAD_KEYS`` for as long as they are replayed.
DEV_KEYS: str = Settings.model_fields["payload_keys"].default
Scenario = Callable[[Product], Awaitable[tuple[WorkflowHandle[Any, Any], Citizen]]]


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    """A history recorded from a release replays on today's code."""
    await _replay(WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8")))


def test_every_path_of_the_cycle_has_a_recorded_history() -> None:
    """Every path below was recorded: a path without a history is a path replay cannot guard."""
    stems = [path.stem for path in HISTORIES.glob("*.json")]
    for name in PATHS:
        assert any(stem.startswith(f"{name}-") for stem in stems), name


@pytest.mark.skipif(
    os.environ.get("RECORD_HISTORIES") != "1", reason="records only with RECORD_HISTORIES=1"
)
async def test_record_histories(product: Product) -> None:
    """Write the histories of every path to ``histories/`` (run on purpose, see above)."""
    assert product.settings.payload_keys == DEV_KEYS, "record with the default payload key"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    HISTORIES.mkdir(exist_ok=True)
    for name, scenario in PATHS.items():
        cycle, _ = await scenario(product)
        history = await cycle.fetch_history()
        await _replay(history, product.settings.payload_keys)
        (HISTORIES / f"{name}-{stamp}.json").write_text(history.to_json(), encoding="utf-8")


async def test_cycle_ids_and_search_attributes_carry_no_iin_or_phone(product: Product) -> None:
    """What the Web UI shows in clear, the ID and the search attributes, names nobody."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    described = await cycle.describe()
    attributes = {pair.key.name: pair.value for pair in described.typed_search_attributes}
    assert attributes["Program"] == "gas" and attributes["CycleMonth"] == month
    assert attributes["Region"] == citizen.region
    assert attributes["CycleState"] == CycleState.AWAITING_CONSENT.value
    secrets = _personal_data(product, citizen)
    for shown in [described.id, *map(str, attributes.values())]:
        assert not any(secret in shown for secret in secrets), shown


# --- the paths, each run to its end ----------------------------------------------------------


async def _gas_settled(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """Consent, voucher, account and confirmation, hand-over, consumption: SETTLED."""
    citizen, rules, cycle, status = await product.issued_voucher("gas")
    account = product.account(citizen.region)
    async with product.api("wallet") as wallet:
        url = f"/v1/vouchers/{status.voucher_id}"
        entered = await wallet.post(f"{url}/account", json={"account_number": account})
        confirmed = await wallet.post(f"{url}/confirm", json={})
    assert entered.status_code == 200, entered.text
    assert confirmed.json() == {"state": "ACTIVATED"}, confirmed.text
    handover = calendar.handover_moment(rules, status.month)
    assert handover is not None
    await product.sleep_until(handover + 2 * MINUTE)
    await product.state_becomes(cycle, CycleState.HANDED_OVER)
    reading = {"account_number": account, "volume_m3": "42.5", "discount_kzt": None}
    async with product.api("provider") as provider:
        answer = await provider.post(
            f"/v1/programs/gas/months/{status.month}/consumption", json={"readings": [reading]}
        )
    assert answer.status_code == 202, answer.text
    await _ended(product, cycle, CycleState.SETTLED)
    return cycle, citizen


async def _gas_voucher_expired(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """Consent and voucher, never activated: VOUCHER_EXPIRED when activation closes."""
    citizen, rules, cycle, status = await product.issued_voucher("gas")
    await product.sleep_until(calendar.activation_window(rules, status.month)[1] + MINUTE)
    await _ended(product, cycle, CycleState.VOUCHER_EXPIRED)
    return cycle, citizen


async def _food_used(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """Consent, voucher, activation, a purchase: CLOSED at the month's end."""
    citizen, rules, cycle, status = await product.issued_voucher("food")
    goods = load_reference().food_goods()
    purchase = {
        "purchase_id": f"replay-{cycle.id[-12:]}",
        "shop_id": "shop-1",
        "items": [{"code": goods[0].code, "qty": 1, "unit_price_kzt": 500, "discount_kzt": 1}],
    }
    async with product.api("wallet") as wallet:
        url = f"/v1/vouchers/{status.voucher_id}"
        activated = await wallet.post(f"{url}/activate", json={})
        redeemed = await wallet.post(f"{url}/redemptions", json=purchase)
    assert activated.status_code == 200, activated.text
    assert redeemed.status_code == 200, redeemed.text
    await product.sleep_until(calendar.activation_window(rules, status.month)[1] + MINUTE)
    await _ended(product, cycle, CycleState.CLOSED)
    return cycle, citizen


async def _food_no_reply(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """Consent request and reminder unanswered: CONSENT_EXPIRED."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.consent_deadline(rules, month) + MINUTE)
    await _ended(product, cycle, CycleState.CONSENT_EXPIRED)
    return cycle, citizen


async def _gas_refused(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """The citizen answers ``21*2``: REFUSED."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*2") == "refusal"
    await _ended(product, cycle, CycleState.REFUSED)
    return cycle, citizen


async def _gas_withdrawn(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """SDU withdraws the citizen before the send day: WITHDRAWN, nobody texted."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    await product.cycles.withdraw(cycle.id)
    await _ended(product, cycle, CycleState.WITHDRAWN)
    return cycle, citizen


async def _food_corrected(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """SDU corrects the family size before the send day; the voucher, unused, closes."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food", family_size=2)
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    await product.list(rules, month, citizen.model_copy(update={"family_size": 3}))
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*1") == "consent"
    issued = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    assert [e.event for e in issued.history].count("corrected") == 1
    await product.sleep_until(calendar.activation_window(rules, month)[1] + MINUTE)
    await _ended(product, cycle, CycleState.VOUCHER_EXPIRED)
    return cycle, citizen


async def _no_phone(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """BMG knows no number: NO_PHONE, journalled at SDU."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", with_phone=False)
    cycle = await product.list(rules, month, citizen)
    await _ended(product, cycle, CycleState.NO_PHONE)
    return cycle, citizen


async def _gas_sms_gateway_faults(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    """The gateway answers 500 then 429 before it takes the consent request; the citizen,
    texted once, refuses."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    product.world.fail("sms", status=500, times=2)
    product.world.fail("sms", status=429, times=1, retry_after=1)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    await product.sms_becomes(citizen, ["consent_request"])
    assert await product.reply(cycle, "21*2") == "refusal"
    await _ended(product, cycle, CycleState.REFUSED)
    return cycle, citizen


PATHS: dict[str, Scenario] = {
    "citizen_cycle-gas-settled": _gas_settled,
    "citizen_cycle-gas-voucher_expired": _gas_voucher_expired,
    "citizen_cycle-food-used": _food_used,
    "citizen_cycle-food-no_reply": _food_no_reply,
    "citizen_cycle-gas-refused": _gas_refused,
    "citizen_cycle-gas-withdrawn": _gas_withdrawn,
    "citizen_cycle-food-corrected": _food_corrected,
    "citizen_cycle-no_phone": _no_phone,
    "citizen_cycle-gas-sms_gateway_faults": _gas_sms_gateway_faults,
}


@pytest.mark.parametrize("name", PATHS)
async def test_every_path_replays_as_it_ran(product: Product, name: str) -> None:
    """Each path, run to its end, replays on the code that ran it without non-determinism."""
    cycle, _ = await PATHS[name](product)
    await _replay(await cycle.fetch_history(), product.settings.payload_keys)


async def _ended(product: Product, cycle: WorkflowHandle[Any, Any], state: CycleState) -> None:
    """Wait until the cycle's workflow has completed in ``state``."""
    await product.state_becomes(cycle, state)
    await eventually(cycle.describe, lambda d: d.status == WorkflowExecutionStatus.COMPLETED)
    assert CycleStatus.model_validate(await cycle.result()).state == state


async def _replay(history: WorkflowHistory, payload_keys: str = DEV_KEYS) -> None:
    """Replay ``history`` as the worker runs it: same workflows, and the product plugin's
    converter, codec and sandbox."""
    # The rules the recorded cycles name: the shipped versions and the examples they ran on.
    rulebook.install(load_programs(EXAMPLE_PROGRAM_DATA).versions)
    replayer = Replayer(workflows=WORKFLOWS, plugins=[ProductPlugin(parse_keys(payload_keys))])
    await replayer.replay_workflow(history)


def _personal_data(product: Product, citizen: Citizen) -> list[str]:
    """The IIN and the phone number, with and without the ``+``."""
    phone = product.phone(citizen)
    return [citizen.iin, phone, phone.removeprefix("+")]
