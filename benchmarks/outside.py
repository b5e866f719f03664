"""The outside systems' calls to the product, from a process of their own.

The SMS gateway's webhook calls and the wallet's activations come from other machines in
production. Sent from the benchmark's own process, their HTTP client shared the one core's worth
of Python the embedded product runs on (about a fifth of it under the wallet's load, by profile),
and the ratios to the raw update baseline (whose client is Temporal's, in Rust) measured the
load generator as much as the product. Here they run in a child process:
``await from_outside(job)`` sends one job as JSON on its standard input, and the child
(``python -m benchmarks.outside``) prints what it measured as JSON.

A job is a :class:`Replies` or an :class:`Activations`; the answer an :class:`Outcome`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from typing import Literal

import httpx
from pydantic import BaseModel

from benchmarks.common import bounded
from simulators.webhook import Delivery, deliver, inbound_message

REPLY_TIMEOUT_S = 120.0


class Replies(BaseModel):
    """One signed inbound SMS from each sender to the webhook, ``in_flight`` at a time."""

    kind: Literal["replies"] = "replies"
    url: str  # the webhook
    secret: str
    short_number: str
    text: str
    senders: list[str]
    in_flight: int


class Activations(BaseModel):
    """The wallet's two calls per gas voucher (the account, then the confirmation), ``in_flight``
    vouchers at a time; the n-th voucher takes account ``first_account + n``."""

    kind: Literal["activations"] = "activations"
    api_url: str
    token: str
    vouchers: list[str]
    first_account: int
    in_flight: int


class Outcome(BaseModel):
    """What the child measured: the wall time of the whole job, each request's (or voucher's)
    latency, and the answers counted by result."""

    wall_s: float
    latencies: list[float]
    results: dict[str, int]


async def from_outside(job: Replies | Activations) -> Outcome:
    """Run ``job`` in a child process and return what it measured."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.outside",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate(job.model_dump_json().encode())
    if child.returncode != 0:
        raise RuntimeError(f"the outside load generator exited with {child.returncode}")
    return Outcome.model_validate_json(out)


# What a reply's answers count, beside its final answer, for each time the gateway sent the
# message again (the webhook's 503 when the cycle did not answer in time, or no answer).
SENT_AGAIN = "sent again"
ATTEMPTS = 5  # a gateway's attempts at one message, after which its last answer stands


def answers_of(delivery: Delivery) -> list[str]:
    """What one reply's delivery (``simulators.webhook.deliver``) counts: one ``SENT_AGAIN`` per
    attempt after the first, then the final answer (the result, ``HTTP <status>``, or
    ``Unreachable``, capitalised like the client's errors it stands for)."""
    if delivery.status == 200:
        final = str(delivery.body["result"])
    elif delivery.status is None:
        final = "Unreachable"
    else:
        final = f"HTTP {delivery.status}"
    return [SENT_AGAIN] * (delivery.attempts - 1) + [final]


async def _replies(job: Replies) -> Outcome:
    latencies: list[float] = []
    results: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=job.in_flight, max_keepalive_connections=job.in_flight)

    async with httpx.AsyncClient(timeout=REPLY_TIMEOUT_S, limits=limits) as http:

        async def reply(phone: str) -> None:
            sms = inbound_message(phone, job.short_number, job.text)
            sent = time.perf_counter()
            delivery = await deliver(http, job.url, job.secret, sms, attempts=ATTEMPTS)
            results.update(answers_of(delivery))
            latencies.append(time.perf_counter() - sent)

        began = time.perf_counter()
        await bounded(job.senders, reply, in_flight=job.in_flight)
        wall_s = time.perf_counter() - began
    return Outcome(wall_s=wall_s, latencies=latencies, results=dict(results))


async def _activations(job: Activations) -> Outcome:
    latencies: list[float] = []
    results: Counter[str] = Counter()

    async with httpx.AsyncClient(
        base_url=job.api_url,
        headers={"Authorization": f"Bearer {job.token}"},
        timeout=60,
        limits=httpx.Limits(max_connections=job.in_flight),
    ) as wallet:

        async def activate(pair: tuple[int, str]) -> None:
            number, voucher = pair
            began = time.perf_counter()
            shown = await wallet.post(
                f"/v1/vouchers/{voucher}/account",
                json={"account_number": f"{job.first_account + number}"},
            )
            confirmed = await wallet.post(f"/v1/vouchers/{voucher}/confirm", json={})
            if shown.status_code != 200 or confirmed.status_code != 200:
                raise RuntimeError(
                    f"{voucher}: {shown.status_code} {shown.text} / {confirmed.text}"
                )
            latencies.append(time.perf_counter() - began)
            results[confirmed.json()["state"]] += 1

        began = time.perf_counter()
        await bounded(list(enumerate(job.vouchers)), activate, in_flight=job.in_flight)
        wall_s = time.perf_counter() - began
    return Outcome(wall_s=wall_s, latencies=latencies, results=dict(results))


class _Job(BaseModel):
    job: Replies | Activations


def main() -> None:
    job = _Job.model_validate_json(f'{{"job": {sys.stdin.read()}}}').job
    run = _replies(job) if isinstance(job, Replies) else _activations(job)
    print(asyncio.run(run).model_dump_json())


if __name__ == "__main__":
    main()
