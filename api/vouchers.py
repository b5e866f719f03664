"""The wallet's routes on a voucher: view, gas activation on an account, food activation and
purchases. Each is a workflow query or update, so the answer is the cycle's own decision."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import require
from api.deps import ApiDeps, deps
from api.errors import ApiError
from client.cycles import CycleGone, CycleRefused
from models.voucher import (
    AccountEntry,
    AccountShown,
    Activated,
    Confirmation,
    FoodActivation,
    Purchase,
    Redeemed,
)
from store.tables import VoucherRecord
from store.vouchers import redemption, voucher

T = TypeVar("T")
router = APIRouter(tags=["wallet"])
WALLET = [Depends(require("wallet"))]

# The cycle's refusals (ApplicationError types) as HTTP answers.
STATUS_OF = {
    "account_not_found": 404,
    "account_already_used": 409,
    "no_account_entered": 409,
    "voucher_not_issued": 409,
    "not_activated": 409,
    "insufficient_balance": 409,
    "activation_closed": 410,
    "voucher_closed": 410,
    "temporarily_unavailable": 503,
}


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


class StateAnswer(BaseModel):
    state: str


class FoodGoodView(BaseModel):
    code: str
    name: str
    unit: str


class GoodsList(BaseModel):
    goods: list[FoodGoodView]


@router.get("/v1/vouchers/{voucher_id}", dependencies=[Depends(require("wallet", "ops"))])
async def get_voucher(voucher_id: str, api: Annotated[ApiDeps, Depends(deps)]) -> VoucherView:
    """A voucher's state, money and history, read from its cycle."""
    record = await _voucher(api, voucher_id, None)
    status = await api.cycles.status(record.cycle_id)
    return VoucherView(
        voucher_id=voucher_id,
        program=status.program,
        month=status.month,
        state=status.state.value,
        amount_kzt=status.amount_kzt,
        balance_kzt=status.balance_kzt,
        account_number=status.account.account_number if status.account else None,
        discount_kzt=status.discount_kzt,
        history=[
            {"at": line.at.isoformat(), "event": line.event, **line.detail}
            for line in status.history
        ],
    )


@router.post("/v1/vouchers/{voucher_id}/account", dependencies=WALLET)
async def enter_account(
    voucher_id: str, body: AccountEntry, api: Annotated[ApiDeps, Depends(deps)]
) -> AccountShown:
    """Gas: the citizen entered a personal-account number; its details are shown to confirm."""
    record = await _voucher(api, voucher_id, "gas")
    return await _answer(api.cycles.enter_account(record.cycle_id, body), "activation_closed")


@router.post("/v1/vouchers/{voucher_id}/confirm", dependencies=WALLET)
async def confirm_account(
    voucher_id: str, body: Confirmation, api: Annotated[ApiDeps, Depends(deps)]
) -> StateAnswer:
    """Gas: the citizen confirmed the account; the voucher is activated on it."""
    record = await _voucher(api, voucher_id, "gas")
    activated = await _answer(api.cycles.confirm(record.cycle_id), "activation_closed")
    return StateAnswer(state=activated.state)


@router.post("/v1/vouchers/{voucher_id}/activate", dependencies=WALLET)
async def activate_food(
    voucher_id: str, body: FoodActivation, api: Annotated[ApiDeps, Depends(deps)]
) -> Activated:
    """Food: the citizen activated the voucher; its balance is the voucher's amount."""
    record = await _voucher(api, voucher_id, "food")
    return await _answer(api.cycles.activate(record.cycle_id), "activation_closed")


@router.post("/v1/vouchers/{voucher_id}/redemptions", dependencies=WALLET)
async def redeem(
    voucher_id: str, body: Purchase, api: Annotated[ApiDeps, Depends(deps)]
) -> Redeemed:
    """Food: a shop's purchase of socially significant goods, drawn from the balance."""
    ineligible = sorted({i.code for i in body.items if not api.reference.is_food_good(i.code)})
    if ineligible:
        raise ApiError(422, "ineligible_goods", f"not socially significant goods: {ineligible}")
    record = await _voucher(api, voucher_id, "food")
    try:
        return await _answer(api.cycles.redeem(record.cycle_id, body), "voucher_closed")
    except _CycleEnded:
        # The shop retrying a purchase whose answer it lost gets that answer again, as the
        # contract asks of a repeated purchase_id, even after the cycle (and its memory of
        # the answer) has ended: the purchase's record kept it.
        applied = await _applied_purchase(api, voucher_id, body.purchase_id)
        if applied is None:
            raise
        return applied


@router.get("/v1/programs/food/goods", dependencies=[Depends(require("wallet", "ops"))])
async def food_goods(api: Annotated[ApiDeps, Depends(deps)]) -> GoodsList:
    """The socially significant food goods in force."""
    return GoodsList(
        goods=[FoodGoodView.model_validate(g.model_dump()) for g in api.reference.food_goods()]
    )


# models.cycle.voucher_id's form: "V" and 19 upper-case hex digits.
_VOUCHER_ID = re.compile(r"V[0-9A-F]{19}")


async def _voucher(api: ApiDeps, voucher_id: str, program: str | None) -> VoucherRecord:
    record = None
    # What no voucher ID can be is not looked up: PostgreSQL refuses a NUL even in a query.
    if _VOUCHER_ID.fullmatch(voucher_id):
        async with api.sessions() as session:
            record = await voucher(session, voucher_id=voucher_id)
    if record is None or (program is not None and record.program != program):
        raise ApiError(
            404, "not_found", f"no {program or ''} voucher {voucher_id}".replace("  ", " ")
        )
    return record


async def _applied_purchase(api: ApiDeps, voucher_id: str, purchase_id: str) -> Redeemed | None:
    """The answer this voucher's cycle gave the purchase, or None if it applied no such purchase
    (another voucher's purchase_id among them) or applied it before the answers were kept."""
    async with api.sessions() as session:
        record = await redemption(session, purchase_id=purchase_id)
    if record is None or record.voucher_id != voucher_id or record.balance_after_kzt is None:
        return None
    return Redeemed(balance_kzt=record.balance_after_kzt)


class _CycleEnded(ApiError):
    """The cycle has finished (its month is over), so it answers no updates."""


async def _answer(request: Awaitable[T], ended: str) -> T:
    """The cycle's answer; its refusal becomes the matching HTTP error, and a cycle that has
    finished (the voucher expired, lapsed or was settled) is 410 ``ended``."""
    try:
        return await request
    except CycleRefused as refused:
        raise ApiError(STATUS_OF.get(refused.code, 409), refused.code, refused.detail) from refused
    except CycleGone as gone:
        raise _CycleEnded(410, ended, "the voucher's month is over") from gone
