"""The gas provider's billing system: accounts, hand-overs and discounts (CONTRACTS.md §2)."""

from __future__ import annotations

from decimal import Decimal

from fastapi import FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulators.common import MONTH_PATTERN, error, install_common, raw_json
from simulators.state import Account, World


class HandedOver(BaseModel):
    """One activated voucher in a hand-over."""

    voucher_id: str = Field(min_length=1)
    account_number: str = Field(min_length=1)


class HandoverIn(BaseModel):
    """Body of `PUT /v1/handovers/{month}`."""

    vouchers: list[HandedOver]


class DiscountIn(BaseModel):
    """Body of `PUT /v1/discounts/{voucher_id}`."""

    month: str = Field(pattern=MONTH_PATTERN)
    account_number: str = Field(min_length=1)
    volume_m3: Decimal = Field(ge=0)
    discount_kzt: int = Field(ge=0)


class AccountIn(BaseModel):
    """Body of `POST /sim/accounts`."""

    account_number: str = Field(min_length=1)
    holder: str
    address: str
    region: str


def create_app(world: World) -> FastAPI:
    """The gas provider simulator, answering from `world.accounts` and recording what it gets."""
    app = FastAPI(title="Gas provider simulator")
    install_common(
        app,
        world,
        "gas",
        lambda: {
            "accounts": [a.to_json() for a in world.accounts.values()],
            "handovers": dict(world.handovers),
            "discounts": dict(world.discounts),
        },
    )

    @app.get("/v1/accounts/{account_number}")
    async def get_account(account_number: str) -> JSONResponse:
        """The account's holder, address and region, or 404."""
        account = world.accounts.get(account_number)
        if account is None:
            return error(404, "account_not_found", "no such personal account")
        return JSONResponse(account.to_json())

    @app.put("/v1/handovers/{month}", status_code=204)
    async def put_handover(body: HandoverIn, month: str = Path(pattern=MONTH_PATTERN)) -> Response:
        """Add a chunk of the month's activated vouchers; the same voucher twice counts once."""
        known = {v["voucher_id"]: v for v in world.handovers.get(month, [])}
        known.update({v.voucher_id: v.model_dump() for v in body.vouchers})
        world.handovers[month] = list(known.values())
        return Response(status_code=204)

    @app.put("/v1/discounts/{voucher_id}", status_code=204)
    async def put_discount(voucher_id: str, body: DiscountIn, request: Request) -> Response:
        """Record (or replace) a voucher's settled discount."""
        world.discounts[voucher_id] = await raw_json(request)
        return Response(status_code=204)

    @app.post("/sim/accounts", status_code=204, tags=["simulator control"])
    async def add_account(body: AccountIn) -> Response:
        """Open (or replace) a personal account."""
        world.accounts[body.account_number] = Account(**body.model_dump())
        return Response(status_code=204)

    return app
