"""How the SMS gateway hands a citizen's reply to the product: signed, retried, maybe twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from simulators.signing import signed_headers
from simulators.state import World


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery (after its retries).

    Attributes:
        status: the webhook's last HTTP status, or None if it was never reached.
        body: the webhook's last JSON body (its text when not JSON, an error when unreached).
        attempts: how many requests were made.
    """

    status: int | None
    body: Any
    attempts: int

    def to_json(self) -> dict[str, Any]:
        """The delivery as the `/sim/replies` control route reports it."""
        return {"status": self.status, "body": self.body, "attempts": self.attempts}


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


def _body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    payload: dict[str, Any],
    *,
    attempts: int = 3,
    backoff_s: float = 0.2,
) -> Delivery:
    """POST `payload` to the webhook, signed, retrying on 5xx, 429 and connection errors:
    after the answer's `Retry-After` when it gives one (the webhook's 503 when the cycle has not
    answered in time), after an exponential back-off otherwise."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    outcome = Delivery(status=None, body=None, attempts=0)
    for attempt in range(1, attempts + 1):
        pause = backoff_s * 2 ** (attempt - 1)
        try:
            response = await client.post(url, content=body, headers=signed_headers(secret, body))
        except httpx.TransportError as exc:
            outcome = Delivery(None, {"error": "unreachable", "detail": repr(exc)}, attempt)
        else:
            outcome = Delivery(response.status_code, _body_of(response), attempt)
            if not _retryable(response.status_code):
                return outcome
            pause = _retry_after(response) or pause
        if attempt < attempts:
            await asyncio.sleep(pause)
    return outcome


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds a `Retry-After` header asks for, if it gives them."""
    given = response.headers.get("Retry-After", "")
    return float(given) if given.isdigit() else None


def inbound_message(
    from_: str, to: str, text: str, received_at: datetime | None = None
) -> dict[str, Any]:
    """A citizen's SMS as the gateway posts it to the webhook, with a new ``message_id``;
    received now unless ``received_at`` says when."""
    return {
        "message_id": f"in-{uuid.uuid4().hex}",
        "from": from_,
        "to": to,
        "text": text,
        "received_at": (received_at or datetime.now(UTC)).isoformat(timespec="milliseconds"),
    }


async def send_reply(
    world: World,
    *,
    from_: str,
    to: str,
    text: str,
    deliver_twice: bool = False,
    attempts: int = 3,
    backoff_s: float = 0.2,
    timeout_s: float = 10.0,
    received_at: datetime | None = None,
) -> tuple[dict[str, Any], list[Delivery]]:
    """A citizen texts `text` from `from_` to the short number `to`; deliver it to the product.

    `received_at` is the gateway's time of receipt: now, unless the world runs on another clock
    (a test under time skipping passes the test server's time).

    Returns:
        The inbound message as delivered, and one `Delivery` per delivery (two when
        `deliver_twice`, both carrying the same `message_id`).

    Raises:
        LookupError: when no webhook URL is configured in `world`.
    """
    if world.webhook_url is None:
        raise LookupError("no webhook URL configured")
    payload = inbound_message(from_, to, text, received_at)
    world.inbound.append(payload)
    deliveries = []
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for _ in range(2 if deliver_twice else 1):
            deliveries.append(
                await deliver(
                    client,
                    world.webhook_url,
                    world.webhook_secret,
                    payload,
                    attempts=attempts,
                    backoff_s=backoff_s,
                )
            )
    return payload, deliveries
