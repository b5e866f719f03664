"""Social Wallet: receives vouchers and their events (CONTRACTS.md §2)."""

from __future__ import annotations

from typing import Literal, Self

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulators.common import MONTH_PATTERN, install_common, raw_json
from simulators.state import World


class VoucherIn(BaseModel):
    """Body of `PUT /v1/vouchers/{voucher_id}`."""

    model_config = ConfigDict(extra="allow")

    program: Literal["gas", "food"]
    month: str = Field(pattern=MONTH_PATTERN)
    iin: str = Field(min_length=1)
    valid_until: str = Field(min_length=1)
    amount_kzt: int | None = Field(default=None, ge=0)
    members: int | None = Field(default=None, ge=1)  # family members the voucher covers


class EventIn(BaseModel):
    """Body of `POST /v1/vouchers/{voucher_id}/events`; a discount carries its figures."""

    model_config = ConfigDict(extra="allow")

    type: Literal["expired", "discount", "closed"]
    discount_kzt: int | None = Field(default=None, ge=0)
    volume_m3: str | float | None = None

    @model_validator(mode="after")
    def discount_has_figures(self) -> Self:
        """A discount event without `discount_kzt` and `volume_m3` is malformed."""
        if self.type == "discount" and (self.discount_kzt is None or self.volume_m3 is None):
            raise ValueError("a discount event needs discount_kzt and volume_m3")
        return self


def create_app(world: World) -> FastAPI:
    """The wallet simulator: keeps the last PUT body per voucher and every event received."""
    app = FastAPI(title="Social Wallet simulator")
    install_common(
        app,
        world,
        "wallet",
        lambda: {
            "vouchers": dict(world.vouchers),
            "events": [{"voucher_id": vid, **event} for vid, event in world.voucher_events],
        },
    )

    @app.put("/v1/vouchers/{voucher_id}")
    async def put_voucher(voucher_id: str, body: VoucherIn, request: Request) -> JSONResponse:
        """Create (201) or update (200) a voucher; the same PUT again changes nothing."""
        created = voucher_id not in world.vouchers
        world.vouchers[voucher_id] = await raw_json(request)
        payload = {"voucher_id": voucher_id, **world.vouchers[voucher_id]}
        return JSONResponse(payload, status_code=201 if created else 200)

    @app.post("/v1/vouchers/{voucher_id}/events", status_code=204)
    async def post_event(voucher_id: str, body: EventIn, request: Request) -> Response:
        """Record a voucher event."""
        world.voucher_events.append((voucher_id, await raw_json(request)))
        return Response(status_code=204)

    return app
