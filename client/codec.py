"""Encryption of every Temporal payload (AES-GCM), so the server and its UI hold no personal
data in clear. Keys rotate: the first key encrypts, every listed key still decrypts."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each serialized payload, tagged with the id of the key used."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one payload key is needed")
        self._current_id, current = keys[0]
        self._encrypt_with = AESGCM(current)
        self._by_id = {key_id: AESGCM(key) for key_id, key in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._encrypt_with.encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-key-id": self._current_id.encode()},
            data=nonce + sealed,
        )

    def _open(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get("encryption-key-id", b"").decode()
        cipher = self._by_id.get(key_id)
        if cipher is None:
            raise ValueError(f"payload encrypted with unknown key {key_id!r}")
        data = payload.data
        return Payload.FromString(cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None))


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """``id:base64key,id:base64key`` (newest first) into (id, 32-byte key) pairs."""
    keys = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, _, encoded = item.partition(":")
        key = base64.b64decode(encoded)
        if len(key) != 32:
            raise ValueError(f"payload key {key_id!r} must be 32 bytes (base64 of 256 bits)")
        keys.append((key_id, key))
    return keys


def product_converter(keys: Iterable[tuple[str, bytes]]) -> DataConverter:
    """Pydantic payloads, encrypted; failure messages and stack traces encrypted too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(list(keys)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
