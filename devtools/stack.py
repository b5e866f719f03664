"""``python -m devtools.stack`` (``make run``): the whole product on this machine.

Starts the Temporal dev server (Web UI included, its data kept in ``.run/`` so a restart keeps the
month), the simulators of the outside systems, the worker and the API in one process; then lists
a sample cohort through the API for each program's earliest month still open, whose cycles wait
for their send day in the Web UI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import uvicorn
from temporalio.client import Client

from api import create_app
from devtools.embedded import with_example_data
from models.programs import PROGRAMS, load_programs
from models.search import ALL
from models.settings import Settings
from rules import calendar
from simulators.cohort import sample_cohort, seed_world
from simulators.servers import run_simulators
from simulators.state import SYSTEMS, World
from workers import create_worker, ensure_schedules, setup_namespace

BIN = Path(sys.executable).parent
# The dev server's dynamic config, as a production cluster should have it (docs/DEPLOYMENT.md):
# task-queue fairness, so that a listing's fan-out (one fairness key, activities.cycles) takes
# turns with the running cycles' replies and wallet requests instead of going ahead of them.
DYNAMIC_CONFIG = {"matching.enableFairness": "true"}


def dynamic_config_args(config: Mapping[str, str] = DYNAMIC_CONFIG) -> list[str]:
    """``temporal server start-dev`` arguments setting ``config`` (values are JSON)."""
    return [
        arg for key, value in config.items() for arg in ("--dynamic-config-value", f"{key}={value}")
    ]


@contextlib.asynccontextmanager
async def temporal_dev_server(
    data: Path,
    *,
    port: int,
    ui_port: int,
    codec_endpoint: str | None = None,
    dynamic_config: Mapping[str, str] = DYNAMIC_CONFIG,
) -> AsyncIterator[str]:
    """Run ``temporal server start-dev`` with a file database; yield its address.

    With ``codec_endpoint``, the Web UI decodes payloads through the product's codec routes.
    ``dynamic_config`` replaces the product's (benchmarks compare with the server's defaults).
    """
    data.mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(data / "temporal.db"),
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "error",
        "--ui-disable-news-fetch",
        *(("--ui-codec-endpoint", codec_endpoint) if codec_endpoint else ()),
        *(arg for key in ALL for arg in ("--search-attribute", f"{key.name}=Keyword")),
        *dynamic_config_args(dynamic_config),
    ]
    log = (data / "temporal.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                await Client.connect(address)
                break
            except RuntimeError:
                if process.poll() is not None:
                    log_file = data / "temporal.log"
                    raise RuntimeError(f"temporal dev server exited; see {log_file}") from None
                await asyncio.sleep(0.2)
        yield address
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        log.close()


async def list_sample_cohort(api_url: str, settings: Settings, size: int) -> None:
    """List a sample cohort of each program for its earliest open month, through the API."""
    token = next(t for t, role in settings.tokens_by_role().items() if role == "sdu")
    book = load_programs(settings.program_data_dir)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as sdu:
        for program in PROGRAMS:
            month = calendar.earliest_open_month(
                partial(book.for_month, program), datetime.now(UTC)
            )
            if month is None:
                print(f"  {program}: no month open for listing")
                continue
            cohort = [
                {k: v for k, v in person.items() if k != "phone"}
                for person in sample_cohort(size, 7, program=program)
            ]
            answer = await sdu.post(
                f"/v1/programs/{program}/months/{month}/recipients", json={"recipients": cohort}
            )
            print(f"  {program} {month}: {answer.status_code} {answer.json()}")


async def run(args: argparse.Namespace) -> None:
    data = Path(args.data)
    # The local Web UI decodes with nobody typing a token: the codec is open (dev only) and
    # answers the UI's origin. Either can be changed from the environment (CODEC_DEV_OPEN=false
    # shows what the UI looks like to someone without the ops role).
    ui_origins = f"http://localhost:{args.ui_port},http://127.0.0.1:{args.ui_port}"
    settings = with_example_data(
        Settings(
            database_url=os.environ.get(
                "DATABASE_URL", f"sqlite+aiosqlite:///{data / 'voucher.db'}"
            ),
            codec_dev_open=os.environ.get("CODEC_DEV_OPEN", "true"),
            codec_cors_origins=os.environ.get("CODEC_CORS_ORIGINS", ui_origins),
        )
    )
    codec_endpoint = f"http://localhost:{settings.api_port}/codec"
    world = World()
    for program in PROGRAMS:
        seed_world(
            world,
            sample_cohort(args.cohort, 7, program=program),
            accounts=args.cohort if program == "gas" else 0,
        )
    ports = {name: args.sim_base_port + i for i, name in enumerate(SYSTEMS)}
    async with (
        temporal_dev_server(
            data, port=args.temporal_port, ui_port=args.ui_port, codec_endpoint=codec_endpoint
        ) as address,
        run_simulators(
            world,
            sms_token=settings.sms_gateway_token,
            webhook_url=f"http://127.0.0.1:{settings.api_port}/v1/sms/inbound",
            webhook_secret=settings.sms_webhook_secret,
            ports=ports,
        ) as urls,
    ):
        settings = settings.model_copy(update={"temporal_address": address, **urls.as_settings()})
        client = await Client.connect(address, namespace=settings.temporal_namespace)
        await setup_namespace(client)
        await ensure_schedules(client, settings)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(client, settings),
                host="127.0.0.1",
                port=settings.api_port,
                log_level="warning",
            )
        )
        async with create_worker(client, settings):
            api = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            api_url = f"http://127.0.0.1:{settings.api_port}"
            print("Listing the sample cohort:")
            await list_sample_cohort(api_url, settings, args.cohort)
            print(
                f"""
The product is running.
  Temporal Web UI   http://localhost:{args.ui_port}  (filter e.g. CycleState="SCHEDULED")
                    decoded by {codec_endpoint} (dev mode: no token needed)
  API               {api_url}  (OpenAPI docs at {api_url}/docs)
  Simulators        {", ".join(f"{k}={v}" for k, v in urls.as_env().items())}
  Tokens            {settings.api_tokens}
  Data              {data}/ (delete it to start afresh)
A citizen's reply: POST {urls.sms_gateway_url}/sim/replies
                    {{"from": "+77…", "to": "1414", "text": "21*1"}}
Stop with Ctrl-C.""",
                flush=True,
            )
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            await stop.wait()
            server.should_exit = True
            await api


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__)
    parser.add_argument("--data", default=".run")
    parser.add_argument("--cohort", type=int, default=50, help="citizens per program")
    parser.add_argument("--temporal-port", type=int, default=7233)
    parser.add_argument("--ui-port", type=int, default=8233)
    parser.add_argument("--sim-base-port", type=int, default=8101)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
