"""SDU's withdrawal of a listed citizen, ``POST …/withdrawals`` ``{"iin"}`` (CONTRACTS.md §1)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from models.cycle import Citizen, CycleState
from rules import calendar
from rules.pseudonyms import citizen_ref
from store.engine import create_engine, create_sessions
from store.queries import add_listings
from tests.harness import Product

MINUTE = timedelta(minutes=1)


async def _withdraw(product: Product, program: str, month: str, citizen: Citizen) -> httpx.Response:
    async with product.api("sdu") as sdu:
        return await sdu.post(
            f"/v1/programs/{program}/months/{month}/withdrawals", json={"iin": citizen.iin}
        )


async def test_a_withdrawal_asked_again_answers_withdrawn_again(product: Product) -> None:
    """SDU retrying a withdrawal whose answer it lost gets 200 again, running or closed."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    first = await _withdraw(product, "gas", month, citizen)
    again = await _withdraw(product, "gas", month, citizen)
    await product.state_becomes(cycle, CycleState.WITHDRAWN)
    await cycle.result()
    after_close = await _withdraw(product, "gas", month, citizen)

    for answer in (first, again, after_close):
        assert (answer.status_code, answer.json()) == (200, {"state": "WITHDRAWN"})
    assert [e.event for e in (await product.status(cycle)).history].count(
        "withdrawal_requested"
    ) == 1


async def test_a_used_and_closed_voucher_cannot_be_withdrawn(product: Product) -> None:
    """A food voucher activated and closed at the month's end: 409 ``already_activated``."""
    citizen, _, cycle, status = await product.issued_voucher("food")
    async with product.api("wallet") as wallet:
        activated = await wallet.post(f"/v1/vouchers/{status.voucher_id}/activate", json={})
    assert activated.status_code == 200, activated.text
    await product.sleep_until(calendar.month_end(status.month) + MINUTE)
    await product.state_becomes(cycle, CycleState.CLOSED)
    await cycle.result()

    refused = await _withdraw(product, "food", status.month, citizen)

    assert (refused.status_code, refused.json()["error"]) == (409, "already_activated")
    assert (await product.status(cycle)).state == CycleState.CLOSED


async def test_an_activated_voucher_cannot_be_withdrawn(product: Product) -> None:
    """A running cycle whose voucher is activated: 409 ``already_activated``, nothing changes."""
    citizen, _, cycle, status = await product.issued_voucher("food")
    async with product.api("wallet") as wallet:
        await wallet.post(f"/v1/vouchers/{status.voucher_id}/activate", json={})

    refused = await _withdraw(product, "food", status.month, citizen)

    assert (refused.status_code, refused.json()["error"]) == (409, "already_activated")
    assert (await product.status(cycle)).state == CycleState.ACTIVATED
    assert product.world.voucher_events == []


async def test_a_cycle_that_ended_without_a_voucher_is_already_final(product: Product) -> None:
    """No phone number: the cycle ended NO_PHONE; withdrawing it is 409 ``already_final``."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", with_phone=False)
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.NO_PHONE)
    await cycle.result()

    refused = await _withdraw(product, "gas", month, citizen)

    assert (refused.status_code, refused.json()["error"]) == (409, "already_final")
    assert (await product.status(cycle)).state == CycleState.NO_PHONE


async def test_a_listed_citizen_whose_cycle_has_not_started_is_withdrawn(
    product: Product,
) -> None:
    """A listing the intake has not started yet (its signal lost) is withdrawn all the same:
    its cycle exists, ends WITHDRAWN, and a later start or re-send starts nothing more."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    await _pending(product, "gas", month, citizen)

    answer = await _withdraw(product, "gas", month, citizen)

    assert (answer.status_code, answer.json()) == (200, {"state": "WITHDRAWN"})
    cycle = product.handle("gas", month, citizen)
    await product.state_becomes(cycle, CycleState.WITHDRAWN)
    relisted = await product.list(rules, month, citizen)  # runs the intake's fan-out
    assert relisted.id == cycle.id
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    assert (await product.status(cycle)).state == CycleState.WITHDRAWN
    assert product.sms(citizen) == []


async def test_a_withdrawn_listing_not_started_is_never_looked_up_as_no_phone(
    product: Product,
) -> None:
    """A citizen without a phone, withdrawn before the intake started their cycle: the cycle
    ends WITHDRAWN, not NO_PHONE, nothing goes to SDU's journal, and asked again it is 200."""
    month, _ = await product.next_month("gas")
    citizen = product.citizen("gas", with_phone=False)
    await _pending(product, "gas", month, citizen)

    first = await _withdraw(product, "gas", month, citizen)
    cycle = product.handle("gas", month, citizen)
    await product.state_becomes(cycle, CycleState.WITHDRAWN)
    await cycle.result()
    again = await _withdraw(product, "gas", month, citizen)

    for answer in (first, again):
        assert (answer.status_code, answer.json()) == (200, {"state": "WITHDRAWN"})
    assert product.world.journal == []


async def test_withdrawing_someone_never_listed_is_404(product: Product) -> None:
    """A citizen SDU never listed for the month: 404 ``not_listed``."""
    month, _ = await product.next_month("gas")
    answer = await _withdraw(product, "gas", month, product.citizen("gas"))
    assert (answer.status_code, answer.json()["error"]) == (404, "not_listed")


async def test_the_iin_never_travels_in_the_url(product: Product) -> None:
    """The old ``DELETE …/recipients/{iin}`` is gone (405: only the list's POST is there), and
    the withdrawal's URL holds no IIN: a proxy's access log cannot learn who was withdrawn."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    async with product.api("sdu") as sdu:
        old = await sdu.delete(f"/v1/programs/gas/months/{month}/recipients/{citizen.iin}")
        new = await sdu.post(
            f"/v1/programs/gas/months/{month}/withdrawals", json={"iin": citizen.iin}
        )
    assert old.status_code in (404, 405)
    assert (new.status_code, new.json()) == (200, {"state": "WITHDRAWN"})
    assert citizen.iin not in str(new.request.url)
    await product.state_becomes(cycle, CycleState.WITHDRAWN)


async def test_a_withdrawal_of_a_malformed_iin_is_422(product: Product) -> None:
    """An IIN that is not twelve digits (a control character in it too) is malformed."""
    month, _ = await product.next_month("gas")
    async with product.api("sdu") as sdu:
        answers = [
            await sdu.post(f"/v1/programs/gas/months/{month}/withdrawals", json={"iin": iin})
            for iin in ("12345", "12345678901\x00", "")
        ]
    assert [(a.status_code, a.json()["error"]) for a in answers] == [(422, "malformed")] * 3


async def _pending(product: Product, program: str, month: str, citizen: Citizen) -> None:
    """List ``citizen`` in the database only, as if the intake's signal had been lost."""
    engine = create_engine(product.settings.database_url)
    async with create_sessions(engine)() as session:
        ref = citizen_ref(product.settings.pseudonym_key, citizen.iin)
        await add_listings(
            session,
            program=program,
            month=month,
            citizens=[(ref, citizen)],
            listed_at=await product.now(),
        )
    await engine.dispose()
