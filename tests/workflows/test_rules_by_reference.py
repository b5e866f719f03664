"""A cycle names its rules by content (``models.rulebook``): its input stays small, and a worker
that lacks the exact rules fails the cycle's workflow task instead of running other rules."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from client.codec import parse_keys, product_converter
from client.cycles import CycleClient
from models import rulebook
from models.cycle import CycleState
from models.programs import ProgramBook, load_programs
from models.reference import load_reference
from rules.pseudonyms import citizen_ref
from tests.harness import Product, eventually

# Issue 13's ceiling for what a cycle's input costs in every history (encrypted, as stored).
INPUT_BYTES = 1024


async def test_a_cycles_input_is_under_a_kilobyte_as_the_history_stores_it(
    product: Product,
) -> None:
    """The largest sample input (food: a family's voucher value, both assistances, a locality)
    encrypted by the product's codec is at most ``INPUT_BYTES``, rules and all."""
    month, _ = await product.next_month("food")
    citizen = product.citizen(
        "food", family_size=30, assistance=["TSA", "HOUSING"], locality="a" * 120
    )
    ref = citizen_ref(product.settings.pseudonym_key, citizen.iin)
    cycle = product.cycles.cycle_input("food", month, citizen=citizen, citizen_ref=ref)
    converter = product_converter(parse_keys(product.settings.payload_keys))
    [payload] = await converter.encode([cycle])
    assert payload.ByteSize() <= INPUT_BYTES


async def test_a_worker_without_the_cycles_rules_fails_its_task_until_they_are_deployed(
    product: Product,
) -> None:
    """A cycle listed under a version this worker has never loaded does not run on any other
    rules: its workflow task fails, naming the version; deployed, the same cycle goes on."""
    month, rules = await product.next_month("gas")
    unknown = rules.model_copy(update={"title": rules.title + " (edited after listing)"})
    citizen = product.citizen("gas")
    ref = citizen_ref(product.settings.pseudonym_key, citizen.iin)
    listed = product.cycles.cycle_input("gas", month, citizen=citizen, citizen_ref=ref)
    cycle_input = listed.model_copy(update={"rules_ref": rulebook.rules_ref(unknown)})
    # The listing's side knows the edited version; the worker has never loaded it.
    book = load_programs(product.settings.program_data_dir)
    lister = CycleClient(
        product.client,
        task_queue=product.settings.task_queue,
        programs=ProgramBook(versions=(*book.versions, unknown)),
        reference=load_reference(product.settings.program_data_dir),
        send_spread=product.settings.send_spread,
    )
    assert await lister.start(cycle_input)
    handle: WorkflowHandle[Any, Any] = product.handle("gas", month, citizen)

    converter = product_converter(parse_keys(product.settings.payload_keys))

    async def task_failures() -> list[str]:
        failures = [
            event.workflow_task_failed_event_attributes.failure
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        # The codec encrypts failure messages too.
        return [str(await converter.decode_failure(failure)) for failure in failures]

    failures = await eventually(task_failures, bool)
    assert rulebook.rules_ref(unknown) in failures[0]
    rulebook.install([unknown])
    await product.state_becomes(handle, CycleState.SCHEDULED)
    status = await eventually(lambda: product.status(handle), lambda s: len(s.history) >= 1)
    assert status.history[0].event == "listed"
