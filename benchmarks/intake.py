"""``python -m benchmarks.intake [-n 20000]``: listing and the SMS webhook on a local dev server.

What it measures, against ``temporal server start-dev`` (file SQLite, free ports, a temporary
directory) with the product embedded in this process (worker, API over loopback HTTP, simulated
outside systems; ``devtools.embedded``), in this order:

1. Webhook. A first batch of citizens is listed (enough for ``--replies`` with a phone; every
   10th has none) and, once their cycles are ready, one signed reply (``21*1``) per citizen is
   POSTed to ``/v1/sms/inbound``, ``--in-flight`` at a time: replies per second over the batch
   and each request's latency. With a fixed number in flight, latency is about in-flight over
   throughput: lower ``--in-flight`` for the unloaded figure. This runs first, on a quiet
   system: a reply is an update of its cycle, and behind a listing's backlog (thousands of
   cycles' first tasks on the same task queue) it waits its turn, for minutes. The dev server
   runs in real time, so what the cycles are doing depends on today's date: if the month listed
   is the current one and its consent requests are already going out (a late addition, inside
   the sending window), they are ``AWAITING_CONSENT`` and a reply is a consent (a confirmation
   SMS and a voucher follow); otherwise they are ``SCHEDULED`` and each reply is routed to its
   cycle and answered ``late``. The output says which.
2. Baseline. N workflows that complete in their first task (``benchmarks.trivial``, own worker
   and task queue), started 64 in flight like the product's cycle starter: "started per second"
   is N over the time until all N exist in the server's visibility store.
3. Listing. N more citizens POSTed to the API in batches of 10,000, for the same month, as SDU
   would: the API writes each batch to the database and signals the month's intake, whose
   activity starts the cycles. "citizens started per second" is N over the time from the first
   POST until all N cycles exist (``WorkflowType="CitizenCycle"``); the ratio to the baseline
   (target at least 0.7) is what the intake path (HTTP, database, intake workflow, activity)
   costs over starting workflows directly. Each cycle then checks its phone (BMG), which takes
   the worker and the server longer: the table shows how many had when the last one started.
4. Memory: the peak RSS of this process (``resource.getrusage``), which holds the worker, the API,
   the simulators and the benchmark itself; the dev server is a separate process, not counted.

The default (20,000 citizens) takes about twelve minutes on two quiet cores (the README's
figures), longer on busy ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from benchmarks.common import (
    STARTS_IN_FLIGHT,
    bounded,
    machine,
    print_table,
    quiet_core_logs,
)
from benchmarks.trivial import Trivial
from devtools.embedded import EXAMPLE_PROGRAM_DATA, Embedded, run_embedded
from devtools.stack import temporal_dev_server
from models.cycle import CycleState
from models.programs import PROGRAMS, ProgramVersion, load_programs
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort, seed_world
from simulators.embedded import free_ports
from simulators.signing import sign
from simulators.state import World
from store.engine import Sessions, create_engine, create_sessions
from store.reports import count_checked, count_reachable, reachable_citizens
from workers import setup_namespace

BATCH = 10_000  # the API's limit per call
WAIT_LIMIT_S = 900.0
REPLY_TIMEOUT_S = 120.0


@dataclass
class Month:
    """The month being listed, and what its cycles do on arrival."""

    program: str
    month: str
    rules: ProgramVersion
    awaiting: bool  # texted on arrival: the cycles wait for consent right away


@dataclass
class Listing:
    accepted: int = 0
    calls: int = 0
    posted_s: float = 0.0
    exist_s: float = 0.0
    checked_at_exist: int = 0


@dataclass
class Starts:
    n: int
    started_s: float
    exist_s: float


@dataclass
class Webhook:
    listed: int
    ready_s: float
    in_flight: int
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)


async def run(args: argparse.Namespace) -> None:
    """Start a dev server, run the measurements, print the table."""
    print(f"Machine at the start: {machine()}\n")
    # Enough citizens for the webhook's replies (every 10th has no phone), then N to list.
    first = -(-args.replies * 10 // 9)
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        port, ui_port = free_ports(2)
        async with temporal_dev_server(Path(tmp) / "temporal", port=port, ui_port=ui_port) as at:
            client = await Client.connect(at)
            await setup_namespace(client)
            settings = Settings(
                temporal_address=at,
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'product.db'}",
                task_queue="bench-intake",
            )
            world = World()
            cohort = sample_cohort(first + args.n, 7, program=args.program)
            seed_world(world, cohort, accounts=0)
            month = _month_to_list(args.program)
            engine = create_engine(settings.database_url)
            try:
                async with run_embedded(client, settings, world) as product:
                    sessions = create_sessions(engine)
                    webhook = await _webhook(product, sessions, cohort[:first], month, args)
                    starts = await _trivial_starts(client, args.n)
                    listing = await _listing(client, product, sessions, cohort[first:], month)
            finally:
                await engine.dispose()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    _print(month, webhook, starts, listing, peak_mib)


def _month_to_list(program: str) -> Month:
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    now = datetime.now(UTC)
    month = calendar.earliest_open_month(partial(book.for_month, program), now)
    rules = book.for_month(program, month) if month else None
    if month is None or rules is None:
        raise SystemExit(f"no {program} month is open for listing now")
    awaiting = calendar.first_request_moment(rules, month, now) <= now
    return Month(program=program, month=month, rules=rules, awaiting=awaiting)


async def _post(product: Embedded, month: Month, cohort: list[dict[str, Any]]) -> Listing:
    """List ``cohort`` through the API as SDU would, in batches of at most 10,000."""
    token = next(t for t, role in product.settings.tokens_by_role().items() if role == "sdu")
    entries = [{k: v for k, v in person.items() if k != "phone"} for person in cohort]
    listing = Listing()
    async with httpx.AsyncClient(
        base_url=product.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=600
    ) as sdu:
        began = time.perf_counter()
        for start in range(0, len(entries), BATCH):
            answer = await sdu.post(
                f"/v1/programs/{month.program}/months/{month.month}/recipients",
                json={"recipients": entries[start : start + BATCH]},
            )
            if answer.status_code != 202:
                raise SystemExit(f"listing: {answer.status_code} {answer.text}")
            listing.accepted += answer.json()["accepted"]
            listing.calls += 1
        listing.posted_s = time.perf_counter() - began
    return listing


async def _webhook(
    product: Embedded,
    sessions: Sessions,
    cohort: list[dict[str, Any]],
    month: Month,
    args: argparse.Namespace,
) -> Webhook:
    """List a first batch, wait until its cycles are ready for a reply, then time the replies.

    Measured before the big listing: a reply is an update of its cycle, and behind a listing's
    backlog (thousands of cycles' first tasks on the same task queue) it waits its turn.
    """
    began = time.perf_counter()
    await _post(product, month, cohort)
    await _until(partial(_count_ready, sessions, month), args.replies, "cycles ready for a reply")
    webhook = Webhook(
        listed=len(cohort), ready_s=time.perf_counter() - began, in_flight=args.in_flight
    )
    key = product.settings.pseudonym_key
    phones = {citizen_ref(key, person["iin"]): person["phone"] for person in cohort}
    async with sessions() as session:
        refs = await reachable_citizens(
            session,
            program=month.program,
            month=month.month,
            state=_awaited(month),
            limit=args.replies,
        )
    senders = [phones[ref] for ref in refs]
    url, secret = f"{product.api_url}/v1/sms/inbound", product.settings.sms_webhook_secret
    limits = httpx.Limits(max_connections=args.in_flight, max_keepalive_connections=args.in_flight)

    async with httpx.AsyncClient(timeout=REPLY_TIMEOUT_S, limits=limits) as http:

        async def reply(phone: str) -> None:
            body = json.dumps(
                {
                    "message_id": f"bench-{uuid.uuid4().hex}",
                    "from": phone,
                    "to": month.rules.short_number,
                    "text": month.rules.reply_codes.agree,
                    "received_at": datetime.now(UTC).isoformat(),
                }
            ).encode()
            stamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "X-Timestamp": str(stamp),
                "X-Signature": sign(secret, stamp, body),
            }
            sent = time.perf_counter()
            try:
                answer = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                webhook.results[type(error).__name__] += 1
                return
            finally:
                webhook.latencies.append(time.perf_counter() - sent)
            ok = answer.status_code == 200
            webhook.results[answer.json()["result"] if ok else f"HTTP {answer.status_code}"] += 1

        began = time.perf_counter()
        await bounded(senders, reply, in_flight=args.in_flight)
        webhook.wall_s = time.perf_counter() - began
    return webhook


async def _trivial_starts(client: Client, n: int) -> Starts:
    """Start N trivial workflows, 64 in flight, and time them the way the listing is timed."""
    task_queue = f"bench-trivial-{uuid.uuid4().hex[:8]}"

    async def start(number: int) -> None:
        await client.start_workflow(
            Trivial.run, number, id=f"{task_queue}-{number}", task_queue=task_queue
        )

    async with Worker(client, task_queue=task_queue, workflows=[Trivial]):
        began = time.perf_counter()
        await bounded(range(n), start, in_flight=STARTS_IN_FLIGHT)
        started = time.perf_counter() - began
        await _until(partial(_visible, client, "BenchTrivial"), n, "trivial workflows")
        return Starts(n=n, started_s=started, exist_s=time.perf_counter() - began)


async def _listing(
    client: Client,
    product: Embedded,
    sessions: Sessions,
    cohort: list[dict[str, Any]],
    month: Month,
) -> Listing:
    """List N citizens; time until all their cycles exist."""
    before = await _visible(client, "CitizenCycle")
    checked_before = await _count_checked(sessions, month)
    began = time.perf_counter()
    listing = await _post(product, month, cohort)
    expected = before + listing.accepted
    await _until(partial(_visible, client, "CitizenCycle"), expected, "cycles started")
    listing.exist_s = time.perf_counter() - began
    listing.checked_at_exist = await _count_checked(sessions, month) - checked_before
    return listing


def _awaited(month: Month) -> str | None:
    """The state a cycle must be in for a reply to reach it, if any: awaiting consent when the
    month's cycles are texted on arrival."""
    return CycleState.AWAITING_CONSENT.value if month.awaiting else None


async def _count_ready(sessions: Sessions, month: Month) -> int:
    """Cycles a reply reaches: the phone known, and the consent request out if it goes out now."""
    async with sessions() as session:
        return await count_reachable(
            session, program=month.program, month=month.month, state=_awaited(month)
        )


async def _count_checked(sessions: Sessions, month: Month) -> int:
    """Cycles past their phone check: a phone found (pseudonym recorded) or ``NO_PHONE``."""
    async with sessions() as session:
        return await count_checked(session, program=month.program, month=month.month)


async def _visible(client: Client, workflow_type: str) -> int:
    counted = await client.count_workflows(f'WorkflowType="{workflow_type}"')
    return counted.count


async def _until(count: Callable[[], Awaitable[int]], expected: int, what: str) -> None:
    """Poll (bounded) until ``count()`` reaches ``expected``.

    Every 2% of the time waited so far, at least 0.25 s apart: a visibility count is a query
    on the dev server's one SQLite database, which polling too often would slow down.
    """
    began = time.perf_counter()
    while (found := await count()) < expected:
        waited = time.perf_counter() - began
        if waited > WAIT_LIMIT_S:
            raise RuntimeError(f"{what}: {found} of {expected} after {WAIT_LIMIT_S:.0f} s")
        await asyncio.sleep(max(0.25, waited / 50))


def _print(
    month: Month, webhook: Webhook, starts: Starts, listing: Listing, peak_mib: float
) -> None:
    state = (
        "AWAITING_CONSENT: a reply is a consent"
        if month.awaiting
        else "SCHEDULED, consent requests not out yet: a reply is answered late"
    )
    sent = len(webhook.latencies)
    cuts = statistics.quantiles(webhook.latencies, n=100) if sent > 1 else webhook.latencies * 99
    print_table(
        f"Webhook: {sent} signed replies, {webhook.in_flight} in flight, to a first batch of "
        f"{webhook.listed} {month.program} cycles for {month.month}",
        [
            ("listed until ready for a reply", f"{webhook.ready_s:8.1f} s"),
            ("cycles were", state),
            ("wall time", f"{webhook.wall_s:8.1f} s"),
            ("replies per second", f"{sent / webhook.wall_s:8.1f}"),
            ("latency p50", f"{cuts[49] * 1000:8.0f} ms"),
            ("latency p99", f"{cuts[98] * 1000:8.0f} ms"),
            ("answers", ", ".join(f"{k} {v}" for k, v in sorted(webhook.results.items()))),
        ],
    )
    print()
    trivial_per_s = starts.n / starts.exist_s
    print_table(
        f"Baseline: {starts.n} trivial workflows, {STARTS_IN_FLIGHT} starts in flight",
        [
            ("all start calls answered", f"{starts.started_s:8.1f} s"),
            ("all exist (visibility)", f"{starts.exist_s:8.1f} s"),
            ("workflows started per second", f"{trivial_per_s:8.1f}"),
        ],
    )
    print()
    n = listing.accepted
    listed_per_s = n / listing.exist_s
    print_table(
        f"Listing {n} more {month.program} citizens for {month.month} through the API",
        [
            (f"API calls (up to {BATCH:,} each)", f"{listing.calls}, {listing.posted_s:.1f} s"),
            ("all cycles exist (visibility)", f"{listing.exist_s:8.1f} s"),
            ("citizens started per second", f"{listed_per_s:8.1f}"),
            ("past the phone check by then", f"{listing.checked_at_exist} of {n}"),
        ],
    )
    print()
    ratio = listed_per_s / trivial_per_s
    print(f"Ratio: citizens/s / trivial workflows/s = {ratio:.2f} (target >= 0.7)")
    print()
    print(
        f"Peak RSS of this process: {peak_mib:.0f} MiB (the worker, the API, the simulators and "
        "the benchmark run embedded in it; the dev server is not counted)"
    )
    print(f"Machine at the end: {machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", type=int, default=20_000, help="citizens to list (20000)")
    parser.add_argument("--program", choices=PROGRAMS, default="gas")
    parser.add_argument("--replies", type=int, default=1_000, help="webhook replies (1000)")
    parser.add_argument("--in-flight", type=int, default=64, help="replies in flight (64)")
    args = parser.parse_args()
    if args.n < 10 or args.replies < 1 or args.in_flight < 1:
        parser.error("-n must be at least 10, --replies and --in-flight at least 1")
    quiet_core_logs()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
