"""``python -m benchmarks.fanout_replies [-n 20000]``: the webhook during a listing's fan-out.

Issue 13 item 3: replies (and the wallet's requests, the same kind of update of a running cycle)
must not queue behind a listing's fan-out. Each mode runs on a fresh ``temporal server
start-dev`` (``devtools.stack``, its flags and dynamic config as ``make run`` has them) with the
product embedded in this process (worker, API over loopback HTTP, simulators):

1. A first batch of citizens is listed and, once their cycles are past their phone check, signed
   replies are POSTed to ``/v1/sms/inbound``, ``--in-flight`` at a time: the webhook **alone**.
2. N more citizens are listed through the API while the same replies go on, again and again,
   until every listed cycle is past its phone check (its first workflow task and its BMG
   lookup, what the fan-out puts on the queues): the webhook **during** the listing.

Each reply is an update of its cycle (a cycle not yet texted answers ``late`` from its workflow),
so its latency is one trip through the cycles' task queue. The target: p99 during the listing
within 2x the p99 alone. ``default`` runs the dev server with its default dynamic config, which
ignores fairness keys. ``fairness`` runs it as ``make run`` does
(``devtools.stack.DYNAMIC_CONFIG``): each fan-out's cycles share a fairness key
(``activities.cycles.fan_out_key``) and take turns with the running cycles' tasks that reach the
task queue (a cached cycle's task goes there when its busy worker has left it for
``workers._worker.STICKY_START_TIMEOUT``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from benchmarks.common import list_citizens, machine, print_table, quiet_core_logs, token_of
from benchmarks.outside import ATTEMPTS, answers_of
from devtools.embedded import EXAMPLE_PROGRAM_DATA, Embedded, run_embedded
from devtools.stack import DYNAMIC_CONFIG, temporal_dev_server
from models.programs import PROGRAMS, ProgramVersion, load_programs
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort, seed_world
from simulators.embedded import free_ports
from simulators.state import World
from simulators.webhook import deliver, inbound_message
from store.engine import Sessions, create_engine, create_sessions
from store.reports import count_checked, count_reachable, reachable_citizens
from workers import setup_namespace

BATCH = 10_000  # the API's limit per call
WAIT_LIMIT_S = 1_800.0
REPLY_TIMEOUT_S = 300.0
MODES = ("default", "fairness")


@dataclass
class Latencies:
    """One phase's replies: each request's seconds and what it was answered."""

    seconds: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)

    def quantile(self, q: int) -> float:
        if len(self.seconds) < 2:
            return self.seconds[0] if self.seconds else float("nan")
        return statistics.quantiles(self.seconds, n=100)[q - 1]

    def summary(self) -> dict[str, Any]:
        return {
            "replies": len(self.seconds),
            "p50_ms": round(self.quantile(50) * 1000),
            "p99_ms": round(self.quantile(99) * 1000),
            "max_ms": round(max(self.seconds, default=float("nan")) * 1000),
            "answers": dict(self.answers),
        }


@dataclass(frozen=True)
class Month:
    program: str
    month: str
    rules: ProgramVersion


async def measure(
    *,
    n: int = 20_000,
    replies: int = 500,
    in_flight: int = 8,
    program: str = "gas",
    modes: tuple[str, ...] = MODES,
    during_limit_s: float = 900.0,
) -> dict[str, Any]:
    """Measure the webhook alone and during an ``n``-citizen listing, in each of ``modes``.

    Returns, per mode, the alone and during figures (replies, p50/p99/max in ms, answers), the
    listing's seconds and ``p99_ratio`` (during / alone; the target is at most 2). The replies
    during the listing stop after ``during_limit_s`` even if it is not through by then.
    """
    month = _month_to_list(program)
    results: dict[str, Any] = {"n": n, "in_flight": in_flight, "month": month.month}
    for mode in modes:
        results[mode] = await _one_mode(
            mode, month, n=n, replies=replies, in_flight=in_flight, limit_s=during_limit_s
        )
    return results


async def _one_mode(
    mode: str, month: Month, *, n: int, replies: int, in_flight: int, limit_s: float
) -> dict[str, Any]:
    first = -(-replies * 10 // 9)  # every 10th citizen has no phone
    with tempfile.TemporaryDirectory(prefix=f"bench-fanout-{mode}-") as tmp:
        port, ui_port = free_ports(2)
        async with temporal_dev_server(
            Path(tmp) / "temporal",
            port=port,
            ui_port=ui_port,
            dynamic_config=DYNAMIC_CONFIG if mode == "fairness" else {},
        ) as at:
            client = await Client.connect(at)
            await setup_namespace(client)
            settings = Settings(
                temporal_address=at,
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'product.db'}",
                task_queue=f"bench-fanout-{mode}",
            )
            world = World()
            cohort = sample_cohort(first + n, 7, program=month.program)
            seed_world(world, cohort, accounts=0)
            engine = create_engine(settings.database_url)
            try:
                async with run_embedded(client, settings, world) as product:
                    sessions = create_sessions(engine)
                    phases = _Phases(product, sessions, month, in_flight, limit_s)
                    return await phases.run(cohort, first, replies)
            finally:
                await engine.dispose()


class _Phases:
    """The first batch, the replies alone, then the listing with the replies during it."""

    def __init__(
        self,
        product: Embedded,
        sessions: Sessions,
        month: Month,
        in_flight: int,
        limit_s: float,
    ) -> None:
        self._product, self._sessions, self._month = product, sessions, month
        self._in_flight, self._limit_s = in_flight, limit_s

    async def run(self, cohort: list[dict[str, Any]], first: int, replies: int) -> dict[str, Any]:
        product, sessions, month = self._product, self._sessions, self._month
        await _post(product, month, cohort[:first])
        reachable = partial(_count, count_reachable, sessions, month)
        await _until(reachable, replies, "ready for a reply")
        checked = partial(_count, count_checked, sessions, month)
        expected = await checked() + len(cohort) - first
        senders = await _senders(product, sessions, month, cohort[:first], replies)
        async with _Webhook(product, month, self._in_flight) as webhook:
            alone = Latencies()
            await webhook.send(senders, alone)
            during = Latencies()
            began = time.perf_counter()
            listing = asyncio.create_task(_post(product, month, cohort[first:]))
            through = asyncio.create_task(_until(checked, expected, "past the phone check"))
            limit = asyncio.create_task(asyncio.sleep(self._limit_s))
            stop = asyncio.create_task(_first_of(through, limit))
            while not stop.done():
                await webhook.send(senders, during, stop=stop)
            listed_s = time.perf_counter() - began
            await listing
            limit.cancel()
            through.cancel()
        return {
            "alone": alone.summary(),
            "during": during.summary(),
            "listing_s": round(listed_s, 1),
            "through": listed_s < self._limit_s,
            "p99_ratio": round(during.quantile(99) / alone.quantile(99), 2),
        }


async def _first_of(*tasks: asyncio.Task[None]) -> None:
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)


class _Webhook:
    """Signed replies POSTed to the product's webhook, ``in_flight`` at a time."""

    def __init__(self, product: Embedded, month: Month, in_flight: int) -> None:
        self._url = f"{product.api_url}/v1/sms/inbound"
        self._secret = product.settings.sms_webhook_secret
        self._month = month
        self._in_flight = in_flight
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        self._http = httpx.AsyncClient(timeout=REPLY_TIMEOUT_S, limits=limits)

    async def __aenter__(self) -> _Webhook:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def send(
        self, senders: list[str], into: Latencies, stop: asyncio.Future[None] | None = None
    ) -> None:
        """One reply from each sender (``in_flight`` at a time); those not yet sent when
        ``stop`` is done are skipped."""
        queue = list(reversed(senders))

        async def worker() -> None:
            while queue and not (stop is not None and stop.done()):
                await self._reply(queue.pop(), into)

        await asyncio.gather(*(worker() for _ in range(self._in_flight)))

    async def _reply(self, phone: str, into: Latencies) -> None:
        rules = self._month.rules
        sms = inbound_message(phone, rules.short_number, rules.reply_codes.agree)
        sent = time.perf_counter()
        delivery = await deliver(self._http, self._url, self._secret, sms, attempts=ATTEMPTS)
        into.answers.update(answers_of(delivery))
        into.seconds.append(time.perf_counter() - sent)


def _month_to_list(program: str) -> Month:
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    month = calendar.earliest_open_month(partial(book.for_month, program), datetime.now(UTC))
    rules = book.for_month(program, month) if month else None
    if month is None or rules is None:
        raise SystemExit(f"no {program} month is open for listing now")
    return Month(program=program, month=month, rules=rules)


async def _post(product: Embedded, month: Month, cohort: list[dict[str, Any]]) -> None:
    """List ``cohort`` through the API as SDU would."""
    token = token_of(product.settings, "sdu")
    await list_citizens(product.api_url, token, month.program, month.month, cohort)


async def _senders(
    product: Embedded,
    sessions: Sessions,
    month: Month,
    cohort: list[dict[str, Any]],
    replies: int,
) -> list[str]:
    """The phones of ``replies`` citizens whose cycles a reply reaches."""
    key = product.settings.pseudonym_key
    phones = {citizen_ref(key, person["iin"]): person["phone"] for person in cohort}
    async with sessions() as session:
        refs = await reachable_citizens(
            session, program=month.program, month=month.month, limit=replies
        )
    return [phones[ref] for ref in refs]


async def _count(query: Callable[..., Awaitable[int]], sessions: Sessions, month: Month) -> int:
    async with sessions() as session:
        counted: int = await query(session, program=month.program, month=month.month)
        return counted


async def _until(count: Callable[[], Awaitable[int]], expected: int, what: str) -> None:
    """Poll (bounded, about once a second) until ``count()`` reaches ``expected``."""
    began = time.perf_counter()
    while (found := await count()) < expected:
        if time.perf_counter() - began > WAIT_LIMIT_S:
            raise RuntimeError(f"{what}: {found} of {expected} after {WAIT_LIMIT_S:.0f} s")
        await asyncio.sleep(1.0)


def _print(results: dict[str, Any]) -> None:
    for mode in MODES:
        if mode not in results:
            continue
        figures = results[mode]
        alone, during = figures["alone"], figures["during"]
        print_table(
            f"Webhook, {results['in_flight']} in flight, {mode}: alone, then during a listing "
            f"of {results['n']} citizens ({results['month']}, {figures['listing_s']} s "
            + ("until all past their phone check)" if figures["through"] else "measured)"),
            [
                ("alone: replies, p50, p99", _row(alone)),
                ("during: replies, p50, p99", _row(during)),
                ("answers during", ", ".join(f"{k} {v}" for k, v in during["answers"].items())),
                ("p99 during / p99 alone", f"{figures['p99_ratio']:.2f} (target <= 2)"),
            ],
        )
        print()


def _row(phase: dict[str, Any]) -> str:
    return (
        f"{phase['replies']:6d}, {phase['p50_ms']:6d} ms, {phase['p99_ms']:6d} ms "
        f"(max {phase['max_ms']} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fanout_replies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", type=int, default=20_000, help="citizens to list (20000)")
    parser.add_argument("--program", choices=PROGRAMS, default="gas")
    parser.add_argument("--replies", type=int, default=500, help="repliers (500)")
    parser.add_argument("--in-flight", type=int, default=8, help="replies in flight (8)")
    parser.add_argument("--mode", choices=MODES, action="append", help="(both by default)")
    parser.add_argument("--during-limit", type=float, default=900.0, help="seconds (900)")
    args = parser.parse_args()
    quiet_core_logs()
    print(f"Machine at the start: {machine()}\n")
    results = asyncio.run(
        measure(
            n=args.n,
            replies=args.replies,
            in_flight=args.in_flight,
            program=args.program,
            modes=tuple(args.mode or MODES),
            during_limit_s=args.during_limit,
        )
    )
    _print(results)
    print(f"Machine at the end: {machine()}")


if __name__ == "__main__":
    main()
