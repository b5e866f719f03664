"""Benchmarks of the README's performance section (``make bench``).

``benchmarks.cycles`` runs whole gas months under the time-skipping test server;
``benchmarks.intake`` measures listing and the SMS webhook against a local dev server. Each
compares the product with :class:`Trivial`, a workflow that does nothing, on the same server in
the same run, so the figures say what the product costs over Temporal itself on this machine.

``Trivial`` lives here rather than in a benchmark module because the workflow sandbox re-imports
a workflow's module, and a module run with ``python -m`` is ``__main__``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from temporalio import workflow
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

T = TypeVar("T")
STARTS_IN_FLIGHT = 64  # as many starts as the intake activity (activities.cycles) keeps in flight


@workflow.defn(name="BenchTrivial")
class Trivial:
    """The baseline: completes in its first workflow task."""

    @workflow.run
    async def run(self, number: int) -> int:
        return number


async def bounded(
    items: Iterable[T], call: Callable[[T], Awaitable[object]], *, in_flight: int
) -> None:
    """Await ``call(item)`` for every item, at most ``in_flight`` at a time."""
    limit = asyncio.Semaphore(in_flight)

    async def one(item: T) -> None:
        async with limit:
            await call(item)

    await asyncio.gather(*(one(item) for item in items))


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """Print ``(label, value)`` rows as two aligned columns under ``title``."""
    width = max(len(label) for label, _ in rows)
    print(title)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def quiet_core_logs() -> None:
    """Keep the SDK core's warnings (slow workflow tasks under load) out of the printed table.

    Call before any Temporal client exists; errors still show.
    """
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet))))


def machine() -> str:
    """CPUs and load average, to read the figures against: other work on the machine counts."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min), {five:.1f} (5 min)"
