"""A listing's fan-out does not hold up the running cycles: each fan-out's cycles share a
fairness key, and the dev server (as ``make run`` starts it) dispatches the keys in turn."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.cycles import fan_out_key
from devtools.embedded import EXAMPLE_PROGRAM_DATA, run_embedded
from models.cycle import cycle_id
from models.programs import load_programs
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort, seed_world
from simulators.state import World
from tests.harness import eventually

BACKLOG = 200


@workflow.defn(name="FairnessProbe")
class Probe:
    """Completes in its first workflow task, as a cycle's first task nearly does."""

    @workflow.run
    async def run(self, number: int) -> int:
        return number


# Fairness orders the tasks within a partition, and a worker polls the partitions at random: with
# four (the default) where the task lands would decide more than its key.
ONE_PARTITION = {
    "matching.numTaskqueueReadPartitions": "1",
    "matching.numTaskqueueWritePartitions": "1",
}


@pytest.mark.parametrize("dev_server", [ONE_PARTITION], indirect=True)
async def test_a_running_cycles_task_is_dispatched_ahead_of_a_fan_outs_backlog(
    dev_server: WorkflowEnvironment,
) -> None:
    """A task under another key, queued after a fan-out's backlog of 200, is dispatched among
    the first few, not after the 200 (it would be last in a first-in-first-out queue)."""
    client = dev_server.client
    queue = f"fairness-{uuid.uuid4().hex[:8]}"
    start = partial(client.start_workflow, Probe.run, task_queue=queue)
    listing = Priority(fairness_key=fan_out_key("gas", "2027-01", "backlog"))
    for number in range(BACKLOG):  # no worker yet: they wait in the queue's backlog
        await start(number, id=f"{queue}-listed-{number}", priority=listing)
    running = await start(-1, id=f"{queue}-reply", priority=Priority(fairness_key="running"))

    # Two slots: the server, not the worker, decides which queued task goes next. (No sandbox:
    # this module imports what a workflow's may not.)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Probe],
        max_concurrent_workflow_tasks=2,
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        await running.result()
        reply_done = (await running.describe()).close_time
        assert reply_done is not None
        ahead = 0
        async for listed in client.list_workflows(f'TaskQueue="{queue}"'):
            done = listed.close_time
            if listed.id != running.id and done is not None and done < reply_done:
                ahead += 1
    assert ahead < BACKLOG // 4, f"{ahead} of the backlog's {BACKLOG} went first"


async def test_a_listing_starts_its_cycles_under_its_fan_outs_fairness_key(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Citizens listed through the API get cycles started by the intake's fan-out, all under
    one fairness key naming the program, the month and the fan-out."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'product.db'}",
        task_queue=f"cycles-{uuid.uuid4().hex[:8]}",
    )
    program = "gas"
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    month = calendar.earliest_open_month(partial(book.for_month, program), datetime.now(UTC))
    assert month is not None
    cohort = sample_cohort(3, 11, program=program)
    world = World()
    seed_world(world, cohort, accounts=0)
    client = dev_server.client
    async with run_embedded(client, settings, world) as product:
        token = next(t for t, r in product.settings.tokens_by_role().items() if r == "sdu")
        entries = [{k: v for k, v in person.items() if k != "phone"} for person in cohort]
        async with httpx.AsyncClient(
            base_url=product.api_url, headers={"Authorization": f"Bearer {token}"}
        ) as sdu:
            answer = await sdu.post(
                f"/v1/programs/{program}/months/{month}/recipients",
                json={"recipients": entries},
            )
        assert answer.status_code == 202, answer.text
        key = product.settings.pseudonym_key
        ids = [cycle_id(program, month, citizen_ref(key, p["iin"])) for p in cohort]
        keys = {await eventually(partial(_fairness_key, client, i), bool) for i in ids}
    (fan_out,) = keys
    assert fan_out.startswith(f"{program}-{month}-")


async def _fairness_key(client: Client, workflow_id: str) -> str:
    """The cycle's fairness key, or "" while it is not started (or started without one)."""
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError:  # not started yet
        return ""
    return described.raw_description.workflow_execution_info.priority.fairness_key
