"""The payload codec refuses what no listed key opens with one error, never a crash."""

from __future__ import annotations

import os

import pytest
from temporalio.api.common.v1 import Payload

from client.codec import EncryptionCodec, UnreadablePayload

KEY = ("k1", bytes(range(32)))


async def _sealed() -> Payload:
    return (await EncryptionCodec([KEY]).encode([Payload(data=b'{"iin":"x"}')]))[0]


@pytest.mark.parametrize("damage", ["tampered", "short", "unknown_key", "empty"])
async def test_an_unreadable_payload_is_refused_as_unreadable(damage: str) -> None:
    """Tampered, cut short, sealed with a key not listed, or empty: ``UnreadablePayload``."""
    sealed = await _sealed()
    if damage == "tampered":
        sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    elif damage == "short":
        sealed.data = sealed.data[:5]
    elif damage == "unknown_key":
        sealed.metadata["encryption-key-id"] = b"\xff-gone"
    else:
        sealed.data = b""
    with pytest.raises(UnreadablePayload):
        await EncryptionCodec([("k2", os.urandom(32)), KEY]).decode([sealed])


async def test_a_sealed_payload_opens_with_any_listed_key() -> None:
    """A rotated key list still opens a payload sealed with its older key."""
    opened = await EncryptionCodec([("k2", os.urandom(32)), KEY]).decode([await _sealed()])
    assert opened[0].data == b'{"iin":"x"}'
