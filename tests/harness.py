"""The product running inside a test: worker, simulators, and helpers that read like the spec."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from client.connection import product_client
from client.cycles import CycleClient, handover_id, intake_id
from devtools.embedded import run_embedded
from models.cycle import Citizen, CycleState, CycleStatus, Reply, cycle_id
from models.programs import ProgramVersion, load_programs
from models.reference import load_reference
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort
from simulators.state import Account, World
from simulators.webhook import send_reply
from store.engine import create_engine, create_sessions
from store.queries import cycle_ids, listed_months

T = TypeVar("T")
_messages = itertools.count(1)


@dataclass
class Product:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    world: World
    api_url: str

    def api(self, role: str) -> httpx.AsyncClient:
        """An HTTP client of the product's API holding ``role``'s token."""
        token = next(t for t, r in self.settings.tokens_by_role().items() if r == role)
        return httpx.AsyncClient(
            base_url=self.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    async def text_back(self, citizen: Citizen, rules: ProgramVersion, text: str) -> str:
        """The citizen replies by SMS through the gateway; returns the webhook's ``result``."""
        _, deliveries = await send_reply(
            self.world,
            from_=self.phone(citizen),
            to=rules.short_number,
            text=text,
            received_at=await self.now(),
        )
        assert deliveries[-1].status == 200, deliveries[-1]
        result: str = deliveries[-1].body["result"]
        return result

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(calendar.ALMATY)

    async def sleep_until(self, moment: datetime) -> None:
        """Move the test server's clock to ``moment`` (it never goes back)."""
        delta = moment - await self.now()
        if delta > timedelta(0):
            await self.env.sleep(delta)

    async def next_month(self, program: str) -> tuple[str, ProgramVersion]:
        """The first month, at least one month ahead, whose list is still open."""
        book = load_programs(self.settings.program_data_dir)
        month = calendar.next_month(calendar.month_of(await self.now()))
        while (rules := book.for_month(program, month)) is None:
            month = calendar.next_month(month)
        return month, rules

    def citizen(self, program: str, *, with_phone: bool = True, **changes: Any) -> Citizen:
        """A fresh citizen of ``program``'s territory, known to BMG unless ``with_phone=False``."""
        person = sample_cohort(1, program=program, seed=next(_messages))[0]
        citizen = Citizen.model_validate({**person, **changes})
        if with_phone:
            self.world.subscribers[citizen.iin] = person["phone"]
        else:
            self.world.subscribers.pop(citizen.iin, None)
        return citizen

    def phone(self, citizen: Citizen) -> str:
        return self.world.subscribers[citizen.iin]

    async def list(
        self, rules: ProgramVersion, month: str, citizen: Citizen
    ) -> WorkflowHandle[Any, Any]:
        """SDU lists ``citizen`` for ``month`` through the API; their cycle starts at once."""
        record = citizen.model_dump(mode="json", exclude_none=True)
        async with self.api("sdu") as sdu:
            answer = await sdu.post(
                f"/v1/programs/{rules.program}/months/{month}/recipients",
                json={"recipients": [record]},
            )
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] + answer.json()["already_listed"] == 1, answer.text
        return self.handle(rules.program, month, citizen)

    async def stop_cycles(self) -> None:
        """Terminate what this test left running: the shared test server would otherwise wait
        for its worker, gone with the test, whenever the clock passes one of its timers."""
        engine = create_engine(self.settings.database_url)
        async with create_sessions(engine)() as session:
            cycles = await cycle_ids(session)
            months = await listed_months(session)
        await engine.dispose()
        coordinators = {
            workflow_id(program, month)
            for program, month in months
            for workflow_id in (intake_id, handover_id)
        }
        for workflow_id in {*cycles, *coordinators}:
            try:
                await self.client.get_workflow_handle(workflow_id).terminate("test finished")
            except RPCError:
                pass  # already closed

    def handle(self, program: str, month: str, citizen: Citizen) -> WorkflowHandle[Any, Any]:
        ref = citizen_ref(self.settings.pseudonym_key, citizen.iin)
        return self.client.get_workflow_handle(cycle_id(program, month, ref))

    @property
    def cycles(self) -> CycleClient:
        """The product's typed client of its cycles (the book the API lists by)."""
        return CycleClient(
            self.client,
            task_queue=self.settings.task_queue,
            programs=load_programs(self.settings.program_data_dir),
            reference=load_reference(self.settings.program_data_dir),
            send_spread=self.settings.send_spread,
        )

    async def status(self, handle: WorkflowHandle[Any, Any]) -> CycleStatus:
        return await self.cycles.status(handle.id)

    async def reply(
        self, handle: WorkflowHandle[Any, Any], text: str, message_id: str | None = None
    ) -> str:
        """The citizen answers by SMS; returns what the cycle made of it."""
        reply = Reply(
            message_id=message_id or f"in-{next(_messages)}",
            text=text,
            received_at=await self.now(),
        )
        return await self.cycles.reply(handle.id, reply)

    def sms(self, citizen: Citizen) -> list[str]:
        """The kinds of SMS the gateway accepted for ``citizen``, oldest first."""
        return [
            m.idempotency_key.rsplit(":", 1)[1] for m in self.world.sent_to(self.phone(citizen))
        ]

    async def issued_voucher(
        self, program: str, *, month: str | None = None, **changes: Any
    ) -> tuple[Citizen, ProgramVersion, WorkflowHandle[Any, Any], CycleStatus]:
        """A citizen who consented on the send day: their voucher is issued, not yet activated."""
        if month is None:
            month, rules = await self.next_month(program)
        else:
            found = load_programs(self.settings.program_data_dir).for_month(program, month)
            assert found is not None
            rules = found
        citizen = self.citizen(program, **changes)
        cycle = await self.list(rules, month, citizen)
        await self.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
        await self.state_becomes(cycle, CycleState.AWAITING_CONSENT)
        assert await self.reply(cycle, "21*1") == "consent"
        status = await self.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
        return citizen, rules, cycle, status

    def account(self, region: str = "AST") -> str:
        """A personal account known to the gas provider, in ``region``."""
        number = f"{next(_messages):010d}"
        self.world.accounts[number] = Account(
            account_number=number, holder="Test Holder", address="Test street 1", region=region
        )
        return number

    async def sms_becomes(self, citizen: Citizen, kinds: list[str]) -> None:
        """Wait (bounded) until the gateway has accepted exactly ``kinds`` for ``citizen``."""

        async def sent() -> list[str]:
            return self.sms(citizen)

        await eventually(sent, lambda found: found == kinds)

    async def state_becomes(
        self, handle: WorkflowHandle[Any, Any], state: CycleState
    ) -> CycleStatus:
        """Wait (bounded) until the cycle is in ``state``; it may not have started yet."""

        async def probe() -> CycleStatus | None:
            try:
                return await self.status(handle)
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise

        found = await eventually(probe, lambda s: s is not None and s.state == state)
        assert found is not None
        return found


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, seconds: float = 30.0
) -> T:
    """Poll ``probe`` until ``ok`` holds (activities run in real time after a clock jump)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await probe()
        if ok(value) or asyncio.get_running_loop().time() > deadline:
            assert ok(value), f"still {value!r} after {seconds}s"
            return value
        await asyncio.sleep(0.05)


@asynccontextmanager
async def run_product(
    env: WorkflowEnvironment,
    plain: Client,
    *,
    database_url: str,
    task_queue: str,
    **changes: Any,
) -> AsyncIterator[Product]:
    """The product against ``env``'s server; what the test started is terminated afterwards."""
    settings = Settings(database_url=database_url, task_queue=task_queue, **changes)
    product: Product | None = None
    try:
        async with run_embedded(plain, settings, World()) as running:
            product = Product(
                env=env,
                client=product_client(plain, settings),
                settings=running.settings,
                world=running.world,
                api_url=running.api_url,
            )
            yield product
    finally:
        # After the worker stops: terminating a workflow in the middle of one of its tasks
        # leaves the test server's time-skipping lock held.
        if product is not None:
            await product.stop_cycles()


@asynccontextmanager
async def fresh_product(
    env: WorkflowEnvironment, tmp_path: Path, **changes: Any
) -> AsyncIterator[Product]:
    """The product on a fresh task queue and database under ``tmp_path``, with ``changes`` to
    its settings. Its worker gets a plain client, so the clock moves only when a test calls
    ``env.sleep``."""
    plain = await Client.connect(
        env.client.service_client.config.target_host, namespace=env.client.namespace
    )
    async with run_product(
        env,
        plain,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'product.db'}",
        task_queue=f"cycles-{uuid.uuid4().hex[:8]}",
        **changes,
    ) as running:
        yield running
