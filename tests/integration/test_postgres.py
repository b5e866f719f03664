"""The database on PostgreSQL (production's) as on SQLite: the migrations build exactly the
models' schema, concurrently and repeatedly, and the product's queries work on a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, DateTime, Index, MetaData, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.food_reporting import FoodReporting
from activities.records import Records
from devtools.postgres import Cluster
from models.calls import (
    AccountClaim,
    ConsentAct,
    ConsentQuery,
    CycleSnapshot,
    RedemptionAct,
    ReportDay,
)
from models.cycle import Citizen
from rules import calendar
from store import migrations, queries, reports, vouchers
from store.engine import create_engine, create_schema, create_sessions
from store.tables import CycleRecord, RedemptionRecord, SmsRecord, VoucherRecord
from tests.harness import eventually, run_product

AT = datetime(2026, 3, 5, 7, 30, tzinfo=UTC)


@pytest.fixture
async def postgres_url(cluster: Cluster) -> str:
    """An empty PostgreSQL database."""
    return await cluster.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the product runs on."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'product.db'}"
    cluster: Cluster = request.getfixturevalue("cluster")
    return await cluster.create_database()


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated PostgreSQL database."""
    engine = create_engine(postgres_url)
    await create_schema(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_failed_statement_s_error_carries_no_parameters(database_url: str) -> None:
    """A database error's text (which reaches logs and Temporal's failure messages) never
    quotes the statement's parameters: they hold IINs."""
    engine = create_engine(database_url)
    try:
        await create_schema(engine)
        with pytest.raises(DBAPIError) as failed:
            async with engine.begin() as connection:
                statement = text("INSERT INTO listings (program, month) VALUES (:iin, :iin)")
                await connection.execute(statement, {"iin": "870412300123"})
    finally:
        await engine.dispose()
    assert "870412300123" not in str(failed.value)
    assert "hidden" in str(failed.value)


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _head() -> str | None:
    return ScriptDirectory(str(migrations.HERE)).get_current_head()


async def _revisions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return [row[0] for row in rows]


async def test_the_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    """On an empty database the migrations reach head, and autogenerate finds nothing to add:
    a model changed without a migration fails here."""
    engine = create_engine(database_url)
    try:
        await create_schema(engine)
        async with engine.connect() as connection:
            drift = await connection.run_sync(_drift)
        assert drift == []
        assert await _revisions(engine) == [_head()]
    finally:
        await engine.dispose()


async def test_migrating_again_and_from_two_processes_at_once_is_harmless(
    database_url: str,
) -> None:
    """Worker and API starting together (engines migrating at once), then again: one schema."""
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(create_schema(engine) for engine in engines))
        await create_schema(engines[0])
        assert await _revisions(engines[0]) == [_head()]
        async with engines[0].connect() as connection:
            assert await connection.run_sync(_drift) == []
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_database_created_before_migrations_is_adopted(database_url: str) -> None:
    """Tables ``create_all`` made (by an older sqlmodel: naive timestamps; no ``alembic_version``;
    a table added since missing) keep their rows and become the models' schema."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_create_all_of_old)
            await connection.execute(
                text(
                    "INSERT INTO cycles (cycle_id, program, month, region, state, citizen_ref,"
                    " voucher_id, updated_at) VALUES ('c-1', 'gas', '2026-03', 'AST',"
                    " 'SCHEDULED', 'ref-1', 'v-1', '2026-03-05 07:30:00')"
                )
            )
        await create_schema(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_drift) == []
        async with create_sessions(engine)() as session:
            cycle = await session.get(CycleRecord, "c-1")
        assert cycle is not None and cycle.updated_at == AT
        assert await _revisions(engine) == [_head()]
    finally:
        await engine.dispose()


# The single-column indexes of the models before revision 0002 replaced them.
_INDEXED_BEFORE_0002 = {"cycles": "program", "listings": "started"}


def _create_all_of_old(connection: Connection) -> None:
    """What ``SQLModel.metadata.create_all`` made before migrations, with sqlmodel < 0.0.45,
    before the redemptions and purchase lines tables, the composite indexes and the listings'
    digests existed."""
    old = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        if table.name in ("redemptions", "purchase_lines"):
            continue
        copy = table.to_metadata(old)
        for column in copy.columns:
            if isinstance(getattr(column.type, "impl", column.type), DateTime):
                column.type = DateTime()
        for index in [i for i in copy.indexes if len(i.columns) > 1]:
            copy.indexes.remove(index)
        if table.name in _INDEXED_BEFORE_0002:
            column_name = _INDEXED_BEFORE_0002[table.name]
            Index(f"ix_{table.name}_{column_name}", copy.c[column_name])
    old.create_all(connection)
    connection.execute(text("ALTER TABLE listings DROP COLUMN fingerprint"))  # revision 0003's
    connection.execute(text("ALTER TABLE cycles DROP COLUMN attention"))  # revision 0005's


async def test_revision_0002_keeps_the_rows_and_goes_back_and_forth(database_url: str) -> None:
    """A database at 0001 with a purchase in it reaches head with the purchase kept (no balance
    known); down to 0001 and up again, the schema is still exactly the models'."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "upgrade", "0001")
            await connection.execute(
                text(
                    "INSERT INTO redemptions (purchase_id, voucher_id, program, month, region,"
                    " shop_id, discount_kzt, goods_kzt, at) VALUES ('p-1', 'v-1', 'food',"
                    " '2026-03', 'PAV', 'shop-1', 350, 1000, '2026-03-05 07:30:00+00')"
                )
            )
        await create_schema(engine)
        async with create_sessions(engine)() as session:
            kept = await vouchers.redemption(session, purchase_id="p-1")
        assert kept is not None and (kept.discount_kzt, kept.balance_after_kzt) == (350, None)
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "downgrade", "0001")
        assert await _revisions(engine) == ["0001"]
        await create_schema(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_drift) == []
        assert await _revisions(engine) == [_head()]
    finally:
        await engine.dispose()


def _migrate(connection: Connection, direction: str, revision: str) -> None:
    config = migrations.alembic_config(connection)
    if direction == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def test_cycles_are_upserted_with_aware_timestamps(engine: AsyncEngine) -> None:
    """``record_cycle`` inserts then updates one row; the moment comes back aware, unchanged."""
    records = Records(create_sessions(engine))
    almaty = timezone(timedelta(hours=5))
    snapshot = _snapshot("c-1", state="SCHEDULED", at=AT)
    await records.record_cycle(snapshot)
    await records.record_cycle(
        snapshot.model_copy(update={"state": "AWAITING_CONSENT", "at": AT.astimezone(almaty)})
    )
    async with create_sessions(engine)() as session:
        row = await session.get(CycleRecord, "c-1")
    assert row is not None and row.state == "AWAITING_CONSENT"
    assert row.updated_at == AT and row.updated_at.utcoffset() is not None


async def test_a_row_written_again_is_replaced_whole(database_url: str) -> None:
    """A cycle's row written again (``store.rows.put``: one upsert by its key) replaces every
    column: a flag cleared (``attention`` back to None) is cleared in the database too."""
    engine = create_engine(database_url)
    try:
        await create_schema(engine)
        records = Records(create_sessions(engine))
        snapshot = _snapshot("c-1", state="AWAITING_CONSENT", at=AT)
        await records.record_cycle(snapshot.model_copy(update={"attention": "no_handover"}))
        later = AT + timedelta(days=1)
        await records.record_cycle(
            snapshot.model_copy(update={"state": "REMINDED", "attention": None, "at": later})
        )
        async with create_sessions(engine)() as session:
            rows = (await session.exec(select(CycleRecord))).all()
    finally:
        await engine.dispose()
    assert [(r.cycle_id, r.state, r.attention, r.updated_at) for r in rows] == [
        ("c-1", "REMINDED", None, later)
    ]


async def test_of_two_concurrent_claims_on_one_account_exactly_one_wins(
    engine: AsyncEngine,
) -> None:
    """The primary key decides between two vouchers claiming an account at the same instant;
    the winner's retry still wins."""
    records = Records(create_sessions(engine))
    for month in ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05"):  # no win by luck
        claims = [
            AccountClaim(
                month=month, account_number="0000000042", voucher_id=v, cycle_id=f"c-{v}", at=AT
            )
            for v in ("v-1", "v-2")
        ]
        won = await asyncio.gather(*(records.claim_account(c) for c in claims))
        assert sorted(won) == [False, True]
        winner = claims[won.index(True)]
        assert await records.claim_account(winner) is True
        assert await records.account_taken(claims[won.index(False)]) is True


async def test_a_won_claim_writes_the_activation_and_the_cycle_s_row_and_a_lost_one_nothing(
    database_url: str,
) -> None:
    """The account's claim carries the cycle's ACTIVATED row: won, the claim, the voucher's
    activation and the row are written together (a retry wins again); lost, none of them."""
    engine = create_engine(database_url)
    await create_schema(engine)
    sessions = create_sessions(engine)
    records = Records(sessions)
    try:
        for v in ("c-1", "c-2"):
            async with sessions() as session:
                await vouchers.save_voucher(
                    session,
                    voucher=VoucherRecord(
                        voucher_id=f"v-{v}", cycle_id=v, program="gas", month="2026-03",
                        region="almaty", valid_until=date(2026, 3, 29), issued_at=AT,
                    ),
                )  # fmt: skip
            await records.record_cycle(_snapshot(v, state="ACCOUNT_PENDING_CONFIRMATION", at=AT))

        def claim(v: str) -> AccountClaim:
            return AccountClaim(
                month="2026-03", account_number="0000000042", voucher_id=f"v-{v}", cycle_id=v,
                at=AT, row=_snapshot(v, state="ACTIVATED", at=AT),
            )  # fmt: skip

        assert await records.claim_account(claim("c-1")) is True
        assert await records.claim_account(claim("c-1")) is True  # the retry of a winner
        assert await records.claim_account(claim("c-2")) is False
        async with sessions() as session:
            rows = [await session.get(CycleRecord, v) for v in ("c-1", "c-2")]
            won = await session.get(VoucherRecord, "v-c-1")
            lost = await session.get(VoucherRecord, "v-c-2")
        assert [row.state for row in rows if row] == ["ACTIVATED", "ACCOUNT_PENDING_CONFIRMATION"]
        assert won is not None and won.account_number == "0000000042" and won.activated_at
        assert lost is not None and lost.account_number is None and lost.activated_at is None
    finally:
        await engine.dispose()


async def test_the_latest_decision_under_a_program_version_counts(engine: AsyncEngine) -> None:
    """A consent on file until a later refusal; another program version has none."""
    records = Records(create_sessions(engine))
    query = ConsentQuery(citizen_ref="ref-1", program_version="gas-2026")
    assert await records.consent_on_file(query) is False
    await records.record_consent(_consent("m-1", "agree", AT))
    await records.record_consent(_consent("m-1", "agree", AT))  # a retried activity
    assert await records.consent_on_file(query) is True
    await records.record_consent(_consent("m-2", "refuse", AT + timedelta(days=1)))
    assert await records.consent_on_file(query) is False
    other = query.model_copy(update={"program_version": "gas-2027"})
    assert await records.consent_on_file(other) is False


async def test_listings_count_each_citizen_once_and_stay_pending(engine: AsyncEngine) -> None:
    """Duplicates within a batch and across batches are listed once; all are pending."""
    sessions = create_sessions(engine)
    people = [(f"ref-{i}", Citizen(iin=f"{i:012d}", region="AST")) for i in range(3)]
    async with sessions() as session:
        first = await queries.add_listings(
            session, program="gas", month="2026-03", citizens=[*people, people[0]], listed_at=AT
        )
    extra = ("ref-9", Citizen(iin="000000000009", region="ALA"))
    async with sessions() as session:
        second = await queries.add_listings(
            session, program="gas", month="2026-03", citizens=[*people, extra], listed_at=AT
        )
    async with sessions() as session:
        pending = await queries.pending_listings(session, program="gas", month="2026-03", limit=10)
        limited = await queries.pending_listings(session, program="gas", month="2026-03", limit=2)
    assert (first, second) == (3, 1)
    assert {p.citizen_ref for p in pending} == {"ref-0", "ref-1", "ref-2", "ref-9"}
    assert len(limited) == 2 and all(p.listed_at == AT for p in pending)


async def test_month_figures_and_money_totals(engine: AsyncEngine) -> None:
    """Cycles are counted by region and state, SMS and money summed, for one program-month."""
    records = Records(create_sessions(engine))
    for cycle, region, state in [
        ("c-1", "AST", "VOUCHER_ISSUED"),
        ("c-2", "AST", "VOUCHER_ISSUED"),
        ("c-3", "ALA", "REFUSED"),
    ]:
        await records.record_cycle(_snapshot(cycle, region=region, state=state, at=AT))
    await records.record_cycle(_snapshot("c-4", state="REFUSED", at=AT, month="2026-04"))
    async with create_sessions(engine)() as session:
        session.add_all(
            [
                SmsRecord(
                    idempotency_key=f"c-1:{kind}",
                    cycle_id="c-1",
                    kind=kind,
                    message_id=f"sms-{kind}",
                    program="gas",
                    month="2026-03",
                    region="AST",
                    accepted_at=AT,
                )
                for kind in ("offer", "reminder")
            ]
            + [_voucher("v-1", discount_kzt=1200), _voucher("v-2", discount_kzt=None)]
            + [_voucher("v-3", discount_kzt=800, program="food"), _redemption("p-1", 350)]
        )
        await session.commit()
    async with create_sessions(engine)() as session:
        by_region, sms = await reports.month_figures(session, program="gas", month="2026-03")
        gas = await reports.money_totals(session, program="gas", month="2026-03")
        food = await reports.money_totals(session, program="food", month="2026-03")
        empty = await reports.money_totals(session, program="gas", month="2030-01")
    assert by_region == {"AST": {"VOUCHER_ISSUED": 2}, "ALA": {"REFUSED": 1}}
    assert sms == 2
    assert (gas, food, empty) == ((1200, 0), (800, 350), (0, 0))


async def test_the_food_daily_report_counts_exactly_the_local_day(database_url: str) -> None:
    """The day is [00:00, 24:00) in Almaty: a moment at its start counts, one at its end does
    not; gas vouchers never; a day without rows reports zeros. What is counted is what is put."""
    start = datetime(2026, 3, 5, tzinfo=calendar.ALMATY)
    end, tick = start + timedelta(days=1), timedelta(microseconds=1)
    vouchers = [
        ("v-a", "food", start, end - tick),
        ("v-b", "food", start - tick, end),
        ("v-c", "gas", start + timedelta(hours=3), start + timedelta(hours=4)),
        ("v-d", "food", (start + timedelta(hours=12)).astimezone(UTC), None),
    ]
    purchases = [("p-a", start, 100, 1000), ("p-b", end - timedelta(seconds=1), 50, 400)]
    purchases += [("p-c", end, 7, 70), ("p-d", start - tick, 9, 90)]
    put: dict[str, Any] = {}

    def provider(request: httpx.Request) -> httpx.Response:
        put[request.url.path] = json.loads(request.content)
        return httpx.Response(200)

    engine = create_engine(database_url)
    try:
        await create_schema(engine)
        sessions = create_sessions(engine)
        async with sessions() as session:
            for voucher_id, program, issued_at, activated_at in vouchers:
                voucher = _voucher(voucher_id, discount_kzt=None, program=program)
                voucher.issued_at, voucher.activated_at = issued_at, activated_at
                session.add(voucher)
            for purchase_id, at, discount_kzt, goods_kzt in purchases:
                purchase = _redemption(purchase_id, discount_kzt)
                purchase.at, purchase.goods_kzt = at, goods_kzt
                session.add(purchase)
            await session.commit()
        transport = httpx.MockTransport(provider)
        async with httpx.AsyncClient(transport=transport, base_url="http://food") as http:
            reporting = FoodReporting(http, sessions)
            day = await reporting.daily_report(ReportDay(day=date(2026, 3, 5)))
            empty = await reporting.daily_report(ReportDay(day=date(2026, 3, 7)))
    finally:
        await engine.dispose()
    assert day.model_dump(exclude={"date"}) == {
        "program": "food",
        "vouchers_issued": 2,
        "vouchers_activated": 1,
        "vouchers_used": 1,
        "purchases": 2,
        "redeemed_kzt": 150,
        "goods_kzt": 1400,
        "goods": {},
    }
    assert put["/v1/reports/daily/2026-03-05"] == day.model_dump(mode="json")
    assert empty.model_dump(include={"purchases", "redeemed_kzt", "vouchers_issued"}) == {
        "purchases": 0,
        "redeemed_kzt": 0,
        "vouchers_issued": 0,
    }


async def test_a_gas_cycle_runs_to_an_activated_voucher_on_postgres(
    env: WorkflowEnvironment, postgres_url: str
) -> None:
    """The whole product (worker, API, simulators) on PostgreSQL: listed, consent by SMS,
    voucher issued, activated on an account, and reported."""
    plain = await Client.connect(
        env.client.service_client.config.target_host, namespace=env.client.namespace
    )
    async with run_product(
        env, plain, database_url=postgres_url, task_queue=f"cycles-{uuid.uuid4().hex[:8]}"
    ) as product:
        _, _, _, status = await product.issued_voucher("gas")
        account = product.account("AST")
        async with product.api("wallet") as wallet:
            url = f"/v1/vouchers/{status.voucher_id}"
            shown = await wallet.post(f"{url}/account", json={"account_number": account})
            confirmed = await wallet.post(f"{url}/confirm", json={})
        async with product.api("ops") as ops:

            async def report() -> dict[str, Any]:
                answer = await ops.get(f"/v1/programs/gas/months/{status.month}/report")
                assert answer.status_code == 200, answer.text
                figures: dict[str, Any] = answer.json()
                return figures

            figures = await eventually(report, lambda f: f["by_state"].get("ACTIVATED") == 1)
    assert shown.status_code == 200, shown.text
    assert confirmed.json() == {"state": "ACTIVATED"}, confirmed.text
    assert figures["sms_sent"] >= 1


# --- money that cannot go wrong (issue 12 item 2) ----------------------------------------------


def _purchase_act(purchase_id: str, voucher_id: str = "v-3", **changes: Any) -> RedemptionAct:
    fields: dict[str, Any] = {
        "purchase_id": purchase_id,
        "voucher_id": voucher_id,
        "program": "food",
        "month": "2026-03",
        "region": "PAV",
        "shop_id": "shop-1",
        "discount_kzt": 135,
        "goods_kzt": 3 * 10**9,
        "at": AT,
        "balance_after_kzt": 4190,
        "lines": [
            {"code": "milk", "qty": "3", "unit_price_kzt": 10**9, "discount_kzt": 135},
        ],
    }
    return RedemptionAct.model_validate({**fields, **changes})


async def test_a_purchase_above_32_bits_is_recorded_with_its_lines(engine: AsyncEngine) -> None:
    """Issue 12: qty 3 x 10⁹ ₸ overflowed the 32-bit goods_kzt on PostgreSQL and the record
    activity retried forever. The money columns are 64-bit: it is kept, and its line too."""
    records = Records(create_sessions(engine))
    await records.record_redemption(_purchase_act("big"))
    await records.record_redemption(_purchase_act("big"))  # an activity retry: harmless
    async with create_sessions(engine)() as session:
        kept = await vouchers.redemption(session, purchase_id="big")
        lines = await vouchers.purchase_lines(session, purchase_id="big")
        sold = await reports.goods_sold(session, program="food", month="2026-03")
    assert kept is not None and kept.goods_kzt == 3 * 10**9
    assert [(line.code, line.qty_thousandths, line.unit_price_kzt) for line in lines] == [
        ("milk", 3000, 10**9)
    ]
    assert sold == {"milk": reports.Sold(3000, 135)}


async def test_another_vouchers_purchase_id_is_refused_for_good_and_the_first_kept(
    engine: AsyncEngine,
) -> None:
    """The same purchase_id on a second voucher: a non-retryable ``purchase_id_conflict``,
    and the first voucher's record is untouched (issue 12: ``session.merge`` replaced it)."""
    records = Records(create_sessions(engine))
    await records.record_redemption(_purchase_act("shared", voucher_id="v-first"))
    with pytest.raises(ApplicationError) as refused:
        await records.record_redemption(
            _purchase_act("shared", voucher_id="v-second", discount_kzt=1)
        )
    async with create_sessions(engine)() as session:
        kept = await vouchers.redemption(session, purchase_id="shared")
    assert (refused.value.type, refused.value.non_retryable) == ("purchase_id_conflict", True)
    assert kept is not None and (kept.voucher_id, kept.discount_kzt) == ("v-first", 135)


@pytest.mark.parametrize(
    "changes",
    [{"purchase_id": "nul\x00id"}, {"shop_id": "shop\x00"}],
    ids=["nul-in-purchase-id", "nul-in-shop-id"],
)
async def test_values_the_database_refuses_are_a_non_retryable_refusal(
    engine: AsyncEngine, changes: dict[str, str]
) -> None:
    """Issue 12: a NUL in ``purchase_id`` or ``shop_id`` failed the insert and the activity
    retried forever, holding the voucher. Now no retry is made: a non-retryable
    ``purchase_not_recordable`` that does not repeat the refused values, and nothing kept."""
    records = Records(create_sessions(engine))
    act = _purchase_act(**{"purchase_id": "p-nul", **changes})
    with pytest.raises(ApplicationError) as refused:
        await records.record_redemption(act)
    assert (refused.value.type, refused.value.non_retryable) == ("purchase_not_recordable", True)
    assert "\x00" not in str(refused.value) and "shop" not in str(refused.value)
    async with create_sessions(engine)() as session:
        assert await vouchers.purchase_count(session, voucher_id="v-3") == 0


async def test_a_food_voucher_on_postgres_takes_big_sums_and_survives_refused_values(
    env: WorkflowEnvironment, postgres_url: str
) -> None:
    """Issue 12's reproduction on the whole product: qty 3 x 10⁹ ₸ is taken (it jammed the
    voucher on the 32-bit column); a NUL in ``purchase_id`` or ``shop_id`` is answered 422 at
    once; the voucher goes on taking purchases and its balance moved only for those taken."""
    plain = await Client.connect(
        env.client.service_client.config.target_host, namespace=env.client.namespace
    )
    async with run_product(
        env, plain, database_url=postgres_url, task_queue=f"cycles-{uuid.uuid4().hex[:8]}"
    ) as product:
        _, _, _, status = await product.issued_voucher("food")
        url = f"/v1/vouchers/{status.voucher_id}"

        def purchase(purchase_id: str, shop_id: str = "shop-1") -> dict[str, Any]:
            line = {"code": "milk", "qty": 3, "unit_price_kzt": 10**9, "discount_kzt": 100}
            return {"purchase_id": purchase_id, "shop_id": shop_id, "items": [line]}

        async with product.api("wallet") as wallet:
            balance = (await wallet.post(f"{url}/activate", json={})).json()["balance_kzt"]
            big = await wallet.post(f"{url}/redemptions", json=purchase("big"))
            nul_id = await wallet.post(f"{url}/redemptions", json=purchase("nul\x00"))
            nul_shop = await wallet.post(f"{url}/redemptions", json=purchase("p-2", "s\x00"))
            after = await wallet.post(f"{url}/redemptions", json=purchase("p-3"))
    assert big.json() == {"balance_kzt": balance - 100}, big.text
    assert [nul_id.status_code, nul_shop.status_code] == [422, 422]
    assert after.json() == {"balance_kzt": balance - 200}, after.text


def _snapshot(
    cycle_id: str, *, state: str, at: datetime, region: str = "AST", month: str = "2026-03"
) -> CycleSnapshot:
    return CycleSnapshot(
        cycle_id=cycle_id,
        program="gas",
        month=month,
        region=region,
        state=state,
        citizen_ref=f"ref-{cycle_id}",
        voucher_id=f"v-{cycle_id}",
        at=at,
    )


def _consent(message_id: str, decision: str, at: datetime) -> ConsentAct:
    return ConsentAct(
        message_id=message_id,
        cycle_id="c-1",
        citizen_ref="ref-1",
        iin="000000000001",
        program="gas",
        program_version="gas-2026",
        month="2026-03",
        decision=decision,
        received_at=at,
        recorded_at=at,
    )


def _voucher(voucher_id: str, *, discount_kzt: int | None, program: str = "gas") -> VoucherRecord:
    return VoucherRecord(
        voucher_id=voucher_id,
        cycle_id=f"c-{voucher_id}",
        program=program,
        month="2026-03",
        region="AST",
        amount_kzt=5000,
        valid_until=date(2026, 3, 31),
        issued_at=AT,
        discount_kzt=discount_kzt,
    )


def _redemption(purchase_id: str, discount_kzt: int) -> RedemptionRecord:
    return RedemptionRecord(
        purchase_id=purchase_id,
        voucher_id="v-3",
        program="food",
        month="2026-03",
        region="PAV",
        shop_id="shop-1",
        discount_kzt=discount_kzt,
        goods_kzt=1000,
        at=AT,
    )
