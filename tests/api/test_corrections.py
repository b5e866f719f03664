"""SDU's corrections (SPEC.md §3 step 1): a listed citizen re-sent with other details before the
cut-off; the cycle goes on with the corrected record until its voucher is issued."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.cycle import Citizen, CycleState
from models.programs import ProgramVersion
from models.reference import load_reference
from rules import calendar
from rules.pseudonyms import citizen_ref, record_digest
from store.engine import create_engine, create_sessions
from store.queries import add_listings
from tests.harness import Product

MINUTE = timedelta(minutes=1)


async def _send(
    product: Product, rules: ProgramVersion, month: str, citizen: Citizen
) -> dict[str, Any]:
    async with product.api("sdu") as sdu:
        answer = await sdu.post(
            f"/v1/programs/{rules.program}/months/{month}/recipients",
            json={"recipients": [citizen.model_dump(mode="json", exclude_none=True)]},
        )
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_family_size_corrected_before_the_send_day_sets_the_voucher_value(
    product: Product,
) -> None:
    """Listed with 2 members, corrected to 4: the food voucher is worth 4 MRP, for 4 members."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food", family_size=2)
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    answer = await _send(product, rules, month, citizen.model_copy(update={"family_size": 4}))

    assert answer == {"accepted": 0, "already_listed": 1, "rejected": []}
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    assert await product.reply(cycle, "21*1") == "consent"
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    voucher = product.world.vouchers[status.voucher_id]
    assert voucher["amount_kzt"] == load_reference(EXAMPLE_PROGRAM_DATA).mrp(int(month[:4])) * 4
    assert voucher["members"] == 4
    corrected = [e for e in status.history if e.event == "corrected"]
    assert [e.detail["fields"] for e in corrected] == ["family_size"]


async def test_a_language_corrected_before_the_send_day_is_the_language_texted(
    product: Product,
) -> None:
    """Listed in Russian, corrected to Kazakh: the consent request goes out in Kazakh."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", lang="ru")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    await _send(product, rules, month, citizen.model_copy(update={"lang": "kk"}))

    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    sent = product.world.sent_to(product.phone(citizen))
    assert [m.text for m in sent] == [rules.text("consent_request", "kk")]
    assert rules.text("consent_request", "kk") != rules.text("consent_request", "ru")


async def test_a_region_correction_moves_the_cycle_in_the_report(product: Product) -> None:
    """Listed in Astana, corrected to Karaganda: the ops report counts the cycle there."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", region="AST")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    answer = await _send(product, rules, month, citizen.model_copy(update={"region": "KAR"}))

    assert answer["rejected"] == []
    assert (await product.status(cycle)).region == "KAR"
    async with product.api("ops") as ops:
        report = (await ops.get(f"/v1/programs/gas/months/{month}/report")).json()
    assert report["by_region"] == {"KAR": {"SCHEDULED": 1}}


async def test_a_correction_after_the_voucher_is_refused_and_changes_nothing(
    product: Product,
) -> None:
    """A gas voucher issued (the list is still open for late additions): a correction of the
    region is refused as too late, and the cycle keeps the record it was issued on."""
    citizen, rules, cycle, status = await product.issued_voucher("gas", region="AST")
    assert calendar.month_open_for_listing(rules, status.month, await product.now())

    moved = citizen.model_copy(update={"region": "KAR"})
    answer = await _send(product, rules, status.month, moved)

    assert answer["rejected"] == [{"iin": citizen.iin, "reason": "too_late_to_correct"}]
    again = await _send(product, rules, status.month, moved)  # refused again, not forgotten
    assert again["rejected"] == answer["rejected"]
    after = await product.status(cycle)
    assert (after.state, after.region) == (CycleState.VOUCHER_ISSUED, "AST")


async def test_a_correction_after_the_consent_is_refused_while_the_voucher_is_issued(
    product: Product,
) -> None:
    """The citizen has consented and the wallet is slow to take the voucher: a correction
    now is too late; the voucher goes out with the record the consent was given on."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas", region="AST")
    cycle = await product.list(rules, month, citizen)
    await product.sleep_until(calendar.send_moment(rules, month) + MINUTE)
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    product.world.fail("wallet", status=500, times=3)
    assert await product.reply(cycle, "21*1") == "consent"

    answer = await _send(product, rules, month, citizen.model_copy(update={"region": "KAR"}))

    assert answer["rejected"] == [{"iin": citizen.iin, "reason": "too_late_to_correct"}]
    await product.env.sleep(MINUTE)  # past the wallet's retries
    status = await product.state_becomes(cycle, CycleState.VOUCHER_ISSUED)
    assert status.region == "AST"


async def test_the_same_record_re_sent_is_no_correction(product: Product) -> None:
    """A re-send of the same record corrects nothing and leaves no trace in the cycle."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)

    answer = await _send(product, rules, month, citizen)

    assert answer == {"accepted": 0, "already_listed": 1, "rejected": []}
    assert "corrected" not in [e.event for e in (await product.status(cycle)).history]


async def test_a_correction_of_a_listing_not_started_yet_starts_it_corrected(
    product: Product,
) -> None:
    """A listing the intake has not started yet (its signal lost) is corrected all the same:
    its cycle starts with the corrected record."""
    month, rules = await product.next_month("food")
    citizen = product.citizen("food", family_size=2)
    key = product.settings.pseudonym_key
    ref = citizen_ref(key, citizen.iin)
    engine = create_engine(product.settings.database_url)
    async with create_sessions(engine)() as session:
        await add_listings(
            session,
            program="food",
            month=month,
            citizens=[(ref, citizen)],
            listed_at=await product.now(),
            digests={ref: record_digest(key, citizen.model_dump_json())},
        )
    await engine.dispose()

    answer = await _send(product, rules, month, citizen.model_copy(update={"family_size": 3}))

    assert answer == {"accepted": 0, "already_listed": 1, "rejected": []}
    status = await product.state_becomes(
        product.handle("food", month, citizen), CycleState.SCHEDULED
    )
    assert status.amount_kzt == load_reference(EXAMPLE_PROGRAM_DATA).mrp(int(month[:4])) * 3
