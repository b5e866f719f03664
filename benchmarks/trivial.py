"""The baseline of the cycles and intake benchmarks: a workflow that does nothing.

In a module of its own, with no imports the workflow sandbox would refuse: the sandbox
re-imports a workflow's module, and a module run with ``python -m`` is ``__main__``.
"""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchTrivial")
class Trivial:
    """The baseline: completes in its first workflow task."""

    @workflow.run
    async def run(self, number: int) -> int:
        return number
