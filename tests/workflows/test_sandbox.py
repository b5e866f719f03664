"""The product's sandbox (``client.sandbox.ProductSandbox``) gives every payload the context the
SDK's own sandbox gives it: a codec that depends on the context would read the same either way."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Self

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# The sandbox imports this module again for the probe workflow: the product's modules (and the
# cryptography they load, which cannot be imported twice) come through as they are.
with workflow.unsafe.imports_passed_through():
    from client.sandbox import ProductSandbox

Seen = tuple[str, ...]


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


@dataclasses.dataclass
class Recorder(PayloadCodec, WithSerializationContext):
    """A codec that changes nothing and notes the context of each payload it is given."""

    seen: Counter[Seen]
    context: SerializationContext | None = None

    def with_context(self, context: SerializationContext) -> Self:
        return dataclasses.replace(self, context=context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self._note("encode", len(payloads))
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self._note("decode", len(payloads))
        return list(payloads)

    def _note(self, way: str, count: int) -> None:
        match self.context:
            case ActivitySerializationContext() as of:
                key: Seen = (
                    way,
                    "activity",
                    str(of.activity_type),
                    str(of.is_local),
                    str(of.workflow_id),
                )
            case WorkflowSerializationContext() as of:
                key = (way, "workflow", of.workflow_id)
            case other:
                key = (way, repr(other))
        self.seen[key] += count


async def contexts_under(
    env: WorkflowEnvironment, runner: SandboxedWorkflowRunner
) -> Counter[Seen]:
    seen: Counter[Seen] = Counter()
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=Recorder(seen))
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=converter,
    )
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[Probe], activities=[echo], workflow_runner=runner
    ):
        answer = await client.execute_workflow(
            Probe.run, "hi", id="sandbox-probe", task_queue=queue
        )
    assert answer == "hi"
    return seen


async def test_each_payload_has_the_context_the_sdk_s_sandbox_gives_it(
    env: WorkflowEnvironment,
) -> None:
    restrictions = SandboxRestrictions.default
    ours = await contexts_under(env, ProductSandbox(restrictions=restrictions))
    sdk = await contexts_under(env, SandboxedWorkflowRunner(restrictions=restrictions))
    assert ours == sdk
    # The activities' payloads have their own contexts, local and not, on the workflow's side.
    assert ("encode", "activity", "sandbox_probe.echo", "True", "sandbox-probe") in ours
    assert ("encode", "activity", "sandbox_probe.echo", "False", "sandbox-probe") in ours
