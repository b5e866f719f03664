"""Connecting to Temporal, and the product's view of a connection."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from client.plugin import ProductPlugin, product_plugin
from models.settings import Settings


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """Connect to the Temporal cluster of ``settings`` (local, self-hosted or Temporal Cloud),
    with the product's plugin."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=settings.temporal_tls or settings.temporal_api_key is not None,
        runtime=runtime,
        plugins=[product_plugin(settings)],
    )


def product_client(client: Client, settings: Settings) -> Client:
    """The same connection with the product's plugin: pydantic payloads, encrypted.

    ``client`` may be any connected client (one of a test environment, say); a product plugin it
    already has is replaced, so the keys are always those of ``settings``.
    """
    config = client.config()  # as given, before its plugins configured it
    others = [p for p in config["plugins"] if not isinstance(p, ProductPlugin)]
    config["plugins"] = [*others, product_plugin(settings)]
    return Client(**config)
