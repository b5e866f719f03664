"""What SDU may change in a running cycle (SPEC.md §3 step 1): the citizen's record, corrected
before the cut-off, and the listing itself, withdrawn before activation.

A mixin of ``CitizenCycle``, like the voucher mixins ``gas_voucher`` and ``food_voucher``.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.cycle import (
        ACTIVATED_STATES,
        AWAITING_STATES,
        FINAL_STATES,
        Correction,
        CycleState,
        Withdrawal,
    )
    from models.search import REGION
    from workflows.cycle_machinery import CycleMachinery


class ListChanges(CycleMachinery):
    """The updates of SDU's corrections and withdrawals."""

    @workflow.update
    async def correct(self, correction: Correction) -> CycleState:
        """SDU corrected the citizen's record before the voucher: the cycle goes on with it (the
        language of the next SMS, the region, a food voucher's value by the family's size)."""
        self._may_correct(correction)
        before = self._cycle.citizen.model_dump()
        changed = sorted(k for k, v in correction.citizen.model_dump().items() if before[k] != v)
        self._cycle = self._cycle.model_copy(
            update={
                "citizen": correction.citizen,
                "voucher_amount_kzt": correction.voucher_amount_kzt,
            }
        )
        self._log("corrected", fields=", ".join(changed))
        workflow.upsert_search_attributes([REGION.value_set(correction.citizen.region)])
        await self._record()
        return self._state

    @correct.validator
    def _may_correct(self, correction: Correction) -> None:
        if correction.citizen.iin != self._cycle.citizen.iin:
            raise ApplicationError("the correction names another citizen", type="another_citizen")
        # Until the voucher is on its way: after a consent (or one on file) it is being issued
        # with the record the cycle holds, however long the wallet takes.
        unissued = self._state == CycleState.SCHEDULED or self._state in AWAITING_STATES
        undecided = self._decision is None and not self._consented_before
        if self._withdrawn or not unissued or not undecided:
            raise ApplicationError(
                f"the cycle is {self._state}: too late to correct", type="too_late_to_correct"
            )

    @workflow.update
    async def withdraw(self, withdrawal: Withdrawal) -> CycleState:
        """SDU removed the citizen from the list: the cycle ends ``WITHDRAWN``. Asked again
        (SDU retrying a call whose answer it lost), it answers the same."""
        async with self._lock:  # an activation in flight decides first
            self._may_withdraw(withdrawal)
            if not self._withdrawn:
                self._withdrawn = True
                self._log("withdrawal_requested", reason=withdrawal.reason)
            return CycleState.WITHDRAWN

    @withdraw.validator
    def _may_withdraw(self, withdrawal: Withdrawal) -> None:
        if self._withdrawn:
            return
        if self._state in ACTIVATED_STATES:
            raise ApplicationError("the voucher is already activated", type="already_activated")
        if self._state in FINAL_STATES:
            raise ApplicationError(f"the cycle already ended {self._state}", type="already_final")
