"""``python -m benchmarks.cycles [-n 500]``: whole gas months under the time-skipping server.

What it measures: N gas citizens listed through the API (as SDU lists them: the month's intake
starts their cycles and the gas hand-over) and run through a whole month on Temporal's
time-skipping test server, with the product's worker, API and simulated outside systems in this
process (``devtools.embedded``; the database ``--database-url`` names, SQLite in a temporary
directory by default). Every citizen has a phone; the clock is moved to the send day, where half
of them consent through the ``reply`` update (``CycleClient.reply``). ``--happy`` of those
then go the whole happy path: the wallet activates their voucher (``POST …/account`` and
``…/confirm``), the month's hand-over tells them, the provider reports their consumption and
they settle. The other consenting vouchers lapse unactivated; the non-consenting half get the
reminder and expire at the deadline.

How to read it: "wall time" runs from the first listing call to the last cycle closed, with its
phases below it; "cycles per second" is N over that time. Because the clock only waits for work,
this is the work a month costs, compressed: every workflow task, activity and database write of
N cycles, not the dev server's or a real month's pacing. History events per path come from the
histories of the happy cycles and a sample of the others (``--save-histories DIR`` keeps them
for ``python -m benchmarks.billable``); the cycle input's size from a history's first event. The
baseline runs N workflows that complete in their first task (``benchmarks.trivial``, own worker
and task queue) on the same server in the same run; the ratio is cycles/s over trivial
workflows/s, i.e. roughly one over how many trivial workflows' worth of work one month of a
cycle is.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.common import (
    STARTS_IN_FLIGHT,
    bounded,
    list_citizens,
    poll_until,
    print_table,
    run_alone,
    token_of,
)
from benchmarks.trivial import Trivial
from client.connection import product_client
from client.cycles import CycleClient
from devtools.embedded import (
    EXAMPLE_PROGRAM_DATA,
    Embedded,
    TimeSkipping,
    run_embedded,
    time_skipping_server,
)
from models.cycle import CycleState, CycleStatus, Reply, cycle_id, voucher_id
from models.programs import ProgramVersion, load_programs
from models.reference import load_reference
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort, seed_world
from simulators.state import Account, World
from store.engine import Sessions, create_engine, create_sessions
from store.reports import count_checked, count_in_state

MINUTE = timedelta(minutes=1)
WAIT_LIMIT_S = 600.0  # for any one phase to finish
PATHS = ("happy", "lapsed", "unanswered")  # activated and settled; issued, never activated; texted


@dataclass
class PathHistories:
    """The sampled histories of one path: events per cycle, and event types over them all."""

    events: list[int] = field(default_factory=list)
    workflow_tasks: list[int] = field(default_factory=list)
    activities: list[int] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


@dataclass
class TrivialRun:
    n: int
    started_s: float
    wall_s: float

    @property
    def per_s(self) -> float:
        return self.n / self.wall_s


@dataclass
class MonthRun:
    """What the product's run measured, and the baseline beside it."""

    n: int
    month: str
    consenting: int
    happy: int
    phases: list[tuple[str, float]] = field(default_factory=list)
    wall_s: float = 0.0
    replies: Counter[str] = field(default_factory=Counter)
    sms: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    paths: dict[str, PathHistories] = field(default_factory=dict)
    input_bytes: int = 0  # the cycle input as serialized (JSON), before the payload codec
    input_stored_bytes: int = 0  # the payload as the history stores it (encrypted, metadata)
    trivial: TrivialRun | None = None

    @property
    def per_s(self) -> float:
        return self.n / self.wall_s


async def measure(
    database_url: str,
    *,
    n: int = 500,
    sample: int = 20,
    happy: int = 10,
    save_histories: Path | None = None,
) -> MonthRun:
    """Run the product's month and the baseline on one fresh test server."""
    async with time_skipping_server() as server:
        settings = Settings(database_url=database_url, task_queue="bench-cycles")
        month = await _month_run(server, settings, n, sample, happy, save_histories)
        month.trivial = await _trivial_run(server.plain, n)
    return month


@dataclass
class _Cohort:
    people: list[dict[str, Any]]
    ids: list[str]
    happy: list[str]
    lapsed: list[str]
    unanswered: list[str]


@dataclass(frozen=True)
class _Live:
    """The running month: the test server, the embedded product and its clients."""

    server: TimeSkipping
    running: Embedded
    product: CycleClient
    client: Client
    sessions: Sessions
    rules: ProgramVersion

    def token(self, role: str) -> str:
        return token_of(self.running.settings, role)


async def _month_run(
    server: TimeSkipping,
    settings: Settings,
    n: int,
    sample: int,
    happy: int,
    save_histories: Path | None,
) -> MonthRun:
    world = World()
    people = sample_cohort(n, 7, program="gas")
    seed_world(world, people, without_phone_every=0, accounts=0)
    month, rules = await _whole_month_ahead(server.env)
    async with run_embedded(server.plain, settings, world) as running:
        client = product_client(server.plain, running.settings)
        product = CycleClient(
            client,
            task_queue=running.settings.task_queue,
            programs=load_programs(running.settings.program_data_dir),
            reference=load_reference(running.settings.program_data_dir),
            send_spread=timedelta(0),
        )
        key = running.settings.pseudonym_key
        ids = [cycle_id("gas", month, citizen_ref(key, p["iin"])) for p in people]
        consenting = ids[::2]
        cohort = _Cohort(
            people=people,
            ids=ids,
            happy=consenting[:happy],
            lapsed=consenting[happy:],
            unanswered=ids[1::2],
        )
        result = MonthRun(n=n, month=month, consenting=len(consenting), happy=len(cohort.happy))
        engine = create_engine(running.settings.database_url)
        try:
            live = _Live(server, running, product, client, create_sessions(engine), rules)
            await _live_month(live, cohort, result)
        finally:
            await engine.dispose()
        for path, chosen in (
            ("happy", cohort.happy),
            ("lapsed", _spread(cohort.lapsed, sample // 2)),
            ("unanswered", _spread(cohort.unanswered, sample)),
        ):
            result.paths[path] = PathHistories()
            for workflow_id in chosen:
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                _count_history(history, result.paths[path])
                if save_histories is not None and workflow_id == chosen[0]:
                    save_histories.mkdir(parents=True, exist_ok=True)
                    (save_histories / f"gas-{path}.json").write_text(history.to_json())
        await _input_size(client, ids[0], result)
    return result


async def _live_month(live: _Live, cohort: _Cohort, result: MonthRun) -> None:
    """Drive the month: list, send day, consents, activations, reminders, hand-over, close."""
    n, month, rules = result.n, result.month, live.rules
    env, clock, api_url = live.server.env, live.server.clock, live.running.api_url
    sent = _sms_counter(live.running.world)
    began = last = time.perf_counter()

    def phase(label: str) -> None:
        nonlocal last
        now = time.perf_counter()
        result.phases.append((label, now - last))
        last = now

    await list_citizens(api_url, live.token("sdu"), "gas", month, cohort.people)
    await poll_until(partial(_checked, live.sessions, month), n, "phone checks")
    phase(f"list {n} citizens: intake, cycles started, phones checked")
    send = calendar.send_moment(rules, month)
    await _advance(env, clock, send + MINUTE)
    await _until(lambda: sent()["consent_request"], n, "consent requests")
    phase(f"{n} consent SMS on the send day")

    async def consent(workflow_id: str) -> None:
        reply = Reply(
            message_id=f"bench-{uuid.uuid4().hex}",
            text=rules.reply_codes.agree,
            received_at=send,
        )
        result.replies[await live.product.reply(workflow_id, reply)] += 1

    await bounded(cohort.happy + cohort.lapsed, consent, in_flight=STARTS_IN_FLIGHT)
    await _until(lambda: sent()["confirmation"], result.consenting, "confirmations")
    phase(f"{result.consenting} consents by update, then their confirmation SMS")
    accounts = await _activate(live, cohort)
    phase(f"{len(cohort.happy)} vouchers activated by the wallet (account + confirm)")
    await _advance(env, clock, calendar.reminder_due(rules, send) + MINUTE)
    await _until(lambda: sent()["reminder"], len(cohort.unanswered), "reminders")
    phase(f"{len(cohort.unanswered)} reminders 7 days later")
    if cohort.happy:
        await _handover_and_settle(live, month, accounts)
        phase(f"hand-over, then {len(cohort.happy)} consumption readings settled")
    await _advance(env, clock, calendar.month_end(month) + MINUTE)

    async def close(workflow_id: str) -> None:
        handle = live.client.get_workflow_handle(workflow_id, result_type=CycleStatus)
        status = await asyncio.wait_for(handle.result(), WAIT_LIMIT_S)
        result.states[status.state.value] += 1

    await bounded(cohort.ids, close, in_flight=STARTS_IN_FLIGHT)
    phase("deadline and activation close: every cycle closed")
    result.wall_s = time.perf_counter() - began
    result.sms = sent()


async def _activate(live: _Live, cohort: _Cohort) -> dict[str, str]:
    """The wallet's two calls for each happy voucher; returns the account of each cycle."""
    accounts: dict[str, str] = {}
    for number, workflow_id in enumerate(cohort.happy):
        account = f"{8_000_000_000 + number}"
        holder = Account(account, "Bench Holder", "Bench street 1", "KAR")
        live.running.world.accounts[account] = holder
        accounts[workflow_id] = account
    async with httpx.AsyncClient(
        base_url=live.running.api_url,
        headers={"Authorization": f"Bearer {live.token('wallet')}"},
        timeout=WAIT_LIMIT_S,
    ) as wallet:

        async def activate(workflow_id: str) -> None:
            voucher = voucher_id(workflow_id)
            shown = await wallet.post(
                f"/v1/vouchers/{voucher}/account",
                json={"account_number": accounts[workflow_id]},
            )
            confirmed = await wallet.post(f"/v1/vouchers/{voucher}/confirm", json={})
            if shown.status_code != 200 or confirmed.status_code != 200:
                raise RuntimeError(f"activation: {shown.text} / {confirmed.text}")

        await bounded(cohort.happy, activate, in_flight=16)
    return accounts


async def _handover_and_settle(live: _Live, month: str, accounts: dict[str, str]) -> None:
    """The month's hand-over reaches the activated cycles; the provider's readings settle them."""
    handover = calendar.handover_moment(live.rules, month)
    if handover is None:
        raise RuntimeError("a gas program has a hand-over day")
    await _advance(live.server.env, live.server.clock, handover + 2 * MINUTE)
    happy, sessions = len(accounts), live.sessions
    await poll_until(
        partial(_in_state, sessions, CycleState.HANDED_OVER), happy, "cycles handed over"
    )
    readings = [{"account_number": a, "volume_m3": "12.5"} for a in accounts.values()]
    async with httpx.AsyncClient(
        base_url=live.running.api_url,
        headers={"Authorization": f"Bearer {live.token('provider')}"},
        timeout=WAIT_LIMIT_S,
    ) as provider:
        answer = await provider.post(
            f"/v1/programs/gas/months/{month}/consumption", json={"readings": readings}
        )
        if answer.status_code != 202:
            raise RuntimeError(f"consumption: {answer.status_code} {answer.text}")
    await poll_until(partial(_in_state, sessions, CycleState.SETTLED), happy, "cycles settled")


async def _checked(sessions: Sessions, month: str) -> int:
    async with sessions() as session:
        return await count_checked(session, program="gas", month=month)


async def _in_state(sessions: Sessions, state: CycleState) -> int:
    async with sessions() as session:
        return await count_in_state(session, state=state.value)


async def _whole_month_ahead(env: WorkflowEnvironment) -> tuple[str, ProgramVersion]:
    """The first gas month starting after the test server's now, so the whole month runs."""
    book = load_programs(EXAMPLE_PROGRAM_DATA)
    month = calendar.month_of(await env.get_current_time())
    for _ in range(24):
        month = calendar.next_month(month)
        rules = book.for_month("gas", month)
        if rules is not None:
            return month, rules
    raise SystemExit("no gas program version in the next 24 months")


async def _advance(env: WorkflowEnvironment, clock: Client, moment: datetime) -> None:
    """``env.sleep`` to ``moment``, on a connection that can wait for N cycles' burst of work.

    The test server keeps its clock still until every task it handed out is done, so the call
    can block for minutes: longer than the default 30 s RPC timeout, and longer than the test
    server tolerates the client's HTTP/2 keep-alive pings on a busy call (after about 90 s it
    drops the connection: "transport error"). ``clock`` is connected without keep-alive.
    """
    delta = moment - await env.get_current_time()
    if delta <= timedelta(0):
        return
    request = SleepRequest()
    request.duration.FromTimedelta(delta)
    await clock.test_service.unlock_time_skipping_with_sleep(
        request, timeout=timedelta(seconds=WAIT_LIMIT_S)
    )


async def _until(count: Callable[[], int], expected: int, what: str) -> None:
    """Poll (bounded) until ``count()`` reaches ``expected``: activities run in real time."""
    deadline = time.perf_counter() + WAIT_LIMIT_S
    while (found := count()) < expected:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what}: {found} of {expected} after {WAIT_LIMIT_S:.0f} s")
        await asyncio.sleep(0.05)


def _sms_counter(world: World) -> Callable[[], Counter[str]]:
    """The SMS the gateway accepted so far, by kind (the idempotency key's suffix)."""

    def count() -> Counter[str]:
        return Counter(m.idempotency_key.rsplit(":", 1)[1] for m in world.messages)

    return count


def _spread(ids: list[str], k: int) -> list[str]:
    """``k`` of ``ids``, evenly spaced."""
    return ids[:: max(1, len(ids) // max(k, 1))][:k]


def event_kinds(history: WorkflowHistory) -> Counter[str]:
    """A history's events counted by type (markers by name)."""
    kinds: Counter[str] = Counter()
    for event in history.events:
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        if event.HasField("marker_recorded_event_attributes"):
            kind += f":{event.marker_recorded_event_attributes.marker_name}"
        kinds[kind] += 1
    return kinds


def _count_history(history: WorkflowHistory, path: PathHistories) -> None:
    kinds = event_kinds(history)
    path.events.append(len(history.events))
    path.workflow_tasks.append(kinds["WORKFLOW_TASK_COMPLETED"])
    path.activities.append(kinds["ACTIVITY_TASK_COMPLETED"])
    path.kinds.update(kinds)


async def _input_size(client: Client, workflow_id: str, result: MonthRun) -> None:
    """The cycle input's size, from the first event of a started cycle's history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    stored = list(started.input.payloads)
    codec = client.data_converter.payload_codec
    plain = await codec.decode(stored) if codec is not None else stored
    result.input_stored_bytes = sum(p.ByteSize() for p in stored)
    result.input_bytes = sum(len(p.data) for p in plain)


async def _trivial_run(client: Client, n: int) -> TrivialRun:
    """Start N trivial workflows (64 in flight) on their own worker and wait for them all."""
    task_queue = f"bench-trivial-{uuid.uuid4().hex[:8]}"
    handles: list[WorkflowHandle[Any, int]] = []

    async def start(number: int) -> None:
        handle = await client.start_workflow(
            Trivial.run, number, id=f"{task_queue}-{number}", task_queue=task_queue
        )
        handles.append(handle)

    async def finish(handle: WorkflowHandle[Any, int]) -> None:
        await asyncio.wait_for(handle.result(), WAIT_LIMIT_S)

    async with Worker(client, task_queue=task_queue, workflows=[Trivial]):
        began = time.perf_counter()
        await bounded(range(n), start, in_flight=STARTS_IN_FLIGHT)
        started = time.perf_counter() - began
        await bounded(handles, finish, in_flight=STARTS_IN_FLIGHT)
        return TrivialRun(n=n, started_s=started, wall_s=time.perf_counter() - began)


def spread(values: list[int]) -> str:
    """Mean and max of per-cycle counts."""
    if not values:
        return "none sampled"
    return f"mean {statistics.fmean(values):.1f}, max {max(values)}"


def print_run(month: MonthRun) -> None:
    """The run's own table (``python -m benchmarks.cycles``)."""

    def listing(counts: Counter[str]) -> str:
        return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))

    rows = [
        ("month", month.month),
        (
            "cycles",
            f"{month.n} ({month.consenting} consent, {month.happy} of them activated and "
            f"settled; {month.n - month.consenting} not)",
        ),
        *((f"  {label}", f"{seconds:8.1f} s") for label, seconds in month.phases),
        ("wall time", f"{month.wall_s:8.1f} s"),
        ("cycles per second", f"{month.per_s:8.1f}"),
        ("cycle input", f"{month.input_bytes} B JSON, {month.input_stored_bytes} B as stored"),
    ]
    for path, found in month.paths.items():
        sampled = len(found.events)
        rows += [
            (f"{path}: history events ({sampled})", spread(found.events)),
            (f"{path}: workflow tasks", spread(found.workflow_tasks)),
            (f"{path}: activities", spread(found.activities)),
        ]
    rows += [
        ("replies answered", listing(month.replies)),
        ("SMS sent", listing(month.sms)),
        ("final states", listing(month.states)),
    ]
    print_table("Gas cycles, a whole month each, on the time-skipping test server", rows)
    print()
    trivial = month.trivial
    if trivial is None:
        return
    print_table(
        "Baseline: trivial workflows, same server, same run",
        [
            ("workflows", str(trivial.n)),
            ("  started", f"{trivial.started_s:8.1f} s"),
            ("wall time (started and completed)", f"{trivial.wall_s:8.1f} s"),
            ("workflows per second", f"{trivial.per_s:8.1f}"),
        ],
    )
    print()
    print(f"Ratio: cycles/s / trivial workflows/s = {month.per_s / trivial.per_s:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cycles",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", type=int, default=500, help="gas cycles (default 500)")
    parser.add_argument("--sample", type=int, default=20, help="histories to count (20)")
    parser.add_argument("--happy", type=int, default=10, help="activated and settled (10)")
    parser.add_argument("--database-url", help="the product's database (a temporary SQLite)")
    parser.add_argument("--save-histories", type=Path, help="folder for one history per path")
    args = parser.parse_args()
    if args.n < 4 or args.sample < 1 or not 0 <= args.happy <= args.n // 2:
        parser.error("-n must be at least 4, --sample at least 1, --happy at most n/2")
    run_alone(
        args.database_url,
        partial(
            measure,
            n=args.n,
            sample=args.sample,
            happy=args.happy,
            save_histories=args.save_histories,
        ),
        print_run,
    )


if __name__ == "__main__":
    main()
