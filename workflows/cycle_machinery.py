"""What every part of a citizen cycle shares: its state, its history, and how it changes them.

``CitizenCycle`` is assembled from this base and the voucher mixins (``gas_voucher``,
``food_voucher``); each adds the updates and signals of its program.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.records import Records
    from activities.sms_gateway import SmsGateway
    from activities.wallet import Wallet
    from models.calls import CycleSnapshot, OutgoingSms, SmsKind, VoucherNotice
    from models.cycle import CycleEvent, CycleInput, CycleState, CycleStatus, voucher_id
    from models.search import ATTENTION, CYCLE_MONTH, CYCLE_STATE, PROGRAM, REGION
    from models.voucher import Account, Consumption, Redeemed
    from rules import calendar

# Outside systems may be down for hours: keep retrying, backing off to every ten minutes. The
# idempotency keys make every retry safe.
PATIENT = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=10))
CALL_TIMEOUT = timedelta(seconds=15)  # the HTTP timeout (10 s) and a margin
ASK_TIMEOUT = timedelta(seconds=10)
# Patch: an SMS goes out inside the sending window or waits for the next (CHANGING-WORKFLOWS.md).
SMS_WITHIN_WINDOW = "sms-within-window"


def sms_queue(task_queue: str) -> str:
    """The task queue of the SMS activity: the cycles' own, suffixed (rate-limited on its own)."""
    return f"{task_queue}-sms"


class CycleMachinery:
    """The cycle's state and the machinery of changing it."""

    def __init__(self, cycle: CycleInput) -> None:
        self._cycle = cycle
        self._rules = cycle.rules
        self._id = workflow.info().workflow_id
        self._voucher_id = voucher_id(self._id)
        self._listed_at = cycle.listed_at or workflow.now()
        self._state = CycleState.SCHEDULED
        self._history: list[CycleEvent] = []
        self._phone: str | None = None
        self._phone_ref: str | None = None
        self._decision: Literal["agree", "refuse"] | None = None
        self._consented_before = False
        self._replies_seen: set[str] = set()
        self._withdrawn = False
        self._requesting = False
        # The wallet's requests on an issued voucher take turns, and the activation deadline
        # waits for one in flight: a confirmation accepted at 23:59:59 completes.
        self._lock = asyncio.Lock()
        self._account: Account | None = None
        self._handed_over = False
        self._consumption: Consumption | None = None
        self._discount: int | None = None
        self._balance: int | None = None
        self._purchases: dict[str, Redeemed] = {}
        self._attention: str | None = None

    @workflow.query
    def status(self) -> CycleStatus:
        """The cycle's state and history, as ops and the wallet see it."""
        return CycleStatus(
            cycle_id=self._id,
            program=self._cycle.program,
            month=self._cycle.month,
            region=self._cycle.citizen.region,
            state=self._state,
            voucher_id=self._voucher_id,
            valid_until=calendar.voucher_valid_until(self._rules, self._cycle.month),
            amount_kzt=self._cycle.voucher_amount_kzt,
            balance_kzt=self._balance,
            account=self._account,
            discount_kzt=self._discount,
            attention=self._attention,
            history=list(self._history),
        )

    def _activation_open(self, states: frozenset[CycleState]) -> None:
        """Refuse a wallet request outside the activation window or in another state."""
        opens, closes = calendar.activation_window(self._rules, self._cycle.month)
        if not opens <= workflow.now() < closes:
            raise ApplicationError("outside the activation window", type="activation_closed")
        if self._state not in states or self._withdrawn:
            raise ApplicationError(f"the voucher is {self._state}", type="voucher_not_issued")

    def _is_withdrawn(self) -> bool:
        return self._withdrawn

    async def _sleep_until(self, moment: datetime, summary: str, wake: Callable[[], bool]) -> bool:
        """Sleep until ``moment``; return True early if ``wake()`` becomes true first."""
        delay = moment - workflow.now()
        if wake() or delay <= timedelta(0):
            return wake()
        try:
            await workflow.wait_condition(wake, timeout=delay, timeout_summary=summary)
        except TimeoutError:
            return False
        return True

    async def _call(self, activity: Callable[..., Any], argument: Any) -> Any:
        """Run an activity with the cycle's patient retry policy."""
        return await workflow.execute_activity_method(
            activity, argument, start_to_close_timeout=CALL_TIMEOUT, retry_policy=PATIENT
        )

    async def _ask(self, activity: Callable[..., Any], argument: Any) -> Any:
        """Run an activity for a caller who is waiting (the wallet): a few tries within
        ``ASK_TIMEOUT``, then a retryable refusal instead of an answer that never comes."""
        try:
            return await workflow.execute_activity_method(
                activity,
                argument,
                schedule_to_close_timeout=ASK_TIMEOUT,
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=4)),
            )
        except ActivityError as failed:
            raise ApplicationError(
                "an outside system did not answer; try again", type="temporarily_unavailable"
            ) from failed

    async def _send_sms(
        self,
        kind: SmsKind,
        *,
        give_up_at: datetime | None = None,
        wanted: Callable[[], bool] = lambda: True,
    ) -> bool:
        """Hand an SMS to the gateway inside the sending window; return whether it went.

        A gateway down until the window closes does not make the citizen's phone ring at night:
        the SMS waits for the next opening (the same idempotency key, so never twice). It is
        dropped at ``give_up_at`` (the consent deadline, say), or as soon as it is no longer
        ``wanted`` (the citizen has answered, SDU withdrew them): the cycle goes on at once.
        """
        if not workflow.patched(SMS_WITHIN_WINDOW):
            await self._hand_to_gateway(kind, within=None)
            return True

        def unwanted() -> bool:
            return not wanted()

        while True:
            opens = calendar.into_window(workflow.now(), self._rules)
            if give_up_at is not None and opens >= give_up_at:
                return self._not_sent(kind, "past its deadline")
            if await self._sleep_until(opens, "sending window opens", unwanted):
                return self._not_sent(kind, "no longer needed")
            closes = calendar.window_closes(workflow.now(), self._rules)
            bound = closes if give_up_at is None else min(closes, give_up_at)
            outcome = await self._try_until(kind, bound, unwanted)
            if outcome == "sent":
                return True
            if outcome == "unwanted":
                return self._not_sent(kind, "no longer needed")
            # Out of time for this window (or the gateway asked to wait beyond it).
            self._log("sms_delayed", kind=kind, until="the next sending window")
            if await self._sleep_until(bound, "sending window closes", unwanted):
                return self._not_sent(kind, "no longer needed")

    async def _try_until(
        self, kind: SmsKind, bound: datetime, unwanted: Callable[[], bool]
    ) -> Literal["sent", "out_of_time", "unwanted"]:
        """One go at the gateway until ``bound``; the cycle stops waiting for it if the SMS
        becomes unwanted. The activity is abandoned, not cancelled (a cancel racing its
        completion fails the workflow task): the gateway may still take it, once (its key)."""
        sending = asyncio.create_task(self._hand_to_gateway(kind, within=bound - workflow.now()))
        await workflow.wait_condition(lambda: sending.done() or unwanted())
        if not sending.done():
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, ActivityError):
                await sending
            return "unwanted"
        try:
            sending.result()
        except ActivityError as failed:
            if failed.retry_state != RetryState.TIMEOUT:
                raise
            return "out_of_time"
        return "sent"

    def _not_sent(self, kind: SmsKind, reason: str) -> bool:
        self._log("sms_not_sent", kind=kind, reason=reason)
        return False

    async def _hand_to_gateway(self, kind: SmsKind, *, within: timedelta | None) -> None:
        text_kind: Literal["consent_request", "confirmation"] = (
            "confirmation" if kind == "confirmation" else "consent_request"
        )
        assert self._phone is not None, "an SMS is only sent after the phone check"
        await workflow.execute_activity_method(
            SmsGateway.send,
            OutgoingSms(
                cycle_id=self._id,
                kind=kind,
                sender=self._rules.short_number,
                to=self._phone,
                text=self._rules.text(text_kind, self._cycle.citizen.lang),
                program=self._cycle.program,
                month=self._cycle.month,
                region=self._cycle.citizen.region,
                at=workflow.now(),
            ),
            task_queue=sms_queue(workflow.info().task_queue),
            start_to_close_timeout=CALL_TIMEOUT,
            schedule_to_close_timeout=within,
            retry_policy=PATIENT,
            cancellation_type=ActivityCancellationType.ABANDON,
        )
        self._log("sms_sent", kind=kind)

    async def _notify_wallet(self, kind: str, **detail: Any) -> None:
        await self._call(
            Wallet.notify, VoucherNotice(voucher_id=self._voucher_id, type=kind, detail=detail)
        )

    async def _enter(self, state: CycleState, event: str | None = None, **detail: str) -> None:
        self._state = state
        self._log(event or state.value.lower(), state=state.value, **detail)
        workflow.logger.info("cycle %s", state.value)
        workflow.set_current_details(f"**{state.value}** since {workflow.now():%Y-%m-%d %H:%M} UTC")
        workflow.upsert_search_attributes(
            [
                PROGRAM.value_set(self._cycle.program),
                CYCLE_MONTH.value_set(self._cycle.month),
                REGION.value_set(self._cycle.citizen.region),
                CYCLE_STATE.value_set(state.value),
            ]
        )
        await self._record()

    def _flag(self, attention: str, **detail: str) -> None:
        """Ask ops to look at this cycle: the Web UI filters on ``Attention``."""
        self._attention = attention
        self._log("attention", reason=attention, **detail)
        workflow.upsert_search_attributes([ATTENTION.value_set(attention)])

    async def _record(self) -> None:
        await workflow.execute_local_activity_method(
            Records.record_cycle,
            CycleSnapshot(
                cycle_id=self._id,
                program=self._cycle.program,
                month=self._cycle.month,
                region=self._cycle.citizen.region,
                state=self._state.value,
                citizen_ref=self._cycle.citizen_ref,
                voucher_id=self._voucher_id,
                phone_ref=self._phone_ref,
                short_number=self._rules.short_number,
                at=workflow.now(),
            ),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=PATIENT,
        )

    def _log(self, event: str, **detail: str) -> None:
        self._history.append(CycleEvent(at=workflow.now(), event=event, detail=detail))
