"""A gas voucher after it is issued: activation on a personal account, hand-over, discount.

SPEC.md §3 steps 6-7 for ``gas``. The cycle holds one :class:`GasVoucher` and hands it the
wallet's account entry and confirmation (updates: the wallet gets its answer at once), the
hand-over and the provider's consumption (signals), and, once activation has closed, the rest of
the month: hand-over, consumption, settlement.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.gas_provider import GasProvider
    from activities.records import Records
    from activities.reference import ReferenceData
    from models.calls import AccountClaim, CycleSnapshot, Settlement, TariffQuery
    from models.cycle import CycleState
    from models.reference import GasTariff
    from models.voucher import Account, AccountEntry, AccountShown, Activated, Consumption
    from rules import calendar
    from rules.voucher import discount_mismatch, gas_discount
    from workflows.cycle_steps import (
        CALL_SUMMARIES,
        LOCAL_RETRIES,
        PATIENT,
        RECORD_TIMEOUT,
        CycleSteps,
    )

# What the citizen accepts by confirming (gas order Alg. 22-23).
PUBLIC_OFFER = "QazaqGaz Aimaq public offer on the use of gas vouchers (gas order Alg. 22-23)"
# How often a cycle waiting for real tariff figures looks again.
TARIFF_RECHECK = timedelta(days=1)
ENTERING_ACCOUNT = frozenset({CycleState.VOUCHER_ISSUED, CycleState.ACCOUNT_PENDING_CONFIRMATION})


class GasVoucher:
    """The life of an issued gas voucher, driven by its cycle."""

    def __init__(self, steps: CycleSteps) -> None:
        self._steps = steps
        self.account: Account | None = None
        self.discount_kzt: int | None = None
        self._handed_over = False
        self._consumption: Consumption | None = None

    # --- activation (SPEC.md §3 step 6) ------------------------------------------------------

    def may_enter_account(self) -> None:
        self._steps.activation_open(ENTERING_ACCOUNT)

    async def enter_account(self, entry: AccountEntry) -> AccountShown:
        """Show the account's details to confirm, or say why not.

        The seed's order (gas order Alg. 24-25): first whether a voucher is already activated
        on the account this month, then the provider's look-up of the account. Both are asked
        at once (the wallet waits for the slower, not for the two in turn); the answer keeps
        that order: a taken account is refused whatever the provider says of it.
        """
        steps = self._steps
        async with steps.lock:
            steps.activation_open(ENTERING_ACCOUNT)  # a confirmation may have gone first
            taken, found = await asyncio.gather(
                steps.ask(Records.account_taken, self._claim(entry.account_number)),
                steps.ask(GasProvider.find_account, entry),
            )
            if taken:
                raise ApplicationError(
                    "another voucher is activated on this account this month",
                    type="account_already_used",
                )
            if found.account is None:
                raise ApplicationError("no such personal account", type="account_not_found")
            self.account = found.account
            await steps.enter(
                CycleState.ACCOUNT_PENDING_CONFIRMATION,
                "account_entered",
                account_number=entry.account_number,
            )
            return AccountShown(voucher_id=steps.voucher_id, **found.account.model_dump())

    def may_confirm(self) -> None:
        self._steps.activation_open(ENTERING_ACCOUNT | {CycleState.ACTIVATED})

    async def confirm(self) -> Activated:
        """Activate the voucher on the account shown; a retried confirmation answers the same.

        Confirming ("Продолжить", gas order Alg. 22-23) accepts the provider's public offer on
        the use of vouchers: the history records that acceptance with the activation.
        """
        steps = self._steps
        async with steps.lock:
            if steps.state == CycleState.ACTIVATED:
                return Activated()
            steps.activation_open(ENTERING_ACCOUNT)
            if self.account is None:
                raise ApplicationError("enter a personal account first", type="no_account_entered")
            account = self.account.account_number
            # The claim records the activation and the cycle's row with it: one write, one event.
            claim = self._claim(account, row=steps.row(CycleState.ACTIVATED))
            if not await steps.ask(Records.claim_account, claim):
                raise ApplicationError(
                    "another voucher was activated on this account", type="account_already_used"
                )
            steps.log("offer_accepted", offer=PUBLIC_OFFER, account_number=account)
            await steps.enter(
                CycleState.ACTIVATED, "activated", row_written=True, account_number=account
            )
            return Activated()

    # --- the provider's news -----------------------------------------------------------------

    def hand_over(self) -> None:
        self._handed_over = True

    def take_consumption(self, reading: Consumption) -> None:
        """Keep the first reading on the activated account; settlement happens once."""
        activated_on = self.account.account_number if self.account else None
        if reading.account_number != activated_on:
            self._steps.log("consumption_ignored", account_number=reading.account_number)
            return
        if self._consumption is None:
            self._consumption = reading
        self._steps.log("consumption_reported", volume_m3=str(reading.volume_m3))

    # --- after activation closes (SPEC.md §3 step 7) -----------------------------------------

    async def use(self) -> None:
        """Wait for the hand-over, then the consumption, then settle the discount."""
        steps = self._steps
        handover = calendar.handover_moment(steps.rules, steps.cycle.month)
        assert handover is not None, "a gas program has a hand-over day"
        give_up = handover + timedelta(days=steps.rules.consumption_wait_days)
        # A reading is proof of the hand-over too.
        handed = lambda: self._handed_over or self._consumption is not None  # noqa: E731
        if not await steps.sleep_until(give_up, "gas provider's hand-over (latest)", handed):
            await steps.flag("no_handover")
            steps.show("waits for the gas provider's hand-over")
            await workflow.wait_condition(handed)  # the cycle waits, visible, for the provider
        await steps.enter(CycleState.HANDED_OVER, "handed_over")
        read = lambda: self._consumption is not None  # noqa: E731
        if not await steps.sleep_until(give_up, "gas provider's reading (latest)", read):
            await steps.flag("no_consumption")
            steps.show("waits for the gas provider's consumption reading")
            await workflow.wait_condition(read)
        assert self._consumption is not None
        await self._settle(self._consumption)

    async def _settle(self, reading: Consumption) -> None:
        steps = self._steps
        assert self.account is not None
        tariff = await self._settleable_tariff(self.account.region)
        discount = gas_discount(volume_m3=reading.volume_m3, tariff=tariff)
        if discount_mismatch(reading.discount_kzt, discount):
            # The formula's figure is settled; the provider's differing one is shown to ops.
            await steps.flag(
                "discount_mismatch", reported=str(reading.discount_kzt), computed=str(discount)
            )
        await steps.call(
            GasProvider.settle,
            Settlement(
                voucher_id=steps.voucher_id,
                month=steps.cycle.month,
                account_number=self.account.account_number,
                volume_m3=reading.volume_m3,
                discount_kzt=discount,
            ),
        )
        await steps.notify_wallet(
            "discount", discount_kzt=discount, volume_m3=str(reading.volume_m3)
        )
        self.discount_kzt = discount
        await steps.enter(CycleState.SETTLED, "settled", discount_kzt=str(discount))

    async def _settleable_tariff(self, region: str) -> GasTariff:
        """The region's tariff for the month, once a discount may be settled from it.

        Money is never computed from a missing figure, nor from a sample one unless the
        deployment allows it (SPEC.md §7): until then the cycle waits, flagged
        ``Attention=tariff_missing``, and asks again every ``TARIFF_RECHECK`` (the reference is
        re-read when the deployment's folder changes, so loading the real figures is enough).
        """
        steps = self._steps
        query = TariffQuery(region=region, on=calendar.month_start(steps.cycle.month).date())
        while True:
            answer = await workflow.execute_local_activity_method(
                ReferenceData.gas_tariff,
                query,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=PATIENT,
                local_retry_threshold=LOCAL_RETRIES,
                summary=CALL_SUMMARIES["ReferenceData.gas_tariff"],
            )
            if answer.tariff is not None and answer.problem is None:
                await steps.unflag("tariff_missing")
                return answer.tariff
            if steps.progress.attention != "tariff_missing":
                problem = answer.problem or "missing"
                await steps.flag("tariff_missing", region=region, figure=problem)
            await steps.sleep_until(
                workflow.now() + TARIFF_RECHECK, "tariff re-check", lambda: False
            )

    def _claim(self, account_number: str, row: CycleSnapshot | None = None) -> AccountClaim:
        return AccountClaim(
            month=self._steps.cycle.month,
            account_number=account_number,
            voucher_id=self._steps.voucher_id,
            cycle_id=self._steps.cycle_id,
            at=workflow.now(),
            row=row,
        )
