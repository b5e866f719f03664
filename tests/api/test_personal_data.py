"""No raw IIN or phone number where the Temporal UI or its server can show it (SPEC.md §6)."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from google.protobuf import json_format
from sqlmodel import select
from temporalio.api.common.v1 import Payloads

from client.logs import configure_logging
from models.cycle import CycleState
from models.reference import load_reference
from rules import calendar
from store.engine import create_engine, create_sessions
from store.tables import CycleRecord, ListingRecord
from tests.harness import Product

GOOD = load_reference().food_goods()[0].code


async def test_a_finished_cycle_s_history_holds_no_iin_and_no_phone(product: Product) -> None:
    """Read without the codec, the history, ID and search attributes of a whole cycle (consent,
    voucher, expiry) contain neither the IIN nor the phone number, in any of its forms."""
    citizen, rules, cycle, status = await product.issued_voucher("gas")
    phone = product.phone(citizen)
    await product.sleep_until(
        calendar.activation_window(rules, status.month)[1] + timedelta(hours=1)
    )
    await product.state_becomes(cycle, CycleState.VOUCHER_EXPIRED)

    raw = product.env.client.get_workflow_handle(cycle.id)  # no codec: what the server holds
    history = (await raw.fetch_history()).to_json()
    described = await raw.describe()
    visible = [history, *_payload_data(json.loads(history)), cycle.id]
    visible.append(repr(described.typed_search_attributes))
    for secret in (citizen.iin, phone, phone[1:], "8" + phone[2:]):
        assert not any(secret in text for text in visible), secret
    # The check can see inside payloads: the search attribute upserts are readable there.
    assert any("AWAITING_CONSENT" in text for text in visible)


async def test_ops_read_payloads_through_the_codec_route_and_others_cannot(
    product: Product,
) -> None:
    """``/codec/decode`` opens an encrypted payload for the ops role only."""
    payload = {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(b'{"iin":"x"}').decode(),
    }
    async with product.api("ops") as ops, product.api("wallet") as wallet:
        encoded = await ops.post("/codec/encode", json={"payloads": [payload]})
        assert encoded.status_code == 200
        assert b"iin" not in json.dumps(encoded.json()).encode()
        decoded = await ops.post("/codec/decode", json=encoded.json())
        refused = await wallet.post("/codec/decode", json=encoded.json())
    opened = json_format.ParseDict(decoded.json(), Payloads()).payloads[0]
    assert opened.data == b'{"iin":"x"}'
    assert refused.status_code == 403


async def test_the_database_keeps_pseudonyms_not_identifiers(product: Product) -> None:
    """Once a cycle has started, its listing row drops the IIN and no row carries the phone."""
    citizen, _, _, _ = await product.issued_voucher("gas")
    engine = create_engine(product.settings.database_url)
    async with create_sessions(engine)() as session:
        cycles = (await session.exec(select(CycleRecord))).all()
        listings = (await session.exec(select(ListingRecord))).all()
    await engine.dispose()
    dumped = json.dumps([r.model_dump(mode="json") for r in [*cycles, *listings]])
    assert citizen.iin not in dumped and product.phone(citizen) not in dumped
    assert all(row.started and row.citizen is None for row in listings)


def _payload_data(node: object) -> list[str]:
    """Every payload's ``data`` in the history, base64-decoded (unencrypted ones become text)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                found.append(base64.b64decode(value).decode("utf-8", "replace"))
            else:
                found.extend(_payload_data(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_payload_data(item))
    return found


# --- a whole month, its logs and its outgoing requests ---------------------------------------


@pytest.fixture
def debug_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """The product's logging at DEBUG, and every library's logger too (the worst an operator
    could set); returns a reader of every line the product's log handler wrote and of all else
    the process wrote to stdout and stderr (Temporal's core). The configuration is restored
    afterwards."""
    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    levels = [(logger, logger.level) for logger in loggers]
    stream = io.StringIO()
    configure_logging(logging.DEBUG, stream)
    for logger in (*loggers, *map(logging.getLogger, _LIBRARIES)):
        logger.setLevel(logging.DEBUG)
    written: list[str] = []

    def read() -> str:
        out, err = capfd.readouterr()
        written.append(out + err)
        return stream.getvalue() + "".join(written)

    try:
        yield read
    finally:
        for logger, level in levels:
            logger.setLevel(level)
        for name in _LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])


# Loggers that may not exist yet when the test starts, set to DEBUG all the same.
_LIBRARIES = (
    "httpx",
    "httpcore",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "temporalio",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "fastapi",
    "aiosqlite",
    "asyncio",
)


def _forms(iin: str, phone: str | None) -> list[str]:
    """An IIN, and a phone number as +77…, 77… and 87…."""
    return [iin] if phone is None else [iin, phone, phone[1:], "8" + phone[2:]]


async def _withdraw(product: Product, program: str, month: str, iin: str) -> None:
    """SDU withdraws a citizen, the IIN in the body (CONTRACTS.md §1)."""
    async with product.api("sdu") as sdu:
        answer = await sdu.post(
            f"/v1/programs/{program}/months/{month}/withdrawals", json={"iin": iin}
        )
    assert answer.json() == {"state": "WITHDRAWN"}, answer.text


async def test_a_whole_month_logs_and_sends_no_iin_and_no_phone(
    product: Product, debug_logs: Callable[[], str]
) -> None:
    """Gas and food through the public API (listing, a withdrawal, no phone, SMS, consent and
    refusal by SMS, vouchers, activation, a purchase, consumption, the month's close) with every
    logger at DEBUG: no log line and no request the product sends carries an IIN or a phone
    number, in any of its forms. The one exception is BMG's lookup, whose URL carries the IIN
    by BMG's contract (CONTRACTS.md §2): that URL is never logged."""
    month, gas = await product.next_month("gas")
    found, food = await product.next_month("food")
    assert found == month, "both programs run the month under test"
    consenting, refusing, withdrawn = (product.citizen("gas") for _ in range(3))
    unreachable = product.citizen("gas", with_phone=False)
    eating = product.citizen("food")
    cycles = {c.iin: await product.list(gas, month, c) for c in (consenting, refusing, withdrawn)}
    cycles[unreachable.iin] = await product.list(gas, month, unreachable)
    cycles[eating.iin] = await product.list(food, month, eating)
    await product.state_becomes(cycles[withdrawn.iin], CycleState.SCHEDULED)
    await _withdraw(product, "gas", month, withdrawn.iin)

    sends = [calendar.send_moment(rules, month) for rules in (gas, food)]
    await product.sleep_until(max(sends) + timedelta(minutes=1))
    await product.state_becomes(cycles[unreachable.iin], CycleState.NO_PHONE)
    for citizen, rules, text in ((consenting, gas, "21*1"), (refusing, gas, "21*2")):
        await product.state_becomes(cycles[citizen.iin], CycleState.AWAITING_CONSENT)
        assert await product.text_back(citizen, rules, text) in ("consent", "refusal")
    await product.state_becomes(cycles[eating.iin], CycleState.AWAITING_CONSENT)
    assert await product.text_back(eating, food, "21*1") == "consent"
    gas_voucher = await product.state_becomes(cycles[consenting.iin], CycleState.VOUCHER_ISSUED)
    food_voucher = await product.state_becomes(cycles[eating.iin], CycleState.VOUCHER_ISSUED)

    account = product.account("AST")
    line = {"code": GOOD, "qty": 1, "unit_price_kzt": 500, "discount_kzt": 10}
    async with product.api("wallet") as wallet:
        gas_url, food_url = (f"/v1/vouchers/{v.voucher_id}" for v in (gas_voucher, food_voucher))
        shown = await wallet.post(f"{gas_url}/account", json={"account_number": account})
        confirmed = await wallet.post(f"{gas_url}/confirm", json={})
        activated = await wallet.post(f"{food_url}/activate", json={})
        bought = await wallet.post(
            f"{food_url}/redemptions",
            json={"purchase_id": "p-month", "shop_id": "shop-1", "items": [line]},
        )
    for answer in (shown, confirmed, activated, bought):
        assert answer.status_code == 200, answer.text
    handover = calendar.handover_moment(gas, month)
    assert handover is not None
    await product.sleep_until(handover + timedelta(minutes=2))
    await product.state_becomes(cycles[consenting.iin], CycleState.HANDED_OVER)
    async with product.api("provider") as provider:
        reported = await provider.post(
            f"/v1/programs/gas/months/{month}/consumption",
            json={"readings": [{"account_number": account, "volume_m3": "10.5"}]},
        )
    assert reported.status_code == 202, reported.text
    await product.state_becomes(cycles[consenting.iin], CycleState.SETTLED)
    await product.sleep_until(calendar.month_end(month) + timedelta(minutes=5))
    await product.state_becomes(cycles[eating.iin], CycleState.CLOSED)

    people = (consenting, refusing, withdrawn, unreachable, eating)
    secrets = [
        form
        for citizen in people
        for form in _forms(citizen.iin, product.world.subscribers.get(citizen.iin))
    ]
    logs = debug_logs()
    assert "sqlalchemy.engine" in logs and "temporalio" in logs, "the loggers were heard"
    assert not [s for s in secrets if s in logs], "personal data in the logs"
    lookups = {f"/v1/subscribers/{citizen.iin}" for citizen in people}
    sent = [
        f"{r.system} {r.method} {r.target} {r.headers}"
        for r in product.world.received
        if not (r.system == "bmg" and r.method == "GET" and r.target in lookups)
    ]
    assert any(r.system == "sdu" for r in product.world.received), "the journal was written"
    leaks = [(s, line) for line in sent for s in secrets if s in line]
    assert not leaks, leaks
    looked_up = {r.target for r in product.world.received if r.system == "bmg"}
    assert looked_up <= lookups and len(looked_up) >= 4, looked_up
