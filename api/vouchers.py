"""The wallet's view of a voucher, and ops'."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import require
from api.deps import ApiDeps, deps
from api.errors import ApiError
from models.cycle import CycleStatus
from models.store import voucher

router = APIRouter(tags=["wallet"])


class HistoryLine(BaseModel):
    at: datetime
    event: str
    detail: dict[str, str] = {}


class VoucherView(BaseModel):
    voucher_id: str
    program: str
    month: str
    state: str
    amount_kzt: int | None = None
    balance_kzt: int | None = None
    account_number: str | None = None
    discount_kzt: int | None = None
    history: list[dict[str, Any]]


@router.get("/v1/vouchers/{voucher_id}", dependencies=[Depends(require("wallet", "ops"))])
async def get_voucher(voucher_id: str, api: Annotated[ApiDeps, Depends(deps)]) -> VoucherView:
    """A voucher's state and its history, read from its cycle."""
    async with api.sessions() as session:
        record = await voucher(session, voucher_id=voucher_id)
    if record is None:
        raise ApiError(404, "not_found", "no such voucher")
    status = await api.client.get_workflow_handle(record.cycle_id).query(
        "status", result_type=CycleStatus
    )
    return VoucherView(
        voucher_id=voucher_id,
        program=status.program,
        month=status.month,
        state=status.state.value,
        amount_kzt=status.amount_kzt,
        history=[
            {"at": line.at.isoformat(), "event": line.event, **line.detail}
            for line in status.history
        ],
    )
