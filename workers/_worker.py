"""Builds the worker: every workflow and activity, the outside systems' clients, the database."""

from __future__ import annotations

import compileall
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.plugin import SimplePlugin
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from activities.bmg import Bmg
from activities.cycles import Cycles
from activities.food_reporting import FoodReporting
from activities.gas_provider import GasProvider
from activities.records import Records
from activities.reference import ReferenceData
from activities.sdu import Sdu
from activities.sms_gateway import Pace, SmsGateway
from activities.wallet import Wallet
from client.connection import product_client
from client.cycles import CycleClient
from models import rulebook
from models.programs import load_programs
from models.reference import ReferenceSource, load_reference
from models.settings import Settings
from store.engine import create_engine, create_schema, create_sessions
from workflows import catalog
from workflows.catalog import WORKFLOWS
from workflows.month_intake import intake_queue

# Fan-outs at once on one worker's intake queue: each already has 16 starts or 64 signals in
# flight (activities.cycles).
INTAKE_ACTIVITIES = 4
# A cached cycle's task (a reply, a wallet request) waits this long for its worker to take it
# before the server hands it to the task queue. Not less: on the task queue it waits behind a
# listing's backlog, and fairness does not let it past when its fan-out's key has done much more
# work than the new listing's (a running month's replies during next month's listing, in
# ``python -m benchmarks.intake``: p99 46 to 120 s with 2 s here, 11 to 14 s with 10 s).
STICKY_START_TIMEOUT = timedelta(seconds=10)
# Cycles a worker keeps in memory between their tasks (the SDK's default is 1,000). A listing of
# more than that (one API call holds up to 10,000) pushes the running month's cycles out, and a
# cycle out of the cache is rebuilt for its next task, a citizen's reply: the worker fetches its
# whole history and replays it in a new sandbox, with the listing's first tasks going on. Measured
# with ``python -m benchmarks.intake`` (10,000 listed, 200 consents during the listing), the
# replies' tasks ran a median 5.3 s at 1,000 (their p99 during the listing 3.5 times alone) and
# 0.34 s at 30,000 (1.25 times). A cached cycle costs 20 to 25 KB of the worker's memory: the
# process's peak RSS went from 376 MiB to 555 MiB with 7,700 to 10,000 more cycles cached.
CACHED_CYCLES = 20_000
# Workflow-task polls a worker keeps open (the SDK's default is 5: one on the task queue, four on
# the worker's sticky queue, where a cached cycle's tasks go). During a listing a reply's task
# waited on the sticky queue up to 8.5 s for a poll, and past ``STICKY_START_TIMEOUT`` it went to
# the task queue behind the listing (21 to 110 s; 14 of 200 replies answered 503). With 20 polls
# it waited at most 3.7 s (the same benchmark, cache 30,000; the waits read from the histories).
WORKFLOW_TASK_POLLS = 20
RESOURCES = "social-wallet.worker-resources"
# How long an idle connection to an outside system is kept for reuse (see _OutsideClients).
KEEP_ALIVE_S = 2.0


def create_worker(client: Client, settings: Settings, **overrides: Any) -> Worker:
    """A Temporal worker with every workflow and activity of the product.

    It runs one more worker beside it, on the intake queue. The database
    schema is created when the worker starts, and the HTTP clients and the engine are closed when
    it stops. ``overrides`` go to the main :class:`temporalio.worker.Worker` (tests use
    ``max_cached_workflows=0`` to replay every task). The data converter and the workflow runner
    come with the client's product plugin (:mod:`client.plugin`), which replaces any given here.
    """
    # A deployment's file that contradicts the shipped data stops the worker here, named,
    # before anything is opened.
    reference = load_reference(settings.program_data_dir)
    programs = load_programs(settings.program_data_dir)
    rulebook.install(programs.versions)  # the rules the cycles name by reference
    _compile_workflows()
    client = product_client(client, settings)
    engine = create_engine(settings.database_url)
    sessions = create_sessions(engine)
    clients = _OutsideClients(settings)
    wallet, records = Wallet(clients.wallet, sessions), Records(sessions)
    gas = GasProvider(clients.gas, sessions)
    cycles = Cycles(
        CycleClient(
            client,
            task_queue=settings.task_queue,
            programs=programs,
            reference=reference,
            send_spread=settings.send_spread,
        ),
        sessions,
    )
    activities = [
        Bmg(clients.bmg, pseudonym_key=settings.pseudonym_key).find_phone,
        Sdu(clients.sdu, pseudonym_key=settings.pseudonym_key).journal,
        wallet.issue_voucher,
        wallet.notify,
        gas.find_account,
        gas.hand_over,
        gas.settle,
        ReferenceData(
            ReferenceSource(settings.program_data_dir),
            allow_sample=settings.allow_sample_figures,
        ).gas_tariff,
        records.record_cycle,
        records.record_consent,
        records.consent_on_file,
        records.account_taken,
        records.claim_account,
        records.record_activation,
        SmsGateway(clients.sms, sessions, Pace(settings.sms_per_second)).send,
        records.record_redemption,
        cycles.start_handover,
        FoodReporting(clients.food, sessions).daily_report,
    ]
    options: dict[str, Any] = {
        "task_queue": settings.task_queue,
        "workflows": WORKFLOWS,
        "activities": activities,
        "sticky_queue_schedule_to_start_timeout": STICKY_START_TIMEOUT,
        "max_cached_workflows": CACHED_CYCLES,
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(maximum=WORKFLOW_TASK_POLLS),
    }
    # A month's fan-outs (starting the listed cycles, telling them of the hand-over) run from a
    # queue of their own, so that the cycles' replies never queue behind thousands of starts.
    intake = Worker(
        client,
        task_queue=intake_queue(settings.task_queue),
        activities=[cycles.start_pending, cycles.announce_handover],
        max_concurrent_activities=INTAKE_ACTIVITIES,
    )
    # The main worker's run alone holds these resources: they are not part of the product plugin,
    # whose run_context would also wrap every Replayer's run (and the SMS and intake workers').
    resources = partial(_resources, engine, clients, intake)
    options["plugins"] = [SimplePlugin(RESOURCES, run_context=resources)]
    return Worker(client, **(options | overrides))


def _compile_workflows() -> None:
    """Cache the workflows' bytecode beside their source, where it is missing or stale.

    The sandbox imports a workflow's module afresh for every run it starts (a cycle's start, or
    its return to the cache); without cached bytecode (``PYTHONDONTWRITEBYTECODE``, a fresh
    checkout) each of those imports compiles the source again: a tenth of the worker's CPU
    during a listing (``make bench``). Where the folder is read-only nothing is written, and the
    image compiles at build.
    """
    compileall.compile_dir(Path(catalog.__file__).parent, quiet=2)


class _OutsideClients:
    """One ``httpx.AsyncClient`` per outside system, closed with the worker."""

    def __init__(self, settings: Settings) -> None:
        timeout = httpx.Timeout(settings.http_timeout_s)
        # An idle connection is dropped well before the usual 5 s after which servers (uvicorn,
        # the simulators') close it: at httpx's default, also 5 s, a request could go out on a
        # connection the server was closing that instant, and fail its attempt with a read
        # error (retried, but logged with a traceback; seen in ``make simulate``).
        limits = httpx.Limits(
            max_connections=200, max_keepalive_connections=50, keepalive_expiry=KEEP_ALIVE_S
        )

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


@asynccontextmanager
async def _resources(
    engine: AsyncEngine, clients: _OutsideClients, intake: Worker
) -> AsyncIterator[None]:
    """Around the main worker's run: the schema is created before it polls, the intake worker
    runs beside it, and the connections are released after it stops."""
    await create_schema(engine)
    try:
        async with intake:
            yield
    finally:
        await clients.aclose()
        await engine.dispose()
