"""A food voucher after it is issued: activation, purchases from its balance, month-end lapse.

SPEC.md §3 steps 6-7 for ``food``: the wallet's activation and each shop's purchase are updates,
so the shop learns the remaining balance at once; a purchase repeated is answered the same.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.records import Records
    from models.calls import ActivationAct, RedemptionAct
    from models.cycle import CycleState
    from models.voucher import Activated, FoodActivation, Purchase, Redeemed
    from rules import calendar
    from workflows.cycle_machinery import CycleMachinery

ACTIVATABLE = frozenset({CycleState.VOUCHER_ISSUED, CycleState.ACTIVATED})


class FoodVoucher(CycleMachinery):
    """The updates of a food voucher, and its close at the end of the month."""

    @workflow.update
    async def activate(self, activation: FoodActivation) -> Activated:
        """The citizen activated the voucher: its balance is the voucher's amount."""
        async with self._lock:
            if self._state != CycleState.ACTIVATED:
                self._balance = self._cycle.voucher_amount_kzt or 0
                await self._call(
                    Records.record_activation,
                    ActivationAct(voucher_id=self._voucher_id, at=workflow.now()),
                )
                await self._enter(CycleState.ACTIVATED, "activated")
            return Activated(balance_kzt=self._balance)

    @activate.validator
    def _may_activate(self, activation: FoodActivation) -> None:
        self._activation_open(ACTIVATABLE)

    @workflow.update
    async def redeem(self, purchase: Purchase) -> Redeemed:
        """A shop's payment: drawn from the balance once, whatever the retries."""
        async with self._lock:
            if purchase.purchase_id in self._purchases:
                return self._purchases[purchase.purchase_id]
            self._check_purchase(purchase)
            goods_kzt = purchase.goods_kzt  # computed before any state changes
            assert self._balance is not None
            self._balance -= purchase.discount_kzt
            answer = Redeemed(balance_kzt=self._balance)
            self._purchases[purchase.purchase_id] = answer
            self._log(
                "redeemed",
                purchase_id=purchase.purchase_id,
                shop_id=purchase.shop_id,
                discount_kzt=str(purchase.discount_kzt),
                balance_kzt=str(self._balance),
            )
            await self._call(
                Records.record_redemption,
                RedemptionAct(
                    purchase_id=purchase.purchase_id,
                    voucher_id=self._voucher_id,
                    program=self._cycle.program,
                    month=self._cycle.month,
                    region=self._cycle.citizen.region,
                    shop_id=purchase.shop_id,
                    discount_kzt=purchase.discount_kzt,
                    goods_kzt=goods_kzt,
                    at=workflow.now(),
                    balance_after_kzt=answer.balance_kzt,
                ),
            )
            return answer

    @redeem.validator
    def _may_redeem(self, purchase: Purchase) -> None:
        if purchase.purchase_id not in self._purchases:
            self._check_purchase(purchase)

    def _check_purchase(self, purchase: Purchase) -> None:
        if workflow.now() >= calendar.month_end(self._cycle.month):
            raise ApplicationError("the voucher has lapsed", type="voucher_closed")
        if self._state != CycleState.ACTIVATED or self._balance is None:
            raise ApplicationError(f"the voucher is {self._state}", type="not_activated")
        if purchase.discount_kzt > self._balance:
            raise ApplicationError(
                f"the balance is {self._balance} tenge", type="insufficient_balance"
            )

    async def _close_food(self) -> None:
        """Month end: the unspent balance lapses and the wallet is told."""
        await self._notify_wallet("closed", lapsed_kzt=self._balance or 0)
        await self._enter(CycleState.CLOSED, "closed", lapsed_kzt=str(self._balance or 0))
