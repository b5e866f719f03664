"""``/codec/decode`` answers 4xx, never 500, to payloads it cannot open (issue 12)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.harness import Product

PLAIN = {
    "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
    "data": base64.b64encode(b'{"iin":"x"}').decode(),
}


def _damaged(sealed: dict[str, Any], damage: str) -> dict[str, Any]:
    data = base64.b64decode(sealed["data"])
    metadata = dict(sealed["metadata"])
    if damage == "tampered":
        data = data[:-1] + bytes([data[-1] ^ 1])
    elif damage == "short":
        data = data[:5]
    elif damage == "empty":
        data = b""
    else:  # sealed with a key not in PAYLOAD_KEYS
        metadata["encryption-key-id"] = base64.b64encode(b"retired-2019").decode()
    return {"metadata": metadata, "data": base64.b64encode(data).decode()}


@pytest.mark.parametrize("damage", ["tampered", "short", "empty", "unknown_key"])
async def test_an_unreadable_payload_is_422_undecryptable(product: Product, damage: str) -> None:
    """Tampered, cut short, empty, or sealed with an unknown key: 422 ``undecryptable``."""
    async with product.api("ops") as ops:
        sealed = (await ops.post("/codec/encode", json={"payloads": [PLAIN]})).json()
        payload = _damaged(sealed["payloads"][0], damage)
        answer = await ops.post("/codec/decode", json={"payloads": [payload]})
    assert (answer.status_code, answer.json()["error"]) == (422, "undecryptable"), answer.text


@pytest.mark.parametrize(
    "body",
    [
        {"payloads": None},
        {"payloads": [{"data": "not base64!"}]},
        {"payloads": [{"metadata": {"encoding": 5}}]},
        {"payloads": [{"other": ""}]},
        [],
    ],
)
async def test_what_is_not_a_list_of_payloads_is_422_malformed(
    product: Product, body: object
) -> None:
    """A body that is not Temporal's codec protocol: 422 ``malformed``, decoding or encoding."""
    async with product.api("ops") as ops:
        answers = [await ops.post(f"/codec/{way}", json=body) for way in ("decode", "encode")]
    assert [(a.status_code, a.json()["error"]) for a in answers] == [(422, "malformed")] * 2
