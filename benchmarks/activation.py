"""``python -m benchmarks.activation [-n 300]``: the wallet's gas activation round-trip.

Against ``temporal server start-dev`` (temporary directory, free ports) with the product embedded
in this process (worker, API over loopback HTTP, simulated outside systems): N gas cycles are
started with rules whose send day is today and whose activation window is open now (real time),
each consents through its ``reply`` update, and once all N vouchers are issued the benchmark
runs, ``--in-flight`` at a time and from a process of its own as the wallet's would come
(``benchmarks.outside``), the wallet's two calls per voucher: ``POST …/account`` (an update that
asks the provider for the account and checks the month's claims at once) and ``POST …/confirm``
(an update that claims the account atomically in the database, with the activation and the
cycle's row in the same write). It prints activations per second and
the p50/p99 latency of the pair, beside the raw update round-trip on the same server in the same
run (``benchmarks.echo.Echo``: an update that answers at once, through the Python client, no
HTTP), so the figures say what the product's activation costs over Temporal's own update.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from temporalio.client import Client

from benchmarks.common import (
    bounded,
    percentile,
    print_table,
    run_alone,
    token_of,
)
from benchmarks.outside import Activations, from_outside
from benchmarks.updates import UpdateRun, raw_updates
from client.connection import product_client
from client.cycles import CycleClient
from devtools.embedded import EXAMPLE_PROGRAM_DATA, rules_due_now, run_embedded
from devtools.stack import temporal_dev_server
from models.cycle import Citizen, CycleState, Reply, cycle_id
from models.programs import ProgramBook
from models.reference import load_reference
from models.settings import Settings
from rules import calendar
from rules.pseudonyms import citizen_ref
from simulators.cohort import sample_cohort
from simulators.embedded import free_ports
from simulators.state import Account, World
from store.engine import create_engine, create_sessions
from store.reports import count_in_state
from store.vouchers import voucher_ids
from workers import setup_namespace

FIRST_ACCOUNT = 9_000_000_000  # the personal accounts the benchmark's vouchers take, in turn


async def count_in(settings: Settings, state: CycleState) -> int:
    engine = create_engine(settings.database_url)
    async with create_sessions(engine)() as session:
        number = await count_in_state(session, state=state.value)
    await engine.dispose()
    return number


async def wait_for(settings: Settings, state: CycleState, n: int, *, minutes: float) -> None:
    deadline = time.monotonic() + minutes * 60
    while (reached := await count_in(settings, state)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {reached} of {n} cycles reached {state}")
        await asyncio.sleep(0.5)


async def prepare(client: Client, settings: Settings, world: World, n: int) -> list[str]:
    """N gas vouchers issued and not activated; returns their IDs."""
    month, rules = rules_due_now()
    people = sample_cohort(n, 11, program="gas")
    for person in people:
        world.subscribers[person["iin"]] = person["phone"]
    citizens = [
        Citizen.model_validate({k: v for k, v in p.items() if k != "phone"}) for p in people
    ]
    refs = [citizen_ref(settings.pseudonym_key, c.iin) for c in citizens]

    cycles = CycleClient(
        client,
        task_queue=settings.task_queue,
        programs=ProgramBook(versions=(rules,)),
        reference=load_reference(EXAMPLE_PROGRAM_DATA),
        send_spread=timedelta(0),
    )

    async def start(pair: tuple[Citizen, str]) -> None:
        citizen, ref = pair
        await cycles.start(cycles.cycle_input("gas", month, citizen=citizen, citizen_ref=ref))

    await bounded(list(zip(citizens, refs, strict=True)), start, in_flight=64)
    await wait_for(settings, CycleState.AWAITING_CONSENT, n, minutes=10)

    async def consent(ref: str) -> None:
        reply = Reply(
            message_id=f"bench-{ref}", text="21*1", received_at=datetime.now(calendar.ALMATY)
        )
        await cycles.reply(cycle_id("gas", month, ref), reply)

    await bounded(refs, consent, in_flight=64)
    await wait_for(settings, CycleState.VOUCHER_ISSUED, n, minutes=10)
    engine = create_engine(settings.database_url)
    async with create_sessions(engine)() as session:
        vouchers = await voucher_ids(session)
    await engine.dispose()
    for number in range(len(vouchers)):
        account = f"{FIRST_ACCOUNT + number}"
        world.accounts[account] = Account(account, "Bench Holder", "Bench street", "AST")
    return vouchers


async def activate_all(
    api_url: str, token: str, vouchers: list[str], in_flight: int
) -> tuple[float, list[float]]:
    """The wallet's two calls per voucher, ``in_flight`` vouchers at a time, from a process of
    its own as the wallet's would be (``benchmarks.outside``)."""
    outcome = await from_outside(
        Activations(
            api_url=api_url,
            token=token,
            vouchers=vouchers,
            first_account=FIRST_ACCOUNT,
            in_flight=in_flight,
        )
    )
    return outcome.wall_s, outcome.latencies


@dataclass
class ActivationRun:
    """The activations and the raw update baseline at the same concurrency, same server."""

    n: int
    in_flight: int
    wall_s: float
    latencies: list[float]
    raw: UpdateRun

    @property
    def per_s(self) -> float:
        return len(self.latencies) / self.wall_s


async def measure(database_url: str, *, n: int = 300, in_flight: int = 16) -> ActivationRun:
    """Start a dev server, issue N vouchers, activate them, then the raw baseline; stop it."""
    with tempfile.TemporaryDirectory(prefix="bench-activation-") as tmp:
        data, (port, ui_port) = Path(tmp), free_ports(2)
        async with temporal_dev_server(data, port=port, ui_port=ui_port) as address:
            client = await Client.connect(address)
            await setup_namespace(client)
            settings = Settings(
                database_url=database_url, task_queue=f"bench-{uuid.uuid4().hex[:6]}"
            )
            world = World()
            async with run_embedded(client, settings, world) as product:
                product_side = product_client(client, product.settings)
                vouchers = await prepare(product_side, product.settings, world, n)
                token = token_of(settings, "wallet")
                took, latencies = await activate_all(product.api_url, token, vouchers, in_flight)
            raw = await raw_updates(client, n, in_flight)
    return ActivationRun(n=n, in_flight=in_flight, wall_s=took, latencies=latencies, raw=raw)


def print_run(run: ActivationRun) -> None:
    """The run's own table (``python -m benchmarks.activation``)."""

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    raw = run.raw.latencies
    print_table(
        f"Gas activation, {len(run.latencies)} vouchers, {run.in_flight} in flight",
        [
            ("activations/s (account + confirm)", f"{run.per_s:.1f}"),
            (
                "activation p50 / p99",
                f"{ms(percentile(run.latencies, 0.5))} / {ms(percentile(run.latencies, 0.99))}",
            ),
            ("raw update round-trips/s (baseline)", f"{run.raw.per_s:.1f}"),
            ("raw update p50 / p99", f"{ms(percentile(raw, 0.5))} / {ms(run.raw.p99)}"),
            ("updates per activation", "2"),
            ("activations/s per raw update/s", f"{run.per_s / run.raw.per_s:.2f}"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.activation", description=__doc__)
    parser.add_argument("-n", type=int, default=300, help="vouchers to activate")
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--database-url", help="the product's database (a temporary SQLite)")
    args = parser.parse_args()
    run_alone(args.database_url, partial(measure, n=args.n, in_flight=args.in_flight), print_run)


if __name__ == "__main__":
    main()
