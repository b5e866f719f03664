"""No raw IIN or phone number where the Temporal UI or its server can show it (SPEC.md §6)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from google.protobuf import json_format
from sqlmodel import select
from temporalio.api.common.v1 import Payloads

from models.cycle import CycleState
from rules import calendar
from store.engine import create_engine, create_sessions
from store.tables import CycleRecord, ListingRecord
from tests.harness import Product


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
