"""The month's fan-outs, which reach many cycles at once: starting the listed citizens' cycles,
telling them of the hand-over, starting the hand-over itself.

Temporal is the outside system here. The activities reach it through :class:`CycleStarts`, the
few calls they need of ``client.cycles.CycleClient`` (which the worker passes in): the typed
client sits above the workflows, and the workflows schedule these activities.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

from temporalio import activity

from models.calls import HandoverDone, PendingCycles
from models.coordination import HandoverInput
from models.cycle import Citizen, CycleInput
from store import queries, vouchers
from store.engine import Sessions


class CycleStarts(Protocol):
    """What the fan-outs ask of Temporal (``client.cycles.CycleClient`` answers)."""

    def cycle_input(
        self,
        program: str,
        month: str,
        *,
        citizen: Citizen,
        citizen_ref: str,
        listed_at: datetime | None = None,
    ) -> CycleInput: ...

    async def start(self, cycle: CycleInput, *, fan_out: str | None = None) -> bool: ...

    async def start_handover(self, handover: HandoverInput) -> None: ...

    async def tell_handed_over(self, cycle: str) -> None: ...


# Cycle starts one fan-out keeps in flight. A listing's starts (and the first tasks they set
# going) are most of what the Temporal server does while it runs, and past the server's
# saturation more starts in flight add no throughput, only a longer queue, which the running
# cycles' replies and wallet requests wait in. Measured with ``python -m benchmarks.intake``
# (a 20,000-citizen listing, 500 consents during it, one dev server on two cores): 64 in flight
# started 0.81 of the trivial baseline's rate and the replies waited a median 6.8 s for their
# workflow task (8 of 500 answered 503 after the webhook's 20 s); 16 in flight, 0.82 and 4.1 s,
# none answered 503.
STARTS_IN_FLIGHT = 16
# Signals to the month's cycles in flight (the hand-over's news, after the activation window).
SIGNALS_IN_FLIGHT = 64


class Cycles:
    """Activities that reach many cycles at once."""

    def __init__(self, cycles: CycleStarts, sessions: Sessions, *, page: int = 500) -> None:
        self._cycles = cycles
        self._sessions = sessions
        self._page = page
        self._starts = asyncio.Semaphore(STARTS_IN_FLIGHT)
        self._signals = asyncio.Semaphore(SIGNALS_IN_FLIGHT)

    @activity.defn(name="cycles.start_pending")
    async def start_pending(self, pending: PendingCycles) -> int:
        """Start every listed citizen's cycle not started yet; return how many were started.

        Pages through the database, heartbeating after each page, so a retried activity goes on
        where the last one stopped; a cycle started twice is refused by its deterministic ID.
        The cycles it starts share one fairness key, this fan-out's: on the task queue their
        thousands of first tasks and phone checks take turns with the running cycles' replies
        and wallet requests rather than going ahead of them (:func:`fan_out_key`).
        """
        fan_out = fan_out_key(pending.program, pending.month, _this_fan_out())
        started = 0
        while True:
            async with self._sessions() as session:
                page = await queries.pending_listings(
                    session, program=pending.program, month=pending.month, limit=self._page
                )
                if not page:
                    return started
                cycles = [
                    self._cycles.cycle_input(
                        pending.program,
                        pending.month,
                        citizen=Citizen.model_validate_json(row.citizen or "{}"),
                        citizen_ref=row.citizen_ref,
                        listed_at=row.listed_at,
                    )
                    for row in page
                ]
                results = await asyncio.gather(*(self._start(c, fan_out) for c in cycles))
                started += sum(results)
                await queries.mark_started(session, listings=page)
            activity.heartbeat(started)

    @activity.defn(name="cycles.announce_handover")
    async def announce_handover(self, done: HandoverDone) -> int:
        """Signal every cycle whose voucher was in the month's hand-over; return how many."""
        async with self._sessions() as session:
            cycle_ids = await vouchers.handed_over_cycles(session, month=done.month)

        async def tell(cycle: str) -> None:
            async with self._signals:
                await self._cycles.tell_handed_over(cycle)

        for start in range(0, len(cycle_ids), self._page):
            await asyncio.gather(*(tell(c) for c in cycle_ids[start : start + self._page]))
            activity.heartbeat(start)
        return len(cycle_ids)

    @activity.defn(name="cycles.start_handover")
    async def start_handover(self, handover: HandoverInput) -> None:
        """Start the gas month's hand-over workflow, unless it is already there."""
        await self._cycles.start_handover(handover)

    async def _start(self, cycle: CycleInput, fan_out: str) -> bool:
        async with self._starts:
            return await self._cycles.start(cycle, fan_out=fan_out)


def fan_out_key(program: str, month: str, fan_out: str) -> str:
    """The fairness key of the cycles one fan-out starts (at most Temporal's 64 bytes).

    A key is a tenant of the task queue: the server dispatches the keys' tasks in turn, so a
    listing's backlog (one key) takes its turn beside the replies and wallet requests of the
    cycles already running (started under other keys) instead of ahead of them. Fairness is a
    server setting (``matching.enableFairness``; docs/DEPLOYMENT.md); without it the key is
    ignored.
    """
    return f"{program}-{month}-{fan_out}"[:64]


def _this_fan_out() -> str:
    """This fan-out among the month's: the intake run and its activity (the same on a retry)."""
    info = activity.info()
    return f"{(info.workflow_run_id or '')[:8]}-{info.activity_id}"
