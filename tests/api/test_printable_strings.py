"""Every string that reaches storage is printable (CONTRACTS.md §1): a control character, NUL
or lone surrogate in one is 422 ``malformed``, and nothing is stored or changed; so is a reply time
with no UTC moment."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.cycle import CycleState
from rules import calendar
from tests.harness import Product

BAD = ["\x00", "\x1f", "\x7f", "\x85", "\n", "\u2028", "\ud800"]


def _body(value: Any) -> bytes:
    # ASCII JSON: a lone surrogate travels as its escape, as a client's JSON would send it.
    return json.dumps(value).encode()


def _signed(product: Product, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    secret = product.settings.sms_webhook_secret.encode()
    mac = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Timestamp": stamp,
        "X-Signature": f"sha256={mac}",
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("field", ["purchase_id", "shop_id", "code"])
async def test_a_control_character_in_a_purchase_is_422(product: Product, field: str) -> None:
    """``purchase_id``, ``shop_id`` or a goods code holding a control character: 422 malformed
    for each kind of control character, before the voucher is even looked up."""
    async with product.api("wallet") as wallet:
        for bad in BAD:
            purchase: dict[str, Any] = {"purchase_id": "p-1", "shop_id": "s-1"}
            line = {"code": "bread", "qty": 1, "unit_price_kzt": 100, "discount_kzt": 0}
            if field == "code":
                line["code"] = f"bre{bad}ad"
            else:
                purchase[field] = f"x{bad}y"
            answer = await wallet.post(
                "/v1/vouchers/V0/redemptions",
                content=_body({**purchase, "items": [line]}),
                headers={"Content-Type": "application/json"},
            )
            assert (answer.status_code, answer.json()["error"]) == (422, "malformed"), repr(bad)


async def test_a_control_character_in_an_account_number_is_422(product: Product) -> None:
    """The gas account number: 422, for the wallet and for the provider's readings."""
    async with product.api("wallet") as wallet, product.api("provider") as provider:
        entered = await wallet.post("/v1/vouchers/V0/account", json={"account_number": "12\x0034"})
        readings = await provider.post(
            "/v1/programs/gas/months/2030-01/consumption",
            json={"readings": [{"account_number": "12\x0034", "volume_m3": "1"}]},
        )
    assert (entered.status_code, entered.json()["error"]) == (422, "malformed")
    assert (readings.status_code, readings.json()["error"]) == (422, "malformed")


@pytest.mark.parametrize("field", ["message_id", "from", "to", "text"])
async def test_a_control_character_in_a_signed_sms_is_422_and_nothing_changes(
    product: Product, field: str
) -> None:
    """A genuine, signed reply whose field holds a control character: 422, and the cycle
    awaiting consent is unchanged (the same reply without it then counts)."""
    citizen, rules, cycle, _ = await _awaiting(product)
    sms = {
        "message_id": f"m-{field}",
        "from": product.phone(citizen),
        "to": rules.short_number,
        "text": "21*1",
        "received_at": datetime.now(UTC).isoformat(),
    }
    async with product.api("sdu") as http:
        # A line break in the text is read as a space (test_webhook.py); every other
        # control character is refused there too.
        for bad in [b for b in BAD if not (field == "text" and b == "\n")]:
            body = _body({**sms, field: f"{sms[field]}{bad}"})
            answer = await http.post(
                "/v1/sms/inbound", content=body, headers=_signed(product, body)
            )
            assert (answer.status_code, answer.json()["error"]) == (422, "malformed"), repr(bad)
        assert (await product.status(cycle)).state == CycleState.AWAITING_CONSENT
        clean = _body(sms)
        answer = await http.post("/v1/sms/inbound", content=clean, headers=_signed(product, clean))
    assert answer.json() == {"result": "consent"}


async def test_text_beyond_the_bmp_is_printable(product: Product) -> None:
    """An emoji (beyond the BMP, with a zero-width joiner) is text: the reply is taken."""
    citizen, rules, _, _ = await _awaiting(product)
    body = _body(
        {
            "message_id": "m-emoji",
            "from": product.phone(citizen),
            "to": rules.short_number,
            "text": "21*1 \U0001f468\u200d\U0001f469",
            "received_at": datetime.now(UTC).isoformat(),
        }
    )
    async with product.api("sdu") as http:
        answer = await http.post("/v1/sms/inbound", content=body, headers=_signed(product, body))
    assert answer.status_code == 200, answer.text


async def test_a_recipient_with_a_control_character_is_rejected_not_listed(
    product: Product,
) -> None:
    """A record whose region or locality holds a control character is refused by itself, and
    an IIN of other scripts' digits is an invalid IIN; nothing of them is listed."""
    month, _ = await product.next_month("gas")
    good = product.citizen("gas").model_dump(mode="json", exclude_none=True)
    records = [
        {**good, "region": "AST\x00"},
        {**good, "locality": "x\x1f"},
        {**good, "iin": "١٢٣٤٥٦٧٨٩٠١٢"},
    ]
    async with product.api("sdu") as sdu:
        answer = await sdu.post(
            f"/v1/programs/gas/months/{month}/recipients", json={"recipients": records}
        )
        withdrawal = await sdu.post(
            f"/v1/programs/gas/months/{month}/withdrawals", json={"iin": "١٢٣٤٥٦٧٨٩٠١٢"}
        )
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 0 and len(answer.json()["rejected"]) == 3
    assert (withdrawal.status_code, withdrawal.json()["error"]) == (422, "malformed")


async def _awaiting(product: Product) -> tuple[Any, Any, Any, Any]:
    """A gas citizen whose cycle awaits their consent."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    return citizen, rules, cycle, status


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
async def test_a_reply_time_beyond_the_calendar_is_422_not_500(
    product: Product, moment: str
) -> None:
    """A signed reply whose ``received_at`` has no UTC moment: 422 (a 500 is retried forever)."""
    citizen, rules, cycle, _ = await _awaiting(product)
    sms = {
        "message_id": "m-far",
        "from": product.phone(citizen),
        "to": rules.short_number,
        "text": "21*1",
        "received_at": moment,
    }
    body = _body(sms)
    async with product.api("sdu") as http:
        answer = await http.post("/v1/sms/inbound", content=body, headers=_signed(product, body))
    assert (answer.status_code, answer.json()["error"]) == (422, "malformed")
    assert (await product.status(cycle)).state == CycleState.AWAITING_CONSENT
