"""One citizen's month in one program: phone check, consent by SMS, voucher, its end.

Orchestration only: every date comes from ``rules.calendar`` applied to ``workflow.now()``, every
side effect is an activity. The cycle's rules arrive resolved in its input, so a definition edited
mid-month never changes a cycle already running. What happens to an issued voucher is in
``gas_voucher`` and ``food_voucher``, SDU's corrections and withdrawals in ``list_changes``, the
shared machinery in ``cycle_machinery``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.bmg import Bmg
    from activities.records import Records
    from activities.sdu import Sdu
    from activities.wallet import Wallet
    from models.calls import ConsentAct, ConsentQuery, JournalEntry, PhoneLookup, VoucherIssue
    from models.cycle import (
        AWAITING_STATES,
        CycleInput,
        CycleState,
        CycleStatus,
        Reply,
        ReplyOutcome,
        ReplyResult,
    )
    from rules import calendar
    from rules.replies import parse_reply
    from workflows.cycle_machinery import SMS_WITHIN_WINDOW
    from workflows.food_voucher import FoodVoucher
    from workflows.gas_voucher import GasVoucher
    from workflows.list_changes import ListChanges

# Patch: program-period consent is looked up at the send moment (docs/CHANGING-WORKFLOWS.md).
CONSENT_ON_FILE_AT_SEND = "consent-on-file-at-send-moment"
# Patch: the voucher is in the wallet before the confirmation SMS tells the citizen so.
VOUCHER_BEFORE_CONFIRMATION = "voucher-before-confirmation"
# Patch: a citizen withdrawn before or during the phone check ends WITHDRAWN, never NO_PHONE.
WITHDRAWAL_BEFORE_PHONE_CHECK = "withdrawal-before-phone-check"
# Patch: every patch is decided in the cycle's first task, before any local activity. Decided
# later, just after a local activity, a replay could ask before the server's history had told
# the worker of the patch, and take the old branch (seen after a worker was killed mid-task).
PATCHES_AT_START = "patches-decided-at-start"


@workflow.defn(name="CitizenCycle")
class CitizenCycle(GasVoucher, FoodVoucher, ListChanges):
    """The monthly cycle of SPEC.md §3 for one citizen, one program, one month."""

    @workflow.init
    def __init__(self, cycle: CycleInput) -> None:
        super().__init__(cycle)

    @workflow.run
    async def run(self, cycle: CycleInput) -> CycleStatus:
        """Run the cycle to exactly one final state and return what it looked like."""
        if workflow.patched(PATCHES_AT_START):
            for change in (
                CONSENT_ON_FILE_AT_SEND,
                VOUCHER_BEFORE_CONFIRMATION,
                SMS_WITHIN_WINDOW,
                WITHDRAWAL_BEFORE_PHONE_CHECK,
            ):
                workflow.patched(change)  # remembered: later calls answer the same
        await self._enter(CycleState.SCHEDULED, "listed")
        if self._withdrawn and workflow.patched(WITHDRAWAL_BEFORE_PHONE_CHECK):
            await self._enter(CycleState.WITHDRAWN)  # SDU took them off before anything began
        elif await self._find_phone():
            await self._consent_then_voucher()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    async def _consent_then_voucher(self) -> None:
        if workflow.patched(CONSENT_ON_FILE_AT_SEND):
            await self._voucher_on_file_at_send_moment()
        else:
            await self._voucher_on_file_at_listing()
        if not (self._consented_before or self._decision is not None or self._withdrawn):
            await self._ask_consent()
            if self._decision == "agree" and not self._withdrawn:
                await self._confirm_and_issue()
        await self._conclude()

    async def _voucher_on_file_at_send_moment(self) -> None:
        """Food's consent holds for the program period: whoever has consented (and not refused
        since) is not asked again, and the voucher comes on the send day.

        Looked up at the send moment, not at listing: SDU lists next month while this month's
        replies still come in, and a consent or refusal given meanwhile must count.
        """
        if self._rules.consent_scope != "program_period":
            return
        send = self._in_the_spread(calendar.send_moment(self._rules, self._cycle.month))
        if await self._sleep_until(send, "send day", self._is_decided):
            return
        self._consented_before = await self._consent_on_file()
        if self._consented_before:
            await self._issue_voucher("consent on file")

    async def _voucher_on_file_at_listing(self) -> None:
        # Cycles started before CONSENT_ON_FILE_AT_SEND looked consent up at listing.
        self._consented_before = await self._consent_on_file()
        if self._consented_before:
            send = calendar.send_moment(self._rules, self._cycle.month)
            if not await self._sleep_until(send, "send day", self._is_withdrawn):
                await self._issue_voucher("consent on file")

    async def _confirm_and_issue(self) -> None:
        # The confirmation SMS tells the citizen to go and find the voucher, so it goes out once
        # the voucher is in the wallet. Cycles started before this change keep their order
        # (docs/CHANGING-WORKFLOWS.md).
        if workflow.patched(VOUCHER_BEFORE_CONFIRMATION):
            await self._issue_voucher("consent")
            # Not after the voucher can no longer be activated (a consent at 23:59 on the
            # last day waits for 09:00, by which time it has lapsed).
            closes = calendar.activation_window(self._rules, self._cycle.month)[1]
            await self._send_sms("confirmation", give_up_at=closes, wanted=self._is_kept)
        else:
            await self._send_sms("confirmation")
            await self._issue_voucher("consent")

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
            await self._voucher_life()

    async def _voucher_life(self) -> None:
        closes = calendar.activation_window(self._rules, self._cycle.month)[1]
        await self._sleep_until(closes, "activation closes", self._is_withdrawn)
        async with self._lock:  # a wallet request accepted before the deadline completes
            activated = self._state == CycleState.ACTIVATED
            if self._withdrawn:
                await self._notify_wallet("closed", reason="withdrawn")
                await self._enter(CycleState.WITHDRAWN)
            elif not activated:
                await self._notify_wallet("expired")
                await self._enter(CycleState.VOUCHER_EXPIRED, "voucher_expired")
        if activated and not self._withdrawn:
            if self._rules.voucher.kind == "gas_discount":
                await self._settle_gas()
            else:
                await self._close_food()

    # --- phone check -------------------------------------------------------------------------

    async def _find_phone(self) -> bool:
        found = await self._call(
            Bmg.find_phone,
            PhoneLookup(iin=self._cycle.citizen.iin),
        )
        if self._withdrawn and workflow.patched(WITHDRAWAL_BEFORE_PHONE_CHECK):
            await self._enter(CycleState.WITHDRAWN)  # withdrawn while BMG was asked
            return False
        if found.phone is None:
            await self._call(
                Sdu.journal,
                JournalEntry(
                    program=self._cycle.program,
                    month=self._cycle.month,
                    iin=self._cycle.citizen.iin,
                    event="NO_PHONE",
                    at=workflow.now(),
                ),
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
        first = self._in_the_spread(
            calendar.first_request_moment(self._rules, month, self._listed_at)
        )
        if first >= deadline or await self._sleep_until(
            first, "consent request", self._is_withdrawn
        ):
            return
        # Replies count from the moment the request is on its way: a citizen may answer before
        # the gateway's acceptance reaches the cycle (a fast reply, a worker restart).
        self._requesting = True
        # Only a withdrawal calls the request off: a reply means it has reached the citizen.
        if not await self._send_sms("consent_request", give_up_at=deadline, wanted=self._is_kept):
            self._requesting = False  # never asked: the cycle expires unasked
            return
        requested_at = workflow.now()
        await self._enter(CycleState.AWAITING_CONSENT, "consent_requested")
        if calendar.reminder_in_time(self._rules, month, requested_at):
            due = calendar.reminder_due(self._rules, requested_at)
            if not await self._sleep_until(due, "reminder", self._is_decided):
                if await self._send_sms("reminder", give_up_at=deadline, wanted=self._is_undecided):
                    await self._enter(CycleState.REMINDED, "reminded")
        await self._sleep_until(deadline, "consent deadline", self._is_decided)

    def _in_the_spread(self, moment: datetime) -> datetime:
        """``moment`` moved to this citizen's place in the morning's spread (``send_offset_s``;
        none for cycles listed before it existed)."""
        offset = timedelta(seconds=self._cycle.send_offset_s)
        return calendar.staggered(moment, offset, self._rules)

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
        elif result == "refusal" and self._decision is None and self._refusal_ends_cycle():
            self._decision = "refuse"
        if result in ("consent", "refusal"):
            await self._record_consent(reply, "agree" if result == "consent" else "refuse")
        return ReplyOutcome(result=result)

    def _refusal_ends_cycle(self) -> bool:
        """A refusal ends the month's cycle until its voucher is issued (afterwards it only
        withdraws a program-period consent for the following months)."""
        if workflow.patched(CONSENT_ON_FILE_AT_SEND):
            return self._state == CycleState.SCHEDULED or self._state in AWAITING_STATES
        return not self._consented_before

    def _judge(self, meaning: Literal["agree", "refuse", "unrecognised"]) -> ReplyResult:
        open_for_reply = (
            (self._state in AWAITING_STATES or self._requesting)
            and self._decision is None
            and not self._withdrawn
            and workflow.now() < calendar.consent_deadline(self._rules, self._cycle.month)
        )
        if open_for_reply:
            return {"agree": "consent", "refuse": "refusal"}.get(meaning, "unrecognised")  # type: ignore[return-value]
        # A consent that holds for the program period can be withdrawn at any time; it stops
        # the following months, not the voucher already issued.
        if meaning == "refuse" and (self._holds_program_consent() or self._awaits_send_day()):
            return "refusal"
        return "late"

    def _is_decided(self) -> bool:
        return self._decision is not None or self._withdrawn

    def _is_undecided(self) -> bool:
        return not self._is_decided()

    def _is_kept(self) -> bool:
        return not self._withdrawn

    def _awaits_send_day(self) -> bool:
        # A program-period cycle before its send day: a refusal stops the voucher on file.
        return (
            self._rules.consent_scope == "program_period"
            and self._state == CycleState.SCHEDULED
            and not self._withdrawn
            and workflow.patched(CONSENT_ON_FILE_AT_SEND)
        )

    def _holds_program_consent(self) -> bool:
        return self._rules.consent_scope == "program_period" and (
            self._consented_before or self._decision == "agree"
        )

    async def _consent_on_file(self) -> bool:
        if self._rules.consent_scope != "program_period":
            return False
        on_file: bool = await self._call(
            Records.consent_on_file,
            ConsentQuery(citizen_ref=self._cycle.citizen_ref, program_version=self._rules.version),
        )
        return on_file

    async def _record_consent(self, reply: Reply, decision: str) -> None:
        await self._call(
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
        )

    # --- voucher -----------------------------------------------------------------------------

    async def _issue_voucher(self, because: str) -> None:
        food = self._rules.voucher.per == "family_member"
        await self._call(
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
        )
        await self._enter(CycleState.VOUCHER_ISSUED, "voucher_issued", because=because)
