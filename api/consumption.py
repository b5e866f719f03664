"""The gas provider's report of the month's consumption per personal account."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, field_validator

from api.auth import require
from api.deps import ApiDeps, deps
from api.errors import ApiError
from api.openapi import refusals
from models.cycle import MONTH_PATTERN
from models.text import NonNegativeDecimal3, json_integer
from models.voucher import ACCOUNT_NUMBER, Consumption
from store.vouchers import activations

router = APIRouter(tags=["provider"])


class Reading(BaseModel):
    account_number: str = Field(pattern=ACCOUNT_NUMBER)
    volume_m3: NonNegativeDecimal3
    discount_kzt: int | None = Field(default=None, ge=0, le=10**9)

    # A JSON ``false`` or ``"5"`` is not a number of tenge: the document says integer.
    _integers = field_validator("discount_kzt", mode="before")(json_integer)


class Readings(BaseModel):
    readings: list[Reading] = Field(max_length=10_000)


class ReadingsAnswer(BaseModel):
    accepted: int
    unknown_accounts: list[str]


@router.post(
    "/v1/programs/gas/months/{month}/consumption",
    status_code=202,
    responses=refusals({404: ["not_found"]}),
    dependencies=[Depends(require("provider"))],
)
async def report_consumption(
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    body: Readings,
    api: Annotated[ApiDeps, Depends(deps)],
) -> ReadingsAnswer:
    """Hand each reading to the cycle whose voucher is activated on that account this month.

    Each account appears once in a report (422 ``malformed`` otherwise)."""
    numbers = [r.account_number for r in body.readings]
    if len(set(numbers)) != len(numbers):
        raise ApiError(422, "malformed", "an account appears twice in the readings")
    async with api.sessions() as session:
        cycle_of = await activations(session, month=month, account_numbers=numbers)
    known = [r for r in body.readings if r.account_number in cycle_of]
    gate = asyncio.Semaphore(64)

    async def deliver(reading: Reading) -> None:
        async with gate:
            await api.cycles.report_consumption(
                cycle_of[reading.account_number],
                Consumption(
                    account_number=reading.account_number,
                    volume_m3=reading.volume_m3,
                    discount_kzt=reading.discount_kzt,
                ),
            )

    await asyncio.gather(*(deliver(r) for r in known))
    unknown = [n for n in numbers if n not in cycle_of]
    return ReadingsAnswer(accepted=len(known), unknown_accounts=unknown)
