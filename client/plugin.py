"""The product's Temporal plugin: what every client, worker and replayer of the product needs to
read and write its workflows' payloads and run its workflow code."""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.plugin import SimplePlugin
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from client.codec import parse_keys, product_converter
from client.sandbox import ProductSandbox
from models.settings import Settings

NAME = "social-wallet.product"

# Workflow inputs and results are pydantic models; passed through, pydantic is imported once per
# process instead of again inside the sandbox for every workflow run.
WORKFLOW_RUNNER: ProductSandbox = ProductSandbox(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("pydantic")
)


class ProductPlugin(SimplePlugin):
    """Pydantic payloads encrypted with AES-GCM, and the sandbox that passes pydantic through.

    On a client (``Client.connect(..., plugins=[...])``, :func:`client.product_client`) it sets the
    data converter; a worker built on that client inherits the plugin and with it the workflow
    runner; a ``Replayer`` given it gets both. It is a class of its own so that a worker can tell
    it from the other plugins it is given (the SDK warns when a plugin type comes twice).
    """

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        super().__init__(
            NAME, data_converter=product_converter(keys), workflow_runner=WORKFLOW_RUNNER
        )


def product_plugin(settings: Settings) -> ProductPlugin:
    """The product's plugin, its payloads encrypted with ``settings``' ``PAYLOAD_KEYS``."""
    return ProductPlugin(parse_keys(settings.payload_keys))
