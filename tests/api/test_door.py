"""The door (CONTRACTS.md §1): a request is authenticated before its body is read or parsed,
and a body over its route's limit is refused with 413 ``body_too_large`` without being read.

Most tests drive the real ASGI app directly, counting the body bytes it pulls from the server;
the last ones go through the running product over HTTP.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.types import Message

from api import create_app
from api.limits import DEFAULT_LIMIT, RECIPIENTS_LIMIT, WEBHOOK_LIMIT
from models.settings import Settings
from tests.harness import Product

CHUNK = 64 * 1024
MB = 1024 * 1024
SETTINGS = Settings()
TOKEN = {role: token for token, role in SETTINGS.tokens_by_role().items()}
RECIPIENTS = "/v1/programs/gas/months/2030-01/recipients"
REDEMPTIONS = "/v1/vouchers/V0/redemptions"
WEBHOOK = "/v1/sms/inbound"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    bytes_read: int


async def _call(
    path: str,
    *,
    chunks: Iterator[bytes],
    headers: dict[str, str] | None = None,
    length: int | None = None,
    gone: bool = False,
) -> Answer:
    """POST to the app in-process; ``length`` declares a Content-Length, else it is chunked;
    ``gone``: the caller disconnects after the last chunk instead of ending the body."""
    app = create_app(None, SETTINGS)  # no lifespan: only the door and the body reading run
    sent = {k.lower(): v for k, v in (headers or {}).items()}
    if length is not None:
        sent["content-length"] = str(length)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in sent.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    read = 0
    status = 0
    body = b""
    pending = iter(chunks)

    async def receive() -> Message:
        nonlocal read
        chunk = next(pending, None)
        if chunk is None and gone:
            return {"type": "http.disconnect"}
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope, receive, send)
    return Answer(status, json.loads(body) if body else {}, read)


def _zeros(total: int) -> Iterator[bytes]:
    """``total`` bytes, produced only as the app asks for them."""
    while total > 0:
        yield b"0" * min(CHUNK, total)
        total -= CHUNK


def _signed_headers(body: bytes = b"") -> dict[str, str]:
    stamp = str(int(time.time()))
    mac = hmac.new(SETTINGS.sms_webhook_secret.encode(), stamp.encode() + b"." + body, "sha256")
    return {"X-Timestamp": stamp, "X-Signature": f"sha256={mac.hexdigest()}"}


@pytest.mark.parametrize(
    "path", [RECIPIENTS, REDEMPTIONS, "/v1/programs/gas/months/2030-01/withdrawals"]
)
async def test_invalid_json_without_a_token_is_401_not_422(path: str) -> None:
    """No token: 401 whatever the body, even one that is not JSON."""
    answer = await _call(
        path, chunks=iter([b"{not json"]), headers={"Content-Type": "application/json"}
    )
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")


async def test_invalid_json_with_another_roles_token_is_403() -> None:
    """A wallet token on SDU's route: 403 before the body is parsed."""
    answer = await _call(
        RECIPIENTS,
        chunks=iter([b"{not json"]),
        headers={"Authorization": f"Bearer {TOKEN['wallet']}", "Content-Type": "application/json"},
    )
    assert (answer.status, answer.body["error"]) == (403, "forbidden")


@pytest.mark.parametrize("declared", [True, False], ids=["content_length", "chunked"])
async def test_a_40_mb_body_without_a_token_is_401_unread(declared: bool) -> None:
    """40 MB of recipients without a token: 401 before a byte of the body is read."""
    size = 40 * MB
    answer = await _call(RECIPIENTS, chunks=_zeros(size), length=size if declared else None)
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")
    assert answer.bytes_read == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content_length", "chunked"])
async def test_an_unsigned_200_mb_webhook_is_401_unread(declared: bool) -> None:
    """An unsigned 200 MB POST to the webhook: 401 before a byte of the body is read."""
    size = 200 * MB
    answer = await _call(WEBHOOK, chunks=_zeros(size), length=size if declared else None)
    assert (answer.status, answer.body["error"]) == (401, "bad_signature")
    assert answer.bytes_read == 0


@pytest.mark.parametrize(
    ("path", "role", "limit"),
    [
        (WEBHOOK, None, WEBHOOK_LIMIT),
        (RECIPIENTS, "sdu", RECIPIENTS_LIMIT),
        (REDEMPTIONS, "wallet", DEFAULT_LIMIT),
        ("/v1/programs/gas/months/2030-01/consumption", "provider", DEFAULT_LIMIT),
        ("/codec/decode", "ops", DEFAULT_LIMIT),
    ],
)
async def test_a_declared_length_over_the_routes_limit_is_413_unread(
    path: str, role: str | None, limit: int
) -> None:
    """A Content-Length one byte over the route's limit: 413 ``body_too_large``, nothing read."""
    headers = _signed_headers() if role is None else {"Authorization": f"Bearer {TOKEN[role]}"}
    answer = await _call(path, chunks=_zeros(limit + 1), headers=headers, length=limit + 1)
    assert (answer.status, answer.body["error"]) == (413, "body_too_large")
    assert answer.bytes_read == 0


@pytest.mark.parametrize(
    ("path", "role", "limit"),
    [
        (WEBHOOK, None, WEBHOOK_LIMIT),
        (RECIPIENTS, "sdu", RECIPIENTS_LIMIT),
        (REDEMPTIONS, "wallet", DEFAULT_LIMIT),
        ("/codec/decode", "ops", DEFAULT_LIMIT),
    ],
)
async def test_a_streamed_body_over_the_routes_limit_is_413_when_the_limit_is_passed(
    path: str, role: str | None, limit: int
) -> None:
    """A chunked body declares no length: the bytes are counted and the read stops at the
    limit (a chunk past it), so a signed-looking 200 MB webhook is never read in full."""
    headers = _signed_headers() if role is None else {"Authorization": f"Bearer {TOKEN[role]}"}
    answer = await _call(path, chunks=_zeros(200 * MB), headers=headers)
    assert (answer.status, answer.body["error"]) == (413, "body_too_large")
    assert limit < answer.bytes_read <= limit + CHUNK


async def test_a_body_under_a_lying_content_length_is_still_counted() -> None:
    """A Content-Length under the limit does not let a longer body through."""
    headers = {"Authorization": f"Bearer {TOKEN['wallet']}"}
    answer = await _call(REDEMPTIONS, chunks=_zeros(10 * MB), headers=headers, length=10)
    assert (answer.status, answer.body["error"]) == (413, "body_too_large")
    assert answer.bytes_read <= DEFAULT_LIMIT + CHUNK


async def test_a_gateway_gone_mid_body_is_answered_499_without_an_error() -> None:
    """The gateway gives up while its reply's body is being read: nothing was decided, nothing
    is raised to the server (which would log a traceback); the app answers 499."""
    answer = await _call(
        WEBHOOK, chunks=iter([b'{"message_id": "m-1", "fr']), headers=_signed_headers(), gone=True
    )
    assert answer.status == 499


async def test_the_limits_are_per_route_over_http(product: Product) -> None:
    """Through the running product: a 600 KB recipients list is taken (its limit is 8 MiB), a
    100 KB purchase is 413 (64 KiB), a 20 KB signed webhook is 413 (16 KiB), and invalid JSON
    without a token is 401."""
    month, _ = await product.next_month("gas")
    record = product.citizen("gas").model_dump(mode="json", exclude_none=True)
    big_list = {"recipients": [record] * 6_000}
    assert len(json.dumps(big_list)) > 8 * DEFAULT_LIMIT
    sms = json.dumps({"message_id": "m", "text": "x" * 20_000}).encode()
    async with product.api("sdu") as sdu, product.api("wallet") as wallet:
        listed = await sdu.post(f"/v1/programs/gas/months/{month}/recipients", json=big_list)
        purchase = await wallet.post(REDEMPTIONS, content=b" " * 100_000)
        webhook = await sdu.post(WEBHOOK, content=sms, headers=_signed_headers(sms))
        no_token = await sdu.post(
            f"/v1/programs/gas/months/{month}/recipients",
            content=b"{not json",
            headers={"Authorization": "", "Content-Type": "application/json"},
        )
    assert listed.status_code == 202, listed.text
    assert (purchase.status_code, purchase.json()["error"]) == (413, "body_too_large")
    assert (webhook.status_code, webhook.json()["error"]) == (413, "body_too_large")
    assert (no_token.status_code, no_token.json()["error"]) == (401, "unauthorized")
