"""The workflow of ``test_sandbox``, in a module of its own: the sandbox imports a workflow's
module again for each run, and a test module (rewritten by pytest's assertions) cannot be."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="sandbox_probe.echo")
async def echo(text: str) -> str:
    return text


@workflow.defn(name="SandboxProbe")
class Probe:
    """An activity and a local activity, each with an argument and a result: the payloads whose
    context is the activity's, beside the workflow's own input and result."""

    @workflow.run
    async def run(self, text: str) -> str:
        remote = await workflow.execute_activity(
            echo, text, start_to_close_timeout=timedelta(seconds=10)
        )
        local = await workflow.execute_local_activity(
            echo, remote, start_to_close_timeout=timedelta(seconds=10)
        )
        return local
