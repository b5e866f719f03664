"""``python -m benchmarks.intake [-n 20000]``: listing and the SMS webhook on a local dev server.

What it measures, against ``temporal server start-dev`` (file SQLite, free ports, a temporary
directory) with the product embedded in this process (worker, API over loopback HTTP, simulated
outside systems; ``devtools.embedded``; the database ``--database-url`` names, a temporary
SQLite by default), in this order:

1. Baselines. ``--replies`` update round-trips (``benchmarks.echo.Echo``: an update that answers
   at once, through the Python client) ``--in-flight`` at a time: the raw update throughput and
   p99 the webhook is held to. Then N workflows that complete in their first task
   (``benchmarks.trivial``, own worker and task queue), started 64 in flight (the product's
   cycle starter keeps 16): "started per second" is N over the time until all N exist in the
   server's visibility store.
2. Webhook alone. A first batch of citizens is listed (enough for twice ``--replies`` with a
   phone; every 10th has none) and, once their cycles are ready, one signed reply (``21*1``) per
   citizen of the first half is POSTed to ``/v1/sms/inbound``, ``--in-flight`` at a time, from a
   process of its own as the gateway's would come (``benchmarks.outside``):
   replies per second over the batch and each request's latency. The dev server runs in real
   time, so what the cycles are doing depends on today's date: the batch is listed for the
   earliest month open for listing, and if its consent requests are already going out (a late
   addition, inside the sending window), they are ``AWAITING_CONSENT`` and a reply is a consent
   (a voucher and a confirmation SMS follow); otherwise they are ``SCHEDULED`` and each reply is
   routed to its cycle and answered ``late``. The output says which.
3. Listing, and the webhook during it. N more citizens are POSTed to the API in batches of
   10,000, as SDU would, for the earliest open month whose consent requests are still ahead
   (next month on a late-addition day): SDU lists a month before its send day, and its cycles
   wait for that day, whatever the clock says today. The API writes each batch to the database
   and signals the month's intake, whose activity starts the cycles. "citizens started per
   second" is ``--window`` (default N) over the time from the first POST until that many of the
   listing's cycles exist, with nothing else going on, as for the baseline; the ratio to it is
   what the intake path (HTTP, database, intake workflow, activity) costs over starting
   workflows directly. Then, while the fan-out goes on, the second half of the first batch
   replies, as in 2: the webhook's latency behind a listing. The output says how many of the
   listing's cycles had started when the last reply was answered (fewer than N: the replies
   came during the fan-out).
4. Memory: the peak RSS of this process (``resource.getrusage``), which holds the worker, the API,
   the simulators and the benchmark itself; the dev server is a separate process, not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from benchmarks.common import (
    STARTS_IN_FLIGHT,
    bounded,
    list_citizens,
    percentile,
    poll_until,
    print_table,
    run_alone,
    token_of,
)
from benchmarks.outside import Replies, from_outside
from benchmarks.trivial import Trivial
from benchmarks.updates import UpdateRun, raw_updates
from devtools.embedded import EXAMPLE_PROGRAM_DATA, Embedded, run_embedded
from devtools.stack import temporal_dev_server
from models.cycle import CycleState
from models.programs import PROGRAMS, ProgramVersion, load_programs
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort, seed_world
from simulators.embedded import free_ports
from simulators.state import World
from store.engine import Sessions, create_engine, create_sessions
from store.reports import count_reachable, reachable_citizens
from workers import setup_namespace

WAIT_LIMIT_S = 900.0


@dataclass
class Month:
    """The month being listed, and what its cycles do on arrival."""

    program: str
    month: str
    rules: ProgramVersion
    awaiting: bool  # texted on arrival: the cycles wait for consent right away

    @property
    def cycles_are(self) -> str:
        """What the month's cycles do when listed now, as the output says it."""
        if self.awaiting:
            return "AWAITING_CONSENT: a reply is a consent"
        return "SCHEDULED, consent requests not out yet: a reply is answered late"


@dataclass
class Listing:
    n: int = 0
    window: int = 0
    calls: int = 0
    posted_s: float = 0.0
    exist_s: float = 0.0
    started_by_last_reply: int = 0  # the webhook's replies came during the fan-out if < n

    @property
    def under_way(self) -> bool:
        """Whether the fan-out was still starting cycles when the last reply was answered."""
        return self.started_by_last_reply < self.n

    @property
    def per_s(self) -> float:
        return self.window / self.exist_s if self.exist_s else 0.0


@dataclass
class Starts:
    n: int
    started_s: float
    exist_s: float

    @property
    def per_s(self) -> float:
        return self.n / self.exist_s


@dataclass
class Webhook(UpdateRun):
    """The webhook's replies: round-trips like the raw updates, with the answers they got."""

    results: Counter[str] = field(default_factory=Counter)


@dataclass
class IntakeRun:
    month: Month  # the first batch's, which the webhook's replies go to
    listed: Month  # the listing's
    listed_first: int
    ready_s: float
    raw: UpdateRun
    trivial: Starts
    alone: Webhook
    during: Webhook
    listing: Listing
    peak_mib: float


async def measure(
    database_url: str,
    *,
    n: int = 20_000,
    window: int | None = None,
    trivial: int | None = None,
    replies: int = 1_000,
    in_flight: int = 64,
    program: str = "gas",
) -> IntakeRun:
    """Start a dev server, run the measurements on it, stop it."""
    # Enough citizens for twice the webhook's replies (every 10th has no phone), then N to list.
    first = -(-2 * replies * 10 // 9)
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        port, ui_port = free_ports(2)
        async with temporal_dev_server(Path(tmp) / "temporal", port=port, ui_port=ui_port) as at:
            client = await Client.connect(at)
            await setup_namespace(client)
            raw = await raw_updates(client, replies, in_flight)
            starts = await _trivial_starts(client, trivial or n)
            settings = Settings(
                temporal_address=at, database_url=database_url, task_queue="bench-intake"
            )
            month, listed = _months_to_list(program)
            cohort = sample_cohort(first + n, 7, program=program)
            product = await _product_run(
                client,
                settings,
                (month, listed),
                cohort,
                first,
                replies,
                in_flight,
                min(window or n, n),
            )
    ready_s, alone, during, listing = product
    return IntakeRun(
        month=month,
        listed=listed,
        listed_first=first,
        ready_s=ready_s,
        raw=raw,
        trivial=starts,
        alone=alone,
        during=during,
        listing=listing,
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
    )


async def _product_run(
    client: Client,
    settings: Settings,
    months: tuple[Month, Month],
    cohort: list[dict[str, Any]],
    first: int,
    replies: int,
    in_flight: int,
    window: int,
) -> tuple[float, Webhook, Webhook, Listing]:
    """The product's part: the first batch, the webhook alone, the listing with the webhook
    (``months``: the first batch's, the listing's)."""
    month, listed = months
    world = World()
    seed_world(world, cohort, accounts=0)
    engine = create_engine(settings.database_url)
    try:
        async with run_embedded(client, settings, world) as product:
            sessions = create_sessions(engine)
            began = time.perf_counter()
            senders = await _ready_senders(product, sessions, cohort[:first], month, replies)
            ready_s = time.perf_counter() - began
            alone = await _webhook(product, month, senders[:replies], in_flight)
            during, listing = await _listing(
                client,
                product,
                cohort[first:],
                listed,
                (month, senders[replies:]),
                in_flight,
                window,
            )
    finally:
        await engine.dispose()
    return ready_s, alone, during, listing


def _months_to_list(program: str) -> tuple[Month, Month]:
    """The first batch's month (the earliest open for listing now) and the listing's: the
    earliest open month whose consent requests are still ahead, or the first's if none is."""
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    now = datetime.now(UTC)
    earliest = calendar.earliest_open_month(partial(book.for_month, program), now)
    if earliest is None:
        raise SystemExit(f"no {program} month is open for listing now")
    first = _listed_now(book.for_month(program, earliest), earliest, now)
    if not first.awaiting:
        return first, first
    ahead = calendar.next_month(earliest)
    rules = book.for_month(program, ahead)
    if rules is not None and calendar.month_open_for_listing(rules, ahead, now):
        listed = _listed_now(rules, ahead, now)
        if not listed.awaiting:
            return first, listed
    return first, first


def _listed_now(rules: ProgramVersion | None, month: str, now: datetime) -> Month:
    assert rules is not None, f"no rules for {month}"
    awaiting = calendar.first_request_moment(rules, month, now) <= now
    return Month(program=rules.program, month=month, rules=rules, awaiting=awaiting)


async def _ready_senders(
    product: Embedded,
    sessions: Sessions,
    cohort: list[dict[str, Any]],
    month: Month,
    replies: int,
) -> list[str]:
    """List a first batch, wait until twice ``replies`` of its cycles are ready for a reply;
    return their citizens' phones."""
    token = token_of(product.settings, "sdu")
    await list_citizens(product.api_url, token, month.program, month.month, cohort)
    await poll_until(
        partial(_count_ready, sessions, month), 2 * replies, "cycles ready for a reply"
    )
    key = product.settings.pseudonym_key
    phones = {citizen_ref(key, person["iin"]): person["phone"] for person in cohort}
    async with sessions() as session:
        refs = await reachable_citizens(
            session,
            program=month.program,
            month=month.month,
            state=_awaited(month),
            limit=2 * replies,
        )
    return [phones[ref] for ref in refs]


async def _webhook(product: Embedded, month: Month, senders: list[str], in_flight: int) -> Webhook:
    """One signed reply from each of ``senders`` to the webhook, ``in_flight`` at a time, sent
    from a process of its own as the gateway would (``benchmarks.outside``)."""
    outcome = await from_outside(
        Replies(
            url=f"{product.api_url}/v1/sms/inbound",
            secret=product.settings.sms_webhook_secret,
            short_number=month.rules.short_number,
            text=month.rules.reply_codes.agree,
            senders=senders,
            in_flight=in_flight,
        )
    )
    return Webhook(
        in_flight=in_flight,
        wall_s=outcome.wall_s,
        latencies=outcome.latencies,
        results=Counter(outcome.results),
    )


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
        await poll_until(partial(_visible, client, "BenchTrivial"), n, "trivial workflows")
        return Starts(n=n, started_s=started, exist_s=time.perf_counter() - began)


async def _listing(
    client: Client,
    product: Embedded,
    cohort: list[dict[str, Any]],
    month: Month,
    replying: tuple[Month, list[str]],
    in_flight: int,
    window: int,
) -> tuple[Webhook, Listing]:
    """List N citizens for ``month``, time until ``window`` of its cycles exist; then, while
    the fan-out goes on, time the replies of ``replying``'s senders (to their cycles of its
    month). The two are timed one after the other so that the start rate is measured under the
    same load as the baseline's, and the replies behind a listing's fan-out."""
    before = await _visible(client, "CitizenCycle")
    token = token_of(product.settings, "sdu")
    began = time.perf_counter()
    posting = asyncio.create_task(
        list_citizens(product.api_url, token, month.program, month.month, cohort)
    )
    await poll_until(partial(_visible, client, "CitizenCycle"), before + window, "cycles started")
    exist_s = time.perf_counter() - began
    during = await _webhook(product, *replying, in_flight)
    started = await _visible(client, "CitizenCycle") - before
    listed = await posting
    listing = Listing(
        n=listed.accepted,
        window=window,
        calls=listed.calls,
        posted_s=listed.posted_s,
        exist_s=exist_s,
        started_by_last_reply=started,
    )
    return during, listing


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


async def _visible(client: Client, workflow_type: str) -> int:
    counted = await client.count_workflows(f'WorkflowType="{workflow_type}"')
    return counted.count


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f} ms"


def print_run(run: IntakeRun) -> None:
    """The run's own table (``python -m benchmarks.intake``)."""
    month, listed = run.month, run.listed
    print_table(
        f"Baseline: {len(run.raw.latencies)} raw update round-trips, {run.raw.in_flight} in flight",
        [
            ("updates per second", f"{run.raw.per_s:8.1f}"),
            ("latency p50", _ms(percentile(run.raw.latencies, 0.5))),
            ("latency p99", _ms(run.raw.p99)),
        ],
    )
    print()
    print_table(
        f"Baseline: {run.trivial.n} trivial workflows, {STARTS_IN_FLIGHT} starts in flight",
        [
            ("all start calls answered", f"{run.trivial.started_s:8.1f} s"),
            ("all exist (visibility)", f"{run.trivial.exist_s:8.1f} s"),
            ("workflows started per second", f"{run.trivial.per_s:8.1f}"),
        ],
    )
    print()
    for title, hook in (("alone", run.alone), ("during the listing below", run.during)):
        print_table(
            f"Webhook {title}: {len(hook.latencies)} signed replies, {hook.in_flight} in flight, "
            f"to a first batch of {run.listed_first} {month.program} cycles for {month.month}",
            [
                ("cycles were", month.cycles_are),
                ("wall time", f"{hook.wall_s:8.1f} s"),
                ("replies per second", f"{hook.per_s:8.1f}"),
                ("latency p50", _ms(percentile(hook.latencies, 0.5))),
                ("latency p99", _ms(hook.p99)),
                ("answers", ", ".join(f"{k} {v}" for k, v in sorted(hook.results.items()))),
            ],
        )
        print()
    listing = run.listing
    print_table(
        f"Listing {listing.n} more {listed.program} citizens for {listed.month} through the API",
        [
            ("cycles were", listed.cycles_are),
            ("API calls (up to 10,000 each)", f"{listing.calls}, {listing.posted_s:.1f} s"),
            (f"{listing.window} cycles exist (visibility)", f"{listing.exist_s:8.1f} s"),
            ("citizens started per second", f"{listing.per_s:8.1f}"),
            ("started when the last reply came", f"{listing.started_by_last_reply} of {listing.n}"),
        ],
    )
    print()
    print(f"Ratio: citizens/s / trivial workflows/s = {listing.per_s / run.trivial.per_s:.2f}")
    print(f"Ratio: replies/s / raw updates/s = {run.alone.per_s / run.raw.per_s:.2f}")
    print(f"Ratio: webhook p99 / raw p99 = {run.alone.p99 / run.raw.p99:.2f}")
    print(f"Ratio: webhook p99 during the listing / alone = {run.during.p99 / run.alone.p99:.2f}")
    print()
    print(
        f"Peak RSS of this process: {run.peak_mib:.0f} MiB (the worker, the API, the simulators "
        "and the benchmark run embedded in it; the dev server is not counted)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", type=int, default=20_000, help="citizens to list (20000)")
    parser.add_argument("--window", type=int, help="cycles the start rate is timed over (n)")
    parser.add_argument("--trivial", type=int, help="trivial workflows of the baseline (n)")
    parser.add_argument("--program", choices=PROGRAMS, default="gas")
    parser.add_argument("--replies", type=int, default=1_000, help="webhook replies (1000)")
    parser.add_argument("--in-flight", type=int, default=64, help="replies in flight (64)")
    parser.add_argument("--database-url", help="the product's database (a temporary SQLite)")
    args = parser.parse_args()
    if args.n < 10 or args.replies < 1 or args.in_flight < 1:
        parser.error("-n must be at least 10, --replies and --in-flight at least 1")
    run_alone(
        args.database_url,
        partial(
            measure,
            n=args.n,
            window=args.window,
            trivial=args.trivial,
            replies=args.replies,
            in_flight=args.in_flight,
            program=args.program,
        ),
        print_run,
    )


if __name__ == "__main__":
    main()
