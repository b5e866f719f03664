"""The SMS gateway's signed webhook (CONTRACTS.md §1): replies routed to their cycles."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from models.cycle import Citizen, CycleState
from models.programs import ProgramVersion
from rules import calendar
from simulators.signing import sign
from store.engine import create_engine, create_sessions
from store.queries import inbound
from tests.harness import Product


async def _awaiting(
    product: Product, program: str, **changes: Any
) -> tuple[Citizen, ProgramVersion, Any]:
    month, rules = await product.next_month(program)
    citizen = product.citizen(program, **changes)
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=1))
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    return citizen, rules, cycle


async def _post(
    product: Product,
    payload: dict[str, Any],
    *,
    secret: str | None = None,
    stamp: int | None = None,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    stamp = int(time.time()) if stamp is None else stamp
    signature = sign(secret or product.settings.sms_webhook_secret, stamp, body)
    async with httpx.AsyncClient(base_url=product.api_url) as http:
        return await http.post(
            "/v1/sms/inbound",
            content=body,
            headers={
                "X-Timestamp": str(stamp),
                "X-Signature": signature,
                "Content-Type": "application/json",
            },
        )


def _sms(
    product: Product, citizen: Citizen, rules: ProgramVersion, text: str, **changes: Any
) -> dict[str, Any]:
    return {
        "message_id": f"gw-{time.monotonic_ns()}",
        "from": product.phone(citizen),
        "to": rules.short_number,
        "text": text,
        "received_at": datetime.now(UTC).isoformat(),
        **changes,
    }


async def test_a_consent_through_the_gateway_issues_the_voucher(product: Product) -> None:
    """21*1 texted back through the gateway answers ``consent`` and the voucher is issued."""
    citizen, rules, cycle = await _awaiting(product, "gas")
    assert await product.text_back(citizen, rules, "21*1") == "consent"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)


async def test_a_reply_broken_over_lines_is_still_read(product: Product) -> None:
    """A phone that adds a line break (``21*1`` then Enter) still consents: the break is read as
    a space, never refused, so the reply is not lost."""
    citizen, rules, cycle = await _awaiting(product, "gas")
    assert await product.text_back(citizen, rules, "21*1\r\n") == "consent"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)


async def test_a_forged_signature_is_refused_and_changes_nothing(product: Product) -> None:
    """A consent signed with another secret gets 401 and the cycle keeps waiting."""
    citizen, rules, cycle = await _awaiting(product, "gas")
    answer = await _post(product, _sms(product, citizen, rules, "21*1"), secret="not-the-secret")
    assert answer.status_code == 401 and answer.json()["error"] == "bad_signature"
    assert (await product.status(cycle)).state == CycleState.AWAITING_CONSENT


async def test_a_stale_or_replayed_request_is_refused(product: Product) -> None:
    """A correctly signed request whose timestamp is over 300 s old gets 401."""
    citizen, rules, cycle = await _awaiting(product, "gas")
    answer = await _post(
        product, _sms(product, citizen, rules, "21*1"), stamp=int(time.time()) - 301
    )
    assert answer.status_code == 401
    assert (await product.status(cycle)).state == CycleState.AWAITING_CONSENT


async def test_the_same_message_delivered_twice_counts_once(product: Product) -> None:
    """A gateway re-delivering a message gets ``duplicate``; one confirmation SMS goes out."""
    citizen, rules, cycle = await _awaiting(product, "gas")
    sms = _sms(product, citizen, rules, "21*1")
    first, second = await _post(product, sms), await _post(product, sms)
    assert first.json() == {"result": "consent"}
    assert second.json() == {"result": "duplicate"}
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    await product.sms_becomes(citizen, ["consent_request", "confirmation"])


async def test_a_reply_is_routed_by_the_short_number_it_was_sent_to(product: Product) -> None:
    """A family in both programs: a 21*2 to the food number refuses food, not gas."""
    gas_month, gas_rules = await product.next_month("gas")
    food_month, food_rules = await product.next_month("food")
    assert gas_month == food_month, "both programs run the month under test"
    citizen = product.citizen("food")
    gas = await product.list(gas_rules, gas_month, citizen.model_copy(update={"region": "AKM"}))
    food = await product.list(food_rules, food_month, citizen)
    await product.sleep_until(calendar.send_moment(gas_rules, gas_month) + timedelta(minutes=1))
    await product.state_becomes(gas, CycleState.AWAITING_CONSENT)
    await product.state_becomes(food, CycleState.AWAITING_CONSENT)

    assert await product.text_back(citizen, food_rules, "21*2") == "refusal"
    await product.state_becomes(food, CycleState.REFUSED)
    assert (await product.status(gas)).state == CycleState.AWAITING_CONSENT


async def test_national_number_forms_reach_the_same_cycle(product: Product) -> None:
    """A sender written ``8 7xx xxx xx xx`` is the citizen's ``+77…`` number."""
    citizen, rules, cycle = await _awaiting(product, "gas")
    e164 = product.phone(citizen)
    national = f"8 {e164[2:5]} {e164[5:8]} {e164[8:10]} {e164[10:]}"
    answer = await _post(product, _sms(product, citizen, rules, " 21 * 1 ", **{"from": national}))
    assert answer.json() == {"result": "consent"}
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)


async def test_an_unknown_sender_has_no_cycle(product: Product) -> None:
    """A number with no cycle answers ``no_cycle``, and the message is still recorded."""
    citizen, rules, _ = await _awaiting(product, "gas")
    sms = _sms(product, citizen, rules, "21*1", **{"from": "+77000000000"})
    answer = await _post(product, sms)
    assert answer.json() == {"result": "no_cycle"}
    engine = create_engine(product.settings.database_url)
    async with create_sessions(engine)() as session:
        kept = await inbound(session, message_id=sms["message_id"])
    await engine.dispose()
    assert kept is not None and kept.result == "no_cycle"


async def test_a_reply_after_the_cycle_closed_is_late(product: Product) -> None:
    """A 21*1 after the consent deadline answers ``late`` and issues nothing."""
    citizen, rules, cycle = await _awaiting(product, "gas")
    month = (await product.status(cycle)).month
    await product.sleep_until(calendar.consent_deadline(rules, month) + timedelta(minutes=1))
    await product.state_becomes(cycle, CycleState.CONSENT_EXPIRED)
    assert await product.text_back(citizen, rules, "21*1") == "late"
    assert product.world.vouchers == {}


async def test_malformed_webhook_bodies_are_422(product: Product) -> None:
    """A signed body that is not an inbound SMS gets 422, never a 500."""
    for payload in (
        {},
        {"message_id": "x"},
        {
            "message_id": "x",
            "from": "+77011234567",
            "to": "1414",
            "text": "21*1",
            "received_at": "yesterday",
        },
    ):
        answer = await _post(product, payload)
        assert answer.status_code == 422, payload
        assert answer.json()["error"] == "malformed"
