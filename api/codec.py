"""The codec server the Temporal Web UI can be pointed at (``--ui-codec-endpoint``), so that
authorised ops (role ``ops``) can read a cycle's encrypted payloads. Nobody else can."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.auth import require
from api.deps import ApiDeps, deps
from api.errors import ApiError

router = APIRouter(tags=["ops"], dependencies=[Depends(require("ops"))])


@router.post("/codec/decode")
async def decode(request: Request, api: Annotated[ApiDeps, Depends(deps)]) -> dict[str, Any]:
    """Decrypt payloads (Temporal's remote codec protocol: ``{"payloads": […]}``)."""
    payloads = await _payloads(request)
    decoded = await api.codec.decode(payloads.payloads)
    return json_format.MessageToDict(Payloads(payloads=decoded))


@router.post("/codec/encode")
async def encode(request: Request, api: Annotated[ApiDeps, Depends(deps)]) -> dict[str, Any]:
    """Encrypt payloads with the current key."""
    payloads = await _payloads(request)
    encoded = await api.codec.encode(payloads.payloads)
    return json_format.MessageToDict(Payloads(payloads=encoded))


async def _payloads(request: Request) -> Payloads:
    try:
        return json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, ValueError) as invalid:
        raise ApiError(422, "malformed", f"not a list of payloads: {invalid}") from invalid
