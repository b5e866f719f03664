"""The product's sandbox (``client.sandbox.ProductSandbox``) gives every payload the context the
SDK's own sandbox gives it: a codec that depends on the context would read the same either way."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Self

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

from client.sandbox import ProductSandbox
from tests.workflows.sandbox_probe import Probe, echo

Seen = tuple[str, ...]


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
