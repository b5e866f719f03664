"""The simulators over real loopback HTTP: contracts of CONTRACTS.md §2, faults, signed replies."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import phonenumbers
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from simulators import (
    SimulatorURLs,
    World,
    is_valid_iin,
    run_simulators,
    sample_cohort,
    seed_world,
    serve,
    sign,
)
from simulators.iin import check_digit

TOKEN = "sms-test-token"
SECRET = "webhook-test-secret"
SMS = {"from": "5104", "to": "+77011234567", "text": "21*1?"}


@dataclass
class Receiver:
    """A stand-in for the product's webhook: records requests, answers scripted statuses."""

    received: list[tuple[httpx.Headers, bytes]] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/sms/inbound")
        async def inbound(request: Request) -> JSONResponse:
            self.received.append((httpx.Headers(request.headers), await request.body()))
            status = self.statuses.popleft() if self.statuses else 200
            return JSONResponse({"result": "consent"}, status_code=status)

        return app


@dataclass
class Sims:
    world: World
    urls: SimulatorURLs
    receiver: Receiver
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
async def running() -> AsyncIterator[tuple[World, SimulatorURLs, Receiver]]:
    world, receiver = World(), Receiver()
    async with (
        run_simulators(
            world,
            sms_token=TOKEN,
            webhook_url=None,
            webhook_secret=SECRET,
            delivery_backoff_s=0.01,
        ) as urls,
        serve(receiver.app()) as receiver_url,
    ):
        # Set after the simulators started, as when the product's API comes up later.
        world.webhook_url = f"{receiver_url}/v1/sms/inbound"
        yield world, urls, receiver


@pytest.fixture
async def sims(running: tuple[World, SimulatorURLs, Receiver]) -> AsyncIterator[Sims]:
    world, urls, receiver = running
    world.reset()
    receiver.received.clear()
    receiver.statuses.clear()
    async with httpx.AsyncClient(timeout=5) as http:
        yield Sims(world, urls, receiver, http)


async def send_sms(s: Sims, key: str | None = "key-1", token: str = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await s.http.post(f"{s.urls.sms_gateway_url}/v1/messages", json=SMS, headers=headers)


async def test_bmg_answers_a_registered_number_and_404_otherwise(sims: Sims) -> None:
    """BMG returns the number registered through its control route and 404 for anyone else."""
    base = sims.urls.bmg_url
    added = await sims.http.post(
        f"{base}/sim/subscribers", json={"iin": "900101300007", "phone": "+77011234567"}
    )
    assert added.status_code == 204
    found = await sims.http.get(f"{base}/v1/subscribers/900101300007")
    assert (found.status_code, found.json()) == (
        200,
        {"iin": "900101300007", "phone": "+77011234567"},
    )
    missing = await sims.http.get(f"{base}/v1/subscribers/900101300811")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


async def test_sms_same_idempotency_key_is_one_message(sims: Sims) -> None:
    """Sending twice with one key answers 202 with the same id and records one message."""
    first, second = await send_sms(sims), await send_sms(sims)
    assert first.status_code == second.status_code == 202
    assert first.json()["message_id"] == second.json()["message_id"]
    assert len(sims.world.messages) == 1
    listed = await sims.http.get(
        f"{sims.urls.sms_gateway_url}/sim/messages", params={"to": SMS["to"]}
    )
    [message] = listed.json()["messages"]
    assert message["idempotency_key"] == "key-1"
    assert datetime.fromisoformat(message["accepted_at"]).utcoffset() is not None


async def test_sms_refuses_a_wrong_token_and_a_missing_key(sims: Sims) -> None:
    """The gateway answers 401 to a bad bearer token and 400 without an Idempotency-Key."""
    assert (await send_sms(sims, token="wrong")).status_code == 401
    assert (await send_sms(sims, key=None)).status_code == 400
    assert sims.world.messages == []


async def test_sms_scripted_faults_come_before_success(sims: Sims) -> None:
    """A scripted 500, then a 429 with Retry-After, are answered in order, then the SMS goes."""
    sims.world.fail("sms", status=500)
    control = await sims.http.post(
        f"{sims.urls.sms_gateway_url}/sim/faults", json={"status": 429, "retry_after": 2}
    )
    assert control.status_code == 204
    answers = [await send_sms(sims) for _ in range(3)]
    assert [a.status_code for a in answers] == [500, 429, 202]
    assert answers[1].headers["Retry-After"] == "2"
    assert sims.world.requests["sms"] == 3
    assert len(sims.world.messages) == 1


async def test_sms_malformed_body_is_422_and_counted(sims: Sims) -> None:
    """A message to a non-mobile number is refused with 422; the state route counts the call."""
    base = sims.urls.sms_gateway_url
    bad = {**SMS, "to": "87011234567"}
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k"}
    answer = await sims.http.post(f"{base}/v1/messages", json=bad, headers=headers)
    assert answer.status_code == 422
    state = (await sims.http.get(f"{base}/sim/state")).json()
    assert (state["requests"], state["messages"], state["faults_pending"]) == (1, [], 0)


async def test_a_caller_gone_mid_body_is_not_logged_as_an_error(
    sims: Sims, caplog: pytest.LogCaptureFixture
) -> None:
    """A caller that goes away while its body is being read (a worker stopping mid-call) is
    nobody's error: nothing is answered, and no traceback is logged."""
    url = urlsplit(sims.urls.sms_gateway_url)
    assert url.hostname is not None and url.port is not None
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        b"POST /v1/messages HTTP/1.1\r\nHost: sms\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\nIdempotency-Key: gone\r\n"
        b"Content-Length: 100\r\n\r\n{\"from\": "
    )
    await writer.drain()
    while sims.world.requests["sms"] == 0:
        await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.5)  # the server sees the close at once; an error would be logged now
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert (await send_sms(sims)).status_code == 202


async def test_wallet_put_creates_then_updates(sims: Sims) -> None:
    """The first PUT of a voucher answers 201, the same PUT again 200, and events 204."""
    url = f"{sims.urls.wallet_url}/v1/vouchers/v-1"
    body = {"program": "gas", "month": "2025-10", "iin": "ref-1", "valid_until": "2025-10-29"}
    assert (await sims.http.put(url, json=body)).status_code == 201
    assert (await sims.http.put(url, json=body)).status_code == 200
    event = {"type": "discount", "discount_kzt": 1200, "volume_m3": "40.5"}
    assert (await sims.http.post(f"{url}/events", json=event)).status_code == 204
    assert sims.world.vouchers == {"v-1": body}
    assert sims.world.voucher_events == [("v-1", event)]


async def test_gas_accounts_and_idempotent_handover(sims: Sims) -> None:
    """Unknown accounts are 404, known ones 200, and a repeated hand-over is stored once."""
    base = sims.urls.gas_provider_url
    assert (await sims.http.get(f"{base}/v1/accounts/1234567890")).status_code == 404
    account = {"account_number": "1234567890", "holder": "Ким Асель", "address": "ул. Абая, 1",
               "region": "AST"}  # fmt: skip
    assert (await sims.http.post(f"{base}/sim/accounts", json=account)).status_code == 204
    found = await sims.http.get(f"{base}/v1/accounts/1234567890")
    assert (found.status_code, found.json()) == (200, account)
    handover = {"vouchers": [{"voucher_id": "v-1", "account_number": "1234567890"}]}
    for _ in range(2):
        put = await sims.http.put(f"{base}/v1/handovers/2025-10", json=handover)
        assert put.status_code == 204
    assert sims.world.handovers == {"2025-10": handover["vouchers"]}


async def test_sdu_journal_and_food_report_are_recorded(sims: Sims) -> None:
    """SDU records a NO_PHONE entry and food reporting keeps the day's report, both with 204."""
    entry = {"program": "gas", "month": "2025-10", "iin": "900101300007", "event": "NO_PHONE",
             "at": "2025-10-07T09:00:00+05:00"}  # fmt: skip
    assert (await sims.http.post(f"{sims.urls.sdu_url}/v1/journal", json=entry)).status_code == 204
    report = {"program": "food", "date": "2025-10-05", "activated": 3, "redeemed_kzt": 900}
    url = f"{sims.urls.food_provider_url}/v1/reports/daily/2025-10-05"
    assert (await sims.http.put(url, json=report)).status_code == 204
    assert sims.world.journal == [entry]
    assert sims.world.food_reports == {"2025-10-05": report}


async def test_reply_is_delivered_signed(sims: Sims) -> None:
    """A citizen's reply reaches the webhook with a signature that verifies with `sign`."""
    reply = {"from": "+77011234567", "to": "5104", "text": "21*1"}
    answer = await sims.http.post(f"{sims.urls.sms_gateway_url}/sim/replies", json=reply)
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["body"]) == (200, {"result": "consent"})
    [(headers, body)] = sims.receiver.received
    assert headers["X-Signature"] == sign(SECRET, int(headers["X-Timestamp"]), body)
    delivered = json.loads(body)
    assert {k: delivered[k] for k in reply} == reply
    assert delivered["message_id"] == answer.json()["message_id"]
    assert datetime.fromisoformat(delivered["received_at"]).utcoffset() is not None
    assert sims.world.inbound == [delivered]


async def test_reply_delivery_is_retried_on_5xx(sims: Sims) -> None:
    """The gateway retries a delivery answered 503 and 500 and reports the final 200."""
    sims.receiver.statuses.extend([503, 500])
    reply = {"from": "+77011234567", "to": "5104", "text": "21*2"}
    answer = await sims.http.post(f"{sims.urls.sms_gateway_url}/sim/replies", json=reply)
    assert (answer.json()["status"], answer.json()["attempts"]) == (200, 3)
    bodies = {body for _, body in sims.receiver.received}
    assert len(sims.receiver.received) == 3 and len(bodies) == 1


async def test_deliver_twice_sends_one_message_id_twice(sims: Sims) -> None:
    """With deliver_twice the webhook receives the same message_id in two deliveries."""
    reply = {"from": "+77011234567", "to": "5104", "text": "21*1", "deliver_twice": True}
    answer = await sims.http.post(f"{sims.urls.sms_gateway_url}/sim/replies", json=reply)
    assert [d["status"] for d in answer.json()["deliveries"]] == [200, 200]
    ids = [json.loads(body)["message_id"] for _, body in sims.receiver.received]
    assert ids == [answer.json()["message_id"]] * 2


async def test_reply_without_webhook_is_refused(sims: Sims) -> None:
    """With no webhook URL configured the reply control route answers 409 and sends nothing."""
    url, sims.world.webhook_url = sims.world.webhook_url, None
    try:
        reply = {"from": "+77011234567", "to": "5104", "text": "21*1"}
        answer = await sims.http.post(f"{sims.urls.sms_gateway_url}/sim/replies", json=reply)
    finally:
        sims.world.webhook_url = url
    assert (answer.status_code, answer.json()["error"]) == (409, "no_webhook")
    assert sims.receiver.received == []


@pytest.mark.parametrize(
    ("iin", "valid"),
    [("900101300007", True), ("900101300811", True), ("900101300008", False),
     ("900101300800", False), ("90010130000", False), ("90010130000a", False)],
)  # fmt: skip
def test_iin_check_digit_rule(iin: str, valid: bool) -> None:
    """The check digit uses weights 1..11, then 3..11,1,2 when the first pass gives 10."""
    assert is_valid_iin(iin) is valid


def test_iin_without_any_check_digit_is_never_valid() -> None:
    """When both passes give 10 no 12th digit makes the IIN valid."""
    assert check_digit("90010130080") is None
    assert not any(is_valid_iin(f"90010130080{d}") for d in range(10))


@pytest.mark.parametrize("program", ["gas", "food"])
def test_cohort_is_valid_and_deterministic(program: str) -> None:
    """Cohort IINs pass the check digit, phones are KZ mobiles, and one seed gives one cohort."""
    cohort = sample_cohort(300, seed=3, program=program)
    assert cohort == sample_cohort(300, seed=3, program=program)
    assert cohort != sample_cohort(300, seed=4, program=program)
    assert len({c["iin"] for c in cohort}) == 300
    assert all(is_valid_iin(c["iin"]) for c in cohort)
    for citizen in cohort:
        number = phonenumbers.parse(citizen["phone"])
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    if program == "food":
        assert {(c["locality"], c["region"]) for c in cohort} == {
            ("KOKSHETAU", "AKM"), ("AKKOL", "AKM"), ("PAVLODAR", "PAV"),
        }  # fmt: skip


def test_seed_world_leaves_every_tenth_citizen_without_a_phone() -> None:
    """Seeding registers 27 of 30 numbers in BMG and opens the requested gas accounts."""
    world, cohort = World(), sample_cohort(30)
    missing = seed_world(world, cohort, accounts=5)
    assert missing == [cohort[9]["iin"], cohort[19]["iin"], cohort[29]["iin"]]
    assert len(world.subscribers) == 27 and not set(missing) & set(world.subscribers)
    assert len(world.accounts) == 5
