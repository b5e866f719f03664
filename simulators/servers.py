"""Serve the six simulators with uvicorn inside the caller's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from simulators import bmg, food_reporting, gas_provider, sdu, sms_gateway, wallet
from simulators.embedded import serve_all
from simulators.state import SYSTEMS, World


@dataclass(frozen=True)
class SimulatorURLs:
    """Base URLs of the running simulators."""

    bmg_url: str
    sdu_url: str
    sms_gateway_url: str
    wallet_url: str
    gas_provider_url: str
    food_provider_url: str

    def as_env(self) -> dict[str, str]:
        """The URLs under the product's environment variable names (CONTRACTS.md §3)."""
        return {
            "BMG_URL": self.bmg_url,
            "SDU_URL": self.sdu_url,
            "SMS_GATEWAY_URL": self.sms_gateway_url,
            "WALLET_URL": self.wallet_url,
            "GAS_PROVIDER_URL": self.gas_provider_url,
            "FOOD_PROVIDER_URL": self.food_provider_url,
        }

    def as_settings(self) -> dict[str, str]:
        """The URLs under the product's settings' field names, for ``Settings.model_copy``."""
        return {name.lower(): url for name, url in self.as_env().items()}


@contextlib.asynccontextmanager
async def run_simulators(
    world: World,
    *,
    sms_token: str,
    webhook_url: str | None,
    webhook_secret: str,
    host: str = "127.0.0.1",
    ports: dict[str, int] | None = None,
    delivery_attempts: int = 3,
    delivery_backoff_s: float = 0.2,
) -> AsyncIterator[SimulatorURLs]:
    """Serve BMG, SDU, the SMS gateway, the wallet, the gas provider and food reporting.

    Args:
        world: the state all six share; `world.webhook_url` may be changed at any time.
        sms_token: the bearer token the SMS gateway requires.
        webhook_url: where replies are delivered; None keeps `world.webhook_url`.
        webhook_secret: the webhook signing secret.
        host: the interface to listen on.
        ports: fixed ports by system name ("bmg", "sdu", "sms", "wallet", "gas", "food");
            systems not named get a free port.
        delivery_attempts: webhook requests per reply delivery before giving up.
        delivery_backoff_s: wait before the first delivery retry; doubles for each next one.

    Yields:
        The base URLs, once every simulator accepts connections.
    """
    unknown = set(ports or {}) - set(SYSTEMS)
    if unknown:
        raise ValueError(f"unknown systems in ports: {sorted(unknown)}")
    apps = {
        "bmg": bmg.create_app(world),
        "sdu": sdu.create_app(world),
        "sms": sms_gateway.create_app(
            world,
            token=sms_token,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            delivery_attempts=delivery_attempts,
            delivery_backoff_s=delivery_backoff_s,
        ),
        "wallet": wallet.create_app(world),
        "gas": gas_provider.create_app(world),
        "food": food_reporting.create_app(world),
    }
    async with serve_all(apps, host=host, ports=ports) as urls:
        yield SimulatorURLs(
            bmg_url=urls["bmg"],
            sdu_url=urls["sdu"],
            sms_gateway_url=urls["sms"],
            wallet_url=urls["wallet"],
            gas_provider_url=urls["gas"],
            food_provider_url=urls["food"],
        )
