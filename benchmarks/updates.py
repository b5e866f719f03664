"""The raw update round-trip: the baseline the webhook and the activation are held to."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from benchmarks.common import STARTS_IN_FLIGHT, bounded, percentile
from benchmarks.echo import Echo


@dataclass
class UpdateRun:
    """N update round-trips at a fixed concurrency."""

    in_flight: int
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


async def raw_updates(client: Client, n: int, in_flight: int) -> UpdateRun:
    """N update round-trips on N echo workflows (``benchmarks.echo.Echo``, own worker and task
    queue), ``in_flight`` at a time, through the Python client: no HTTP, no database."""
    queue = f"bench-echo-{uuid.uuid4().hex[:6]}"
    run = UpdateRun(in_flight=in_flight)
    async with Worker(client, task_queue=queue, workflows=[Echo]):
        handles: list[WorkflowHandle[Echo, None]] = []

        async def start(number: int) -> None:
            handles.append(
                await client.start_workflow(Echo.run, id=f"echo-{queue}-{number}", task_queue=queue)
            )

        await bounded(range(n), start, in_flight=STARTS_IN_FLIGHT)

        async def ping(pair: tuple[int, WorkflowHandle[Echo, None]]) -> None:
            number, handle = pair
            began = time.perf_counter()
            await handle.execute_update(Echo.ping, number)
            run.latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await bounded(list(enumerate(handles)), ping, in_flight=in_flight)
        run.wall_s = time.perf_counter() - began

        async def stop(handle: WorkflowHandle[Echo, None]) -> None:
            await handle.signal(Echo.stop)

        await bounded(handles, stop, in_flight=STARTS_IN_FLIGHT)
    return run
