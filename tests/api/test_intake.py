"""SDU's list intake through the HTTP API (CONTRACTS.md §1), the worker on the test server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from models.cycle import Citizen, CycleState
from rules import calendar
from tests.harness import Product, eventually


def _record(citizen: Citizen) -> dict[str, Any]:
    return citizen.model_dump(mode="json", exclude_none=True)


async def test_a_batch_is_listed_with_invalid_records_refused_one_by_one(product: Product) -> None:
    """Valid citizens are accepted, duplicates counted, invalid ones refused with a reason."""
    month, rules = await product.next_month("gas")
    await product.sleep_until(calendar.month_start(month) + timedelta(hours=10))
    good = [product.citizen("gas") for _ in range(3)]
    bad_iin = {**_record(good[0]), "iin": "123456789012"}
    outside = {**_record(product.citizen("gas")), "region": "PAV"}
    body = {"recipients": [*map(_record, good), _record(good[1]), bad_iin, outside]}

    async with product.api("sdu") as sdu:
        answer = await sdu.post(f"/v1/programs/gas/months/{month}/recipients", json=body)

    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 3
    assert answer.json()["already_listed"] == 1
    reasons = {r["iin"]: r["reason"] for r in answer.json()["rejected"]}
    assert reasons == {"123456789012": "invalid_iin", outside["iin"]: "region_not_in_program"}
    for citizen in good:
        await product.state_becomes(product.handle("gas", month, citizen), CycleState.SCHEDULED)


async def test_a_re_sent_batch_is_already_listed_and_starts_nothing(product: Product) -> None:
    """SDU re-sending a batch gets ``already_listed`` for all of it and no second cycle."""
    month, _ = await product.next_month("gas")
    await product.sleep_until(calendar.month_start(month) + timedelta(hours=10))
    body = {"recipients": [_record(product.citizen("gas")) for _ in range(2)]}
    async with product.api("sdu") as sdu:
        first = await sdu.post(f"/v1/programs/gas/months/{month}/recipients", json=body)
        again = await sdu.post(f"/v1/programs/gas/months/{month}/recipients", json=body)

    assert first.json()["accepted"] == 2
    assert again.json() == {"accepted": 0, "already_listed": 2, "rejected": []}


async def test_the_list_closes_after_the_cut_off_day_by_workflow_time(product: Product) -> None:
    """At 23:59 on the 14th gas still lists; at 00:00 on the 15th it answers 409 list_closed."""
    month, rules = await product.next_month("gas")
    closes = calendar.list_closes(rules, month)
    url = f"/v1/programs/gas/months/{month}/recipients"
    async with product.api("sdu") as sdu:
        await product.sleep_until(closes - timedelta(minutes=1))
        before = await sdu.post(url, json={"recipients": [_record(product.citizen("gas"))]})
        await product.sleep_until(closes + timedelta(seconds=1))
        after = await sdu.post(url, json={"recipients": [_record(product.citizen("gas"))]})

    assert before.status_code == 202 and before.json()["accepted"] == 1
    assert after.status_code == 409 and after.json()["error"] == "list_closed"


async def test_a_late_gas_addition_is_texted_on_arrival(product: Product) -> None:
    """A citizen listed on the 10th at 14:00 gets the consent request at once, not next month."""
    month, rules = await product.next_month("gas")
    await product.sleep_until(calendar.day_start(month, 10) + timedelta(hours=14))
    citizen = product.citizen("gas")
    async with product.api("sdu") as sdu:
        await sdu.post(
            f"/v1/programs/gas/months/{month}/recipients", json={"recipients": [_record(citizen)]}
        )
    status = await product.state_becomes(
        product.handle("gas", month, citizen), CycleState.AWAITING_CONSENT
    )
    sent = next(e.at for e in status.history if e.event == "sms_sent")
    assert calendar.day_start(month, 10) + timedelta(hours=14) <= sent
    assert sent < calendar.day_start(month, 10) + timedelta(hours=15)


async def test_months_outside_every_program_version_are_closed(product: Product) -> None:
    """A month before the gas pilot answers 409 list_closed."""
    async with product.api("sdu") as sdu:
        answer = await sdu.post(
            "/v1/programs/gas/months/2024-01/recipients",
            json={"recipients": [_record(product.citizen("gas"))]},
        )
    assert answer.status_code == 409 and answer.json()["error"] == "list_closed"


async def test_unknown_program_and_malformed_bodies(product: Product) -> None:
    """An unknown program is 404 unknown_program; a body without recipients is 422."""
    async with product.api("sdu") as sdu:
        unknown = await sdu.post(
            "/v1/programs/coal/months/2030-01/recipients", json={"recipients": []}
        )
        malformed = await sdu.post("/v1/programs/gas/months/2030-01/recipients", json={"x": 1})
        not_json = await sdu.post(
            "/v1/programs/gas/months/2030-01/recipients",
            content=b"{",
            headers={"Content-Type": "application/json"},
        )
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_program"
    assert malformed.status_code == 422 and malformed.json()["error"] == "malformed"
    assert not_json.status_code == 422


async def test_roles_only_reach_their_own_routes(product: Product) -> None:
    """No token is 401, a wrong token 401, another role's token 403."""
    url = "/v1/programs/gas/months/2030-01/recipients"
    async with product.api("wallet") as wallet, product.api("sdu") as sdu:
        wrong_role = await wallet.post(url, json={"recipients": []})
        no_token = await sdu.post(url, json={"recipients": []}, headers={"Authorization": ""})
        bad_token = await sdu.post(
            url, json={"recipients": []}, headers={"Authorization": "Bearer x"}
        )
    assert (wrong_role.status_code, wrong_role.json()["error"]) == (403, "forbidden")
    assert no_token.status_code == 401 and bad_token.status_code == 401


async def test_a_withdrawn_citizen_is_never_texted(product: Product) -> None:
    """A withdrawal before the send day ends the cycle WITHDRAWN; no SMS goes out."""
    month, rules = await product.next_month("gas")
    await product.sleep_until(calendar.month_start(month) + timedelta(hours=10))
    citizen = product.citizen("gas")
    url = f"/v1/programs/gas/months/{month}/recipients"
    async with product.api("sdu") as sdu:
        await sdu.post(url, json={"recipients": [_record(citizen)]})
        handle = product.handle("gas", month, citizen)
        await product.state_becomes(handle, CycleState.SCHEDULED)
        withdrawals = f"/v1/programs/gas/months/{month}/withdrawals"
        gone = await sdu.post(withdrawals, json={"iin": citizen.iin})
        missing = await sdu.post(withdrawals, json={"iin": product.citizen("gas").iin})
    assert gone.status_code == 200 and gone.json() == {"state": "WITHDRAWN"}
    assert missing.status_code == 404 and missing.json()["error"] == "not_listed"
    await product.state_becomes(handle, CycleState.WITHDRAWN)
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(hours=1))
    assert product.sms(citizen) == []


async def test_the_report_counts_what_happened(product: Product) -> None:
    """The ops report's figures equal the cycles' states and the SMS sent."""
    month, rules = await product.next_month("gas")
    await product.sleep_until(calendar.month_start(month) + timedelta(hours=10))
    with_phone = [product.citizen("gas", region="AST") for _ in range(2)]
    without = product.citizen("gas", region="KAR", with_phone=False)
    async with product.api("sdu") as sdu:
        await sdu.post(
            f"/v1/programs/gas/months/{month}/recipients",
            json={"recipients": [_record(c) for c in [*with_phone, without]]},
        )
    await product.sleep_until(calendar.send_moment(rules, month) + timedelta(minutes=5))
    for citizen in with_phone:
        await product.state_becomes(
            product.handle("gas", month, citizen), CycleState.AWAITING_CONSENT
        )

    async def report() -> dict[str, Any]:
        async with product.api("ops") as ops:
            answer = await ops.get(f"/v1/programs/gas/months/{month}/report")
        return dict(answer.json())

    figures = await eventually(report, lambda r: r["sms_sent"] == 2)
    assert figures["by_state"] == {"AWAITING_CONSENT": 2, "NO_PHONE": 1}
    assert figures["by_region"] == {"AST": {"AWAITING_CONSENT": 2}, "KAR": {"NO_PHONE": 1}}


async def test_a_malformed_month_is_422(product: Product) -> None:
    """A month that is not ``YYYY-MM`` is refused with 422, on every route that takes one."""
    async with product.api("sdu") as sdu, product.api("ops") as ops:
        listing = await sdu.post(
            "/v1/programs/gas/months/2026-13/recipients", json={"recipients": []}
        )
        report = await ops.get("/v1/programs/gas/months/26-1/report")
    assert (listing.status_code, listing.json()["error"]) == (422, "malformed")
    assert (report.status_code, report.json()["error"]) == (422, "malformed")
