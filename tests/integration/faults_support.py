"""What the fault tests share: rules whose moments are now, the worker as a process of its own,
a dev server that can be stopped and started again, and bounded polls over many cycles.

The tests run in real time on a real dev server, so the rules they give their cycles put the send
day on today (Asia/Almaty) and open the sending window now or a few seconds from now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from client.cycles import CycleClient
from devtools.embedded import EXAMPLE_PROGRAM_DATA, rules_due_now
from devtools.stack import temporal_dev_server
from models.cycle import Citizen, CycleState, cycle_id
from models.programs import ProgramBook, ProgramVersion, load_programs
from models.reference import load_reference
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort
from simulators.embedded import free_ports
from simulators.servers import run_simulators
from simulators.state import World
from workflows.citizen_cycle import CitizenCycle

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
Handle = WorkflowHandle[Any, Any]
# A query waits for the workflow's task in hand (a local activity may hold it): don't hang on it.
QUERY = timedelta(seconds=5)


def rules_for_now(
    program: str = "gas", *, opens_in: timedelta | None = None
) -> tuple[str, ProgramVersion]:
    """This month and a version of ``program`` whose consent request is due now.

    The send day is today (local), the deadlines are the month's end, and the sending window
    covers the rest of the day, opening ``opens_in`` from now when given.
    """
    now = datetime.now(calendar.ALMATY)
    month = calendar.month_of(now)
    till_midnight = calendar.day_start(month, now.day) + timedelta(days=1) - now
    if till_midnight < timedelta(minutes=15):
        pytest.skip("the crafted send day (today, Asia/Almaty) would end during the test")
    opens = time(0)
    if opens_in is not None:
        opens = (now + opens_in).time().replace(microsecond=0)
    return rules_due_now(program, opens=opens)


def enlist(world: World, n: int, *, program: str = "gas", seed: int = 1) -> list[Citizen]:
    """``n`` citizens of ``program``'s territory, each with a number in BMG."""
    people = sample_cohort(n, seed, program=program)
    for person in people:
        world.subscribers[person["iin"]] = person["phone"]
    return [
        Citizen.model_validate({k: v for k, v in person.items() if k != "phone"})
        for person in people
    ]


def cycle_client(
    client: Client, settings: Settings, rules: ProgramVersion | None = None
) -> CycleClient:
    """The typed client of the product's cycles; ``rules`` alone in its book, if given."""
    programs = (
        load_programs(EXAMPLE_PROGRAM_DATA) if rules is None else ProgramBook(versions=(rules,))
    )
    return CycleClient(
        client,
        task_queue=settings.task_queue,
        programs=programs,
        reference=load_reference(EXAMPLE_PROGRAM_DATA),
        send_spread=timedelta(0),
    )


async def start_cycles(
    client: Client,
    settings: Settings,
    month: str,
    rules: ProgramVersion,
    citizens: Sequence[Citizen],
) -> list[Handle]:
    """Start the citizens' cycles directly (the listing is not under test here)."""
    starter = cycle_client(client, settings, rules)
    cycles = [
        starter.cycle_input(
            rules.program,
            month,
            citizen=citizen,
            citizen_ref=citizen_ref(settings.pseudonym_key, citizen.iin),
        )
        for citizen in citizens
    ]
    started = await asyncio.gather(*(starter.start(c) for c in cycles))
    assert all(started)
    return [client.get_workflow_handle(cycle_id(c.program, month, c.citizen_ref)) for c in cycles]


async def states(handles: Sequence[Handle]) -> list[CycleState | None]:
    """Each cycle's state, or None where the query did not answer (a worker restarting)."""

    async def one(handle: Handle) -> CycleState | None:
        try:
            status = await handle.query(CitizenCycle.status, rpc_timeout=QUERY)
            return status.state
        except RPCError:
            return None

    return list(await asyncio.gather(*(one(h) for h in handles)))


async def confirmed(handles: Sequence[Handle]) -> list[bool]:
    """Whether each cycle has its voucher issued and its confirmation SMS accepted."""

    async def one(handle: Handle) -> bool:
        try:
            status = await handle.query(CitizenCycle.status, rpc_timeout=QUERY)
        except RPCError:
            return False
        sent = [e.detail.get("kind") for e in status.history if e.event == "sms_sent"]
        return status.state == CycleState.VOUCHER_ISSUED and "confirmation" in sent

    return list(await asyncio.gather(*(one(h) for h in handles)))


def all_in(state: CycleState) -> Callable[[list[CycleState | None]], bool]:
    return lambda found: all(s == state for s in found)


async def poll(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    seconds: float,
    every: float = 0.25,
) -> T:
    """Poll ``probe`` until ``ok`` holds; fail after ``seconds`` with the last value seen."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await probe()
        if ok(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {seconds}s")
        await asyncio.sleep(every)


async def local_activity_attempts(handle: Handle, activity_type: str) -> list[int]:
    """The attempt on which each local activity of ``activity_type`` succeeded, in order.

    Read from the markers the SDK records for local activities (their ``data`` detail); a failed
    attempt, retried after a workflow timer, has a marker of its own, with its failure.
    """
    attempts = []
    for event in (await handle.fetch_history()).events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and not marker.HasField("failure"):
            details = marker.details
            if "data" in details:
                data = json.loads(details["data"].payloads[0].data)
                if data.get("activity_type") == activity_type:
                    attempts.append(int(data["attempt"]))
    return attempts


def sms_kinds(world: World, phone: str) -> list[str]:
    """The kinds of SMS the gateway accepted for ``phone`` (from their idempotency keys)."""
    return [m.idempotency_key.rsplit(":", 1)[1] for m in world.sent_to(phone)]


@contextlib.asynccontextmanager
async def simulated(world: World, settings: Settings) -> AsyncIterator[Settings]:
    """The outside systems' simulators on loopback; yields ``settings`` pointing at them."""
    async with run_simulators(
        world,
        sms_token=settings.sms_gateway_token,
        webhook_url=None,
        webhook_secret=settings.sms_webhook_secret,
    ) as urls:
        yield settings.model_copy(update=urls.as_settings())


class WorkerProcess:
    """``python -m workers`` in a process of its own, configured by environment variables."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self._env = {
            **os.environ,
            **{
                name.upper(): str(value)
                for name, value in settings.model_dump().items()
                if value is not None
            },
            # The production entry point, run here with the embedded stack's dev secrets.
            "ALLOW_DEV_SECRETS": "1",
        }
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start the process and return once it polls its task queue."""
        offset = self._log.stat().st_size if self._log.exists() else 0
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "workers"],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        async def polling() -> bool:
            assert self.alive, f"the worker exited; see {self._log}"
            return b"worker polling" in self._log.read_bytes()[offset:]

        await poll(polling, bool, seconds=30, every=0.1)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, whatever was in hand is lost."""
        assert self._process is not None
        self._process.kill()
        self._process.wait(timeout=10)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped in time (waiting without blocking the
        simulators, which may be answering its last calls)."""
        if not self.alive:
            return
        assert self._process is not None
        self._process.terminate()

        async def stopped() -> bool:
            return not self.alive

        with contextlib.suppress(AssertionError):
            await poll(stopped, bool, seconds=10, every=0.1)
        if self.alive:
            self.kill()


@contextlib.asynccontextmanager
async def worker_process(settings: Settings, log: Path) -> AsyncIterator[WorkerProcess]:
    """A started worker process, stopped when the block ends (if it is still running)."""
    worker = WorkerProcess(settings, log)
    try:
        await worker.start()
        yield worker
    finally:
        await worker.stop()


class DevServer:
    """``temporal server start-dev`` on a file database, which can be stopped and restarted on
    the same data and port."""

    def __init__(self, data: Path) -> None:
        self._data = data
        self.port, self._ui_port = free_ports(2)
        self._running: contextlib.AsyncExitStack | None = None

    async def start(self) -> str:
        assert self._running is None
        self._running = contextlib.AsyncExitStack()
        return await self._running.enter_async_context(
            temporal_dev_server(self._data, port=self.port, ui_port=self._ui_port)
        )

    async def stop(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            await running.aclose()
