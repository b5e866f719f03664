"""The intake's fan-out starts cycles under the worker's program book, or none at all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.cycles import Cycles
from client.cycles import CycleClient
from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.calls import PendingCycles
from models.cycle import Citizen, cycle_id
from models.programs import ProgramBook, load_programs
from models.reference import load_reference
from simulators.cohort import sample_cohort
from store.engine import create_engine, create_schema, create_sessions
from store.queries import add_listings, pending_listings


async def test_a_worker_without_the_months_rules_starts_nothing_and_says_so(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A worker whose program book lacks the month (deployed with other program data) fails
    the fan-out loudly and leaves the listing pending; with the book it starts the cycle."""
    month = "2027-03"
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
    await create_schema(engine)
    sessions = create_sessions(engine)
    citizen = Citizen.model_validate(sample_cohort(1, program="gas", seed=7)[0])
    ref = f"ref-{uuid.uuid4().hex[:12]}"
    async with sessions() as session:
        await add_listings(
            session,
            program="gas",
            month=month,
            citizens=[(ref, citizen)],
            listed_at=datetime(2027, 3, 1, tzinfo=UTC),
        )
    activity = ActivityEnvironment()
    pending = PendingCycles(program="gas", month=month)

    with pytest.raises(ValueError, match="no gas program version covers 2027-03"):
        await activity.run(
            Cycles(_cycles(env, ProgramBook(versions=())), sessions).start_pending, pending
        )
    async with sessions() as session:
        assert len(await pending_listings(session, program="gas", month=month, limit=10)) == 1
    started = await activity.run(
        Cycles(_cycles(env, load_programs(EXAMPLE_PROGRAM_DATA)), sessions).start_pending, pending
    )

    assert started == 1
    await env.client.get_workflow_handle(cycle_id("gas", month, ref)).terminate("test over")
    await engine.dispose()


def _cycles(env: WorkflowEnvironment, programs: ProgramBook) -> CycleClient:
    return CycleClient(
        env.client,
        task_queue=f"nobody-polls-{uuid.uuid4().hex[:8]}",
        programs=programs,
        reference=load_reference(EXAMPLE_PROGRAM_DATA),
        send_spread=timedelta(0),
    )
