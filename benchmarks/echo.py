"""The baseline of the activation benchmark: a workflow whose update answers at once."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchEcho")
class Echo:
    """Waits until told to stop; ``ping`` is the cheapest update round-trip there is."""

    def __init__(self) -> None:
        self._stop = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._stop)

    @workflow.update
    def ping(self, number: int) -> int:
        return number

    @workflow.signal
    def stop(self) -> None:
        self._stop = True
