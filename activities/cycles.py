"""The Temporal side of citizen cycles, as callers outside a workflow reach them."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models.cycle import CycleInput, CycleState, Reply, ReplyOutcome, ReplyResult, cycle_id
from models.search import cycle_attributes
from workflows.citizen_cycle import CitizenCycle


async def start_cycle(client: Client, *, task_queue: str, cycle: CycleInput) -> bool:
    """Start the cycle of ``cycle.citizen``; False if that citizen's cycle already exists.

    The workflow ID is deterministic and a duplicate is refused by Temporal itself, even after
    the first cycle closed: a citizen listed twice in a month has one cycle, never two.
    """
    workflow_id = cycle_id(cycle.program, cycle.month, cycle.citizen_ref)
    try:
        await client.start_workflow(
            CitizenCycle.run,
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
        outcome = await handle.execute_update(CitizenCycle.reply, reply)
    except RPCError as error:
        try:
            described = await handle.describe()
        except RPCError as missing:
            if missing.status == RPCStatusCode.NOT_FOUND:
                return "no_cycle"
            raise
        if described.status != WorkflowExecutionStatus.RUNNING:
            return "late"
        raise error
    return ReplyOutcome.model_validate(outcome).result
