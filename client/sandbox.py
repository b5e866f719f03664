"""The workflow sandbox the product runs its workflows in: the SDK's, less one cost per payload.

The SDK (1.35) asks the workflow instance for a serialization context and an external-store
context for every payload it encodes or decodes, and its sandboxed instance answers each by
``exec``-ing a small source string inside the sandbox: compiled afresh, under the sandbox's import
hooks. Profiled under the intake's and the wallet's load, those two questions took ~20% of a
worker's busy Python. The answer is plain data (the workflow's ID and namespace, or the pending
activity's type and ID) that the instance inside the sandbox computes from its own state, and it
imports nothing: :class:`ProductSandbox` asks that instance directly. Everything else (the
restrictions, the fresh module imports per run, the activations) is the SDK's own.

The SDK marks the sandbox runner's module unstable; ``tests/workflows/test_sandbox.py`` pins this
class's answers to the SDK's for a workflow's input and result and for an activity's and a local
activity's payloads, so an SDK upgrade that changes them fails there, not in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import temporalio.converter
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import _command_aware_visitor
from temporalio.worker._workflow_instance import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import _runner as sdk_runner

CommandInfo = _command_aware_visitor.CommandInfo


class _Instance(sdk_runner._Instance):
    """A sandboxed workflow run that answers payload-context questions without an ``exec``."""

    def _inside(self) -> Any:
        # The SDK's own handle on the instance it created inside the sandbox.
        return self.globals_and_locals["__temporal_in_sandbox"]

    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> temporalio.converter.SerializationContext | None:
        context: temporalio.converter.SerializationContext | None = (
            self._inside().get_serialization_context(command_info)
        )
        return context

    def get_external_store_context(
        self, command_info: CommandInfo | None
    ) -> StorageDriverStoreContext:
        context: StorageDriverStoreContext = self._inside().get_external_store_context(command_info)
        return context


@dataclass(frozen=True)
class ProductSandbox(SandboxedWorkflowRunner):
    """The SDK's sandboxed workflow runner, with :class:`_Instance` for its runs."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance(det, self.runner_class, self.restrictions)
