"""The one way into the workflows from outside one: starting, asking and telling the citizen
cycles, the month's intake and hand-over.

The API, the fan-out activities, the tests and the benchmarks all go through
:class:`CycleClient`, which calls the workflow classes' typed handlers (``CitizenCycle.reply``,
never ``"reply"``) and turns Temporal's answers into the domain's: a cycle's refusal is
:class:`CycleRefused` with the cycle's own code, a cycle no longer running is :class:`CycleGone`.
A cycle's input is built here, in :meth:`CycleClient.cycle_input`, from one program book.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Literal, TypedDict, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    Priority,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from models.coordination import HandoverInput
from models.cycle import (
    ACTIVATED_STATES,
    Citizen,
    Correction,
    CycleInput,
    CycleState,
    CycleStatus,
    Reply,
    ReplyResult,
    Withdrawal,
    cycle_id,
)
from models.programs import ProgramBook, ProgramVersion
from models.reference import Reference
from models.rulebook import rules_ref
from models.search import CYCLE_STATE, cycle_attributes
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
from rules.listing import prepare_cycle
from workflows.citizen_cycle import CitizenCycle
from workflows.gas_handover import GasHandover
from workflows.month_intake import Admission, Admitted, IntakeInput, MonthIntake

Arg = TypeVar("Arg")
Answer = TypeVar("Answer")
CycleUpdate = UpdateMethodMultiParam[[CitizenCycle, Arg], Answer]
WithdrawalVerdict = Literal["WITHDRAWN", "already_activated", "already_final", "no_cycle"]


class _StartOptions(TypedDict):
    id: str
    task_queue: str
    id_reuse_policy: WorkflowIDReusePolicy
    search_attributes: TypedSearchAttributes
    static_summary: str
    static_details: str
    priority: Priority


class CycleRefused(Exception):
    """The workflow refused the request; ``code`` is its reason (``account_not_found``, …)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class CycleGone(Exception):
    """No cycle runs under that ID: it has ended (its month is over) or never started."""


def _static_details(cycle: CycleInput, rules: ProgramVersion) -> str:
    """What the Web UI shows of a cycle before it is opened further: program, month, region,
    pseudonym and the month's moments (Almaty time); no IIN, no phone number."""
    month = cycle.month

    def almaty(moment: datetime) -> str:
        return f"{moment.astimezone(calendar.ALMATY):%Y-%m-%d %H:%M}"

    opens, closes = calendar.activation_window(rules, month)
    return "\n".join(
        [
            f"**{rules.title}** ({rules.version})",
            "",
            f"- program: {cycle.program}; month: {month}; region: {cycle.citizen.region} "
            "(at listing)",
            f"- citizen pseudonym: {cycle.citizen_ref}",
            f"- consent SMS from {rules.short_number} on "
            f"{almaty(calendar.send_moment(rules, month))} Almaty; consent deadline "
            f"{almaty(calendar.consent_deadline(rules, month) - timedelta(minutes=1))}",
            f"- activation {almaty(opens)} to {almaty(closes - timedelta(minutes=1))}",
            "- where it stands now: Current Details, and the `status` query (Queries)",
        ]
    )


def intake_id(program: str, month: str) -> str:
    """The workflow ID of a program-month's list intake."""
    return f"intake-{program}-{month}"


def handover_id(program: str, month: str) -> str:
    """The workflow ID of a gas month's hand-over."""
    return f"handover-{program}-{month}"


class CycleClient:
    """Typed calls into the cycles, the intakes and the hand-overs of one Temporal namespace.

    Args:
        client: A client with the product's data converter (``client.product_client``).
        task_queue: The cycles' task queue (``TASK_QUEUE``).
        programs: The program book every cycle's rules come from.
        reference: The reference figures a voucher's value is fixed from (the MRP).
        send_spread: The send-day morning's spread (``SEND_SPREAD_MINUTES``).
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        programs: ProgramBook,
        reference: Reference,
        send_spread: timedelta,
    ) -> None:
        self.client = client
        self._task_queue = task_queue
        self._programs = programs
        self._reference = reference
        self._send_spread = send_spread

    # --- starting ----------------------------------------------------------------------------

    def cycle_input(
        self,
        program: str,
        month: str,
        *,
        citizen: Citizen,
        citizen_ref: str,
        listed_at: datetime | None = None,
    ) -> CycleInput:
        """The input of ``citizen``'s cycle: the rules in force for ``month``, the voucher's
        value fixed at listing, the citizen's moment in the morning's spread."""
        rules = self._programs.for_month(program, month)
        if rules is None:
            raise ValueError(f"no {program} program version covers {month}")
        return prepare_cycle(
            rules,
            month=month,
            citizen=citizen,
            citizen_ref=citizen_ref,
            # Only a food voucher is worth MRPs: a gas month needs no MRP figure.
            mrp_kzt=self._reference.mrp(int(month[:4]))
            if rules.voucher.kind == "fixed_mrp"
            else None,
            listed_at=listed_at,
            send_spread=self._send_spread,
        )

    async def start(self, cycle: CycleInput, *, fan_out: str | None = None) -> bool:
        """Start ``cycle``; False if that citizen's cycle for the month already exists.

        The workflow ID is deterministic and a duplicate is refused by Temporal itself, even
        after the first cycle closed: a citizen listed twice in a month has one cycle, never two.
        ``fan_out`` names the fan-out starting it (``activities.cycles.fan_out_key``): the
        cycle's tasks are dispatched fairly against other fan-outs' and other cycles' (the
        task queue's fairness), so the thousands of first tasks of one listing do not hold up
        a reply to a cycle already running.
        """
        options = self._start_options(cycle)
        if fan_out is not None:
            options["priority"] = Priority(fairness_key=fan_out)
        try:
            await self.client.start_workflow(CitizenCycle.run, cycle, **options)
        except WorkflowAlreadyStartedError:
            return False
        return True

    async def start_handover(self, handover: HandoverInput) -> None:
        """Start the gas month's hand-over, unless it is already there."""
        try:
            await self.client.start_workflow(
                GasHandover.run,
                handover,
                id=handover_id(handover.rules.program, handover.month),
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"{handover.rules.program} hand-over {handover.month}",
            )
        except WorkflowAlreadyStartedError:
            pass

    # --- the intake --------------------------------------------------------------------------

    async def admit(self, rules: ProgramVersion, month: str, count: int) -> Admitted:
        """Ask the month's intake, started if need be, whether the list is still open (by its
        clock); :class:`CycleRefused` ``list_closed`` if not."""
        start = WithStartWorkflowOperation(
            MonthIntake.run,
            IntakeInput(program=rules.program, month=month, rules=rules),
            id=intake_id(rules.program, month),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"{rules.program} list intake {month}",
        )
        try:
            return await self.client.execute_update_with_start_workflow(
                MonthIntake.admit, Admission(count=count), start_workflow_operation=start
            )
        except WorkflowUpdateFailedError as failed:
            raise CycleRefused("list_closed", str(failed.cause)) from failed

    async def tell_listed(self, program: str, month: str) -> None:
        """A batch is in the database: the month's intake starts its cycles."""
        handle = self.client.get_workflow_handle_for(MonthIntake.run, intake_id(program, month))
        await handle.signal(MonthIntake.listed)

    # --- SDU ---------------------------------------------------------------------------------

    async def withdraw(
        self, cycle: str, *, unstarted: CycleInput | None = None
    ) -> WithdrawalVerdict:
        """Withdraw a cycle (SDU's correction) and say how it went.

        ``unstarted``: the input of a listing the intake may not have started yet; it is
        started here if need be, so that whichever start wins, the withdrawal reaches the one
        cycle there is. Asked again, a withdrawn cycle answers ``WITHDRAWN`` again; a closed
        one is judged by the state it closed in.
        """
        try:
            await self._update(cycle, CitizenCycle.withdraw, Withdrawal(), unstarted)
        except CycleRefused as refused:
            return "already_activated" if refused.code == "already_activated" else "already_final"
        except CycleGone:
            return await self._judge_closed(cycle)
        return "WITHDRAWN"

    async def correct(
        self, cycle: str, correction: Correction, *, unstarted: CycleInput | None = None
    ) -> bool:
        """Hand SDU's corrected record to the cycle (started with it if ``unstarted``); False
        if it is too late (the voucher is issued, or the cycle has ended)."""
        try:
            await self._update(cycle, CitizenCycle.correct, correction, unstarted)
        except (CycleRefused, CycleGone):
            return False
        return True

    # --- the citizen -------------------------------------------------------------------------

    async def reply(self, cycle: str, reply: Reply) -> ReplyResult:
        """Hand an inbound SMS to its cycle and return what it meant; a cycle that has closed
        (expired, refused) cannot take it: the reply is ``late``."""
        try:
            outcome = await self._handle(cycle).execute_update(CitizenCycle.reply, reply)
        except WorkflowUpdateFailedError as refused:
            # The cycle's validator answers a reply that changes nothing by refusing it (so it
            # is not written to the history); its type is the answer.
            answer = _reply_answer(refused.cause)
            if answer is not None:
                return answer
            return await self._closed_reply(cycle, refused)
        except RPCError as error:
            return await self._closed_reply(cycle, error)
        return outcome.result

    async def _closed_reply(self, cycle: str, error: Exception) -> ReplyResult:
        """A cycle that has closed (expired, refused) cannot take a reply: it is ``late``."""
        described = await self._described(cycle)
        if described is None:
            return "no_cycle"
        if described.status != WorkflowExecutionStatus.RUNNING:
            return "late"
        raise error

    # --- the wallet and the provider ---------------------------------------------------------

    async def status(self, cycle: str) -> CycleStatus:
        """The cycle's state and history (its ``status`` query; a closed cycle answers too)."""
        return await self._handle(cycle).query(CitizenCycle.status)

    async def enter_account(self, cycle: str, entry: AccountEntry) -> AccountShown:
        return await self._update(cycle, CitizenCycle.enter_account, entry)

    async def confirm(self, cycle: str) -> Activated:
        return await self._update(cycle, CitizenCycle.confirm, Confirmation())

    async def activate(self, cycle: str) -> Activated:
        return await self._update(cycle, CitizenCycle.activate, FoodActivation())

    async def redeem(self, cycle: str, purchase: Purchase) -> Redeemed:
        return await self._update(cycle, CitizenCycle.redeem, purchase)

    async def report_consumption(self, cycle: str, reading: Consumption) -> None:
        """The provider's reading for the cycle's account; a cycle already closed (settled
        before, a batch re-sent) needs none."""
        with _closed_is_fine():
            await self._handle(cycle).signal(CitizenCycle.consumption, reading)

    async def tell_handed_over(self, cycle: str) -> None:
        """The month's hand-over reached the provider with this cycle's voucher in it."""
        with _closed_is_fine():  # withdrawn or settled meanwhile: it needs no news
            await self._handle(cycle).signal(CitizenCycle.handed_over, HandedOver())

    # --- the machinery -----------------------------------------------------------------------

    def _handle(self, cycle: str) -> WorkflowHandle[CitizenCycle, CycleStatus]:
        return self.client.get_workflow_handle_for(CitizenCycle.run, cycle)

    def _rules_of(self, cycle: CycleInput) -> ProgramVersion:
        """The version ``cycle`` names, from this client's program book."""
        for version in self._programs.versions:
            if rules_ref(version) == cycle.rules_ref:
                return version
        raise ValueError(f"no program version {cycle.rules_ref} in this program book")

    def _start_options(self, cycle: CycleInput) -> _StartOptions:
        return {
            "id": cycle_id(cycle.program, cycle.month, cycle.citizen_ref),
            "task_queue": self._task_queue,
            "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
            "search_attributes": cycle_attributes(
                cycle.program, cycle.month, cycle.citizen.region, CycleState.SCHEDULED.value
            ),
            "static_summary": f"{cycle.program} voucher cycle {cycle.month}, region "
            f"{cycle.citizen.region}, citizen {cycle.citizen_ref}",
            "static_details": _static_details(cycle, self._rules_of(cycle)),
            "priority": Priority.default,
        }

    async def _update(
        self,
        cycle: str,
        update: CycleUpdate[Arg, Answer],
        arg: Arg,
        unstarted: CycleInput | None = None,
    ) -> Answer:
        """Run an update on the cycle (update-with-start when it may not have started yet)."""
        try:
            if unstarted is None:
                return await self._handle(cycle).execute_update(update, arg)
            return await self._update_with_start(update, arg, unstarted)
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            code = cause.type if isinstance(cause, ApplicationError) and cause.type else "refused"
            raise CycleRefused(code, str(cause)) from failed
        except WorkflowAlreadyStartedError as closed:
            raise CycleGone(cycle) from closed  # closed, and its ID may not start again
        except RPCError as error:
            # NOT_FOUND: the cycle has closed; ALREADY_EXISTS: it has closed, and its ID may not
            # start again (update-with-start). Anything else: Temporal unreachable, retryable.
            if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.ALREADY_EXISTS):
                raise
            raise CycleGone(cycle) from error

    async def _update_with_start(
        self, update: CycleUpdate[Arg, Answer], arg: Arg, cycle: CycleInput
    ) -> Answer:
        start = WithStartWorkflowOperation(
            CitizenCycle.run,
            cycle,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            **self._start_options(cycle),
        )
        try:
            return await self.client.execute_update_with_start_workflow(
                update, arg, start_workflow_operation=start
            )
        except (RPCError, WorkflowUpdateFailedError, WorkflowAlreadyStartedError):
            with suppress(RPCError, WorkflowAlreadyStartedError):
                await start.workflow_handle()  # the start's own outcome, retrieved (not leaked)
            raise

    async def _judge_closed(self, cycle: str) -> WithdrawalVerdict:
        """The verdict on a withdrawal of a closed cycle, from the state it closed in (its
        search attribute, readable without a worker)."""
        described = await self._described(cycle)
        if described is None:
            return "no_cycle"
        state = described.typed_search_attributes.get(CYCLE_STATE)
        if state == CycleState.WITHDRAWN:
            return "WITHDRAWN"
        if state in ACTIVATED_STATES:
            return "already_activated"
        return "already_final"

    async def _described(self, cycle: str) -> WorkflowExecutionDescription | None:
        """The cycle as the server describes it, or None if there is none (never started, or
        gone with the namespace's retention)."""
        try:
            return await self._handle(cycle).describe()
        except RPCError as missing:
            if missing.status == RPCStatusCode.NOT_FOUND:
                return None
            raise


@contextmanager
def _closed_is_fine() -> Iterator[None]:
    """News for a cycle that has closed since is dropped: it needs none."""
    try:
        yield
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise


_VALIDATOR_ANSWERS: dict[str, ReplyResult] = {
    "duplicate": "duplicate",
    "unrecognised": "unrecognised",
    "late": "late",
    "refusal": "refusal",
}


def _reply_answer(cause: BaseException | None) -> ReplyResult | None:
    """The answer a cycle's reply validator gave by refusing the update, if it was one."""
    if isinstance(cause, ApplicationError) and cause.type is not None:
        return _VALIDATOR_ANSWERS.get(cause.type)
    return None
