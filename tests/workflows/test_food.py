"""The food cycle (SPEC.md §2-3): texted on the 5th, consent until the month ends, held after."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import Citizen, CycleState, CycleStatus
from models.programs import ProgramVersion, load_programs
from models.reference import load_reference
from rules import calendar
from simulators.state import SentSms
from tests.harness import Product, eventually

MINUTE = timedelta(minutes=1)


async def test_food_consent_request_goes_out_at_09_00_on_the_5th(product: Product) -> None:
    """A food citizen listed before the send day is texted at 09:00 on the 5th, not before."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    send = calendar.send_moment(rules, month)
    assert (send.day, send.hour, send.minute) == (5, 9, 0)
    await product.sleep_until(send - MINUTE)
    assert product.sms(citizen) == []
    await product.sleep_until(send + MINUTE)
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert product.sms(citizen) == ["consent_request"]
    assert _sent(product, citizen)[0].from_ == rules.short_number
    requested = next(e.at for e in status.history if e.event == "sms_sent")
    assert send <= requested < send + 2 * MINUTE


async def test_food_reminder_exactly_five_days_after_the_request(product: Product) -> None:
    """No reply: one reminder 5 x 24 h after the request, and no other SMS until the month ends."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    status = await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    requested = next(e.at for e in status.history if e.event == "sms_sent")

    due = calendar.reminder_due(rules, requested)
    assert due - requested == timedelta(days=5)
    await product.sleep_until(due - MINUTE)
    assert product.sms(citizen) == ["consent_request"]
    await product.sleep_until(due + MINUTE)
    await product.state_becomes(cycle, CycleState.REMINDED)
    assert product.sms(citizen) == ["consent_request", "reminder"]

    await product.sleep_until(calendar.month_end(month) - MINUTE)
    assert product.sms(citizen) == ["consent_request", "reminder"]


async def test_food_consent_issues_one_mrp_per_family_member(product: Product) -> None:
    """21*1 brings the confirmation SMS and a voucher worth MRP(year) x family size, per member."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food", family_size=4)
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)

    assert await product.reply(cycle, "21*1") == "consent"
    status = await _consented(product, cycle, citizen)

    assert product.sms(citizen) == ["consent_request", "confirmation"]
    assert _sent(product, citizen)[1].text == rules.text("confirmation", citizen.lang)
    mrp = load_reference(EXAMPLE_PROGRAM_DATA).mrp(int(month[:4]))
    voucher = product.world.vouchers[status.voucher_id]
    assert voucher["program"] == "food" and voucher["month"] == month
    assert voucher["amount_kzt"] == mrp * 4 == status.amount_kzt
    assert voucher["members"] == 4
    last_day = (calendar.month_end(month) - timedelta(days=1)).date()
    assert voucher["valid_until"] == last_day.isoformat()


async def test_food_no_reply_expires_only_at_the_end_of_the_month(product: Product) -> None:
    """Without a reply the food cycle is still waiting at 23:59 on the last day, expired after."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    cycle = await product.list(rules, month, citizen)
    end = calendar.month_end(month)

    await product.sleep_until(end - MINUTE)
    await product.state_becomes(cycle, CycleState.REMINDED)
    await product.sleep_until(end + MINUTE)
    await product.state_becomes(cycle, CycleState.CONSENT_EXPIRED)
    assert product.sms(citizen) == ["consent_request", "reminder"]
    assert product.world.vouchers == {}


async def test_food_consent_at_23_59_on_the_last_day_of_the_month_is_accepted(
    product: Product,
) -> None:
    """A 21*1 one minute before the month ends (whatever its length) still issues the voucher."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    cycle = await product.list(rules, month, citizen)
    last_minute = calendar.month_end(month) - MINUTE
    assert (last_minute.day, last_minute.hour, last_minute.minute) == (
        calendar.days_in_month(month),
        23,
        59,
    )
    assert calendar.consent_deadline(rules, month) == calendar.month_end(month)

    await product.sleep_until(last_minute)
    await product.state_becomes(cycle, CycleState.REMINDED)
    assert await product.reply(cycle, "21*1") == "consent"
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    assert status.voucher_id in product.world.vouchers
    # Outside the sending window the confirmation waits for 09:00, when the voucher has lapsed:
    # it is not sent at all.
    await product.sleep_until(calendar.month_end(month) + timedelta(hours=10))
    status = await product.state_becomes(cycle, CycleState.VOUCHER_EXPIRED)
    assert product.sms(citizen) == ["consent_request", "reminder"]
    assert "sms_not_sent" in [event.event for event in status.history]


async def test_food_consent_on_file_means_no_sms_next_month(product: Product) -> None:
    """Consent given last month under the same version: no SMS, the voucher at the send moment."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food", family_size=2)
    first = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(first, CycleState.AWAITING_CONSENT)
    assert await product.reply(first, "21*1") == "consent"
    await _consented(product, first, citizen)
    sent_before = product.sms(citizen)

    following = calendar.next_month(month)
    later_rules = _same_version(rules.version, following)
    second = await product.list(later_rules, following, citizen)
    send = calendar.send_moment(later_rules, following)
    await product.sleep_until(send - MINUTE)
    assert (await product.status(second)).state == CycleState.SCHEDULED
    assert len(product.world.vouchers) == 1

    await product.sleep_until(send + MINUTE)
    status = await product.state_becomes(second, CycleState.VOUCHER_ISSUED)
    issued = next(e.at for e in status.history if e.event == "voucher_issued")
    assert send <= issued < send + 2 * MINUTE
    assert product.sms(citizen) == sent_before == ["consent_request", "confirmation"]
    voucher = product.world.vouchers[status.voucher_id]
    assert voucher["month"] == following and voucher["members"] == 2


async def test_food_refusal_after_the_voucher_means_asking_again_next_month(
    product: Product,
) -> None:
    """21*2 after the voucher was issued is a refusal: the next month asks for consent again."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    first = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(first, CycleState.AWAITING_CONSENT)
    assert await product.reply(first, "21*1") == "consent"
    status = await _consented(product, first, citizen)

    assert await product.reply(first, "21*2") == "refusal"
    assert (await product.status(first)).state == CycleState.VOUCHER_ISSUED
    assert status.voucher_id in product.world.vouchers

    following = calendar.next_month(month)
    later_rules = _same_version(rules.version, following)
    second = await product.list(later_rules, following, citizen)
    await product.sleep_until(calendar.send_moment(later_rules, following) + MINUTE)
    await product.state_becomes(second, CycleState.AWAITING_CONSENT)
    assert product.sms(citizen) == ["consent_request", "confirmation", "consent_request"]
    assert len(product.world.vouchers) == 1


async def test_food_consent_given_after_next_month_was_listed_still_counts(
    product: Product,
) -> None:
    """SDU lists next month before the citizen consents this month: next month asks nothing."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    first = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(first, CycleState.AWAITING_CONSENT)
    following = calendar.next_month(month)
    later_rules = _same_version(rules.version, following)
    second = await product.list(later_rules, following, citizen)
    await _asleep(second)

    assert await product.reply(first, "21*1") == "consent"
    await _consented(product, first, citizen)
    await product.sleep_until(calendar.send_moment(later_rules, following) + MINUTE)
    status = await _past_scheduled(product, second)

    assert status.state == CycleState.VOUCHER_ISSUED
    assert product.sms(citizen) == ["consent_request", "confirmation"]


async def test_food_refusal_given_after_next_month_was_listed_means_asking_again(
    product: Product,
) -> None:
    """SDU lists next month, then the citizen refuses: next month asks, it issues nothing."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    first = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(first, CycleState.AWAITING_CONSENT)
    assert await product.reply(first, "21*1") == "consent"
    await _consented(product, first, citizen)
    following = calendar.next_month(month)
    later_rules = _same_version(rules.version, following)
    second = await product.list(later_rules, following, citizen)
    await _asleep(second)

    assert await product.reply(first, "21*2") == "refusal"
    await product.sleep_until(calendar.send_moment(later_rules, following) + MINUTE)
    status = await _past_scheduled(product, second)

    assert status.state == CycleState.AWAITING_CONSENT
    assert product.sms(citizen) == ["consent_request", "confirmation", "consent_request"]
    assert len(product.world.vouchers) == 1


async def test_food_refusal_before_the_send_day_stops_the_voucher_on_file(
    product: Product,
) -> None:
    """Consent on file, then 21*2 on the 2nd of the next month: it ends REFUSED, no voucher."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    first = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(first, CycleState.AWAITING_CONSENT)
    assert await product.reply(first, "21*1") == "consent"
    await _consented(product, first, citizen)
    following = calendar.next_month(month)
    later_rules = _same_version(rules.version, following)
    await product.sleep_until(calendar.day_start(following, 2))
    second = await product.list(later_rules, following, citizen)
    await _asleep(second)

    assert await product.reply(second, "21*2") == "refusal"
    await product.sleep_until(calendar.send_moment(later_rules, following) + MINUTE)
    status = await _past_scheduled(product, second)

    assert status.state == CycleState.REFUSED
    assert len(product.world.vouchers) == 1
    assert product.sms(citizen) == ["consent_request", "confirmation"]


async def test_food_refusal_between_two_months_withdraws_the_consent_on_file(
    product: Product,
) -> None:
    """21*2 after the month's cycle closed, before the next is listed: no cycle is open to take
    it, yet it withdraws the program-period consent, and the next month asks again."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    first = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(first, CycleState.AWAITING_CONSENT)
    assert await product.reply(first, "21*1") == "consent"
    await _consented(product, first, citizen)
    following = calendar.next_month(month)
    await product.sleep_until(calendar.day_start(following, 1) + MINUTE)
    await product.state_becomes(first, CycleState.VOUCHER_EXPIRED)
    await first.result()

    assert await product.text_back(citizen, rules, "21*2") == "refusal"
    assert await product.text_back(citizen, rules, "21*2") == "late"  # nothing left to withdraw
    later_rules = _same_version(rules.version, following)
    second = await product.list(later_rules, following, citizen)
    await product.sleep_until(calendar.send_moment(later_rules, following) + MINUTE)
    status = await _past_scheduled(product, second)

    assert status.state == CycleState.AWAITING_CONSENT
    assert product.sms(citizen) == ["consent_request", "confirmation", "consent_request"]
    assert len(product.world.vouchers) == 1


async def test_gas_and_food_in_the_same_month_are_two_separate_cycles(product: Product) -> None:
    """One family in both programs: two SMS streams, and a reply counts for the short number
    it is sent to (through the gateway's webhook, matched by sender and short number)."""
    month, gas = await product.next_month("gas")
    food = load_programs(EXAMPLE_PROGRAM_DATA).for_month("food", month)
    assert food is not None and food.short_number != gas.short_number
    citizen = product.citizen("food", region="AKM", locality="AKKOL")
    gas_cycle = await product.list(gas, month, citizen)
    food_cycle = await product.list(food, month, citizen)
    assert gas_cycle.id != food_cycle.id

    await product.sleep_until(calendar.send_moment(gas, month) + MINUTE)
    await product.state_becomes(gas_cycle, CycleState.AWAITING_CONSENT)
    await product.state_becomes(food_cycle, CycleState.AWAITING_CONSENT)
    assert await product.text_back(citizen, gas, "21*1") == "consent"
    await _consented(product, gas_cycle, citizen)

    assert (await product.status(food_cycle)).state == CycleState.AWAITING_CONSENT
    assert _kinds_from(product, citizen, gas.short_number) == ["consent_request", "confirmation"]
    assert _kinds_from(product, citizen, food.short_number) == ["consent_request"]
    assert [v["program"] for v in product.world.vouchers.values()] == ["gas"]

    assert await product.text_back(citizen, food, "21*2") == "refusal"
    await product.state_becomes(food_cycle, CycleState.REFUSED)
    assert (await product.status(gas_cycle)).state == CycleState.VOUCHER_ISSUED


async def _consented(
    product: Product, cycle: WorkflowHandle[Any, Any], citizen: Citizen
) -> CycleStatus:
    """Wait for both effects of a consent: the voucher, and the confirmation SMS after it."""

    async def kinds() -> list[str]:
        return product.sms(citizen)

    await eventually(kinds, lambda sent: "confirmation" in sent)
    return await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)


def _sent(product: Product, citizen: Citizen) -> list[SentSms]:
    return product.world.sent_to(product.phone(citizen))


def _kinds_from(product: Product, citizen: Citizen, short_number: str) -> list[str]:
    return [
        m.idempotency_key.rsplit(":", 1)[1]
        for m in _sent(product, citizen)
        if m.from_ == short_number
    ]


def _same_version(version: str, month: str) -> ProgramVersion:
    """The food rules of ``month``, which must be ``version`` for a consent to carry over."""
    rules = load_programs(EXAMPLE_PROGRAM_DATA).for_month("food", month)
    assert rules is not None and rules.version == version, "the next month has a new version"
    return rules


async def _asleep(cycle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the cycle has looked up its phone and its consent, and sleeps on a timer."""

    async def timers() -> int:
        try:
            events = [event async for event in cycle.fetch_history_events()]
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return 0  # the intake has not started it yet
            raise
        return sum(event.event_type == EventType.EVENT_TYPE_TIMER_STARTED for event in events)

    await eventually(timers, lambda started: started > 0)


async def _past_scheduled(product: Product, cycle: WorkflowHandle[Any, Any]) -> CycleStatus:
    """The cycle's status once it has acted on its send moment."""
    return await eventually(
        lambda: product.status(cycle), lambda s: s.state != CycleState.SCHEDULED
    )


async def test_a_voucher_activated_before_its_confirmation_sms_still_lives_its_month(
    product: Product,
) -> None:
    """A consent at 21:30 issues the voucher at once while the confirmation SMS waits for 09:00;
    a voucher activated in the wallet that night still lives its month and lapses at its end."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food")
    cycle = await product.list(rules, month, citizen)
    send = calendar.send_moment(rules, month)
    await product.sleep_until(send + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    await product.sleep_until(send.replace(hour=21, minute=30))
    assert await product.reply(cycle, "21*1") == "consent"
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    async with product.api("wallet") as wallet:
        activated = await wallet.post(f"/v1/vouchers/{status.voucher_id}/activate", json={})
    assert activated.status_code == 200, activated.text

    await product.sleep_until(send + timedelta(days=1, hours=1))
    await product.sms_becomes(citizen, ["consent_request", "confirmation"])
    await product.sleep_until(calendar.month_end(month) + MINUTE)
    closed = await product.state_becomes(cycle, CycleState.CLOSED)
    assert closed.balance_kzt == status.amount_kzt
