"""``python -m benchmarks.cycles [-n 1000]``: whole gas months under the time-skipping server.

What it measures: N gas cycles run from listing to their end through a whole month on
Temporal's time-skipping test server, with the product's worker, activities and simulated
outside systems in this process (``devtools.embedded``; SQLite in a temporary directory). The
cycles are started directly (``client.cycles.CycleClient.start``,
64 starts in flight, as the product's intake does), every citizen has a phone, and the clock is
moved to the send day, where half of them consent through the ``reply`` update
(``CycleClient.reply``); the other half get the reminder and expire at the deadline,
and the consenting half's vouchers lapse unactivated when activation closes.

How to read it: "wall time" runs from the first start to the last cycle closed, with its phases
below it; "cycles per second" is N over that time. Because the clock only waits for work, this
is the work a month costs, compressed: every workflow task, activity and database write of N
cycles, not the dev server's or a real month's pacing. History events, workflow tasks and
activities per cycle come from the histories of a sample of cycles. The baseline runs N workflows
that complete in their first task (``benchmarks.Trivial``, own worker and task queue) on the same
server in the same run; the ratio is cycles/s over trivial workflows/s, i.e. roughly one over how
many trivial workflows' worth of work one month of a cycle is.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks import (
    STARTS_IN_FLIGHT,
    Trivial,
    bounded,
    machine,
    print_table,
    quiet_core_logs,
)
from client.connection import product_client
from client.cycles import CycleClient
from devtools.embedded import EXAMPLE_PROGRAM_DATA, run_embedded, time_skipping_server
from models.cycle import Citizen, CycleInput, CycleStatus, Reply, cycle_id
from models.programs import ProgramVersion, load_programs
from models.reference import load_reference
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort, seed_world
from simulators.state import World

MINUTE = timedelta(minutes=1)
WAIT_LIMIT_S = 600.0  # for any one phase to finish


@dataclass
class MonthRun:
    """What the product's run measured."""

    n: int
    month: str
    consenting: int
    phases: list[tuple[str, float]] = field(default_factory=list)
    wall_s: float = 0.0
    replies: Counter[str] = field(default_factory=Counter)
    sms: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    events: list[int] = field(default_factory=list)
    workflow_tasks: list[int] = field(default_factory=list)
    activities: list[int] = field(default_factory=list)


@dataclass
class TrivialRun:
    n: int
    started_s: float
    wall_s: float


async def run(n: int, sample: int) -> None:
    """Run the product's month and the baseline on one test server, then print the table."""
    print(f"Machine at the start: {machine()}\n")
    async with time_skipping_server() as server:
        with tempfile.TemporaryDirectory(prefix="bench-cycles-") as tmp:
            settings = Settings(
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
                task_queue="bench-cycles",
            )
            month = await _month_run(server.env, server.plain, server.clock, settings, n, sample)
        trivial = await _trivial_run(server.plain, n)
    _print(month, trivial)


async def _month_run(
    env: WorkflowEnvironment, plain: Client, clock: Client, settings: Settings, n: int, sample: int
) -> MonthRun:
    world = World()
    cohort = sample_cohort(n, 7, program="gas")
    seed_world(world, cohort, without_phone_every=0, accounts=0)
    month, rules = await _whole_month_ahead(env)
    async with run_embedded(plain, settings, world) as running:
        client = product_client(plain, running.settings)
        key = running.settings.pseudonym_key
        product = CycleClient(
            client,
            task_queue=running.settings.task_queue,
            programs=load_programs(running.settings.program_data_dir),
            reference=load_reference(running.settings.program_data_dir),
            send_spread=timedelta(0),
        )
        cycles = [
            product.cycle_input(
                "gas",
                month,
                citizen=Citizen.model_validate({k: v for k, v in p.items() if k != "phone"}),
                citizen_ref=citizen_ref(key, p["iin"]),
            )
            for p in cohort
        ]
        ids = [cycle_id("gas", month, cycle.citizen_ref) for cycle in cycles]
        consenting = ids[::2]
        result = MonthRun(n=n, month=month, consenting=len(consenting))
        sent = _sms_counter(world)
        began = last = time.perf_counter()

        def phase(label: str) -> None:
            nonlocal last
            now = time.perf_counter()
            result.phases.append((label, now - last))
            last = now

        async def start(cycle: CycleInput) -> None:
            await product.start(cycle)

        await bounded(cycles, start, in_flight=STARTS_IN_FLIGHT)
        phase(f"start {n} cycles")
        send = calendar.send_moment(rules, month)
        await _advance(env, clock, send + MINUTE)
        await _until(lambda: sent()["consent_request"], n, "consent requests")
        phase(f"phone checks, then {n} consent SMS on the send day")

        async def consent(workflow_id: str) -> None:
            reply = Reply(
                message_id=f"bench-{uuid.uuid4().hex}",
                text=rules.reply_codes.agree,
                received_at=send,
            )
            result.replies[await product.reply(workflow_id, reply)] += 1

        await bounded(consenting, consent, in_flight=STARTS_IN_FLIGHT)
        await _until(lambda: sent()["confirmation"], len(consenting), "confirmations")
        phase(f"{len(consenting)} consents by update, then their confirmation SMS")
        await _advance(env, clock, calendar.reminder_due(rules, send) + MINUTE)
        await _until(lambda: sent()["reminder"], n - len(consenting), "reminders")
        phase(f"{n - len(consenting)} reminders 7 days later")
        await _advance(env, clock, calendar.month_end(month) + MINUTE)

        async def close(workflow_id: str) -> None:
            handle = client.get_workflow_handle(workflow_id, result_type=CycleStatus)
            status = await asyncio.wait_for(handle.result(), WAIT_LIMIT_S)
            result.states[status.state.value] += 1

        await bounded(ids, close, in_flight=STARTS_IN_FLIGHT)
        phase("deadline and activation close: every cycle closed")
        result.wall_s = time.perf_counter() - began
        result.sms = sent()
        others = ids[1::2]
        for workflow_id in _spread(consenting, sample - sample // 2) + _spread(others, sample // 2):
            await _count_history(client.get_workflow_handle(workflow_id), result)
    return result


async def _whole_month_ahead(env: WorkflowEnvironment) -> tuple[str, ProgramVersion]:
    """The first gas month starting after the test server's now, so the whole month runs."""
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    month = calendar.month_of(await env.get_current_time())
    for _ in range(24):
        month = calendar.next_month(month)
        rules = book.for_month("gas", month)
        if rules is not None:
            return month, rules
    raise SystemExit("no gas program version in the next 24 months")


async def _advance(env: WorkflowEnvironment, clock: Client, moment: datetime) -> None:
    """``env.sleep`` to ``moment``, on a connection that can wait for N cycles' burst of work.

    The test server keeps its clock still until every task it handed out is done, so the call
    can block for minutes: longer than the default 30 s RPC timeout, and longer than the test
    server tolerates the client's HTTP/2 keep-alive pings on a busy call (after about 90 s it
    drops the connection: "transport error"). ``clock`` is connected without keep-alive.
    """
    delta = moment - await env.get_current_time()
    if delta <= timedelta(0):
        return
    request = SleepRequest()
    request.duration.FromTimedelta(delta)
    await clock.test_service.unlock_time_skipping_with_sleep(
        request, timeout=timedelta(seconds=WAIT_LIMIT_S)
    )


async def _until(count: Callable[[], int], expected: int, what: str) -> None:
    """Poll (bounded) until ``count()`` reaches ``expected``: activities run in real time."""
    deadline = time.perf_counter() + WAIT_LIMIT_S
    while (found := count()) < expected:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what}: {found} of {expected} after {WAIT_LIMIT_S:.0f} s")
        await asyncio.sleep(0.05)


def _sms_counter(world: World) -> Callable[[], Counter[str]]:
    """The SMS the gateway accepted so far, by kind (the idempotency key's suffix)."""

    def count() -> Counter[str]:
        return Counter(m.idempotency_key.rsplit(":", 1)[1] for m in world.messages)

    return count


def _spread(ids: list[str], k: int) -> list[str]:
    """``k`` of ``ids``, evenly spaced."""
    return ids[:: max(1, len(ids) // max(k, 1))][:k]


async def _count_history(handle: WorkflowHandle[Any, Any], result: MonthRun) -> None:
    events = (await handle.fetch_history()).events
    kinds = Counter(event.event_type for event in events)
    result.events.append(len(events))
    result.workflow_tasks.append(kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED])
    result.activities.append(kinds[EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED])


async def _trivial_run(client: Client, n: int) -> TrivialRun:
    """Start N trivial workflows (64 in flight) on their own worker and wait for them all."""
    task_queue = f"bench-trivial-{uuid.uuid4().hex[:8]}"
    handles: list[WorkflowHandle[Any, int]] = []

    async def start(number: int) -> None:
        handle = await client.start_workflow(
            Trivial.run, number, id=f"{task_queue}-{number}", task_queue=task_queue
        )
        handles.append(handle)

    async def finish(handle: WorkflowHandle[Any, int]) -> None:
        await asyncio.wait_for(handle.result(), WAIT_LIMIT_S)

    async with Worker(client, task_queue=task_queue, workflows=[Trivial]):
        began = time.perf_counter()
        await bounded(range(n), start, in_flight=STARTS_IN_FLIGHT)
        started = time.perf_counter() - began
        await bounded(handles, finish, in_flight=STARTS_IN_FLIGHT)
        return TrivialRun(n=n, started_s=started, wall_s=time.perf_counter() - began)


def _print(month: MonthRun, trivial: TrivialRun) -> None:
    def listing(counts: Counter[str]) -> str:
        return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))

    def spread(values: list[int]) -> str:
        return f"mean {statistics.fmean(values):.1f}, max {max(values)}"

    cycles_per_s = month.n / month.wall_s
    trivial_per_s = trivial.n / trivial.wall_s
    sampled = len(month.events)
    rows = [
        ("month", month.month),
        ("cycles", f"{month.n} ({month.consenting} consent, {month.n - month.consenting} not)"),
        *((f"  {label}", f"{seconds:8.1f} s") for label, seconds in month.phases),
        ("wall time", f"{month.wall_s:8.1f} s"),
        ("cycles per second", f"{cycles_per_s:8.1f}"),
        (f"history events per cycle ({sampled})", spread(month.events)),
        (f"workflow tasks per cycle ({sampled})", spread(month.workflow_tasks)),
        (f"activities per cycle ({sampled})", spread(month.activities)),
        ("replies answered", listing(month.replies)),
        ("SMS sent", listing(month.sms)),
        ("final states", listing(month.states)),
    ]
    print_table("Gas cycles, a whole month each, on the time-skipping test server", rows)
    print()
    print_table(
        "Baseline: trivial workflows, same server, same run",
        [
            ("workflows", str(trivial.n)),
            ("  started", f"{trivial.started_s:8.1f} s"),
            ("wall time (started and completed)", f"{trivial.wall_s:8.1f} s"),
            ("workflows per second", f"{trivial_per_s:8.1f}"),
        ],
    )
    print()
    print(f"Ratio: cycles/s / trivial workflows/s = {cycles_per_s / trivial_per_s:.3f}")
    print(f"Machine at the end: {machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cycles",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", type=int, default=1000, help="gas cycles (default 1000)")
    parser.add_argument("--sample", type=int, default=50, help="histories to count (50)")
    args = parser.parse_args()
    if args.n < 2 or args.sample < 1:
        parser.error("-n must be at least 2 and --sample at least 1")
    quiet_core_logs()
    asyncio.run(run(args.n, args.sample))


if __name__ == "__main__":
    main()
