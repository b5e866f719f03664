"""SQLite under load: one writer per process batches the store's writes, so concurrent writers
(tasks of one process, the API's and the worker's engines, another process on the same file)
never answer "database is locked", lose nothing, and fail only their own write."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from models.cycle import Citizen
from simulators.cohort import sample_cohort
from store import queries, vouchers
from store.engine import create_engine, create_schema, create_sessions
from store.tables import (
    AccountActivation,
    CycleRecord,
    InboundSmsRecord,
    RedemptionRecord,
    SmsRecord,
)
from store.writer import writer_for

AT = datetime(2026, 3, 5, 7, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]

# Another process writing the same file through the store, as the API does beside the worker.
OTHER_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from store import queries
    from store.engine import create_engine, create_sessions
    from store.tables import SmsRecord

    async def main(url: str, count: int) -> None:
        engine = create_engine(url)
        sessions = create_sessions(engine)

        async def one(number: int) -> None:
            sms = SmsRecord(
                idempotency_key=f"other-{number}", cycle_id=f"cycle-{number}", kind="reminder",
                message_id=f"m-{number}", program="gas", month="2026-03", region="almaty",
                accepted_at=datetime.now(UTC),
            )
            async with sessions() as session:
                await queries.log_sms(session, sms=sms)

        await asyncio.gather(*(one(number) for number in range(count)))
        await engine.dispose()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'product.db'}"
    engine = create_engine(url)
    await create_schema(engine)
    await engine.dispose()
    yield url


def cycle(number: int, state: str = "SCHEDULED") -> CycleRecord:
    return CycleRecord(
        cycle_id=f"cycle-{number}",
        program="gas",
        month="2026-03",
        region="almaty",
        state=state,
        citizen_ref=f"ref-{number}",
        voucher_id=f"voucher-{number}",
        updated_at=AT,
    )


async def count(engine: AsyncEngine, table: type[object]) -> int:
    async with create_sessions(engine)() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_concurrent_writers_never_find_the_database_locked_nor_lose_a_row(
    sqlite_url: str,
) -> None:
    """600 concurrent record calls through the API's and the worker's engines (each its own
    session, as activities and requests have) while another process writes 600 rows to the
    same file: every call succeeds and every row is there."""
    api, worker = create_engine(sqlite_url), create_engine(sqlite_url)
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OTHER_PROCESS, sqlite_url, "600", cwd=REPO
    )

    async def record(engine: AsyncEngine, number: int) -> None:
        async with create_sessions(engine)() as session:
            await queries.save_cycle(session, cycle=cycle(number))
            await queries.save_cycle(session, cycle=cycle(number, "AWAITING_CONSENT"))

    try:
        outcomes = await asyncio.gather(
            *(record(api if n % 2 else worker, n) for n in range(600)), return_exceptions=True
        )
        assert await other.wait() == 0
        errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        assert errors == []
        assert await count(api, CycleRecord) == 600
        assert await count(api, SmsRecord) == 600
        async with create_sessions(api)() as session:
            states = await session.exec(select(CycleRecord.state).distinct())
            assert states.all() == ["AWAITING_CONSENT"]
    finally:
        await api.dispose()
        await worker.dispose()


async def test_a_process_s_writes_are_grouped_in_few_transactions(sqlite_url: str) -> None:
    """Concurrent writes of one process share its writer (whatever engine they come through)
    and commit together: far fewer transactions than writes."""
    api, worker = create_engine(sqlite_url), create_engine(sqlite_url)
    writer = writer_for(sqlite_url)
    batches, writes = writer.batches, writer.writes

    async def record(engine: AsyncEngine, number: int) -> None:
        async with create_sessions(engine)() as session:
            await queries.save_cycle(session, cycle=cycle(number))

    try:
        await asyncio.gather(*(record(api if n % 2 else worker, n) for n in range(256)))
        assert writer.writes - writes == 256
        assert writer.batches - batches <= 256 // 8
    finally:
        await api.dispose()
        await worker.dispose()


async def test_one_write_s_refusal_fails_only_that_write(sqlite_url: str) -> None:
    """In one batch: a claim of an account already claimed answers False, a purchase ID of
    another voucher raises to its own caller, an inbound message kept twice answers False,
    and the other writes of the batch are committed."""
    engine = create_engine(sqlite_url)
    sessions = create_sessions(engine)
    taken = RedemptionRecord(
        purchase_id="p-1", voucher_id="v-1", program="food", month="2026-03",
        region="almaty", shop_id="s", discount_kzt=100, goods_kzt=500, at=AT,
    )  # fmt: skip

    async def claim(number: int) -> bool:
        activation = AccountActivation(
            month="2026-03", account_number="ACC-1", voucher_id=f"v-{number}",
            cycle_id=f"cycle-{number}", activated_at=AT,
        )  # fmt: skip
        async with sessions() as session:
            return await vouchers.claim_account(session, activation=activation)

    async def keep(number: int) -> bool:
        message = InboundSmsRecord(
            message_id=f"msg-{number % 10}", phone_ref="p", short_number="7111", text="21*1",
            received_at=AT,
        )  # fmt: skip
        async with sessions() as session:
            return await queries.keep_inbound(session, message=message)

    async def buy_with(voucher_id: str) -> None:
        spent = taken.model_copy(update={"voucher_id": voucher_id})
        async with sessions() as session:
            await vouchers.save_redemption(session, redemption=spent)

    async def record(number: int) -> None:
        async with sessions() as session:
            await queries.save_cycle(session, cycle=cycle(number))

    try:
        await buy_with("v-1")
        claims, kept, purchases, _ = await asyncio.gather(
            asyncio.gather(*(claim(n) for n in range(50))),
            asyncio.gather(*(keep(n) for n in range(50))),
            asyncio.gather(*(buy_with(f"v-{n}") for n in range(1, 11)), return_exceptions=True),
            asyncio.gather(*(record(n) for n in range(100))),
        )
        assert sorted(claims) == [False] * 49 + [True]
        assert sorted(kept) == [False] * 40 + [True] * 10
        assert purchases[0] is None
        assert all(isinstance(p, vouchers.PurchaseIdTaken) for p in purchases[1:])
        assert await count(engine, CycleRecord) == 100
        assert await count(engine, InboundSmsRecord) == 10
        assert await count(engine, RedemptionRecord) == 1
    finally:
        await engine.dispose()


async def test_a_caller_reads_its_own_write_at_once(sqlite_url: str) -> None:
    """A session that read, then wrote through the writer, reads the write next (its own
    transaction was ended, as a store function's commit always did); listings marked started
    show it on the caller's own objects."""
    engine = create_engine(sqlite_url)
    citizens = [(f"ref-{n}", Citizen.model_validate(c)) for n, c in enumerate(sample_cohort(3))]
    try:
        async with create_sessions(engine)() as session:
            assert await queries.cycle_ids(session) == []
            await queries.save_cycle(session, cycle=cycle(1))
            assert await queries.cycle_ids(session) == ["cycle-1"]
            added = await queries.add_listings(
                session, program="gas", month="2026-03", citizens=citizens, listed_at=AT
            )
            page = await queries.pending_listings(session, program="gas", month="2026-03", limit=10)
            await queries.mark_started(session, listings=page)
            assert (added, [(row.started, row.citizen) for row in page]) == (3, [(True, None)] * 3)
            assert not session.dirty
            again = await queries.pending_listings(
                session, program="gas", month="2026-03", limit=10
            )
            assert list(again) == []
    finally:
        await engine.dispose()


async def test_every_sqlite_connection_is_in_wal_with_a_busy_timeout(sqlite_url: str) -> None:
    """The engines the product creates set WAL, synchronous=NORMAL and a busy timeout on
    connect."""
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            sync = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
            busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert (mode, sync, busy) == ("wal", 1, 5000)
    finally:
        await engine.dispose()
