"""Builds the worker: every workflow and activity, the outside systems' clients, the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Plugin, Worker, WorkerConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.bmg import Bmg
from activities.cycles import Cycles
from activities.food_reporting import FoodReporting
from activities.gas_provider import GasProvider
from activities.records import Records
from activities.reference import ReferenceData
from activities.sdu import Sdu
from activities.sms_gateway import SmsGateway
from activities.wallet import Wallet
from models.codec import parse_keys, product_converter
from models.programs import load_programs
from models.reference import load_reference
from models.settings import Settings
from store.engine import create_engine, create_schema, create_sessions
from workflows import WORKFLOWS
from workflows.cycle_machinery import sms_queue
from workflows.month_intake import intake_queue

# Fan-outs at once on one worker's intake queue: each already has 64 starts or signals in flight.
INTAKE_ACTIVITIES = 4


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """Connect to the Temporal cluster of ``settings`` (local, self-hosted or Temporal Cloud)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=settings.temporal_tls or settings.temporal_api_key is not None,
        runtime=runtime,
    )


def product_client(client: Client, settings: Settings) -> Client:
    """The same connection with the product's data converter: pydantic payloads, encrypted."""
    config = client.config()
    config["data_converter"] = product_converter(parse_keys(settings.payload_keys))
    return Client(**config)


def create_worker(client: Client, settings: Settings, **overrides: Any) -> Worker:
    """A Temporal worker with every workflow and activity of the product.

    It runs two more workers beside it, on the SMS queue and the intake queue. The database
    schema is created when the worker starts, and the HTTP clients and the engine are closed when
    it stops. ``overrides`` go to the main :class:`temporalio.worker.Worker` (tests use
    ``max_cached_workflows=0`` to replay every task).
    """
    client = product_client(client, settings)
    engine = create_engine(settings.database_url)
    sessions = create_sessions(engine)
    clients = _OutsideClients(settings)
    reference = load_reference()
    wallet, records = Wallet(clients.wallet, sessions), Records(sessions)
    gas = GasProvider(clients.gas, sessions)
    cycles = Cycles(
        client,
        sessions,
        task_queue=settings.task_queue,
        programs=load_programs(),
        reference=reference,
        send_spread=timedelta(minutes=settings.send_spread_minutes),
    )
    activities = [
        Bmg(clients.bmg, pseudonym_key=settings.pseudonym_key).find_phone,
        Sdu(clients.sdu).journal,
        wallet.issue_voucher,
        wallet.notify,
        gas.find_account,
        gas.hand_over,
        gas.settle,
        ReferenceData(reference).gas_tariff,
        records.record_cycle,
        records.record_consent,
        records.consent_on_file,
        records.account_taken,
        records.claim_account,
        records.record_activation,
        records.record_redemption,
        # Fan-outs scheduled on the cycles' queue before the intake queue existed still run here
        # (an activity's retries stay on the queue it was scheduled on).
        cycles.start_pending,
        cycles.announce_handover,
        cycles.start_handover,
        FoodReporting(clients.food, sessions).daily_report,
    ]
    options: dict[str, Any] = {
        "task_queue": settings.task_queue,
        "workflows": WORKFLOWS,
        "activities": activities,
        "workflow_runner": SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("pydantic")
        ),
    }
    # SMS go out from a queue of their own, rate-limited across every worker to the gateway's
    # contracted rate (the same value on each worker: the last poller's wins).
    sms = Worker(
        client,
        task_queue=sms_queue(settings.task_queue),
        activities=[SmsGateway(clients.sms, sessions).send],
        max_task_queue_activities_per_second=settings.sms_per_second,
    )
    # A month's fan-outs (starting the listed cycles, telling them of the hand-over) run from a
    # queue of their own, so that the cycles' replies never queue behind thousands of starts.
    intake = Worker(
        client,
        task_queue=intake_queue(settings.task_queue),
        activities=[cycles.start_pending, cycles.announce_handover],
        max_concurrent_activities=INTAKE_ACTIVITIES,
    )
    options["plugins"] = [_Resources(engine, clients, sms, intake)]
    return Worker(client, **(options | overrides))


class _OutsideClients:
    """One ``httpx.AsyncClient`` per outside system, closed with the worker."""

    def __init__(self, settings: Settings) -> None:
        timeout = httpx.Timeout(settings.http_timeout_s)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)

        def client(url: str, **headers: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits, headers=headers)

        self.bmg = client(settings.bmg_url)
        self.sdu = client(settings.sdu_url)
        self.sms = client(
            settings.sms_gateway_url, Authorization=f"Bearer {settings.sms_gateway_token}"
        )
        self.wallet = client(settings.wallet_url)
        self.gas = client(settings.gas_provider_url)
        self.food = client(settings.food_provider_url)

    async def aclose(self) -> None:
        for http in (self.bmg, self.sdu, self.sms, self.wallet, self.gas, self.food):
            await http.aclose()


class _Resources(Plugin):
    """Creates the schema before the worker polls, and releases connections after it stops."""

    def __init__(
        self, engine: AsyncEngine, clients: _OutsideClients, sms: Worker, intake: Worker
    ) -> None:
        self._engine = engine
        self._clients = clients
        self._sms = sms
        self._intake = intake

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        await create_schema(self._engine)
        try:
            async with self._sms, self._intake:
                await next(worker)
        finally:
            await self._clients.aclose()
            await self._engine.dispose()

    def configure_replayer(self, config: Any) -> Any:
        return config

    def run_replayer(self, replayer: Any, histories: Any, next: Any) -> Any:
        return next(replayer, histories)
