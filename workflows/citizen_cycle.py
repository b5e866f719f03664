"""One citizen's month in one program: phone check, consent by SMS, voucher, its end.

Orchestration only: every date comes from ``rules.calendar`` applied to ``workflow.now()``, every
side effect is an activity. The cycle's rules arrive resolved in its input, so a definition edited
mid-month never changes a cycle already running.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.bmg import Bmg, PhoneLookup
    from activities.records import ConsentAct, ConsentQuery, CycleSnapshot, Records
    from activities.sdu import JournalEntry, Sdu
    from activities.sms_gateway import OutgoingSms, SmsGateway, SmsKind
    from activities.wallet import VoucherIssue, VoucherNotice, Wallet
    from models.cycle import (
        AWAITING_STATES,
        FINAL_STATES,
        CycleEvent,
        CycleInput,
        CycleState,
        CycleStatus,
        Reply,
        ReplyOutcome,
        ReplyResult,
        Withdrawal,
        voucher_id,
    )
    from models.search import CYCLE_MONTH, CYCLE_STATE, PROGRAM, REGION
    from rules import calendar
    from rules.replies import parse_reply

# Outside systems may be down for hours: keep retrying, backing off to every ten minutes. The
# idempotency keys make every retry safe.
PATIENT = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=10))
CALL_TIMEOUT = timedelta(seconds=30)
ACTIVATED_STATES = frozenset(
    {CycleState.ACTIVATED, CycleState.HANDED_OVER, CycleState.SETTLED, CycleState.CLOSED}
)


@workflow.defn(name="CitizenCycle")
class CitizenCycle:
    """The monthly cycle of SPEC.md §3 for one citizen, one program, one month."""

    @workflow.init
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

    @workflow.run
    async def run(self, cycle: CycleInput) -> CycleStatus:
        """Run the cycle to exactly one final state and return what it looked like."""
        await self._enter(CycleState.SCHEDULED, "listed")
        if await self._find_phone():
            await self._consent_then_voucher()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    async def _consent_then_voucher(self) -> None:
        self._consented_before = await self._consent_on_file()
        if self._consented_before:
            # Food's consent holds for the program period: no new request, the voucher comes
            # on the send day.
            send = calendar.send_moment(self._rules, self._cycle.month)
            if not await self._sleep_until(send, "send day", self._is_withdrawn):
                await self._issue_voucher("consent on file")
        else:
            await self._ask_consent()
            if self._decision == "agree" and not self._withdrawn:
                await self._send_sms("confirmation")
                await self._issue_voucher("consent")
        await self._conclude()

    async def _conclude(self) -> None:
        if self._withdrawn:
            if self._state == CycleState.VOUCHER_ISSUED:
                await self._notify_wallet("closed", reason="withdrawn")
            await self._enter(CycleState.WITHDRAWN)
        elif self._decision == "refuse":
            await self._enter(CycleState.REFUSED)
        elif self._state in AWAITING_STATES or self._state == CycleState.SCHEDULED:
            await self._enter(CycleState.CONSENT_EXPIRED)
        elif self._state == CycleState.VOUCHER_ISSUED:
            await self._await_activation()

    # --- phone check -------------------------------------------------------------------------

    async def _find_phone(self) -> bool:
        found = await workflow.execute_activity_method(
            Bmg.find_phone,
            PhoneLookup(iin=self._cycle.citizen.iin),
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=PATIENT,
        )
        if found.phone is None:
            await workflow.execute_activity_method(
                Sdu.journal,
                JournalEntry(
                    program=self._cycle.program,
                    month=self._cycle.month,
                    iin=self._cycle.citizen.iin,
                    event="NO_PHONE",
                    at=workflow.now(),
                ),
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=PATIENT,
            )
            await self._enter(CycleState.NO_PHONE, "no_phone", journaled="SDU")
            return False
        self._phone, self._phone_ref = found.phone, found.phone_ref
        await self._record()  # the phone's pseudonym now routes replies to this cycle
        return True

    # --- consent -----------------------------------------------------------------------------

    async def _ask_consent(self) -> None:
        month = self._cycle.month
        deadline = calendar.consent_deadline(self._rules, month)
        first = calendar.first_request_moment(self._rules, month, self._listed_at)
        if first >= deadline or await self._sleep_until(
            first, "consent request", self._is_withdrawn
        ):
            return
        await self._send_sms("consent_request")
        requested_at = workflow.now()
        await self._enter(CycleState.AWAITING_CONSENT, "consent_requested")
        if calendar.reminder_in_time(self._rules, month, requested_at):
            due = calendar.reminder_due(self._rules, requested_at)
            if not await self._sleep_until(due, "reminder", self._is_decided):
                await self._send_sms("reminder")
                await self._enter(CycleState.REMINDED, "reminded")
        await self._sleep_until(deadline, "consent deadline", self._is_decided)

    @workflow.update
    async def reply(self, reply: Reply) -> ReplyOutcome:
        """Take an inbound SMS routed here by the webhook; answer what it meant for the cycle."""
        if reply.message_id in self._replies_seen:
            return ReplyOutcome(result="duplicate")
        self._replies_seen.add(reply.message_id)
        meaning = parse_reply(reply.text, self._rules.reply_codes)
        result = self._judge(meaning)
        self._log("reply", result=result, message_id=reply.message_id)
        if result == "consent":
            self._decision = "agree"
        elif result == "refusal" and self._decision is None and not self._consented_before:
            self._decision = "refuse"
        if result in ("consent", "refusal"):
            await self._record_consent(reply, "agree" if result == "consent" else "refuse")
        return ReplyOutcome(result=result)

    def _judge(self, meaning: Literal["agree", "refuse", "unrecognised"]) -> ReplyResult:
        open_for_reply = (
            self._state in AWAITING_STATES
            and self._decision is None
            and workflow.now() < calendar.consent_deadline(self._rules, self._cycle.month)
        )
        if open_for_reply:
            return {"agree": "consent", "refuse": "refusal"}.get(meaning, "unrecognised")  # type: ignore[return-value]
        # A consent that holds for the program period can be withdrawn at any time; it stops
        # the following months, not the voucher already issued.
        if meaning == "refuse" and self._holds_program_consent():
            return "refusal"
        return "late"

    def _holds_program_consent(self) -> bool:
        return self._rules.consent_scope == "program_period" and (
            self._consented_before or self._decision == "agree"
        )

    async def _consent_on_file(self) -> bool:
        if self._rules.consent_scope != "program_period":
            return False
        return await workflow.execute_activity_method(
            Records.consent_on_file,
            ConsentQuery(citizen_ref=self._cycle.citizen_ref, program_version=self._rules.version),
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=PATIENT,
        )

    async def _record_consent(self, reply: Reply, decision: str) -> None:
        await workflow.execute_activity_method(
            Records.record_consent,
            ConsentAct(
                message_id=reply.message_id,
                cycle_id=self._id,
                citizen_ref=self._cycle.citizen_ref,
                iin=self._cycle.citizen.iin,
                program=self._cycle.program,
                program_version=self._rules.version,
                month=self._cycle.month,
                decision=decision,
                received_at=reply.received_at,
                recorded_at=workflow.now(),
            ),
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=PATIENT,
        )

    # --- voucher -----------------------------------------------------------------------------

    async def _issue_voucher(self, because: str) -> None:
        food = self._rules.voucher.per == "family_member"
        await workflow.execute_activity_method(
            Wallet.issue_voucher,
            VoucherIssue(
                voucher_id=self._voucher_id,
                cycle_id=self._id,
                program=self._cycle.program,
                month=self._cycle.month,
                region=self._cycle.citizen.region,
                iin=self._cycle.citizen.iin,
                valid_until=calendar.voucher_valid_until(self._rules, self._cycle.month),
                amount_kzt=self._cycle.voucher_amount_kzt,
                members=self._cycle.citizen.family_size if food else None,
                issued_at=workflow.now(),
            ),
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=PATIENT,
        )
        await self._enter(CycleState.VOUCHER_ISSUED, "voucher_issued", because=because)

    async def _await_activation(self) -> None:
        closes = calendar.activation_window(self._rules, self._cycle.month)[1]
        await self._sleep_until(closes, "activation closes", self._is_withdrawn)
        if self._withdrawn:
            await self._notify_wallet("closed", reason="withdrawn")
            await self._enter(CycleState.WITHDRAWN)
        else:
            await self._notify_wallet("expired")
            await self._enter(CycleState.VOUCHER_EXPIRED, "voucher_expired")

    async def _notify_wallet(self, kind: str, **detail: Any) -> None:
        await workflow.execute_activity_method(
            Wallet.notify,
            VoucherNotice(voucher_id=self._voucher_id, type=kind, detail=detail),
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=PATIENT,
        )

    # --- withdrawal --------------------------------------------------------------------------

    @workflow.update
    def withdraw(self, withdrawal: Withdrawal) -> CycleState:
        """SDU removed the citizen from the list: the cycle ends ``WITHDRAWN``."""
        self._withdrawn = True
        self._log("withdrawal_requested", reason=withdrawal.reason)
        return CycleState.WITHDRAWN

    @withdraw.validator
    def _may_withdraw(self, withdrawal: Withdrawal) -> None:
        if self._state in ACTIVATED_STATES:
            raise ApplicationError("the voucher is already activated", type="already_activated")
        if self._state in FINAL_STATES or self._withdrawn:
            raise ApplicationError(f"the cycle already ended {self._state}", type="already_final")

    # --- the machinery of a state --------------------------------------------------------------

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
            history=list(self._history),
        )

    def _is_withdrawn(self) -> bool:
        return self._withdrawn

    def _is_decided(self) -> bool:
        return self._decision is not None or self._withdrawn

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

    async def _send_sms(self, kind: SmsKind) -> None:
        text_kind: Literal["consent_request", "confirmation"] = (
            "confirmation" if kind == "confirmation" else "consent_request"
        )
        assert self._phone is not None
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
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=PATIENT,
        )
        self._log("sms_sent", kind=kind)

    async def _enter(self, state: CycleState, event: str | None = None, **detail: str) -> None:
        self._state = state
        self._log(event or state.value.lower(), state=state.value, **detail)
        workflow.upsert_search_attributes(
            [
                PROGRAM.value_set(self._cycle.program),
                CYCLE_MONTH.value_set(self._cycle.month),
                REGION.value_set(self._cycle.citizen.region),
                CYCLE_STATE.value_set(state.value),
            ]
        )
        await self._record()

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
