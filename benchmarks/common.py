"""What the benchmarks share: bounded concurrency, listing, polling, printing."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

T = TypeVar("T")
# Starts (and other calls) the benchmarks keep in flight. The trivial baseline's starts: more
# than the intake activity's 16 (activities.cycles), the server's own rate past its saturation.
STARTS_IN_FLIGHT = 64
LIST_BATCH = 10_000  # the API's limit per call


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


def percentile(values: list[float], share: float) -> float:
    """The ``share`` (0-1) percentile of ``values``, nearest rank; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


def token_of(settings: Any, role: str) -> str:
    """The API token ``settings`` give ``role``."""
    tokens: dict[str, str] = settings.tokens_by_role()
    return next(token for token, holder in tokens.items() if holder == role)


@dataclass
class Listed:
    """What SDU's listing calls answered."""

    accepted: int = 0
    calls: int = 0
    posted_s: float = 0.0


async def list_citizens(
    api_url: str, token: str, program: str, month: str, cohort: list[dict[str, Any]]
) -> Listed:
    """List ``cohort`` (sample citizens, phones dropped) through the API as SDU would, in
    batches of at most 10,000."""
    entries = [{k: v for k, v in person.items() if k != "phone"} for person in cohort]
    listed = Listed()
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=600
    ) as sdu:
        began = time.perf_counter()
        for start in range(0, len(entries), LIST_BATCH):
            answer = await sdu.post(
                f"/v1/programs/{program}/months/{month}/recipients",
                json={"recipients": entries[start : start + LIST_BATCH]},
            )
            if answer.status_code != 202:
                raise RuntimeError(f"listing: {answer.status_code} {answer.text}")
            listed.accepted += answer.json()["accepted"]
            listed.calls += 1
        listed.posted_s = time.perf_counter() - began
    return listed


async def poll_until(
    count: Callable[[], Awaitable[int]], expected: int, what: str, *, limit_s: float = 900.0
) -> None:
    """Poll (bounded) until ``count()`` reaches ``expected``; every 2% of the time waited so
    far, at least 0.1 s apart (a count is a query the server under test answers too)."""
    began = time.perf_counter()
    while (found := await count()) < expected:
        waited = time.perf_counter() - began
        if waited > limit_s:
            raise RuntimeError(f"{what}: {found} of {expected} after {limit_s:.0f} s")
        await asyncio.sleep(max(0.1, waited / 50))


def replace_section(target: Path, begin: str, end: str, text: str) -> None:
    """Replace the part of ``target`` between the markers ``begin`` and ``end`` with ``text``
    (the README's and DEPLOYMENT's generated tables)."""
    document = target.read_text(encoding="utf-8")
    if begin not in document or end not in document:
        raise SystemExit(f"{target} has no {begin} … {end} section to replace")
    head, rest = document.split(begin, 1)
    _, tail = rest.split(end, 1)
    target.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")


def run_alone(
    database_url: str | None,
    measure: Callable[[str], Coroutine[Any, Any, T]],
    show: Callable[[T], None],
) -> None:
    """Run one benchmark on its own (``python -m benchmarks.<name>``): on ``database_url``, or a
    temporary SQLite file, between the machine's load at the start and at the end."""
    quiet_core_logs()
    print(f"Machine at the start: {machine()}\n")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'product.db'}"
        run: T = asyncio.run(measure(url))
    show(run)
    print(f"Machine at the end: {machine()}")
