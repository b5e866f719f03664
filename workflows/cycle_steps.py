"""What every step of a citizen cycle does the same way, and the one object holding its state.

``CitizenCycle`` owns a :class:`CycleSteps`; so do the voucher objects (``gas_voucher``,
``food_voucher``) it hands the issued voucher to. Entering a state (seen in the Web UI, the
database and the cycle's history), calling an outside system, texting the citizen inside the
sending window and sleeping until a moment are written once, here.

Every event a cycle records is paid a million times a month (SPEC.md §6; ``make bench`` counts
them), so the steps are lean by design: outside calls are local activities (one marker each, no
round-trip through a task queue, no workflow task of their own), a state change is one
search-attribute upsert, and a database write rides with the call it belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.records import Records
    from activities.sms_gateway import SmsGateway
    from activities.wallet import Wallet
    from models.calls import CycleSnapshot, OutgoingSms, SmsKind, VoucherNotice
    from models.cycle import AWAITING_STATES, CycleEvent, CycleInput, CycleState, voucher_id
    from models.programs import ProgramVersion
    from models.rulebook import resolve
    from models.search import ATTENTION, CYCLE_STATE, REGION
    from rules import calendar

# Outside systems may be down for hours: keep retrying, backing off to every ten minutes. The
# idempotency keys make every retry safe.
PATIENT = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=10))
CALL_TIMEOUT = timedelta(seconds=15)  # the HTTP timeout (10 s) and a margin
# What a waiting caller (the wallet) is given at most: three tries of three seconds, half a second
# and a second apart (about 10.5 s). A local activity's schedule-to-close deadline is checked
# between attempts, not during one, so the attempts' own timeout and number bound it.
ASK_ATTEMPT = timedelta(seconds=3)
ASK_RETRIES = RetryPolicy(initial_interval=timedelta(seconds=0.5), maximum_attempts=3)
# A local activity that fails for good raises its ApplicationError itself; one that times out,
# an ActivityError.
FAILED = (ActivityError, ApplicationError)
RECORD_TIMEOUT = timedelta(seconds=10)

# The gateway's 429 comes back to the cycle (``_try_until``), which waits on its own clock; a
# worker's own pacing (``Paced``) and the gateway's 5xx are retried in the local activity.
SMS_RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["RateLimited"],
)

# Every retry of a local activity goes through a workflow timer and a fresh attempt: below every
# retry policy's first interval, this threshold keeps the SDK from retrying inside the workflow
# task. Retried there, an attempt leaves its start-to-close timer running (sdk-core's TimeoutBag):
# it may time out a later attempt, and panics ("receive half not dropped") if it fires after its
# worker has stopped. A failed attempt costs a marker and a timer; the happy path costs nothing.
LOCAL_RETRIES = timedelta(milliseconds=250)

# An update's answer reaches its caller when the workflow task that ran it completes, and a task
# is held open while the local activities it scheduled run. The shortest timer ends the task.
ANSWER_NOW = timedelta(milliseconds=1)

Worker = TypeVar("Worker")  # the class holding an activity method
Arg = TypeVar("Arg")
Answer = TypeVar("Answer")
Activity = Callable[[Worker, Arg], Awaitable[Answer]]

# What each outside call is, as the Web UI shows it on the activity (never a personal datum).
CALL_SUMMARIES = {
    "Bmg.find_phone": "BMG: look up the citizen's phone number",
    "Sdu.journal": "SDU: journal entry NO_PHONE",
    "Wallet.issue_voucher": "Social Wallet: issue the voucher",
    "Wallet.notify": "Social Wallet: notice on the voucher",
    "Records.record_cycle": "product database: the cycle's row",
    "Records.record_consent": "product database: record the consent act",
    "Records.consent_on_file": "product database: consent on file from an earlier month?",
    "Records.account_taken": "product database: is the account taken this month?",
    "Records.record_activation": "product database: record the activation and the cycle's row",
    "Records.claim_account": (
        "product database: claim the personal account, record the activation and the cycle's row"
    ),
    "Records.record_redemption": "product database: record the purchase",
    "GasProvider.find_account": "gas provider: find the personal account",
    "GasProvider.settle": "gas provider: settle the discount",
    "ReferenceData.gas_tariff": "reference data: the region's gas tariff for the month",
}


@dataclass
class CycleProgress:
    """Everything a cycle has learned so far, up to its voucher: the one mutable state of a
    ``CitizenCycle`` (what happens to the voucher afterwards is its voucher object's)."""

    cycle: CycleInput  # the citizen's record; SDU's correction replaces it
    state: CycleState = CycleState.SCHEDULED
    history: list[CycleEvent] = field(default_factory=list)
    phone: str | None = None
    phone_ref: str | None = None  # the phone's pseudonym: replies are routed by it
    requesting: bool = False  # the consent request is on its way: replies count from now
    decision: Literal["agree", "refuse"] | None = None
    consented_before: bool = False  # a program-period consent on file from an earlier month
    replies_seen: set[str] = field(default_factory=set)
    consent_withdrawn: bool = False  # a refusal after the voucher withdrew the standing consent
    withdrawn: bool = False
    attention: str | None = None  # why ops should look (the Web UI filters on it)

    @property
    def decided(self) -> bool:
        """The citizen answered (or SDU withdrew them): nothing more to ask."""
        return self.decision is not None or self.withdrawn

    @property
    def kept(self) -> bool:
        return not self.withdrawn


class CycleSteps:
    """The steps every part of a cycle takes the same way, over its :class:`CycleProgress`."""

    def __init__(self, cycle: CycleInput) -> None:
        self.progress = CycleProgress(cycle=cycle)
        # A worker without the cycle's exact rules fails the task here (UnknownRules), retried
        # until one that has them takes it: never other rules.
        self._rules = resolve(cycle.rules_ref)
        self._attention_shown: str | None = None
        self.cycle_id = workflow.info().workflow_id
        self.voucher_id = voucher_id(self.cycle_id)
        # The wallet's requests on an issued voucher take turns, and the activation deadline
        # waits for one in flight: a confirmation accepted at 23:59:59 completes.
        self.lock = asyncio.Lock()

    @property
    def cycle(self) -> CycleInput:
        return self.progress.cycle

    @property
    def rules(self) -> ProgramVersion:
        return self._rules

    @property
    def state(self) -> CycleState:
        return self.progress.state

    # --- what is seen of the cycle -----------------------------------------------------------

    async def enter(
        self,
        state: CycleState,
        event: str | None = None,
        *,
        row_written: bool = False,
        **detail: str,
    ) -> None:
        """Move to ``state``: the history, the Web UI's ``CycleState`` (with ``Attention``, if
        it changed since, in the same upsert) and the database, unless the write that made the
        change kept the row already (``row_written``: a write of ``row(state)``)."""
        self.progress.state = state
        self.log(event or state.value.lower(), state=state.value, **detail)
        workflow.logger.info("cycle %s", state.value)
        self.show()
        self._show_attributes(CYCLE_STATE.value_set(state.value))
        if not row_written:
            await self.record()

    def _show_attributes(self, *updates: SearchAttributeUpdate[str]) -> None:
        """One upsert (one history event) for what the Web UI filters on, ``Attention`` in it
        when it changed since the last one."""
        attention = self.progress.attention
        if attention != self._attention_shown:
            shown = ATTENTION.value_set(attention) if attention else ATTENTION.value_unset()
            updates = (*updates, shown)
            self._attention_shown = attention
        workflow.upsert_search_attributes(list(updates))

    def show(self, waiting: str | None = None) -> None:
        """The Web UI's current details: one line saying where the cycle stands and what it
        waits for until when, in Almaty time (``AWAITING_CONSENT — reminder SMS due …``)."""
        line = f"{self.state.value} since {_almaty(workflow.now())}"
        if waiting is not None:
            line = f"{self.state.value} — {waiting}"
        if self.state == CycleState.SCHEDULED or self.state in AWAITING_STATES:
            deadline = calendar.consent_deadline(self.rules, self.cycle.month)
            line += f"; consent deadline {_almaty(deadline - timedelta(minutes=1))}"
        if self.progress.attention:
            line += f"; attention: {self.progress.attention}"
        workflow.set_current_details(line)

    async def flag(self, attention: str, **detail: str) -> None:
        """Ask ops to look at this cycle: the Web UI filters on ``Attention``, the month page
        lists it from the database."""
        self.progress.attention = attention
        self.log("attention", reason=attention, **detail)
        self._show_attributes()
        self.show()
        await self.record()

    async def unflag(self, attention: str) -> None:
        """What ops were asked to look at (``attention``) is resolved: the flag comes off."""
        if self.progress.attention != attention:
            return
        self.progress.attention = None
        self.log("attention_cleared", reason=attention)
        self._show_attributes()
        self.show()
        await self.record()

    def moved_to(self, region: str) -> None:
        """The citizen's region changed (SDU's correction): the Web UI filters on it."""
        workflow.upsert_search_attributes([REGION.value_set(region)])

    def log(self, event: str, **detail: str) -> None:
        self.progress.history.append(CycleEvent(at=workflow.now(), event=event, detail=detail))

    async def record(self) -> None:
        """Keep the cycle's row current: reports and the routing of replies read it."""
        await workflow.execute_local_activity_method(
            Records.record_cycle,
            self.row(self.state),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=PATIENT,
            local_retry_threshold=LOCAL_RETRIES,
            summary=CALL_SUMMARIES["Records.record_cycle"],
        )

    def row(self, state: CycleState) -> CycleSnapshot:
        """The cycle's row in ``state``: what ``record`` writes, or a write that changes the
        state carries with it (the account's claim)."""
        cycle = self.cycle
        return CycleSnapshot(
            cycle_id=self.cycle_id,
            program=cycle.program,
            month=cycle.month,
            region=cycle.citizen.region,
            state=state.value,
            citizen_ref=cycle.citizen_ref,
            voucher_id=self.voucher_id,
            phone_ref=self.progress.phone_ref,
            short_number=self.rules.short_number,
            at=workflow.now(),
            attention=self.progress.attention,
        )

    # --- outside systems ---------------------------------------------------------------------

    async def call(
        self, activity: Activity[Worker, Arg, Answer], arg: Arg, summary: str | None = None
    ) -> Answer:
        """Run a local activity with the patient retry policy: it goes through, however late."""
        return await workflow.execute_local_activity_method(
            activity,
            arg,
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=PATIENT,
            local_retry_threshold=LOCAL_RETRIES,
            summary=summary or _summary_of(activity),
        )

    async def ask(self, activity: Activity[Worker, Arg, Answer], arg: Arg) -> Answer:
        """Run a local activity for a caller who is waiting (the wallet): a few tries within
        about ten seconds (``ASK_RETRIES``), then a retryable refusal instead of an answer that
        never comes."""
        try:
            return await workflow.execute_local_activity_method(
                activity,
                arg,
                start_to_close_timeout=ASK_ATTEMPT,
                retry_policy=ASK_RETRIES,
                local_retry_threshold=LOCAL_RETRIES,
                summary=_summary_of(activity),
            )
        except FAILED as failed:
            raise ApplicationError(
                "an outside system did not answer; try again", type="temporarily_unavailable"
            ) from failed

    async def notify_wallet(self, kind: str, **detail: str | int) -> None:
        """Tell the wallet what became of the voucher (expired, closed, its discount)."""
        notice = VoucherNotice(voucher_id=self.voucher_id, type=kind, detail=dict(detail))
        await self.call(Wallet.notify, notice, f"Social Wallet: voucher {kind}")

    # --- time --------------------------------------------------------------------------------

    async def answer_first(self, caller: str) -> None:
        """Let the update that has just decided the step (a consent, a withdrawal) answer
        ``caller`` before the cycle goes on to the outside systems: without this, the answer
        would wait until the wallet had issued (or closed) the voucher and the gateway had taken
        the confirmation SMS (seconds when they are slow, and the caller's request times out
        meanwhile)."""
        await workflow.sleep(ANSWER_NOW, summary=f"{caller} answered before going on")

    async def sleep_until(self, moment: datetime, summary: str, wake: Callable[[], bool]) -> bool:
        """Sleep until ``moment``; return True early if ``wake()`` becomes true first.

        ``summary`` names what the moment is (``reminder SMS``): the timer's summary and, while
        it runs, the cycle's current details say so, with the moment in Almaty time.
        """
        delay = moment - workflow.now()
        if wake() or delay <= timedelta(0):
            return wake()
        self.show(f"{summary} due {_almaty(moment)}")
        try:
            await workflow.wait_condition(
                wake, timeout=delay, timeout_summary=f"{summary} at {_almaty(moment)}"
            )
        except TimeoutError:
            self.show()
            return False
        self.show()
        return True

    def activation_open(self, states: frozenset[CycleState]) -> None:
        """Refuse a wallet request outside the activation window or in another state."""
        opens, closes = calendar.activation_window(self.rules, self.cycle.month)
        if not opens <= workflow.now() < closes:
            raise ApplicationError("outside the activation window", type="activation_closed")
        if self.state not in states or self.progress.withdrawn:
            raise ApplicationError(f"the voucher is {self.state}", type="voucher_not_issued")

    # --- SMS ---------------------------------------------------------------------------------

    async def send_sms(
        self, kind: SmsKind, *, give_up_at: datetime, wanted: Callable[[], bool]
    ) -> bool:
        """Hand an SMS to the gateway inside the sending window; return whether it went.

        A gateway down until the window closes does not make the citizen's phone ring at night:
        the SMS waits for the next opening (the same idempotency key, so never twice). It is
        dropped at ``give_up_at`` (the consent deadline, say), or as soon as it is no longer
        ``wanted`` (the citizen has answered, SDU withdrew them): the cycle goes on at once.
        """

        def unwanted() -> bool:
            return not wanted()

        while True:
            opens = calendar.into_window(workflow.now(), self.rules)
            if opens >= give_up_at:
                return self._not_sent(kind, "past its deadline")
            if await self.sleep_until(opens, f"{kind} SMS: sending window opens", unwanted):
                return self._not_sent(kind, "no longer needed")
            bound = min(calendar.window_closes(workflow.now(), self.rules), give_up_at)
            outcome = await self._try_until(kind, bound, unwanted)
            if outcome == "sent":
                return True
            if outcome == "unwanted":
                return self._not_sent(kind, "no longer needed")
            # Out of time for this window (or the gateway asked to wait beyond it).
            self.log("sms_delayed", kind=kind, until="the next sending window")
            if await self.sleep_until(bound, f"{kind} SMS: next sending window", unwanted):
                return self._not_sent(kind, "no longer needed")

    async def _try_until(
        self, kind: SmsKind, bound: datetime, unwanted: Callable[[], bool]
    ) -> Literal["sent", "out_of_time", "unwanted"]:
        """Goes at the gateway until ``bound``; the cycle stops waiting for them if the SMS
        becomes unwanted. The send is abandoned, not cancelled (a cancel racing its completion
        fails the workflow task): the gateway may still take it, once (its key).

        A gateway asking to wait (429 ``Retry-After``) is waited for on the cycle's own clock,
        and a wait beyond ``bound`` sends nothing in this window: no SMS at night.
        """
        while True:
            sending = asyncio.create_task(
                self._hand_to_gateway(kind, within=bound - workflow.now())
            )
            await workflow.wait_condition(lambda: sending.done() or unwanted())  # noqa: B023
            if not sending.done():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError, *FAILED):
                    await sending
                return "unwanted"
            try:
                sending.result()
            except ActivityError as failed:
                if failed.retry_state == RetryState.TIMEOUT:
                    return "out_of_time"
                raise
            except ApplicationError as refused:
                wait = _asked_to_wait(refused)
                if workflow.now() + wait >= bound:
                    return "out_of_time"
                retry = workflow.now() + wait
                if await self.sleep_until(
                    retry, f"{kind} SMS: the gateway asked to wait", unwanted
                ):
                    return "unwanted"
                continue
            return "sent"

    def _not_sent(self, kind: SmsKind, reason: str) -> bool:
        self.log("sms_not_sent", kind=kind, reason=reason)
        return False

    async def _hand_to_gateway(self, kind: SmsKind, *, within: timedelta) -> None:
        text_kind: Literal["consent_request", "confirmation"] = (
            "confirmation" if kind == "confirmation" else "consent_request"
        )
        assert self.progress.phone is not None, "an SMS is only sent after the phone check"
        cycle = self.cycle
        # A local activity: the gateway's rate is kept by the worker's pacing (SmsGateway), and
        # the cycle's history takes one marker per SMS instead of an activity's round trip.
        await workflow.execute_local_activity_method(
            SmsGateway.send,
            OutgoingSms(
                cycle_id=self.cycle_id,
                kind=kind,
                sender=self.rules.short_number,
                to=self.progress.phone,
                text=self.rules.text(text_kind, cycle.citizen.lang),
                program=cycle.program,
                month=cycle.month,
                region=cycle.citizen.region,
                at=workflow.now(),
            ),
            start_to_close_timeout=CALL_TIMEOUT,
            schedule_to_close_timeout=within,
            retry_policy=SMS_RETRIES,
            local_retry_threshold=LOCAL_RETRIES,
            cancellation_type=ActivityCancellationType.ABANDON,
            summary=f"SMS gateway: {kind} SMS from {self.rules.short_number}",
        )
        self.log("sms_sent", kind=kind)


def _asked_to_wait(refused: ApplicationError) -> timedelta:
    """How long the gateway asked to wait (its 429's ``Retry-After``); re-raise anything else."""
    if refused.type != "RateLimited":
        raise refused
    return refused.next_retry_delay or timedelta(minutes=1)


def _summary_of(activity: Callable[..., object]) -> str:
    name = getattr(activity, "__qualname__", "")
    return CALL_SUMMARIES.get(name, name)


def _almaty(moment: datetime) -> str:
    return f"{moment.astimezone(calendar.ALMATY):%Y-%m-%d %H:%M} Almaty"
