"""``python -m devtools.simulate`` (``make simulate``): a whole month, day by day, before it
happens.

The planning tool ops use to see a month ahead. It starts Temporal's time-skipping test server,
runs the product embedded (simulators and API over loopback HTTP in this process, the worker in
a process of its own; SQLite in a temporary directory, or ``--database``), lists a sample cohort
through the API as SDU would -- ``--citizens`` split evenly between the programs, 400 by default
-- waits until every listed citizen's cycle has started, and then moves the server's clock
through the month one day at a time. Each day at noon (Asia/Almaty) the citizens
whose reply falls on that day text ``21*1`` or ``21*2`` through the SMS gateway's signed webhook
-- only those who have received the consent request by then; a reply planned earlier waits for
it. Who replies, what, and on which day are drawn from ``--seed``, so a run is repeatable. Every
10th citizen of a cohort has no number in BMG and ends ``NO_PHONE``.

How to read it: one line per day and program. ``req``, ``rem`` and ``conf`` are the consent
requests, reminders and confirmations the SMS gateway accepted since the previous line (a line
covers noon to noon, so the 09:00 send of day N is on day N's line); ``agree`` and ``refuse`` are
the replies sent that day; the other columns count the cycles in each state, from the API's month
report (``other`` sums the states not shown). A deadline "end of the 29th" shows on the 30th's
line, and the last line is the 1st of the next month, after the month-end deadlines. The summary
gives each program's totals, the webhook's answers (``late``: the cycle had already decided or
closed), the vouchers in the wallet, the Temporal status of every cycle, and the wall time.

Last, each program's funnel and money by region, and its total: ``listed``, ``no_phone``,
``asked`` (consent requests sent), ``reminded``, ``consented``, ``refused``, ``expired`` (no
reply by the deadline), ``issued``, ``activated``, ``used`` (gas: a discount settled; food: at
least one purchase), ``lapsed`` (a voucher never activated), ``waiting`` (still undecided),
``value_kzt`` (the food vouchers' face value; a gas voucher's value is its discount) and
``settled_kzt`` (gas discounts settled, food purchases drawn from vouchers). The states come from
the month report (``rules.funnel``), the rest from ``store.reports.figures_by_region``; the
total row is the month report's own. The simulated citizens reply but do not use their vouchers,
so ``activated``, ``used`` and ``settled_kzt`` stay 0 unless the wallet is driven by other means.

The month defaults to each program's earliest month still open for listing at the test server's
current time, which starts at the real now and only moves forward: a past month cannot be
simulated. Time moves only on ``env.sleep``; activities set off by a clock jump run in real time,
so each line is printed once the report has stopped changing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from client import plugin
from devtools.embedded import (
    EXAMPLE_PROGRAM_DATA,
    Embedded,
    run_embedded,
    serve_outside_and_api,
    time_skipping_server,
)
from models.cycle import cycle_id
from models.programs import PROGRAMS, ProgramVersion, load_programs
from models.settings import Settings
from rules import calendar
from rules.funnel import funnel
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort, seed_world
from simulators.state import World
from simulators.webhook import deliver
from store.engine import create_engine, create_sessions
from store.reports import RegionFigures, figures_by_region
from workers import create_worker

KINDS = ("consent_request", "reminder", "confirmation")
SHOWN = (
    ("SCHEDULED", "sched"),
    ("NO_PHONE", "no_ph"),
    ("AWAITING_CONSENT", "await"),
    ("REMINDED", "remind"),
    ("REFUSED", "refused"),
    ("CONSENT_EXPIRED", "c_exp"),
    ("VOUCHER_ISSUED", "issued"),
    ("VOUCHER_EXPIRED", "v_exp"),
)
NOON = time_of_day(12, 0)
# The test server keeps its clock still while a task it handed out is unfinished, so work set off
# by a jump is done when env.sleep returns: a short quiet period confirms it. What replies set
# off runs in real time: the wait is for its confirmation SMS, then a quiet period as well.
QUIET_AFTER_JUMP_S = 0.1
QUIET_AFTER_REPLIES_S = 0.15
SETTLE_LIMIT_S = 30.0
# No outside call and no skipping for this long: the clock is stuck. A large cohort's cycles
# may spend longer than that on their own records (no outside call) after a jump.
STUCK_S = 10.0
STUCK_S_PER_CITIZEN = 0.005
BATCH = 10_000  # the API's limit per listing call
LISTING_ATTEMPTS = 6
INTAKE_STALL_S = 60.0  # no cycle started for this long: the intake is stuck
CACHE_HEADROOM = 64  # the intake, hand-over and daily-report workflows beside the cycles
# In flight per worker process. The writes of a process's local activities are committed together
# by its one SQLite writer (store.writer), so more of them in flight make bigger batches, not
# longer queues: at 16/8/16 a 4,000-citizen food cohort was listed in 55 s (75 s at 4/2/8).
WORKFLOW_TASKS = 16
LOCAL_ACTIVITIES = 8
ACTIVITIES = 16
REPLIES_IN_FLIGHT = 16
DEFAULT_CITIZENS = 400  # 200 per program: the demo's size
WORKER_START_S = 120.0
WORKER_STOP_S = 30.0


@dataclass
class Plan:
    """One program's simulated month: its cohort, their planned replies, and what happened."""

    program: str
    month: str
    rules: ProgramVersion
    cohort: list[dict[str, Any]]
    replies: dict[date, list[tuple[str, str]]]  # day -> (iin, text)
    pending: list[tuple[str, str]] = field(default_factory=list)  # due, not texted yet
    requested: set[str] = field(default_factory=set)  # phones texted the consent request
    sms: Counter[str] = field(default_factory=Counter)  # SMS accepted, by kind
    today: Counter[str] = field(default_factory=Counter)  # today's SMS by kind, replies by text
    sent: Counter[str] = field(default_factory=Counter)  # replies sent, by text
    answers: Counter[str] = field(default_factory=Counter)  # the webhook's results
    listing: Counter[str] = field(default_factory=Counter)
    states: dict[str, int] = field(default_factory=dict)
    workflows: Counter[str] = field(default_factory=Counter)  # Temporal status at the end
    report: dict[str, Any] = field(default_factory=dict)  # the API's month report at the end
    regions: dict[str, RegionFigures] = field(default_factory=dict)  # SMS, money by region

    @property
    def prefix(self) -> str:
        return f"cycle-{self.program}-{self.month}-"

    def covers(self, day: date) -> bool:
        """Whether ``day`` is in the month, or the 1st after it (the month-end deadlines)."""
        return calendar.month_start(self.month).date() <= day <= _last_day(self.month)


def plan_replies(
    rules: ProgramVersion,
    month: str,
    cohort: list[dict[str, Any]],
    *,
    seed: int,
    consent_rate: float,
    refusal_rate: float,
) -> dict[date, list[tuple[str, str]]]:
    """Who replies what on which day: most within days of the request, none after the deadline."""
    rng = random.Random(f"{rules.program}:{month}:{seed}:replies")
    first = calendar.send_moment(rules, month).date()
    last = (calendar.consent_deadline(rules, month) - timedelta(days=1)).date()
    plan: dict[date, list[tuple[str, str]]] = {}
    for citizen in cohort:
        draw = rng.random()
        delay = min(int(rng.expovariate(0.3)), (last - first).days)
        if draw < consent_rate:
            text = rules.reply_codes.agree
        elif draw < consent_rate + refusal_rate:
            text = rules.reply_codes.refuse
        else:
            continue
        plan.setdefault(first + timedelta(days=delay), []).append((citizen["iin"], text))
    return plan


async def run(args: argparse.Namespace) -> list[Plan]:
    """Simulate the month(s), print the day lines, the summary and the funnel by region."""
    started = time.monotonic()
    programs = PROGRAMS if args.program == "both" else (args.program,)
    async with time_skipping_server() as server:
        env, plain, clock = server.env, server.plain, server.clock
        with tempfile.TemporaryDirectory(prefix="simulate-") as tmp:
            database = Path(args.database) if args.database else Path(tmp) / "simulate.db"
            settings = Settings(
                database_url=f"sqlite+aiosqlite:///{database}", task_queue="simulate"
            )
            world = World()
            plans = await _plan(env, world, args, programs)
            citizens = sum(len(plan.cohort) for plan in plans)
            server_clock = _Clock(env, clock, world, citizens)
            target = plain.service_client.config.target_host
            async with _product(
                target,
                plain,
                settings,
                world,
                citizens,
                workers=args.workers,
                fresh_imports=args.fresh_imports,
            ) as product:
                tokens = {role: t for t, role in settings.tokens_by_role().items()}
                async with httpx.AsyncClient(base_url=product.api_url, timeout=120) as api:
                    # Together: a program listed after the other's cohort has begun to start
                    # waits for its intake behind thousands of cycles' first tasks.
                    await asyncio.gather(*(_list(api, tokens["sdu"], plan) for plan in plans))
                    await _await_intake(api, tokens["ops"], plans)
                    stopped = await _month(server_clock, api, tokens["ops"], world, plans)
                    for plan in plans:
                        plan.report = await _report(api, tokens["ops"], plan)
            await _region_figures(settings.database_url, plans)
            for plan in plans:
                await _statuses(env.client, settings.pseudonym_key, plan)
        # Cycles still open end with the test server, after the worker has stopped.
    _summary(plans, world, stopped, time.monotonic() - started)
    _funnel_tables(plans)
    return plans


@asynccontextmanager
async def _product(
    target: str,
    client: Client,
    settings: Settings,
    world: World,
    citizens: int,
    *,
    workers: int,
    fresh_imports: bool,
) -> AsyncIterator[Embedded]:
    """The product with its worker in ``workers`` processes of their own (0: in this one).

    A process runs one core's worth of Python: the cycles' workflow tasks and activities, the
    API and the simulators in one process leave the machine's other cores to the test server
    alone. The worker processes share the task queue; each cycle stays with the one that has it
    cached, and every process writes the same SQLite file (WAL).
    """
    if workers == 0:
        if not fresh_imports:
            imports_once()
        async with run_embedded(client, settings, world, **worker_options(citizens)) as product:
            yield product
        return
    async with serve_outside_and_api(client, settings, world) as embedded:
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        ready = [context.Event() for _ in range(workers)]
        options = worker_options(citizens)
        processes = [
            context.Process(
                target=_worker_process,
                args=(
                    target,
                    client.namespace,
                    embedded.settings,
                    options,
                    started,
                    stop,
                    fresh_imports,
                ),
                name=f"simulate-worker-{n}",
            )
            for n, started in enumerate(ready)
        ]
        for process in processes:
            process.start()
        try:
            for started in ready:
                if not await asyncio.to_thread(started.wait, WORKER_START_S):
                    raise SystemExit("a worker process did not start")
            yield embedded
        finally:
            stop.set()
            for process in processes:
                await asyncio.to_thread(process.join, WORKER_STOP_S)
                if process.is_alive():
                    process.kill()


def _worker_process(
    target: str,
    namespace: str,
    settings: Settings,
    options: dict[str, Any],
    ready: Any,
    stop: Any,
    fresh_imports: bool,
) -> None:
    """A worker process's entry: poll until ``stop`` is set, then finish the tasks in hand."""
    quiet_core_logs()
    if not fresh_imports:
        imports_once()
    asyncio.run(_run_worker(target, namespace, settings, options, ready, stop))


async def _run_worker(
    target: str, namespace: str, settings: Settings, options: dict[str, Any], ready: Any, stop: Any
) -> None:
    # A plain client: the clock moves only when the simulation moves it.
    client = await Client.connect(target, namespace=namespace)
    parent = os.getppid()
    async with create_worker(client, settings, **options):
        ready.set()
        # Stopped, or orphaned: a simulation killed outright leaves no worker behind.
        while not stop.is_set() and os.getppid() == parent:
            await asyncio.sleep(0.2)


def imports_once() -> None:
    """Have this process's workflow sandbox import the workflows' modules once, not per run.

    The sandbox imports a workflow's modules afresh for every workflow it starts, tens of
    milliseconds each: most of a cycle's cost in a month of 10,000. Passed through, they are
    imported once; the sandbox's run-time restrictions (no clock, no I/O) still apply, and the
    product's own worker and the workflow tests keep the fresh imports.
    """
    restrictions = plugin.WORKFLOW_RUNNER.restrictions.with_passthrough_all_modules()
    plugin.WORKFLOW_RUNNER = dataclasses.replace(plugin.WORKFLOW_RUNNER, restrictions=restrictions)


def worker_options(citizens: int) -> dict[str, Any]:
    """The embedded worker's options for a cohort of ``citizens``.

    Every cycle stays in the worker's cache for the month (the default cache of 1,000 would
    evict and replay whole histories at every timer of a larger cohort). Workflow tasks and
    activities in flight: ``WORKFLOW_TASKS``, ``LOCAL_ACTIVITIES``, ``ACTIVITIES``.
    """
    return {
        "max_cached_workflows": citizens + CACHE_HEADROOM,
        "max_concurrent_workflow_tasks": WORKFLOW_TASKS,
        "max_concurrent_local_activities": LOCAL_ACTIVITIES,
        "max_concurrent_activities": ACTIVITIES,
    }


async def _plan(
    env: WorkflowEnvironment, world: World, args: argparse.Namespace, programs: tuple[str, ...]
) -> list[Plan]:
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    now = await env.get_current_time()
    plans: list[Plan] = []
    for program, size in zip(programs, cohort_sizes(args.citizens, len(programs)), strict=True):
        month = args.month or calendar.earliest_open_month(partial(book.for_month, program), now)
        rules = book.for_month(program, month) if month else None
        if month is None or rules is None:
            raise SystemExit(f"{program}: no version covers {month or 'the next 12 months'}")
        cohort = sample_cohort(size, args.seed, program=program)
        seed_world(world, cohort, accounts=0, seed=args.seed)
        replies = plan_replies(
            rules,
            month,
            cohort,
            seed=args.seed,
            consent_rate=args.consent_rate,
            refusal_rate=args.refusal_rate,
        )
        plans.append(Plan(program, month, rules, cohort, replies))
    return plans


async def _list(api: httpx.AsyncClient, token: str, plan: Plan) -> None:
    """List the cohort through the API, as SDU would, in batches of at most 10,000.

    A 503 (the intake's answer held up behind the cycles already starting) is retried, as SDU
    would.
    """
    entries = [{k: v for k, v in person.items() if k != "phone"} for person in plan.cohort]
    for start in range(0, len(entries), BATCH):
        for attempt in range(LISTING_ATTEMPTS):
            answer = await api.post(
                f"/v1/programs/{plan.program}/months/{plan.month}/recipients",
                json={"recipients": entries[start : start + BATCH]},
                headers={"Authorization": f"Bearer {token}"},
            )
            if answer.status_code != 503 or attempt == LISTING_ATTEMPTS - 1:
                break
            await asyncio.sleep(2**attempt)
        if answer.status_code != 202:
            raise SystemExit(f"{plan.program} {plan.month}: {answer.status_code} {answer.text}")
        body = answer.json()
        plan.listing.update(
            accepted=body["accepted"],
            already_listed=body["already_listed"],
            rejected=len(body["rejected"]),
        )


def cohort_sizes(citizens: int, programs: int) -> list[int]:
    """``citizens`` split between the programs, the first taking the odd one."""
    return [citizens // programs + (i < citizens % programs) for i in range(programs)]


async def _await_intake(api: httpx.AsyncClient, ops: str, plans: list[Plan]) -> None:
    """Wait until every accepted citizen's cycle has started and recorded itself.

    The intake starts the cycles in real time while the test server's clock stands still; a
    clock moved before they have all started would text the late ones late.
    """
    loop = asyncio.get_running_loop()
    listed = sum(plan.listing["accepted"] for plan in plans)
    started, progress_at, shown_at = -1, loop.time(), loop.time()
    while True:
        now = loop.time()
        counted = 0
        for plan in plans:
            plan.states = (await _report(api, ops, plan))["by_state"]
            counted += sum(plan.states.values())
        if counted >= listed:
            return
        if counted != started:
            started, progress_at = counted, now
        elif now - progress_at > INTAKE_STALL_S:
            raise SystemExit(f"the intake stopped: {counted} of {listed} cycles started")
        if now - shown_at >= 10:
            print(f"  ... {counted} of {listed} cycles started", flush=True)
            shown_at = now
        await asyncio.sleep(0.25)


async def _report(api: httpx.AsyncClient, ops: str, plan: Plan) -> dict[str, Any]:
    """The API's month report of ``plan``'s program-month."""
    report = await api.get(
        f"/v1/programs/{plan.program}/months/{plan.month}/report",
        headers={"Authorization": f"Bearer {ops}"},
    )
    report.raise_for_status()
    body: dict[str, Any] = report.json()
    return body


async def _region_figures(database_url: str, plans: list[Plan]) -> None:
    """SMS and money by region, which the month report gives only as totals."""
    engine = create_engine(database_url)
    try:
        async with create_sessions(engine)() as session:
            for plan in plans:
                plan.regions = await figures_by_region(
                    session, program=plan.program, month=plan.month
                )
    finally:
        await engine.dispose()


async def _month(
    server_clock: _Clock, api: httpx.AsyncClient, ops: str, world: World, plans: list[Plan]
) -> str | None:
    """Move the clock to noon of each day, let the citizens reply, print the day.

    Returns why the simulation stopped early, or None when it ran to the end.
    """
    now = await server_clock.now()
    print(f"Listed at {now:%Y-%m-%d %H:%M} Asia/Almaty (test server time):")
    for plan in plans:
        listing = ", ".join(f"{k} {v}" for k, v in plan.listing.items())
        print(f"  {plan.program} {plan.month} under {plan.rules.version}: {listing}")
    print()
    print(_header())
    day = max(min(calendar.month_start(p.month) for p in plans).date(), now.date())
    last = max(_last_day(p.month) for p in plans)
    seen = 0
    while day <= last:
        for plan in plans:
            plan.today.clear()
        try:
            await server_clock.advance_to(datetime.combine(day, NOON, tzinfo=calendar.ALMATY))
        except ClockStuck as stuck:
            return str(stuck)
        await _settle(api, ops, world, plans, quiet_s=QUIET_AFTER_JUMP_S)
        seen = _count_sms(world, plans, seen)
        consents = sum(p.answers["consent"] for p in plans)
        confirmed = _sent_of_kind(world, "confirmation")
        if await _reply(api, world, plans, day):
            # Each consent sets off a confirmation SMS and a voucher: wait for the SMS too.
            expected = confirmed + sum(p.answers["consent"] for p in plans) - consents
            await _settle(
                api, ops, world, plans, quiet_s=QUIET_AFTER_REPLIES_S, confirmations=expected
            )
            seen = _count_sms(world, plans, seen)
        for plan in plans:
            if plan.covers(day):
                print(_line(day, plan), flush=True)
        day += timedelta(days=1)
    return None


class ClockStuck(Exception):
    """The test server's clock stopped moving: a time-skipping lock is held and never released."""


class _Clock:
    """Moves the test server's clock, and says so when it cannot.

    The server keeps its clock still while any task it handed out (workflow task, activity) is
    unfinished. A workflow that closes while one of its activities runs (a cycle *failing*
    mid-way) leaves that lock held for good, as does a child workflow closing after its parent
    (the lock to notify the parent is "unlocked by the parent", sdk-java
    ``TestWorkflowMutableStateImpl``). From then on the clock only moves in real time: the
    simulation stops with :class:`ClockStuck` and the summary counts the failed cycles.
    """

    def __init__(
        self, env: WorkflowEnvironment, clock: Client, world: World, citizens: int
    ) -> None:
        self._env = env
        self._clock = clock
        self._world = world
        self._patience_s = STUCK_S + STUCK_S_PER_CITIZEN * citizens

    async def now(self) -> datetime:
        return (await self._env.get_current_time()).astimezone(calendar.ALMATY)

    async def advance_to(self, moment: datetime) -> None:
        """Sleep the test server's clock to ``moment``; raise ``ClockStuck`` if it stops."""
        delta = moment - await self.now()
        if delta <= timedelta(0):
            return
        # env.sleep, with an RPC timeout long enough for a large cohort's burst of work.
        request = SleepRequest()
        request.duration.FromTimedelta(delta)
        sleeping = asyncio.create_task(
            self._clock.test_service.unlock_time_skipping_with_sleep(
                request, timeout=timedelta(minutes=30)
            )
        )
        loop = asyncio.get_running_loop()
        seen, server, wall = sum(self._world.requests.values()), await self.now(), loop.time()
        quiet_since = wall
        try:
            while not (await asyncio.wait({sleeping}, timeout=0.5))[0]:
                requests, server_now, wall_now = (
                    sum(self._world.requests.values()),
                    await self.now(),
                    loop.time(),
                )
                skipping = (server_now - server).total_seconds() > 2 * (wall_now - wall) + 1
                if skipping or requests != seen:
                    quiet_since = wall_now
                elif wall_now - quiet_since > self._patience_s:
                    raise ClockStuck(
                        f"the clock stopped at {server_now:%Y-%m-%d %H:%M} on its way to "
                        f"{moment:%Y-%m-%d %H:%M}: nothing ran for {self._patience_s:.0f} s, so a "
                        "time-skipping lock is held for good, typically by a workflow that closed "
                        "while one of its activities was running (see FAILED in the summary)"
                    )
                seen, server, wall = requests, server_now, wall_now
        finally:
            sleeping.cancel()
        sleeping.result()


async def _settle(
    api: httpx.AsyncClient,
    ops: str,
    world: World,
    plans: list[Plan],
    *,
    quiet_s: float,
    confirmations: int = 0,
) -> None:
    """Wait (bounded) until the month reports and the gateway's log stop changing.

    With ``confirmations``, also until the gateway has accepted that many confirmation SMS.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_LIMIT_S
    last: tuple[Any, ...] | None = None
    quiet_since = loop.time()
    while True:
        for plan in plans:
            report = await api.get(
                f"/v1/programs/{plan.program}/months/{plan.month}/report",
                headers={"Authorization": f"Bearer {ops}"},
            )
            report.raise_for_status()
            plan.states = report.json()["by_state"]
        snapshot = (len(world.messages), *(tuple(sorted(p.states.items())) for p in plans))
        if snapshot != last or _sent_of_kind(world, "confirmation") < confirmations:
            last, quiet_since = snapshot, loop.time()
        if loop.time() - quiet_since >= quiet_s or loop.time() > deadline:
            return
        await asyncio.sleep(0.05)


def _sent_of_kind(world: World, kind: str) -> int:
    return sum(m.idempotency_key.endswith(f":{kind}") for m in world.messages)


def _count_sms(world: World, plans: list[Plan], seen: int) -> int:
    """Count the SMS the gateway accepted since ``seen``, by program and kind."""
    for message in world.messages[seen:]:
        for plan in plans:
            if message.idempotency_key.startswith(plan.prefix):
                kind = message.idempotency_key.rsplit(":", 1)[1]
                plan.today[kind] += 1
                plan.sms[kind] += 1
                if kind == "consent_request":
                    plan.requested.add(message.to)
    return len(world.messages)


async def _reply(gateway: httpx.AsyncClient, world: World, plans: list[Plan], day: date) -> int:
    """The day's replies, from citizens who have had the consent request; returns how many.

    Delivered as the SMS gateway does (``simulators.webhook.deliver``: signed, retried), over one
    shared HTTP client: a client per reply (``send_reply``) costs a TLS context each time.
    """
    limit = asyncio.Semaphore(REPLIES_IN_FLIGHT)
    received_at = datetime.combine(day, NOON, tzinfo=calendar.ALMATY).isoformat()
    url = world.webhook_url
    if url is None:
        raise RuntimeError("the SMS gateway has no webhook URL")

    async def one(plan: Plan, phone: str, text: str) -> None:
        sms = {
            "message_id": f"in-{uuid.uuid4().hex}",
            "from": phone,
            "to": plan.rules.short_number,
            "text": text,
            "received_at": received_at,
        }
        world.inbound.append(sms)
        async with limit:
            answer = await deliver(gateway, url, world.webhook_secret, sms)
        ok = answer.status == 200
        plan.answers[str(answer.body["result"]) if ok else f"HTTP {answer.status}"] += 1

    calls = []
    for plan in plans:
        due, plan.pending = list(plan.pending), []
        # Days before the first simulated one too (a month already under way).
        for planned in sorted(d for d in plan.replies if d <= day):
            due += plan.replies.pop(planned)
        for iin, text in due:
            phone = world.subscribers.get(iin)
            if phone is not None and phone in plan.requested:
                plan.today[text] += 1
                plan.sent[text] += 1
                calls.append(one(plan, phone, text))
            elif phone is not None:
                plan.pending.append((iin, text))  # not texted yet: replies once they are
    await asyncio.gather(*calls)
    return len(calls)


async def _statuses(client: Client, key: str, plan: Plan) -> None:
    """The Temporal status of each listed citizen's cycle (the test server cannot list them)."""
    limit = asyncio.Semaphore(32)

    async def one(iin: str) -> None:
        handle = client.get_workflow_handle(
            cycle_id(plan.program, plan.month, citizen_ref(key, iin))
        )
        async with limit:
            try:
                status = (await handle.describe()).status
            except RPCError:
                plan.workflows["not started"] += 1
                return
        plan.workflows[status.name if status else "unknown"] += 1

    await asyncio.gather(*(one(person["iin"]) for person in plan.cohort))


def _header() -> str:
    states = " ".join(f"{short:>7}" for _, short in SHOWN)
    counts = f"{'req':>4} {'rem':>4} {'conf':>4} {'agree':>5} {'refuse':>6}"
    return f"{'date':<10} {'prog':<4} {counts} {states} {'other':>6}"


def _line(day: date, plan: Plan) -> str:
    codes = plan.rules.reply_codes
    shown = {state for state, _ in SHOWN}
    other = sum(n for state, n in plan.states.items() if state not in shown)
    states = " ".join(f"{plan.states.get(state, 0):>7}" for state, _ in SHOWN)
    today = plan.today
    counts = (
        f"{today['consent_request']:>4} {today['reminder']:>4} {today['confirmation']:>4} "
        f"{today[codes.agree]:>5} {today[codes.refuse]:>6}"
    )
    return f"{day.isoformat():<10} {plan.program:<4} {counts} {states} {other:>6}"


def _summary(plans: list[Plan], world: World, stopped: str | None, wall_s: float) -> None:
    def row(label: str, values: list[Any]) -> tuple[str, list[str]]:
        return label, [str(v) for v in values]

    rows = [
        row("month", [p.month for p in plans]),
        row("rule version", [p.rules.version for p in plans]),
        *(row(f"listing: {k}", [p.listing[k] for p in plans]) for k in plans[0].listing),
        *(row(f"SMS {kind}", [p.sms[kind] for p in plans]) for kind in KINDS),
        row("replies sent 21*1", [p.sent[p.rules.reply_codes.agree] for p in plans]),
        row("replies sent 21*2", [p.sent[p.rules.reply_codes.refuse] for p in plans]),
    ]
    answers = sorted({a for p in plans for a in p.answers})
    rows += [row(f"webhook answered {a}", [p.answers[a] for p in plans]) for a in answers]
    vouchers = Counter(str(v.get("program")) for v in world.vouchers.values())
    rows.append(row("vouchers in the wallet", [vouchers[p.program] for p in plans]))
    states = sorted({s for p in plans for s in p.states})
    rows += [row(f"state {s}", [p.states.get(s, 0) for p in plans]) for s in states]
    statuses = sorted({s for p in plans for s in p.workflows})
    rows += [row(f"workflows {s}", [p.workflows[s] for p in plans]) for s in statuses]
    rows.append(row("wall time (s)", [f"{wall_s:.1f}"] + [""] * (len(plans) - 1)))
    width = max(len(label) for label, _ in rows)
    cell = max(len(v) for _, values in rows for v in values)
    print()
    print(f"{'Summary':<{width}}  " + "  ".join(f"{p.program:>{cell}}" for p in plans))
    for label, values in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{v:>{cell}}" for v in values))
    if stopped:
        print(f"The simulation stopped early: {stopped}.")


# The funnel table's columns: a heading and where its figure comes from (rules.funnel's counts
# of the month report's states, or store.reports.figures_by_region).
FUNNEL_COLUMNS = (
    ("listed", "listed"),
    ("no_phone", "no_phone"),
    ("asked", "asked"),
    ("reminded", "reminded"),
    ("consented", "consented"),
    ("refused", "refused"),
    ("expired", "consent_expired"),
    ("issued", "issued"),
    ("activated", "activated"),
    ("used", "vouchers_used"),
    ("lapsed", "voucher_expired"),
    ("waiting", "waiting"),
    ("value_kzt", "value_issued_kzt"),
    ("settled_kzt", "settled_kzt"),
)
TOTAL = "TOTAL"


def funnel_rows(plan: Plan) -> dict[str, dict[str, int]]:
    """The funnel and money of each region of ``plan``, and the month's total (``TOTAL``)."""
    report, rows = plan.report, {}
    for region in sorted(set(report["by_region"]) | set(plan.regions)):
        extra = plan.regions.get(region, RegionFigures(0, 0, 0, 0, 0))
        rows[region] = funnel(report["by_region"].get(region, {})) | extra._asdict()
    # The totals are the month report's own: the regions must add up to them.
    settled = report["discount_total_kzt"] + report["redeemed_total_kzt"]
    rows[TOTAL] = funnel(report["by_state"]) | {
        "asked": sum(m.asked for m in plan.regions.values()),
        "reminded": sum(m.reminded for m in plan.regions.values()),
        "value_issued_kzt": sum(m.value_issued_kzt for m in plan.regions.values()),
        "vouchers_used": report["vouchers_used"],
        "settled_kzt": settled,
    }
    return rows


def _funnel_tables(plans: list[Plan]) -> None:
    """Print each program's funnel and money by region, then its totals.

    ``value_kzt`` is the vouchers' face value (food; a gas voucher's value is its discount);
    ``settled_kzt`` the gas discounts settled or the food purchases drawn from vouchers.
    """
    for plan in plans:
        rows = funnel_rows(plan)
        print()
        print(f"Funnel and money by region: {plan.program} {plan.month}")
        width = {name: max(len(name), 7) for name, _ in FUNNEL_COLUMNS}
        print(f"{'region':<9}" + " ".join(f"{name:>{width[name]}}" for name, _ in FUNNEL_COLUMNS))
        for region, figures in rows.items():
            cells = (f"{figures[key]:>{width[name]}}" for name, key in FUNNEL_COLUMNS)
            print(f"{region:<9}" + " ".join(cells))


def quiet_core_logs() -> None:
    """Keep the SDK core's warnings (e.g. slow workflow tasks while a large cohort starts) out
    of the table, in this process and in the worker processes; errors still show, and the
    product's own logging is unchanged. Called before any Temporal client exists."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet))))


def _last_day(month: str) -> date:
    """The 1st of the month after ``month``: the day its month-end deadlines show."""
    return calendar.month_end(month).date()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--program", choices=("gas", "food", "both"), default="both")
    parser.add_argument(
        "--citizens",
        type=int,
        default=DEFAULT_CITIZENS,
        help="the cohort, split evenly between the programs (default %(default)s)",
    )
    parser.add_argument("--database", help="a SQLite file to keep the month in (default: none)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes beside this one, one per CPU by default (%(default)s here; 0: the "
        "worker runs in this process)",
    )
    parser.add_argument("--month", help="YYYY-MM; default: each program's earliest open month")
    parser.add_argument(
        "--fresh-imports",
        action="store_true",
        help="import the workflows' modules afresh for each cycle, as the product's worker "
        "does (slower)",
    )
    parser.add_argument("--consent-rate", type=float, default=0.6)
    parser.add_argument("--refusal-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.month is not None:
        try:
            calendar.parse_month(args.month)
        except ValueError as invalid:
            parser.error(str(invalid))
    if not (0 <= args.consent_rate and 0 <= args.refusal_rate <= 1 - args.consent_rate):
        parser.error("the rates must be at least 0 and add up to at most 1")
    if args.citizens < len(PROGRAMS if args.program == "both" else (args.program,)):
        parser.error("--citizens must be at least 1 per program")
    quiet_core_logs()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
