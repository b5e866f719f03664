"""One citizen's month in one program (SPEC.md §3): phone check, consent by SMS, voucher, its end.

Every message the cycle takes is declared in this file, after the run that reads as SPEC.md §3:
SDU's corrections and withdrawal, the citizen's replies, the wallet's and the provider's requests
on the voucher, and the ``status`` query. What differs between gas and food once the voucher is
issued is the voucher object the cycle holds (``gas_voucher``, ``food_voucher``); the steps every
part takes the same way, and the cycle's state, are in ``cycle_steps``.

Orchestration only: every date comes from ``rules.calendar`` applied to ``workflow.now()``, every
side effect is an activity. The cycle's input names its rules by content (``models.rulebook``), so a
definition edited mid-month never changes a cycle already running.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.bmg import Bmg
    from activities.records import Records
    from activities.sdu import Sdu
    from activities.wallet import Wallet
    from models.calls import ConsentAct, ConsentQuery, JournalEntry, PhoneLookup, VoucherIssue
    from models.cycle import (
        ACTIVATED_STATES,
        AWAITING_STATES,
        FINAL_STATES,
        Correction,
        CycleInput,
        CycleState,
        CycleStatus,
        Reply,
        ReplyOutcome,
        ReplyResult,
        Withdrawal,
    )
    from models.voucher import (
        AccountEntry,
        AccountShown,
        Activated,
        Confirmation,
        Consumption,
        FoodActivation,
        HandedOver,
        Purchase,
        Redeemed,
    )
    from rules import calendar
    from rules.replies import ReplyMeaning, parse_reply
    from workflows.cycle_steps import CycleSteps
    from workflows.food_voucher import FoodVoucher
    from workflows.gas_voucher import GasVoucher

ISSUED_STATES = frozenset(
    {CycleState.VOUCHER_ISSUED, CycleState.ACCOUNT_PENDING_CONFIRMATION, CycleState.ACTIVATED}
)


@workflow.defn(name="CitizenCycle")
class CitizenCycle:
    """The monthly cycle of SPEC.md §3 for one citizen, one program, one month."""

    @workflow.init
    def __init__(self, cycle: CycleInput) -> None:
        self._steps = CycleSteps(cycle)
        self._progress = self._steps.progress
        # Late additions are texted on arrival: the moment the intake admitted them.
        self._listed_at = cycle.listed_at or workflow.now()
        self._voucher: GasVoucher | FoodVoucher = (
            GasVoucher(self._steps)
            if self._steps.rules.voucher.kind == "gas_discount"
            else FoodVoucher(self._steps)
        )

    @workflow.run
    async def run(self, cycle: CycleInput) -> CycleStatus:
        """Run the cycle to exactly one final state and return what it looked like."""
        # 1. listed: started SCHEDULED (its search attributes came with the start); the row is
        # written with the phone's pseudonym once the phone check has answered.
        self._steps.log("listed", state=CycleState.SCHEDULED.value)
        self._steps.show()
        if self._progress.withdrawn:
            await self._steps.enter(CycleState.WITHDRAWN)  # SDU took them off before anything
        elif await self._phone_found():  # 2. phone check
            await self._voucher_on_file()  # food: a consent from an earlier month holds
            if not (self._progress.consented_before or self._progress.decided):
                await self._ask_consent()  # 3-4. consent request, reminder, replies
                if self._progress.decision == "agree" and self._progress.kept:
                    await self._steps.answer_first("the citizen's reply")
                    await self._issue_voucher("consent")  # 5. voucher, then confirmation
                    await self._confirm_by_sms()
            await self._conclude()  # 6-8. the voucher's life, or the month's end
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    # --- 2. phone check ----------------------------------------------------------------------

    async def _phone_found(self) -> bool:
        cycle = self._steps.cycle
        found = await self._steps.call(Bmg.find_phone, PhoneLookup(iin=cycle.citizen.iin))
        if self._progress.withdrawn:
            await self._steps.enter(CycleState.WITHDRAWN)  # withdrawn while BMG was asked
            return False
        if found.phone is None:
            entry = JournalEntry(
                program=cycle.program,
                month=cycle.month,
                iin=cycle.citizen.iin,
                event="NO_PHONE",
                at=workflow.now(),
            )
            await self._steps.call(Sdu.journal, entry)
            await self._steps.enter(CycleState.NO_PHONE, "no_phone", journaled="SDU")
            return False
        self._progress.phone, self._progress.phone_ref = found.phone, found.phone_ref
        await self._steps.record()  # the phone's pseudonym now routes replies to this cycle
        return True

    # --- 3-4. consent ------------------------------------------------------------------------

    async def _voucher_on_file(self) -> None:
        """Food's consent holds for the program period: whoever has consented (and not refused
        since) is not asked again, and the voucher comes on the send day; not after the
        version's ``consent_valid_until`` (seed 002: 31 July 2025), when everyone is asked again.

        Looked up at the send moment, not at listing: SDU lists next month while this month's
        replies still come in, and a consent or refusal given meanwhile must count.
        """
        rules, month = self._steps.rules, self._steps.cycle.month
        if not rules.consent_carries_over(month):  # gas; food 002 after 31 July 2025
            return
        send = self._in_the_spread(calendar.send_moment(rules, month))
        if await self._steps.sleep_until(
            send, "send day (consent on file?)", lambda: self._progress.decided
        ):
            return
        query = ConsentQuery(
            citizen_ref=self._steps.cycle.citizen_ref, program_version=rules.version
        )
        self._progress.consented_before = await self._steps.call(Records.consent_on_file, query)
        if self._progress.consented_before:
            await self._issue_voucher("consent on file")

    async def _ask_consent(self) -> None:
        """The consent request at its moment, one reminder, then the replies until the deadline."""
        steps, progress = self._steps, self._progress
        rules, month = steps.rules, steps.cycle.month
        deadline = calendar.consent_deadline(rules, month)
        first = self._in_the_spread(calendar.first_request_moment(rules, month, self._listed_at))
        if first >= deadline or await steps.sleep_until(
            first, "consent request SMS", lambda: progress.withdrawn
        ):
            return
        # Replies count from the moment the request is on its way: a citizen may answer before
        # the gateway's acceptance reaches the cycle (a fast reply, a worker restart).
        progress.requesting = True
        # Only a withdrawal calls the request off: a reply means it has reached the citizen.
        if not await steps.send_sms(
            "consent_request", give_up_at=deadline, wanted=lambda: progress.kept
        ):
            progress.requesting = False  # never asked: the cycle expires unasked
            return
        requested_at = workflow.now()
        await steps.enter(CycleState.AWAITING_CONSENT, "consent_requested")
        if calendar.reminder_in_time(rules, month, requested_at):
            due = calendar.reminder_due(rules, requested_at)
            if not await steps.sleep_until(due, "reminder SMS", lambda: progress.decided):
                undecided = lambda: not progress.decided  # noqa: E731
                if await steps.send_sms("reminder", give_up_at=deadline, wanted=undecided):
                    await steps.enter(CycleState.REMINDED, "reminded")
        await steps.sleep_until(deadline, "consent deadline", lambda: progress.decided)

    def _in_the_spread(self, moment: datetime) -> datetime:
        """``moment`` moved to this citizen's place in the morning's spread (``send_offset_s``)."""
        offset = timedelta(seconds=self._steps.cycle.send_offset_s)
        return calendar.staggered(moment, offset, self._steps.rules)

    # --- 5. consent recorded, voucher issued -------------------------------------------------

    async def _issue_voucher(self, because: str) -> None:
        steps = self._steps
        cycle, rules = steps.cycle, steps.rules
        food = rules.voucher.per == "family_member"
        issue = VoucherIssue(
            voucher_id=steps.voucher_id,
            cycle_id=steps.cycle_id,
            program=cycle.program,
            month=cycle.month,
            region=cycle.citizen.region,
            iin=cycle.citizen.iin,
            valid_until=calendar.voucher_valid_until(rules, cycle.month),
            amount_kzt=cycle.voucher_amount_kzt,
            members=cycle.citizen.family_size if food else None,
            issued_at=workflow.now(),
        )
        await steps.call(Wallet.issue_voucher, issue)
        await steps.enter(CycleState.VOUCHER_ISSUED, "voucher_issued", because=because)

    async def _confirm_by_sms(self) -> None:
        """The confirmation SMS tells the citizen to go and find the voucher, so it goes out
        once the voucher is in the wallet; not after the voucher can no longer be activated (a
        consent at 23:59 on the last day waits for 09:00, by which time it has lapsed)."""
        closes = calendar.activation_window(self._steps.rules, self._steps.cycle.month)[1]
        await self._steps.send_sms(
            "confirmation", give_up_at=closes, wanted=lambda: self._progress.kept
        )

    # --- 6-8. the voucher's life, or the month's end -----------------------------------------

    async def _conclude(self) -> None:
        steps, progress = self._steps, self._progress
        # The wallet may have taken the voucher further while its confirmation SMS waited for
        # the sending window (a consent at 22:00, an activation at 08:00).
        issued = steps.state in ISSUED_STATES
        if progress.withdrawn:
            if issued:
                await self._close_withdrawn_voucher()
            await steps.enter(CycleState.WITHDRAWN)
        elif progress.decision == "refuse":
            await steps.enter(CycleState.REFUSED)
        elif issued:
            await self._voucher_life()
        else:
            await steps.enter(CycleState.CONSENT_EXPIRED)

    async def _close_withdrawn_voucher(self) -> None:
        """SDU has withdrawn a citizen whose voucher is issued: answer SDU, then close the
        voucher in the wallet (SDU's call does not wait for the wallet)."""
        await self._steps.answer_first("SDU's withdrawal")
        await self._steps.notify_wallet("closed", reason="withdrawn")

    async def _voucher_life(self) -> None:
        steps, progress = self._steps, self._progress
        closes = calendar.activation_window(steps.rules, steps.cycle.month)[1]
        # An activated gas voucher can no longer be withdrawn nor expire: it goes on to its
        # hand-over at once. A food voucher lives until the window closes, its month's end.
        gas = isinstance(self._voucher, GasVoucher)

        def done_waiting() -> bool:
            return progress.withdrawn or (gas and steps.state == CycleState.ACTIVATED)

        await steps.sleep_until(closes, "activation window closes", done_waiting)
        async with steps.lock:  # a wallet request accepted before the deadline completes
            activated = steps.state == CycleState.ACTIVATED
            if progress.withdrawn:
                await self._close_withdrawn_voucher()
                await steps.enter(CycleState.WITHDRAWN)
            elif not activated:
                await steps.notify_wallet("expired")
                await steps.enter(CycleState.VOUCHER_EXPIRED, "voucher_expired")
        if activated and progress.kept:
            await self._voucher.use()  # gas: hand-over and settlement; food: the lapse

    # === messages ============================================================================

    @workflow.query
    def status(self) -> CycleStatus:
        """The cycle's state and history, as ops and the wallet see it."""
        steps, voucher = self._steps, self._voucher
        return CycleStatus(
            cycle_id=steps.cycle_id,
            program=steps.cycle.program,
            month=steps.cycle.month,
            region=steps.cycle.citizen.region,
            state=steps.state,
            voucher_id=steps.voucher_id,
            valid_until=calendar.voucher_valid_until(steps.rules, steps.cycle.month),
            amount_kzt=steps.cycle.voucher_amount_kzt,
            balance_kzt=voucher.balance_kzt if isinstance(voucher, FoodVoucher) else None,
            account=voucher.account if isinstance(voucher, GasVoucher) else None,
            discount_kzt=voucher.discount_kzt if isinstance(voucher, GasVoucher) else None,
            attention=self._progress.attention,
            history=list(self._progress.history),
        )

    # --- SDU (SPEC.md §3 step 1) -------------------------------------------------------------

    @workflow.update
    async def correct(self, correction: Correction) -> CycleState:
        """SDU corrected the citizen's record before the voucher: the cycle goes on with it (the
        language of the next SMS, the region, a food voucher's value by the family's size)."""
        self._may_correct(correction)
        before = self._steps.cycle.citizen.model_dump()
        after = correction.citizen.model_dump()
        changed = sorted(key for key, value in after.items() if before[key] != value)
        if not changed and correction.voucher_amount_kzt == self._steps.cycle.voucher_amount_kzt:
            return self._steps.state
        self._progress.cycle = self._steps.cycle.model_copy(
            update={
                "citizen": correction.citizen,
                "voucher_amount_kzt": correction.voucher_amount_kzt,
            }
        )
        self._steps.log("corrected", fields=", ".join(changed))
        self._steps.moved_to(correction.citizen.region)
        await self._steps.record()
        return self._steps.state

    @correct.validator
    def _may_correct(self, correction: Correction) -> None:
        progress = self._progress
        if correction.citizen.iin != progress.cycle.citizen.iin:
            raise ApplicationError("the correction names another citizen", type="another_citizen")
        # Until the voucher is on its way: after a consent (or one on file) it is being issued
        # with the record the cycle holds, however long the wallet takes.
        unissued = progress.state == CycleState.SCHEDULED or progress.state in AWAITING_STATES
        undecided = progress.decision is None and not progress.consented_before
        if progress.withdrawn or not unissued or not undecided:
            raise ApplicationError(
                f"the cycle is {progress.state}: too late to correct", type="too_late_to_correct"
            )

    @workflow.update
    async def withdraw(self, withdrawal: Withdrawal) -> CycleState:
        """SDU removed the citizen from the list: the cycle ends ``WITHDRAWN``. Asked again
        (SDU retrying a call whose answer it lost), it answers the same."""
        async with self._steps.lock:  # an activation in flight decides first
            self._may_withdraw(withdrawal)
            if not self._progress.withdrawn:
                self._progress.withdrawn = True
                self._steps.log("withdrawal_requested", reason=withdrawal.reason)
            return CycleState.WITHDRAWN

    @withdraw.validator
    def _may_withdraw(self, withdrawal: Withdrawal) -> None:
        state = self._progress.state
        if self._progress.withdrawn:
            return
        if state in ACTIVATED_STATES:
            raise ApplicationError("the voucher is already activated", type="already_activated")
        if state in FINAL_STATES:
            raise ApplicationError(f"the cycle already ended {state}", type="already_final")

    # --- the citizen (SPEC.md §3 step 4) -----------------------------------------------------

    @workflow.update
    async def reply(self, reply: Reply) -> ReplyOutcome:
        """Take an inbound SMS routed here by the webhook; answer what it meant for the cycle.

        Only a reply that changes the cycle gets here (``_may_reply``): a consent or refusal it
        is waiting for, a refusal that withdraws a consent for the program period.
        """
        progress = self._progress
        if reply.message_id in progress.replies_seen:
            return ReplyOutcome(result="duplicate")
        progress.replies_seen.add(reply.message_id)
        result = self._judge(parse_reply(reply.text, self._steps.rules.reply_codes))
        self._steps.log("reply", result=result, message_id=reply.message_id)
        if result == "consent":
            progress.decision = "agree"
        elif result == "refusal" and progress.decision is None and self._before_voucher():
            progress.decision = "refuse"  # a refusal ends the month's cycle until its voucher
        elif result == "refusal":
            progress.consent_withdrawn = True  # the following months ask again
        if result in ("consent", "refusal"):
            await self._record_consent(reply, "agree" if result == "consent" else "refuse")
        return ReplyOutcome(result=result)

    @reply.validator
    def _may_reply(self, reply: Reply) -> None:
        """Refuse, so that nothing is written to the cycle's history, a reply that would change
        nothing: the refusal's type is the webhook's answer (``duplicate``, ``unrecognised``,
        ``late``, or ``refusal`` for a consent this cycle has already seen withdrawn). One phone
        texting the short number in a loop cannot walk the cycle to Temporal's history limit.
        """
        progress = self._progress
        if reply.message_id in progress.replies_seen:
            raise ApplicationError("this message was taken already", type="duplicate")
        result = self._judge(parse_reply(reply.text, self._steps.rules.reply_codes))
        if result in ("late", "unrecognised"):
            raise ApplicationError(f"the reply changes nothing: {result}", type=result)
        withdraws = result == "refusal" and not (
            progress.decision is None and self._before_voucher()
        )
        if withdraws and progress.consent_withdrawn:
            raise ApplicationError("the consent is withdrawn already", type="refusal")

    def _judge(self, meaning: ReplyMeaning) -> ReplyResult:
        progress = self._progress
        open_for_reply = (
            (progress.state in AWAITING_STATES or progress.requesting)
            and not progress.decided
            and workflow.now() < calendar.consent_deadline(self._steps.rules, progress.cycle.month)
        )
        if open_for_reply and meaning != "unrecognised":
            return "consent" if meaning == "agree" else "refusal"
        if open_for_reply:
            return "unrecognised"
        # A consent that holds for the program period can be withdrawn at any time; it stops
        # the following months, not the voucher already issued. Before the send day, a refusal
        # stops the voucher on file.
        program_period = self._steps.rules.consent_carries_over(progress.cycle.month)
        holds_consent = progress.consented_before or progress.decision == "agree"
        awaits_send_day = progress.state == CycleState.SCHEDULED and progress.kept
        if meaning == "refuse" and program_period and (holds_consent or awaits_send_day):
            return "refusal"
        return "late"

    def _before_voucher(self) -> bool:
        return self._progress.state == CycleState.SCHEDULED or self._progress.state in (
            AWAITING_STATES
        )

    async def _record_consent(self, reply: Reply, decision: str) -> None:
        cycle = self._steps.cycle
        act = ConsentAct(
            message_id=reply.message_id,
            cycle_id=self._steps.cycle_id,
            citizen_ref=cycle.citizen_ref,
            iin=cycle.citizen.iin,
            program=cycle.program,
            program_version=self._steps.rules.version,
            month=cycle.month,
            decision=decision,
            received_at=reply.received_at,
            recorded_at=workflow.now(),
        )
        await self._steps.call(Records.record_consent, act)

    # --- the wallet and the provider on a gas voucher (SPEC.md §3 steps 6-7) -----------------

    @workflow.update
    async def enter_account(self, entry: AccountEntry) -> AccountShown:
        """The citizen entered a personal account: show its details, or say why not."""
        return await self._gas().enter_account(entry)

    @enter_account.validator
    def _may_enter_account(self, entry: AccountEntry) -> None:
        self._gas().may_enter_account()

    @workflow.update
    async def confirm(self, confirmation: Confirmation) -> Activated:
        """The citizen confirmed the account shown: the voucher is activated on it."""
        return await self._gas().confirm()

    @confirm.validator
    def _may_confirm(self, confirmation: Confirmation) -> None:
        self._gas().may_confirm()

    @workflow.signal
    def handed_over(self, notice: HandedOver) -> None:
        """The month's hand-over reached the provider with this voucher in it."""
        self._gas().hand_over()

    @workflow.signal
    def consumption(self, reading: Consumption) -> None:
        """The provider accrued the month's gas on the account; settlement happens once."""
        self._gas().take_consumption(reading)

    # --- the wallet and the shops on a food voucher (SPEC.md §3 steps 6-7) -------------------

    @workflow.update
    async def activate(self, activation: FoodActivation) -> Activated:
        """The citizen activated the voucher: its balance is the voucher's amount."""
        return await self._food().activate()

    @activate.validator
    def _may_activate(self, activation: FoodActivation) -> None:
        self._food().may_activate()

    @workflow.update
    async def redeem(self, purchase: Purchase) -> Redeemed:
        """A shop's payment: drawn from the balance once, whatever the retries."""
        return await self._food().redeem(purchase)

    @redeem.validator
    def _may_redeem(self, purchase: Purchase) -> None:
        self._food().may_redeem(purchase)

    def _gas(self) -> GasVoucher:
        if not isinstance(self._voucher, GasVoucher):
            raise ApplicationError("this is not a gas voucher", type="voucher_not_issued")
        return self._voucher

    def _food(self) -> FoodVoucher:
        if not isinstance(self._voucher, FoodVoucher):
            raise ApplicationError("this is not a food voucher", type="voucher_not_issued")
        return self._voucher
