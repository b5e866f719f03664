"""The product inside another process (tests, ``make simulate``, benchmarks): simulators on
loopback, the API served over HTTP, and the worker, all against a Temporal client you give."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from api import create_app
from models.settings import Settings
from simulators.embedded import serve
from simulators.servers import run_simulators
from simulators.state import World
from workers import create_worker


@dataclass(frozen=True)
class Embedded:
    settings: Settings
    world: World
    api_url: str


@asynccontextmanager
async def run_embedded(
    client: Client, settings: Settings, world: World, **worker_options: Any
) -> AsyncIterator[Embedded]:
    """Run simulators, API and worker until the block ends; the gateway calls the API's webhook.

    ``settings`` give the database, task queue and secrets; the outside systems' URLs are
    replaced by the simulators'.
    """
    async with run_simulators(
        world,
        sms_token=settings.sms_gateway_token,
        webhook_url=None,
        webhook_secret=settings.sms_webhook_secret,
    ) as urls:
        settings = settings.model_copy(
            update={name.lower(): url for name, url in urls.as_env().items()}
        )
        app = create_app(client, settings)
        async with app.router.lifespan_context(app), serve(app) as api_url:
            world.webhook_url = f"{api_url}/v1/sms/inbound"
            async with create_worker(client, settings, **worker_options):
                yield Embedded(settings=settings, world=world, api_url=api_url)
