"""``python -m workers``: one worker process, connected to ``TEMPORAL_ADDRESS``."""

from __future__ import annotations

import asyncio
import logging
import signal

from temporalio.client import Client

from models.settings import Settings
from workers import create_worker, ensure_schedules, setup_namespace


async def serve(settings: Settings) -> None:
    """Run a worker until SIGINT or SIGTERM, then shut it down gracefully."""
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    await setup_namespace(client)
    await ensure_schedules(client, settings)
    worker = create_worker(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        logging.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        await stop.wait()
        logging.info("shutting down: finishing the tasks in hand")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main()
