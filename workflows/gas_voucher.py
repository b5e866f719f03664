"""A gas voucher after it is issued: activation on a personal account, hand-over, discount.

SPEC.md §3 steps 6-7 for ``gas``: the wallet's account entry and confirmation are updates (the
wallet gets its answer at once), the hand-over and the provider's consumption arrive as signals.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.gas_provider import GasProvider
    from activities.records import Records
    from activities.reference import ReferenceData
    from models.calls import AccountClaim, ActivationAct, Settlement, TariffQuery
    from models.cycle import CycleState
    from models.voucher import (
        AccountEntry,
        AccountShown,
        Activated,
        Confirmation,
        Consumption,
        HandedOver,
    )
    from rules import calendar
    from rules.voucher import discount_mismatch, gas_discount
    from workflows.cycle_machinery import PATIENT, CycleMachinery

ENTERING_ACCOUNT = frozenset({CycleState.VOUCHER_ISSUED, CycleState.ACCOUNT_PENDING_CONFIRMATION})


class GasVoucher(CycleMachinery):
    """The updates and signals of a gas voucher, and its settlement."""

    @workflow.update
    async def enter_account(self, entry: AccountEntry) -> AccountShown:
        """The citizen entered a personal account: show its details, or say why not."""
        async with self._lock:
            self._activation_open(ENTERING_ACCOUNT)  # a confirmation may have gone first
            found = await self._ask(GasProvider.find_account, entry)
            if found.account is None:
                raise ApplicationError("no such personal account", type="account_not_found")
            if await self._ask(Records.account_taken, self._claim(entry.account_number)):
                raise ApplicationError(
                    "another voucher is activated on this account this month",
                    type="account_already_used",
                )
            self._account = found.account
            await self._enter(
                CycleState.ACCOUNT_PENDING_CONFIRMATION,
                "account_entered",
                account_number=entry.account_number,
            )
            return AccountShown(voucher_id=self._voucher_id, **found.account.model_dump())

    @enter_account.validator
    def _may_enter_account(self, entry: AccountEntry) -> None:
        self._activation_open(ENTERING_ACCOUNT)

    @workflow.update
    async def confirm(self, confirmation: Confirmation) -> Activated:
        """The citizen confirmed the account shown: the voucher is activated on it."""
        async with self._lock:
            if self._state == CycleState.ACTIVATED:
                return Activated()  # the wallet retried a confirmation that went through
            self._activation_open(ENTERING_ACCOUNT)
            if self._account is None:
                raise ApplicationError("enter a personal account first", type="no_account_entered")
            account = self._account.account_number
            if not await self._ask(Records.claim_account, self._claim(account)):
                raise ApplicationError(
                    "another voucher was activated on this account", type="account_already_used"
                )
            await self._call(
                Records.record_activation,
                ActivationAct(
                    voucher_id=self._voucher_id, at=workflow.now(), account_number=account
                ),
            )
            await self._enter(CycleState.ACTIVATED, "activated", account_number=account)
            return Activated()

    @confirm.validator
    def _may_confirm(self, confirmation: Confirmation) -> None:
        self._activation_open(ENTERING_ACCOUNT | {CycleState.ACTIVATED})

    @workflow.signal
    def handed_over(self, notice: HandedOver) -> None:
        """The month's hand-over reached the provider with this voucher in it."""
        self._handed_over = True

    @workflow.signal
    def consumption(self, reading: Consumption) -> None:
        """The provider accrued the month's gas on the account; settlement happens once."""
        activated_on = self._account.account_number if self._account else None
        if reading.account_number != activated_on:
            self._log("consumption_ignored", account_number=reading.account_number)
            return
        if self._consumption is None:
            self._consumption = reading
        self._log("consumption_reported", volume_m3=str(reading.volume_m3))

    async def _settle_gas(self) -> None:
        """After activation: wait for the hand-over, then the consumption, then settle."""
        handover = calendar.handover_moment(self._rules, self._cycle.month)
        assert handover is not None, "a gas program has a hand-over day"
        give_up = handover + timedelta(days=self._rules.consumption_wait_days)
        # A reading is proof of the hand-over too.
        handed = lambda: self._handed_over or self._consumption is not None  # noqa: E731
        if not await self._sleep_until(give_up, "hand-over", handed):
            self._flag("no_handover")
            await workflow.wait_condition(handed)  # the cycle waits, visible, for the provider
        await self._enter(CycleState.HANDED_OVER, "handed_over")
        if not await self._sleep_until(give_up, "consumption", lambda: bool(self._consumption)):
            self._flag("no_consumption")
            await workflow.wait_condition(lambda: bool(self._consumption))
        await self._settle(self._consumption)

    async def _settle(self, reading: Consumption | None) -> None:
        assert reading is not None and self._account is not None
        tariff = await workflow.execute_local_activity_method(
            ReferenceData.gas_tariff,
            TariffQuery(
                region=self._account.region,
                on=calendar.month_start(self._cycle.month).date(),
            ),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=PATIENT,
        )
        if tariff is None:
            self._flag("no_tariff", region=self._account.region)
            return
        discount = gas_discount(volume_m3=reading.volume_m3, tariff=tariff)
        if discount_mismatch(reading.discount_kzt, discount):
            # The formula's figure is settled; the provider's differing one is shown to ops.
            self._flag(
                "discount_mismatch", reported=str(reading.discount_kzt), computed=str(discount)
            )
        await self._call(
            GasProvider.settle,
            Settlement(
                voucher_id=self._voucher_id,
                month=self._cycle.month,
                account_number=self._account.account_number,
                volume_m3=reading.volume_m3,
                discount_kzt=discount,
            ),
        )
        await self._notify_wallet(
            "discount", discount_kzt=discount, volume_m3=str(reading.volume_m3)
        )
        self._discount = discount
        await self._enter(CycleState.SETTLED, "settled", discount_kzt=str(discount))

    def _claim(self, account_number: str) -> AccountClaim:
        return AccountClaim(
            month=self._cycle.month,
            account_number=account_number,
            voucher_id=self._voucher_id,
            cycle_id=self._id,
            at=workflow.now(),
        )
