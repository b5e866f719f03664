"""``python -m workers``: one worker process, connected to ``TEMPORAL_ADDRESS``.

Logs are JSON lines with the cycle's workflow ID; the SDK's metrics are served for Prometheus on
``METRICS_PORT`` (``/metrics``) when it is set. SIGTERM or SIGINT shut the worker down gracefully:
it stops polling and finishes the tasks in hand.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from client.connection import connect
from client.logs import configure_logging
from models.settings import Settings, refuse_dev_secrets, settings_from_environment
from workers import create_worker, ensure_schedules, setup_namespace

log = logging.getLogger("workers")


async def serve(settings: Settings) -> None:
    """Run a worker until SIGINT or SIGTERM, then shut it down gracefully."""
    runtime = None
    if settings.metrics_port:
        address = f"0.0.0.0:{settings.metrics_port}"
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    client = await connect(settings, runtime=runtime)
    await setup_namespace(client)
    await ensure_schedules(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with create_worker(client, settings):
        log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        await stop.wait()
        log.info("shutting down: finishing the tasks in hand")


def main() -> None:
    settings = settings_from_environment()
    refuse_dev_secrets(settings)
    configure_logging()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
