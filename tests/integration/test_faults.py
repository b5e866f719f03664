"""Faults of the running system on a real dev server, in real time: a worker process killed, the
Temporal server restarted, an outside system down, the database locked, a reply delivered twice
at once. Every cycle still ends with one SMS of each kind, one voucher, and the right state.

The cycles get rules whose consent request is due now (``faults_support.rules_for_now``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.api.enums.v1 import PendingWorkflowTaskState
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api import sms
from client.connection import product_client
from devtools.embedded import deploy_rules, run_embedded, serve_outside_and_api
from devtools.postgres import Cluster
from models.cycle import CycleState, Reply, voucher_id
from models.settings import Settings
from simulators.signing import signed_headers
from simulators.state import World
from simulators.webhook import inbound_message, send_reply
from store.engine import create_engine, create_sessions
from store.tables import ConsentRecord, CycleRecord, InboundSmsRecord, SmsRecord
from store.vouchers import voucher_ids
from tests.integration.faults_support import (
    DevServer,
    Handle,
    all_in,
    confirmed,
    cycle_client,
    enlist,
    local_activity_attempts,
    poll,
    rules_for_now,
    simulated,
    sms_kinds,
    start_cycles,
    states,
    worker_process,
)
from workers import create_worker, setup_namespace
from workflows.citizen_cycle import CitizenCycle

# An activity lost with a killed worker is retried when its 30 s start-to-close timeout ends.
AFTER_A_CRASH = 75.0


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    """The product's settings on a database of the test's own and a fresh task queue, with the
    gas rules due now deployed (a worker process runs the cycles naming them too)."""
    _, rules = rules_for_now()
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'product.db'}",
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
        program_data_dir=deploy_rules(tmp_path / "program-data", rules),
        allow_sample_figures=True,
        **changes,
    )


async def _one_awaiting_consent(
    client: Client, settings: Settings, world: World
) -> tuple[Handle, str]:
    """One citizen listed and texted: their cycle, awaiting consent, and their phone."""
    month, rules = rules_for_now()
    citizens = enlist(world, 1)
    (cycle,) = await start_cycles(client, settings, month, rules, citizens)
    await poll(lambda: states([cycle]), all_in(CycleState.AWAITING_CONSENT), seconds=20)
    return cycle, world.subscribers[citizens[0].iin]


def _reply(text: str = "21*1") -> Reply:
    return Reply(message_id=f"in-{uuid.uuid4().hex}", text=text, received_at=datetime.now(UTC))


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_worker_killed_while_sms_are_in_flight_sends_each_sms_once(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A worker process SIGKILLed twice while SMS are in flight, and restarted: 30 citizens get
    one consent request each, and each of five who consent one confirmation and one voucher."""
    address = dev_server.client.service_client.config.target_host
    settings = _settings(tmp_path, temporal_address=address)
    world = World()
    month, rules = rules_for_now()
    citizens = enlist(world, 30)
    phones = [world.subscribers[c.iin] for c in citizens]
    async with simulated(world, settings) as settings:
        client = product_client(dev_server.client, settings)
        log = tmp_path / "worker.log"

        world.slow("sms", seconds=3, times=len(citizens))
        async with worker_process(settings, log) as first:
            cycles = await start_cycles(client, settings, month, rules, citizens)
            await poll(lambda: _count(world, "sms"), lambda n: n >= 10, seconds=30, every=0.05)
            first.kill()
        in_flight = world.requests["sms"] - len(world.messages)
        assert in_flight > 0, "the kill was meant to land while SMS were in flight"

        async with worker_process(settings, log) as second:
            await poll(
                lambda: states(cycles),
                all_in(CycleState.AWAITING_CONSENT),
                seconds=AFTER_A_CRASH,
                every=1,
            )
            assert [sms_kinds(world, p) for p in phones] == [["consent_request"]] * 30
            assert world.requests["sms"] > 30, "a retried request was absorbed by its key"

            consenting = cycles[:5]
            sent_before = world.requests["sms"]
            world.slow("sms", seconds=3, times=len(consenting))
            answers = await asyncio.gather(
                *(cycle_client(client, settings).reply(c.id, _reply()) for c in consenting)
            )
            assert answers == ["consent"] * 5
            await poll(
                lambda: _count(world, "sms"),
                lambda n: n >= sent_before + 3,
                seconds=30,
                every=0.05,
            )
            second.kill()
        assert world.requests["sms"] - len(world.messages) > 0

        async with worker_process(settings, log):
            await poll(lambda: confirmed(consenting), all, seconds=AFTER_A_CRASH, every=1)
            assert await states(cycles[5:]) == [CycleState.AWAITING_CONSENT] * 25
    kinds = [sms_kinds(world, p) for p in phones]
    assert kinds == [["consent_request", "confirmation"]] * 5 + [["consent_request"]] * 25
    assert sorted(world.vouchers) == sorted(voucher_id(c.id) for c in consenting)


@pytest.mark.slow
async def test_cycles_survive_a_restart_of_the_temporal_server(tmp_path: Path) -> None:
    """The dev server stopped and started again on the same data: a cycle waiting for a reply
    takes it, and a cycle waiting on its send timer sends its request once."""
    server = DevServer(tmp_path / "temporal")
    address = await server.start()
    try:
        plain = await Client.connect(address)
        await setup_namespace(plain)
        settings = _settings(tmp_path)
        client = product_client(plain, settings)
        world = World()
        month, now_rules = rules_for_now()
        _, later_rules = rules_for_now(opens_in=timedelta(seconds=15))
        *replying, waiting = enlist(world, 3)
        async with run_embedded(plain, settings, world):
            awaiting = await start_cycles(client, settings, month, now_rules, replying)
            (timer,) = await start_cycles(client, settings, month, later_rules, [waiting])
            await poll(lambda: states(awaiting), all_in(CycleState.AWAITING_CONSENT), seconds=20)
            phone = world.subscribers[waiting.iin]
            assert await states([timer]) == [CycleState.SCHEDULED]
            assert sms_kinds(world, phone) == []

            await server.stop()
            assert await server.start() == address

            described = await asyncio.gather(*(c.describe() for c in [*awaiting, timer]))
            assert {d.status for d in described} == {WorkflowExecutionStatus.RUNNING}
            await poll(lambda: states([timer]), all_in(CycleState.AWAITING_CONSENT), seconds=30)

            agree, refuse = (world.subscribers[c.iin] for c in replying)
            results = [
                (await send_reply(world, from_=agree, to=now_rules.short_number, text="21*1"))[1],
                (await send_reply(world, from_=refuse, to=now_rules.short_number, text="21*2"))[1],
            ]
            assert [(d[-1].status, d[-1].body) for d in results] == [
                (200, {"result": "consent"}),
                (200, {"result": "refusal"}),
            ]
            await poll(
                lambda: states(awaiting),
                lambda found: found == [CycleState.VOUCHER_ISSUED, CycleState.REFUSED],
                seconds=20,
            )
            await poll(lambda: confirmed(awaiting[:1]), all, seconds=20)
            assert sms_kinds(world, agree) == ["consent_request", "confirmation"]
            assert sms_kinds(world, refuse) == ["consent_request"]
            assert sms_kinds(world, phone) == ["consent_request"]
            assert list(world.vouchers) == [voucher_id(awaiting[0].id)]
    finally:
        await server.stop()


@pytest.mark.slow
async def test_a_wallet_down_for_a_while_issues_the_voucher_once_it_is_back(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The wallet answering 503 to the first three issue attempts: retried with back-off, and
    the voucher is issued exactly once when it is back."""
    settings = _settings(tmp_path)
    world = World()
    async with run_embedded(dev_server.client, settings, world):
        client = product_client(dev_server.client, settings)
        cycle, phone = await _one_awaiting_consent(client, settings, world)
        world.fail("wallet", status=503, times=3)

        consented = time.monotonic()
        assert await cycle_client(client, settings).reply(cycle.id, _reply()) == "consent"
        await poll(lambda: confirmed([cycle]), all, seconds=30)
        # Back-off of 1 s, 2 s and 4 s between the four attempts.
        assert time.monotonic() - consented >= 6
        status = await cycle.query(CitizenCycle.status)
    assert world.requests["wallet"] == 4
    assert list(world.vouchers) == [status.voucher_id]
    assert [e.event for e in status.history].count("voucher_issued") == 1
    assert sms_kinds(world, phone) == ["consent_request", "confirmation"]


@pytest.mark.slow
async def test_a_consent_is_answered_before_a_slow_wallet_has_issued_the_voucher(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The wallet taking 6 s to issue the voucher: the citizen's consent is answered at once
    (the gateway's call to the webhook does not wait for the wallet), and the voucher and its
    confirmation SMS follow."""
    settings = _settings(tmp_path)
    world = World()
    async with run_embedded(dev_server.client, settings, world):
        client = product_client(dev_server.client, settings)
        cycle, phone = await _one_awaiting_consent(client, settings, world)
        world.slow("wallet", seconds=6)

        consented = time.monotonic()
        assert await cycle_client(client, settings).reply(cycle.id, _reply()) == "consent"
        answered_s = time.monotonic() - consented
        await poll(lambda: confirmed([cycle]), all, seconds=30)
        confirmed_s = time.monotonic() - consented
    assert answered_s < 3 and confirmed_s >= 6
    assert len(world.vouchers) == 1
    assert sms_kinds(world, phone) == ["consent_request", "confirmation"]


async def test_a_withdrawal_is_answered_before_a_slow_wallet_has_closed_the_voucher(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The wallet taking 6 s: SDU's withdrawal of a citizen whose voucher is issued is answered
    at once (SDU's call does not wait for the wallet), and the wallet's "closed" notice follows."""
    settings = _settings(tmp_path)
    world = World()
    async with run_embedded(dev_server.client, settings, world):
        client = product_client(dev_server.client, settings)
        cycle, _ = await _one_awaiting_consent(client, settings, world)
        cycles = cycle_client(client, settings)
        assert await cycles.reply(cycle.id, _reply()) == "consent"
        await poll(lambda: confirmed([cycle]), all, seconds=30)
        world.slow("wallet", seconds=6)

        asked = time.monotonic()
        assert await cycles.withdraw(cycle.id) == "WITHDRAWN"
        answered_s = time.monotonic() - asked
        await poll(lambda: _closed_in_wallet(world), bool, seconds=30)
        closed_s = time.monotonic() - asked
    assert answered_s < 3 and closed_s >= 6
    assert [event["reason"] for _, event in world.voucher_events] == ["withdrawn"]


async def _closed_in_wallet(world: World) -> bool:
    return any(event["type"] == "closed" for _, event in world.voucher_events)


async def test_a_reply_its_cycle_cannot_answer_in_time_gets_503_and_is_taken_once(
    dev_server: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker down when a consent arrives: after the webhook's wait the gateway gets 503
    with Retry-After, not a request held open. The message is kept; the cycle takes it when
    the worker is back, and the gateway's second attempt is answered `duplicate`: one voucher,
    one confirmation SMS."""
    monkeypatch.setattr(sms, "REPLY_WAIT_S", 2.0)
    settings = _settings(tmp_path)
    world = World()
    async with serve_outside_and_api(dev_server.client, settings, world) as product:
        client = product_client(dev_server.client, settings)
        async with create_worker(dev_server.client, product.settings):
            cycle, phone = await _one_awaiting_consent(client, settings, world)
        url, secret = f"{product.api_url}/v1/sms/inbound", settings.sms_webhook_secret
        body = _sms_body(phone, rules_for_now()[1].short_number)
        async with httpx.AsyncClient(timeout=30) as gateway:
            waited = time.monotonic()
            first = await _post(gateway, url, secret, body)
            waited_s = time.monotonic() - waited
            async with create_worker(dev_server.client, product.settings):
                await poll(lambda: confirmed([cycle]), all, seconds=60)
                again = await _deliver(gateway, url, secret, body)
    assert (first.status_code, first.json()["error"]) == (503, "temporarily_unavailable")
    assert first.headers["Retry-After"] == str(sms.RETRY_AFTER_S) and 2 <= waited_s < 10
    assert again == "duplicate"
    assert len(world.vouchers) == 1
    assert sms_kinds(world, phone) == ["consent_request", "confirmation"]


@pytest.mark.slow
async def test_a_locked_database_delays_the_cycle_and_it_ends_in_the_right_state(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The SQLite file held under an exclusive lock while the cycle records its state (longer
    than a write may take) and while it records a consent: it waits, retries, and completes."""
    address = dev_server.client.service_client.config.target_host
    settings = _settings(tmp_path, temporal_address=address)
    world = World()
    month, rules = rules_for_now()
    database = tmp_path / "product.db"
    # The worker in a process of its own: a wedged one is killed at the end, not waited for.
    async with (
        simulated(world, settings) as settings,
        worker_process(settings, tmp_path / "worker.log"),
    ):
        client = product_client(dev_server.client, settings)
        earlier, citizen = enlist(world, 2)
        phone = world.subscribers[citizen.iin]
        # A cycle taken through first: the worker polls and its schema is there before the lock.
        ahead = await start_cycles(client, settings, month, rules, [earlier])
        await poll(lambda: states(ahead), all_in(CycleState.AWAITING_CONSENT), seconds=20)
        with _exclusive_lock(database) as lock:
            (cycle,) = await start_cycles(client, settings, month, rules, [citizen])
            await poll(lambda: _task_started(cycle), bool, seconds=10)
            # The point: its first task records its state, which may take 10 s before a retry.
            await asyncio.sleep(12)
            # It has not gone on without recording its state.
            assert lock.execute("SELECT count(*) FROM cycles").fetchone() == (1,)
            assert sms_kinds(world, phone) == []
            lock.execute("ROLLBACK")
        await poll(lambda: states([cycle]), all_in(CycleState.AWAITING_CONSENT), seconds=30)
        attempts = await local_activity_attempts(cycle, "records.cycle")
        assert attempts[0] > 1, "the state record written under the lock was retried"

        with _exclusive_lock(database) as lock:
            answer = asyncio.create_task(cycle_client(client, settings).reply(cycle.id, _reply()))
            await asyncio.sleep(3)  # the point: the consent cannot be recorded meanwhile
            assert not answer.done(), "a consent was answered before it was recorded"
            lock.execute("ROLLBACK")
        assert await answer == "consent"
        await poll(lambda: confirmed([cycle]), all, seconds=30)

        engine = create_engine(settings.database_url)
        try:
            async with create_sessions(engine)() as session:
                record = await session.get(CycleRecord, cycle.id)
                consents = (await session.exec(select(ConsentRecord))).all()
                vouchers = await voucher_ids(session)
                sms = (
                    await session.exec(select(SmsRecord.kind).where(SmsRecord.cycle_id == cycle.id))
                ).all()
        finally:
            await engine.dispose()
    assert record is not None and record.state == CycleState.VOUCHER_ISSUED
    assert [(c.cycle_id, c.decision) for c in consents] == [(cycle.id, "agree")]
    assert vouchers == [voucher_id(cycle.id)]
    assert sorted(sms) == ["confirmation", "consent_request"]
    assert sms_kinds(world, phone) == ["consent_request", "confirmation"]


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_postgresql_down_for_a_while_delays_a_consent_and_loses_nothing(
    dev_server: WorkflowEnvironment, tmp_path: Path, cluster: Cluster
) -> None:
    """The PostgreSQL server stopped (every connection dropped) while a consent comes in, then
    started again: the reply is answered once the consent is recorded, and the cycle goes on to
    one voucher and one confirmation; the pool's dead connections are replaced."""
    address = dev_server.client.service_client.config.target_host
    settings = _settings(tmp_path, temporal_address=address).model_copy(
        update={"database_url": await cluster.create_database()}
    )
    world = World()
    month, rules = rules_for_now()
    async with (
        simulated(world, settings) as settings,
        worker_process(settings, tmp_path / "worker.log"),
    ):
        client = product_client(dev_server.client, settings)
        citizens = enlist(world, 3)
        cycles = await start_cycles(client, settings, month, rules, citizens)
        await poll(lambda: states(cycles), all_in(CycleState.AWAITING_CONSENT), seconds=30)

        cluster.stop()
        try:
            answer = asyncio.create_task(
                cycle_client(client, settings).reply(cycles[0].id, _reply())
            )
            await asyncio.sleep(8)  # the point: no consent is answered before it is recorded
            assert not answer.done(), "a consent was answered while the database was down"
        finally:
            cluster.start()
        assert await asyncio.wait_for(answer, timeout=90) == "consent"
        await poll(lambda: confirmed(cycles[:1]), all, seconds=60)
        assert await states(cycles[1:]) == [CycleState.AWAITING_CONSENT] * 2

        engine = create_engine(settings.database_url)
        try:
            async with create_sessions(engine)() as session:
                consents = (await session.exec(select(ConsentRecord))).all()
                vouchers = await voucher_ids(session)
        finally:
            await engine.dispose()
    assert [(c.cycle_id, c.decision) for c in consents] == [(cycles[0].id, "agree")]
    assert vouchers == [voucher_id(cycles[0].id)]
    phones = [world.subscribers[c.iin] for c in citizens]
    assert [sms_kinds(world, p) for p in phones] == [
        ["consent_request", "confirmation"],
        ["consent_request"],
        ["consent_request"],
    ]


async def test_the_same_reply_from_two_gateway_nodes_at_once_counts_once(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The webhook given the same signed message twice concurrently: one answer is `consent`,
    the other `duplicate`, and one confirmation SMS goes out."""
    settings = _settings(tmp_path)
    world = World()
    month, rules = rules_for_now()
    async with run_embedded(dev_server.client, settings, world) as product:
        client = product_client(dev_server.client, settings)
        citizens = enlist(world, 5)
        cycles = await start_cycles(client, settings, month, rules, citizens)
        await poll(lambda: states(cycles), all_in(CycleState.AWAITING_CONSENT), seconds=20)
        url = f"{product.api_url}/v1/sms/inbound"
        messages = [_sms_body(world.subscribers[c.iin], rules.short_number) for c in citizens]
        async with httpx.AsyncClient(timeout=30) as node_a, httpx.AsyncClient(timeout=30) as node_b:
            answers = await asyncio.gather(
                *(
                    asyncio.gather(
                        _deliver(node_a, url, settings.sms_webhook_secret, body),
                        _deliver(node_b, url, settings.sms_webhook_secret, body),
                    )
                    for body in messages
                )
            )
        assert [sorted(pair) for pair in answers] == [["consent", "duplicate"]] * 5
        await poll(lambda: confirmed(cycles), all, seconds=30)

        engine = create_engine(settings.database_url)
        try:
            async with create_sessions(engine)() as session:
                kept = (await session.exec(select(InboundSmsRecord.result))).all()
        finally:
            await engine.dispose()
    assert [sms_kinds(world, world.subscribers[c.iin]) for c in citizens] == [
        ["consent_request", "confirmation"]
    ] * 5
    assert sorted(world.vouchers) == sorted(voucher_id(c.id) for c in cycles)
    assert kept == ["consent"] * 5, "the webhook's record of each message says what it meant"


def _sms_body(phone: str, short_number: str, text: str = "21*1") -> bytes:
    """An inbound SMS's body as the gateway posts it."""
    return json.dumps(inbound_message(phone, short_number, text)).encode()


async def _post(http: httpx.AsyncClient, url: str, secret: str, body: bytes) -> httpx.Response:
    """``body`` posted to the webhook as the gateway would, signed now."""
    return await http.post(url, content=body, headers=signed_headers(secret, body))


async def _deliver(http: httpx.AsyncClient, url: str, secret: str, body: bytes) -> str:
    response = await _post(http, url, secret, body)
    assert response.status_code == 200, response.text
    result: str = response.json()["result"]
    return result


async def _count(world: World, system: str) -> int:
    return world.requests[system]


async def _task_started(handle: Handle) -> bool:
    """Whether a worker is working on the workflow's task."""
    pending = (await handle.describe()).raw_description.pending_workflow_task
    return pending.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """An outside connection holding ``BEGIN EXCLUSIVE`` on the SQLite file: nobody writes."""
    connection = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield connection
    finally:
        connection.close()
