"""Determinism guard: complete cycles replay against today's workflow code (STYLE.md §8).

Two kinds of replay:

* live: a cycle is run to its end on the test server, its history fetched and replayed at once;
* recorded: every ``histories/*.json`` (histories of earlier versions of the code, kept in the
  repository) is replayed, so a change that breaks running workflows fails CI.

To record new histories (after a deliberate, patched change of a workflow, or for a new path),
run once with the environment variable set, and commit the JSON files it writes::

    RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows/test_replay.py -k test_record_histories

Each run writes one file per path, named ``<path>-<UTC time of recording>.json``, next to the
older ones; keep an old history for as long as the ``workflow.patched`` branch it goes through
(docs/CHANGING-WORKFLOWS.md). Never re-record a history only to make its replay pass: a history
that no longer replays is a running workflow that would break in production. The histories hold
synthetic citizens only (``simulators.cohort``), their payloads encrypted with the default
development payload key (``Settings.payload_keys``), as the worker would.

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
from models.cycle import Citizen, CycleState, CycleStatus
from models.settings import Settings
from rules import calendar
from tests.harness import Product, eventually
from workflows import WORKFLOWS

MINUTE = timedelta(minutes=1)
HISTORIES = Path(__file__).parent / "histories"
# The recorded histories' payloads are encrypted with the default (development) payload key; keep
# its id in ``PAYLOAD_KEYS`` for as long as they are replayed.
DEV_KEYS: str = Settings.model_fields["payload_keys"].default
RECORDED = ("citizen_cycle-gas-consent", "citizen_cycle-food-no_reply", "citizen_cycle-no_phone")

Scenario = Callable[[Product], Awaitable[tuple[WorkflowHandle[Any, Any], Citizen]]]


async def test_gas_consent_cycle_replays(product: Product) -> None:
    """A gas cycle from consent to its voucher's expiry replays without non-determinism."""
    cycle, _ = await _gas_consent(product)
    await _replay(await cycle.fetch_history(), product.settings.payload_keys)


async def test_food_no_reply_cycle_replays(product: Product) -> None:
    """A food cycle left unanswered until CONSENT_EXPIRED replays without non-determinism."""
    cycle, _ = await _food_no_reply(product)
    await _replay(await cycle.fetch_history(), product.settings.payload_keys)


async def test_no_phone_cycle_replays(product: Product) -> None:
    """A NO_PHONE cycle replays without non-determinism."""
    cycle, _ = await _no_phone(product)
    await _replay(await cycle.fetch_history(), product.settings.payload_keys)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    """A history recorded from an earlier version of the code replays on today's."""
    await _replay(WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8")))


def test_every_recorded_path_has_a_history() -> None:
    """The recorded histories cover the gas consent, food no-reply and NO_PHONE paths."""
    stems = [path.stem for path in HISTORIES.glob("*.json")]
    for name in RECORDED:
        assert any(stem == name or stem.startswith(f"{name}-") for stem in stems), name


@pytest.mark.skipif(
    os.environ.get("RECORD_HISTORIES") != "1", reason="records only with RECORD_HISTORIES=1"
)
async def test_record_histories(product: Product) -> None:
    """Write the histories of the recorded paths to ``histories/`` (run on purpose, see above)."""
    assert product.settings.payload_keys == DEV_KEYS, "record with the default payload key"
    scenarios: dict[str, Scenario] = dict(zip(RECORDED, SCENARIOS, strict=True))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    HISTORIES.mkdir(exist_ok=True)
    for name, scenario in scenarios.items():
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


async def _gas_consent(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*1") == "consent"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    await product.sleep_until(calendar.activation_window(rules, month)[1] + MINUTE)
    await _ended(product, cycle, CycleState.VOUCHER_EXPIRED)
    return cycle, citizen


async def _food_no_reply(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.consent_deadline(rules, month) + MINUTE)
    await _ended(product, cycle, CycleState.CONSENT_EXPIRED)
    return cycle, citizen


async def _no_phone(product: Product) -> tuple[WorkflowHandle[Any, Any], Citizen]:
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", with_phone=False)
    cycle = await product.list(rules, month, citizen)
    await _ended(product, cycle, CycleState.NO_PHONE)
    return cycle, citizen


SCENARIOS: tuple[Scenario, ...] = (_gas_consent, _food_no_reply, _no_phone)


async def _ended(product: Product, cycle: WorkflowHandle[Any, Any], state: CycleState) -> None:
    """Wait until the cycle's workflow has completed in ``state``."""
    await product.state_becomes(cycle, state)
    await eventually(cycle.describe, lambda d: d.status == WorkflowExecutionStatus.COMPLETED)
    assert CycleStatus.model_validate(await cycle.result()).state == state


async def _replay(history: WorkflowHistory, payload_keys: str = DEV_KEYS) -> None:
    """Replay ``history`` as the worker runs it: same workflows, and the product plugin's
    converter, codec and sandbox."""
    replayer = Replayer(workflows=WORKFLOWS, plugins=[ProductPlugin(parse_keys(payload_keys))])
    await replayer.replay_workflow(history)


def _personal_data(product: Product, citizen: Citizen) -> list[str]:
    """The IIN and the phone number, with and without the ``+``."""
    phone = product.phone(citizen)
    return [citizen.iin, phone, phone.removeprefix("+")]
