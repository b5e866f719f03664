"""The codec server the Temporal Web UI can be pointed at (``--ui-codec-endpoint``), so that
authorised ops (role ``ops``) can read a cycle's encrypted payloads. Nobody else can."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.auth import require
from api.deps import deps
from api.errors import ApiError
from client.codec import UnreadablePayload

router = APIRouter(tags=["ops"], dependencies=[Depends(require("ops"))])


@router.post("/codec/decode")
async def decode(request: Request) -> dict[str, Any]:
    """Decrypt payloads (Temporal's remote codec protocol: ``{"payloads": […]}``)."""
    payloads = await _payloads(request)
    api = deps(request)
    try:
        decoded = await api.codec.decode(payloads.payloads)
    except UnreadablePayload as unreadable:
        raise ApiError(422, "undecryptable", str(unreadable)) from unreadable
    return json_format.MessageToDict(Payloads(payloads=decoded))


@router.post("/codec/encode")
async def encode(request: Request) -> dict[str, Any]:
    """Encrypt payloads with the current key."""
    payloads = await _payloads(request)
    api = deps(request)
    encoded = await api.codec.encode(payloads.payloads)
    return json_format.MessageToDict(Payloads(payloads=encoded))


async def _payloads(request: Request) -> Payloads:
    try:
        return json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, ValueError) as invalid:
        raise ApiError(422, "malformed", f"not a list of payloads: {invalid}") from invalid
