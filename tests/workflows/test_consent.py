"""The consent part of the cycle (SPEC.md §3 steps 2-5), a whole month under time skipping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.cycle import Citizen, CycleState
from rules import calendar
from rules.listing import send_offset
from rules.pseudonyms import citizen_ref
from tests.harness import Product, eventually

MINUTE = timedelta(minutes=1)


async def test_consent_request_goes_out_at_the_window_opening_of_the_send_day(
    product: Product,
) -> None:
    """A gas citizen listed on the 1st is texted at 09:00 on the 7th, not a minute before."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    await product.sleep_until(calendar.day_start(month, 1) + timedelta(hours=10))
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    send = calendar.send_moment(rules, month)
    await product.sleep_until(send - MINUTE)
    assert product.sms(citizen) == []
    await product.sleep_until(send + MINUTE)
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert product.sms(citizen) == ["consent_request"]
    requested = next(e.at for e in status.history if e.event == "sms_sent")
    assert send <= requested < send + 2 * MINUTE


@pytest.mark.parametrize("product", [{"send_spread_minutes": 120}], indirect=True)
async def test_a_spread_morning_texts_each_citizen_at_their_own_moment(product: Product) -> None:
    """With ``SEND_SPREAD_MINUTES=120`` a citizen is texted at 09:00 plus their offset, and
    reminded 7 x 24 h after that."""
    month, rules = await product.next_month("gas")

    def offset(citizen: Citizen) -> timedelta:
        ref = citizen_ref(product.settings.pseudonym_key, citizen.iin)
        return timedelta(seconds=send_offset(ref, timedelta(minutes=120)))

    citizen = product.citizen("gas")
    while offset(citizen) < 2 * MINUTE:  # one texted at 09:00 would prove nothing
        citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    moment = calendar.send_moment(rules, month) + offset(citizen)

    await product.sleep_until(moment - MINUTE)
    assert (await product.status(cycle)).state == CycleState.SCHEDULED
    assert product.sms(citizen) == []
    await product.sleep_until(moment + MINUTE)
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    requested = next(e.at for e in status.history if e.event == "sms_sent")
    assert moment <= requested < moment + MINUTE
    await product.sleep_until(moment + timedelta(days=7) + MINUTE)
    await product.state_becomes(cycle, CycleState.REMINDED)


async def test_one_reminder_exactly_seven_days_after_the_request(product: Product) -> None:
    """No reply: one reminder 7 x 24 h after the request; the cycle expires after the 29th."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    requested = next(e.at for e in status.history if e.event == "sms_sent")

    due = calendar.reminder_due(rules, requested)
    await product.sleep_until(due - MINUTE)
    assert product.sms(citizen) == ["consent_request"]
    await product.sleep_until(due + MINUTE)
    await product.state_becomes(cycle, CycleState.REMINDED)
    assert product.sms(citizen) == ["consent_request", "reminder"]

    await product.sleep_until(calendar.consent_deadline(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.CONSENT_EXPIRED)
    assert product.sms(citizen) == ["consent_request", "reminder"]


async def test_a_reply_before_the_reminder_means_no_reminder(product: Product) -> None:
    """Consent on the 8th: confirmation SMS and voucher, and the reminder never goes out."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(days=1))
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert await product.reply(cycle, "21*1") == "consent"
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(days=8))

    assert product.sms(citizen) == ["consent_request", "confirmation"]
    voucher = product.world.vouchers[status.voucher_id]
    assert voucher["program"] == "gas" and voucher["month"] == month
    assert voucher["valid_until"] == calendar.voucher_valid_until(rules, month).isoformat()


async def test_consent_at_23_59_on_the_deadline_day_is_accepted(product: Product) -> None:
    """A 21*1 one minute before the end of the 29th still counts."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.consent_deadline(rules, month) - MINUTE)
    await product.state_becomes(cycle, CycleState.REMINDED)

    assert await product.reply(cycle, "21*1") == "consent"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)


async def test_consent_one_minute_after_the_deadline_is_late(product: Product) -> None:
    """A 21*1 at 00:00:59 on the 30th changes nothing: the cycle has expired."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.consent_deadline(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.CONSENT_EXPIRED)

    assert await product.reply(cycle, "21*1") == "late"
    assert product.sms(citizen) == ["consent_request", "reminder"]
    assert product.world.vouchers == {}


async def test_refusal_is_final_for_the_month(product: Product) -> None:
    """21*2 ends the cycle REFUSED; a later 21*1 is late and issues nothing."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert await product.reply(cycle, " 21 * 2 ") == "refusal"
    await product.state_becomes(cycle, CycleState.REFUSED)
    assert await product.reply(cycle, "21*1") == "late"
    assert product.world.vouchers == {}


async def test_unrecognised_reply_changes_nothing(product: Product) -> None:
    """A reply that is not a code is kept as unrecognised and the cycle keeps waiting."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert await product.reply(cycle, "да") == "unrecognised"
    assert await product.reply(cycle, "21*1") == "consent"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)


async def test_the_same_inbound_message_twice_counts_once(product: Product) -> None:
    """The gateway delivering one message twice gets ``duplicate`` the second time."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert await product.reply(cycle, "21*1", message_id="gw-1") == "consent"
    assert await product.reply(cycle, "21*1", message_id="gw-1") == "duplicate"
    await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    await product.sms_becomes(citizen, ["consent_request", "confirmation"])


async def test_a_citizen_listed_twice_has_one_cycle(product: Product) -> None:
    """Listing the same citizen again in the month starts nothing and sends nothing more."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    first = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(first, CycleState.AWAITING_CONSENT)
    second = await product.list(rules, month, citizen)

    assert second.id == first.id
    assert (await first.describe()).run_id == (await second.describe()).run_id
    assert product.sms(citizen) == ["consent_request"]


async def test_no_phone_ends_the_cycle_and_is_journaled_to_sdu(product: Product) -> None:
    """A citizen unknown to BMG ends NO_PHONE at once, with a NO_PHONE entry in SDU's journal."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", with_phone=False)
    cycle = await product.list(rules, month, citizen)

    await product.state_becomes(cycle, CycleState.NO_PHONE)
    await eventually(lambda: _journal(product), lambda j: len(j) == 1)
    assert product.world.journal[0]["event"] == "NO_PHONE"
    assert product.world.journal[0]["month"] == month


async def _journal(product: Product) -> list[dict[str, object]]:
    return product.world.journal
