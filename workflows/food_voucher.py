"""A food voucher after it is issued: activation, purchases from its balance, month-end lapse.

SPEC.md §3 steps 6-7 for ``food``. The cycle holds one :class:`FoodVoucher` and hands it the
wallet's activation and each shop's purchase (updates, so the shop learns the remaining balance
at once; a purchase repeated is answered the same), and, at the month's end, the lapse.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.records import Records
    from models.calls import ActivationAct, RedemptionAct
    from models.cycle import CycleState
    from models.voucher import Activated, Purchase, Redeemed
    from rules import calendar
    from workflows.cycle_steps import FAILED, CycleSteps

ACTIVATABLE = frozenset({CycleState.VOUCHER_ISSUED, CycleState.ACTIVATED})


class FoodVoucher:
    """The life of an issued food voucher, driven by its cycle."""

    def __init__(self, steps: CycleSteps) -> None:
        self._steps = steps
        self.balance_kzt: int | None = None
        self._answered: dict[str, Redeemed] = {}  # purchase_id → the answer it got
        self._refused = 0  # purchases the database refused (another voucher's ID, bad values)

    # --- activation (SPEC.md §3 step 6) ------------------------------------------------------

    def may_activate(self) -> None:
        self._steps.activation_open(ACTIVATABLE)

    async def activate(self) -> Activated:
        """Activate the voucher: its balance is the voucher's amount."""
        steps = self._steps
        async with steps.lock:
            if steps.state != CycleState.ACTIVATED:
                self.balance_kzt = steps.cycle.voucher_amount_kzt or 0
                act = ActivationAct(
                    voucher_id=steps.voucher_id,
                    at=workflow.now(),
                    row=steps.row(CycleState.ACTIVATED),
                )
                await steps.call(Records.record_activation, act)
                await steps.enter(CycleState.ACTIVATED, "activated", row_written=True)
            return Activated(balance_kzt=self.balance_kzt)

    # --- purchases (SPEC.md §3 step 7) -------------------------------------------------------

    def may_redeem(self, purchase: Purchase) -> None:
        if purchase.purchase_id not in self._answered:
            self._check(purchase)

    async def redeem(self, purchase: Purchase) -> Redeemed:
        """Draw a shop's purchase from the balance once, whatever the retries.

        The purchase is recorded before the balance moves: a purchase the database refuses for
        good (its purchase_id another voucher's, values it cannot store) changes nothing and is
        refused at once, without holding the voucher for retries that cannot succeed.
        """
        steps = self._steps
        async with steps.lock:
            if purchase.purchase_id in self._answered:
                return self._answered[purchase.purchase_id]
            self._check(purchase)
            assert self.balance_kzt is not None
            answer = Redeemed(balance_kzt=self.balance_kzt - purchase.discount_kzt)
            try:
                await steps.call(Records.record_redemption, self._act(purchase, answer))
            except FAILED as failed:
                self._refused += 1  # counted against the voucher's bound all the same
                raise _refusal(failed) from None
            self.balance_kzt = answer.balance_kzt
            self._answered[purchase.purchase_id] = answer
            steps.log(
                "redeemed",
                purchase_id=purchase.purchase_id,
                shop_id=purchase.shop_id,
                discount_kzt=str(purchase.discount_kzt),
                balance_kzt=str(self.balance_kzt),
            )
            return answer

    def _act(self, purchase: Purchase, answer: Redeemed) -> RedemptionAct:
        steps = self._steps
        return RedemptionAct(
            purchase_id=purchase.purchase_id,
            voucher_id=steps.voucher_id,
            program=steps.cycle.program,
            month=steps.cycle.month,
            region=steps.cycle.citizen.region,
            shop_id=purchase.shop_id,
            discount_kzt=purchase.discount_kzt,
            goods_kzt=purchase.goods_kzt,
            at=workflow.now(),
            balance_after_kzt=answer.balance_kzt,
            lines=purchase.items,
        )

    def _check(self, purchase: Purchase) -> None:
        steps = self._steps
        if workflow.now() >= calendar.voucher_lapses(steps.rules, steps.cycle.month):
            raise ApplicationError("the voucher has lapsed", type="voucher_closed")
        if steps.state != CycleState.ACTIVATED or self.balance_kzt is None:
            raise ApplicationError(f"the voucher is {steps.state}", type="not_activated")
        # Every purchase is an update on the cycle, written to its history: bounded, so that no
        # shop (nor a loop of zero-discount purchases) walks the cycle to Temporal's limit.
        limit = steps.rules.max_purchases_per_voucher
        if len(self._answered) + self._refused >= limit:
            raise ApplicationError(
                f"the voucher has taken its {limit} purchases", type="purchase_limit_reached"
            )
        if purchase.discount_kzt > self.balance_kzt:
            raise ApplicationError(
                f"the balance is {self.balance_kzt} tenge", type="insufficient_balance"
            )

    # --- month end ---------------------------------------------------------------------------

    async def use(self) -> None:
        """Month end (or the pilot's end): the unspent balance lapses and the wallet is told."""
        lapsed = self.balance_kzt or 0
        await self._steps.notify_wallet("closed", lapsed_kzt=lapsed)
        await self._steps.enter(CycleState.CLOSED, "closed", lapsed_kzt=str(lapsed))


def _refusal(failed: ActivityError | ApplicationError) -> ApplicationError:
    """The record activity's refusal, as the purchase's: its code (``purchase_id_conflict``,
    ``purchase_not_recordable``) is the wallet's answer."""
    cause = failed.cause if isinstance(failed, ActivityError) else failed
    if isinstance(cause, ApplicationError) and cause.type:
        return ApplicationError(cause.message, type=cause.type)
    return ApplicationError("the purchase could not be recorded", type="purchase_not_recordable")
