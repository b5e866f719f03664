"""The intake's fan-out starts cycles under the rules the list was screened by."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.cycles import Cycles
from models.calls import PendingCycles
from models.cycle import Citizen, cycle_id
from models.programs import ProgramBook, load_programs
from models.reference import load_reference
from simulators.cohort import sample_cohort
from store.engine import create_engine, create_schema, create_sessions
from store.queries import add_listings


async def test_the_fan_out_uses_the_intakes_rules_not_its_own_book(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A worker whose program book lacks the month (deployed with other program data) still
    starts the listed cycles under the rules the intake admitted them by; without those rules
    it can start nothing."""
    month = "2027-03"
    rules = load_programs().for_month("gas", month)
    assert rules is not None
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
    cycles = Cycles(
        env.client,
        sessions,
        task_queue=f"nobody-polls-{uuid.uuid4().hex[:8]}",
        programs=ProgramBook(versions=()),
        reference=load_reference(),
    )
    activity = ActivityEnvironment()

    without = await activity.run(cycles.start_pending, PendingCycles(program="gas", month=month))
    started = await activity.run(
        cycles.start_pending, PendingCycles(program="gas", month=month, rules=rules)
    )

    assert (without, started) == (0, 1)
    await env.client.get_workflow_handle(cycle_id("gas", month, ref)).terminate("test over")
    await engine.dispose()
