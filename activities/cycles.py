"""The Temporal side of citizen cycles, as callers outside a workflow reach them: starting the
listed citizens' cycles, delivering replies, withdrawing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models.calls import HandoverDone, PendingCycles
from models.coordination import HandoverInput
from models.cycle import (
    ACTIVATED_STATES,
    Citizen,
    Correction,
    CycleInput,
    CycleState,
    Reply,
    ReplyOutcome,
    ReplyResult,
    Withdrawal,
    cycle_id,
)
from models.programs import ProgramBook
from models.reference import Reference
from models.search import CYCLE_STATE, cycle_attributes
from models.voucher import HandedOver
from rules.listing import prepare_cycle
from store import queries, vouchers
from store.engine import Sessions

CYCLE_WORKFLOW = "CitizenCycle"


class Cycles:
    """Activities that reach many cycles at once: the fan-out of a month's list, the news of
    the month's hand-over."""

    def __init__(
        self,
        client: Client,
        sessions: Sessions,
        *,
        task_queue: str,
        programs: ProgramBook,
        reference: Reference,
        send_spread: timedelta = timedelta(0),
        page: int = 500,
        concurrency: int = 64,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._task_queue = task_queue
        self._programs = programs
        self._reference = reference
        self._send_spread = send_spread
        self._page = page
        self._concurrency = asyncio.Semaphore(concurrency)

    @activity.defn(name="cycles.start_pending")
    async def start_pending(self, pending: PendingCycles) -> int:
        """Start every listed citizen's cycle not started yet; return how many were started.

        Pages through the database, heartbeating after each page, so a retried activity goes on
        where the last one stopped; a cycle started twice is refused by its deterministic ID.
        """
        rules = pending.rules or self._programs.for_month(pending.program, pending.month)
        if rules is None:
            return 0
        mrp = self._reference.mrp(int(pending.month[:4]))
        started = 0
        while True:
            async with self._sessions() as session:
                page = await queries.pending_listings(
                    session, program=pending.program, month=pending.month, limit=self._page
                )
                if not page:
                    return started
                cycles = [
                    prepare_cycle(
                        rules,
                        month=pending.month,
                        citizen=Citizen.model_validate_json(row.citizen or "{}"),
                        citizen_ref=row.citizen_ref,
                        mrp_kzt=mrp,
                        listed_at=row.listed_at,
                        send_spread=self._send_spread,
                    )
                    for row in page
                ]
                results = await asyncio.gather(*(self._start(cycle) for cycle in cycles))
                started += sum(results)
                await queries.mark_started(session, listings=page)
            activity.heartbeat(started)

    @activity.defn(name="cycles.announce_handover")
    async def announce_handover(self, done: HandoverDone) -> int:
        """Signal every cycle whose voucher was in the month's hand-over; return how many."""
        async with self._sessions() as session:
            cycle_ids = await vouchers.handed_over_cycles(session, month=done.month)

        async def tell(cycle: str) -> None:
            async with self._concurrency:
                handle = self._client.get_workflow_handle(cycle)
                try:
                    await handle.signal("handed_over", HandedOver())
                except RPCError as error:
                    if error.status != RPCStatusCode.NOT_FOUND:
                        raise  # a closed cycle (withdrawn, settled) needs no news

        for start in range(0, len(cycle_ids), self._page):
            await asyncio.gather(*(tell(c) for c in cycle_ids[start : start + self._page]))
            activity.heartbeat(start)
        return len(cycle_ids)

    @activity.defn(name="cycles.start_handover")
    async def start_handover(self, handover: HandoverInput) -> None:
        """Start the gas month's hand-over workflow, unless it is already there."""
        try:
            await self._client.start_workflow(
                "GasHandover",
                handover,
                id=f"handover-{handover.rules.program}-{handover.month}",
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"{handover.rules.program} hand-over {handover.month}",
            )
        except WorkflowAlreadyStartedError:
            pass

    async def _start(self, cycle: CycleInput) -> bool:
        async with self._concurrency:
            return await start_cycle(self._client, task_queue=self._task_queue, cycle=cycle)


async def start_cycle(client: Client, *, task_queue: str, cycle: CycleInput) -> bool:
    """Start the cycle of ``cycle.citizen``; False if that citizen's cycle already exists.

    The workflow ID is deterministic and a duplicate is refused by Temporal itself, even after
    the first cycle closed: a citizen listed twice in a month has one cycle, never two.
    """
    workflow_id = cycle_id(cycle.program, cycle.month, cycle.citizen_ref)
    try:
        await client.start_workflow(
            CYCLE_WORKFLOW,
            cycle,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=cycle_attributes(
                cycle.program, cycle.month, cycle.citizen.region, CycleState.SCHEDULED.value
            ),
            static_summary=f"{cycle.program} voucher cycle {cycle.month}, region "
            f"{cycle.citizen.region}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def deliver_reply(client: Client, *, workflow_id: str, reply: Reply) -> ReplyResult:
    """Hand an inbound SMS to its cycle and return what it meant.

    A cycle that has already closed (expired, refused) cannot take it: the reply is ``late``.
    """
    handle = client.get_workflow_handle(workflow_id)
    try:
        outcome: ReplyOutcome = await handle.execute_update(
            "reply", reply, result_type=ReplyOutcome
        )
    except (RPCError, WorkflowUpdateFailedError) as error:
        # Closed before or while the reply was taken (expired, refused, settled).
        described = await _described(client, workflow_id)
        if described is None:
            return "no_cycle"
        if described.status != WorkflowExecutionStatus.RUNNING:
            return "late"
        raise error
    return outcome.result


WithdrawalVerdict = Literal["WITHDRAWN", "already_activated", "already_final", "no_cycle"]


async def withdraw_cycle(client: Client, *, workflow_id: str) -> WithdrawalVerdict:
    """Withdraw a cycle (SDU correction) and say how it went.

    A cycle withdrawn before answers ``WITHDRAWN`` again, so SDU may retry a call whose answer
    it lost. A cycle that has already closed is judged by the state it closed in.
    """
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.execute_update("withdraw", Withdrawal(), result_type=CycleState)
    except WorkflowUpdateFailedError as refused:
        cause = refused.cause
        if isinstance(cause, ApplicationError) and cause.type == "already_activated":
            return "already_activated"
        return "already_final"
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return await _judge_closed(client, workflow_id)
    return "WITHDRAWN"


async def correct_cycle(client: Client, *, workflow_id: str, correction: Correction) -> bool:
    """Hand SDU's corrected record to the citizen's cycle; False if it is too late (the voucher
    is issued, or the cycle has ended)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.execute_update("correct", correction, result_type=CycleState)
    except WorkflowUpdateFailedError:
        return False
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return False  # closed
    return True


async def _judge_closed(client: Client, workflow_id: str) -> WithdrawalVerdict:
    """The verdict on a withdrawal of a closed cycle, from the state it closed in (its search
    attribute, readable without a worker)."""
    described = await _described(client, workflow_id)
    if described is None:
        return "no_cycle"
    state = described.typed_search_attributes.get(CYCLE_STATE)
    if state == CycleState.WITHDRAWN:
        return "WITHDRAWN"
    if state in ACTIVATED_STATES:
        return "already_activated"
    return "already_final"


async def _described(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    """The cycle as the server describes it, or None if there is none (never started, or
    gone with the namespace's retention)."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as missing:
        if missing.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
