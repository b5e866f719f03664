"""The wallet's routes on a voucher: view, gas activation on an account, food activation and
purchases. Each is a workflow query or update, so the answer is the cycle's own decision."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from api.auth import require
from api.deps import ApiDeps, VoucherKey, deps
from api.errors import ApiError
from api.openapi import refusals
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
from rules.voucher import line_discount_allowed, line_discount_limit
from store.vouchers import incurable, purchase_count, redemption, voucher

T = TypeVar("T")
router = APIRouter(tags=["wallet"])
WALLET = [Depends(require("wallet"))]
# Gas activation: the wallet, or the provider's staff at its offices (gas order Alg. 21).
GAS_ACTIVATION = [Depends(require("wallet", "provider"))]

# The cycle's refusals (ApplicationError types) as HTTP answers.
STATUS_OF = {
    "account_not_found": 404,
    "account_already_used": 409,
    "no_account_entered": 409,
    "voucher_not_issued": 409,
    "not_activated": 409,
    "insufficient_balance": 409,
    "purchase_id_conflict": 409,
    "purchase_limit_reached": 409,
    "purchase_not_recordable": 422,
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
    max_discount_per_unit_kzt: int | None  # the good's cap per unit; None where none applies


class GoodsList(BaseModel):
    goods: list[FoodGoodView]


@router.get(
    "/v1/vouchers/{voucher_id}",
    dependencies=[Depends(require("wallet", "ops"))],
    responses=refusals({404: ["not_found"]}),
)
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


@router.post(
    "/v1/vouchers/{voucher_id}/account",
    dependencies=GAS_ACTIVATION,
    responses=refusals(
        {
            404: ["not_found", "account_not_found"],
            409: ["account_already_used", "voucher_not_issued", "refused"],
            410: ["activation_closed"],
        }
    ),
)
async def enter_account(
    voucher_id: str, body: AccountEntry, api: Annotated[ApiDeps, Depends(deps)]
) -> AccountShown:
    """Gas: the citizen entered a personal-account number; its details are shown to confirm."""
    record = await _voucher(api, voucher_id, "gas")
    return await _answer(api.cycles.enter_account(record.cycle_id, body), "activation_closed")


@router.post(
    "/v1/vouchers/{voucher_id}/confirm",
    dependencies=GAS_ACTIVATION,
    responses=refusals(
        {
            404: ["not_found"],
            409: ["no_account_entered", "account_already_used", "voucher_not_issued", "refused"],
            410: ["activation_closed"],
        }
    ),
)
async def confirm_account(
    voucher_id: str, body: Confirmation, api: Annotated[ApiDeps, Depends(deps)]
) -> StateAnswer:
    """Gas: the citizen confirmed the account; the voucher is activated on it."""
    record = await _voucher(api, voucher_id, "gas")
    activated = await _answer(api.cycles.confirm(record.cycle_id), "activation_closed")
    return StateAnswer(state=activated.state)


@router.post(
    "/v1/vouchers/{voucher_id}/activate",
    dependencies=WALLET,
    responses=refusals(
        {
            404: ["not_found"],
            409: ["voucher_not_issued", "refused"],
            410: ["activation_closed"],
        }
    ),
)
async def activate_food(
    voucher_id: str, body: FoodActivation, api: Annotated[ApiDeps, Depends(deps)]
) -> Activated:
    """Food: the citizen activated the voucher; its balance is the voucher's amount."""
    record = await _voucher(api, voucher_id, "food")
    return await _answer(api.cycles.activate(record.cycle_id), "activation_closed")


@router.post(
    "/v1/vouchers/{voucher_id}/redemptions",
    dependencies=WALLET,
    responses=refusals(
        {
            404: ["not_found"],
            409: [
                "insufficient_balance",
                "not_activated",
                "purchase_id_conflict",
                "purchase_limit_reached",
                "voucher_not_issued",
                "refused",
            ],
            410: ["voucher_closed"],
            422: ["ineligible_goods", "discount_above_limit", "purchase_not_recordable"],
        }
    ),
)
async def redeem(
    voucher_id: str, body: Purchase, api: Annotated[ApiDeps, Depends(deps)]
) -> Redeemed:
    """Food: a shop's purchase of socially significant goods, drawn from the balance."""
    _within_the_goods(api, body)
    record = await _voucher(api, voucher_id, "food")
    # A purchase already recorded is answered from its record (the shop retrying a purchase
    # whose answer it lost, even after the cycle has ended), and another voucher's purchase_id
    # is refused there: neither reaches the cycle, so neither grows its history.
    applied = await _applied_purchase(api, voucher_id, body.purchase_id)
    if applied is not None:
        return applied
    await _below_the_purchase_limit(api, record)
    return await _answer(api.cycles.redeem(record.cycle_id, body), "voucher_closed")


async def _below_the_purchase_limit(api: ApiDeps, record: VoucherKey) -> None:
    """Refuse (409 ``purchase_limit_reached``) a purchase beyond the program's
    ``max_purchases_per_voucher`` from the records, before it reaches the cycle's history (the
    cycle's validator refuses the same, for purchases racing this count)."""
    rules = api.programs.for_month(record.program, record.month)
    if rules is None:
        return
    async with api.sessions() as session:
        taken = await purchase_count(session, voucher_id=record.voucher_id)
    if taken >= rules.max_purchases_per_voucher:
        raise ApiError(
            409,
            "purchase_limit_reached",
            f"the voucher has taken its {rules.max_purchases_per_voucher} purchases",
        )


def _within_the_goods(api: ApiDeps, purchase: Purchase) -> None:
    """Refuse goods off the national list (422 ``ineligible_goods``) and a line discounted
    beyond its value or its good's cap (422 ``discount_above_limit``, SPEC.md §7)."""
    goods = {line.code: api.reference.food_good(line.code) for line in purchase.items}
    ineligible = sorted(code for code, good in goods.items() if good is None)
    if ineligible:
        raise ApiError(422, "ineligible_goods", f"not socially significant goods: {ineligible}")
    for number, line in enumerate(purchase.items):
        good = goods[line.code]
        assert good is not None
        cap = good.max_discount_per_unit_kzt
        price = line.unit_price_kzt
        allowed = line_discount_allowed(
            line.discount_kzt, qty=line.qty, unit_price_kzt=price, cap_per_unit_kzt=cap
        )
        if not allowed:
            limit = line_discount_limit(qty=line.qty, unit_price_kzt=price, cap_per_unit_kzt=cap)
            raise ApiError(
                422,
                "discount_above_limit",
                f"items[{number}] ({line.code}): discount {line.discount_kzt} above the line's "
                f"limit {limit} (qty x unit price, qty x the good's cap {cap} per {good.unit})",
            )


@router.get("/v1/programs/food/goods", dependencies=[Depends(require("wallet", "ops"))])
async def food_goods(api: Annotated[ApiDeps, Depends(deps)]) -> GoodsList:
    """The socially significant food goods in force."""
    return GoodsList(
        goods=[FoodGoodView.model_validate(g.model_dump()) for g in api.reference.food_goods()]
    )


# models.cycle.voucher_id's form: "V" and 19 upper-case hex digits.
_VOUCHER_ID = re.compile(r"V[0-9A-F]{19}")


async def _voucher(api: ApiDeps, voucher_id: str, program: str | None) -> VoucherKey:
    key = api.vouchers.get(voucher_id)
    # What no voucher ID can be is not looked up: PostgreSQL refuses a NUL even in a query.
    if key is None and _VOUCHER_ID.fullmatch(voucher_id):
        async with api.sessions() as session:
            record = await voucher(session, voucher_id=voucher_id)
        if record is not None:
            key = VoucherKey(voucher_id, record.cycle_id, record.program, record.month)
            api.vouchers.keep(key)
    if key is None or (program is not None and key.program != program):
        raise ApiError(
            404, "not_found", f"no {program or ''} voucher {voucher_id}".replace("  ", " ")
        )
    return key


async def _applied_purchase(api: ApiDeps, voucher_id: str, purchase_id: str) -> Redeemed | None:
    """The answer this voucher's cycle gave the purchase, or None if it applied no such purchase
    (or applied it before the answers were kept).

    Raises:
        ApiError: 409 ``purchase_id_conflict``, the ID is another voucher's purchase.
    """
    try:
        async with api.sessions() as session:
            record = await redemption(session, purchase_id=purchase_id)
    except DBAPIError as refused:
        if not incurable(refused):
            raise
        raise ApiError(
            422, "purchase_not_recordable", "the database refuses this purchase_id"
        ) from None
    if record is not None and record.voucher_id != voucher_id:
        raise ApiError(409, "purchase_id_conflict", "the purchase_id is another voucher's purchase")
    if record is None or record.balance_after_kzt is None:
        return None
    return Redeemed(balance_kzt=record.balance_after_kzt)


async def _answer(request: Awaitable[T], ended: str) -> T:
    """The cycle's answer; its refusal becomes the matching HTTP error, and a cycle that has
    finished (the voucher expired, lapsed or was settled) is 410 ``ended``."""
    try:
        return await request
    except CycleRefused as refused:
        raise ApiError(STATUS_OF.get(refused.code, 409), refused.code, refused.detail) from refused
    except CycleGone as gone:
        raise ApiError(410, ended, "the voucher's month is over") from gone
