"""The codec server the Temporal Web UI can be pointed at (``--ui-codec-endpoint``), so that
authorised ops (role ``ops``) can read a cycle's encrypted payloads. Nobody else can."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import require
from api.deps import ApiDeps, deps
from api.errors import ApiError
from api.openapi import refusals
from client.codec import UnreadablePayload

# Standard base64, padded: what protobuf's JSON form writes for bytes.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
Base64 = Annotated[str, Field(pattern=BASE64, max_length=60_000)]

router = APIRouter(tags=["ops"], dependencies=[Depends(require("ops", dev_open=True))])


class WirePayload(BaseModel):
    """One payload of Temporal's remote codec protocol (protobuf JSON: bytes in base64)."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Base64] = Field(default_factory=dict, max_length=50)
    data: Base64 = ""

    def payload(self) -> Payload:
        return Payload(
            metadata={key: base64.b64decode(value) for key, value in self.metadata.items()},
            data=base64.b64decode(self.data),
        )


class PayloadList(BaseModel):
    """``{"payloads": […]}``, as the Temporal Web UI sends it."""

    model_config = ConfigDict(extra="forbid")

    payloads: list[WirePayload] = Field(max_length=1_000)


@router.post("/codec/decode", responses=refusals({422: ["undecryptable"]}))
async def decode(body: PayloadList, api: Annotated[ApiDeps, Depends(deps)]) -> dict[str, Any]:
    """Decrypt payloads (Temporal's remote codec protocol: ``{"payloads": […]}``)."""
    try:
        decoded = await api.codec.decode(_payloads(body))
    except UnreadablePayload as unreadable:
        raise ApiError(422, "undecryptable", str(unreadable)) from unreadable
    return json_format.MessageToDict(Payloads(payloads=decoded))


@router.post("/codec/encode")
async def encode(body: PayloadList, api: Annotated[ApiDeps, Depends(deps)]) -> dict[str, Any]:
    """Encrypt payloads with the current key."""
    encoded = await api.codec.encode(_payloads(body))
    return json_format.MessageToDict(Payloads(payloads=encoded))


def _payloads(body: PayloadList) -> list[Payload]:
    try:
        return [payload.payload() for payload in body.payloads]
    except ValueError as invalid:  # a metadata key protobuf cannot hold (not UTF-8 text)
        raise ApiError(422, "malformed", f"not a list of payloads: {invalid}") from invalid
