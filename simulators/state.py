"""The in-memory world the simulators share: what each outside system has received, and faults.

One `World` backs all six simulator apps, so a test can script a fault on the SMS gateway, send a
citizen's reply, and then read what the wallet was told, all from the same object.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

SYSTEMS = ("bmg", "sdu", "sms", "wallet", "gas", "food")


@dataclass(frozen=True)
class Fault:
    """One scripted answer, consumed by one request to the system.

    Attributes:
        status: HTTP status to answer with, or None to answer normally after `delay_s`.
        retry_after: seconds for the `Retry-After` header (sent with any status when set).
        delay_s: seconds to wait before answering, to make a client time out.
    """

    status: int | None
    retry_after: int | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class SentSms:
    """An SMS the gateway accepted (one per idempotency key)."""

    message_id: str
    from_: str
    to: str
    text: str
    idempotency_key: str
    accepted_at: datetime


@dataclass(frozen=True)
class Received:
    """What a simulator saw of one request's envelope: where it went and its headers (the
    bodies are recorded by each system in its own terms)."""

    system: str
    method: str
    target: str  # the path with its query, as sent
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Account:
    """A personal account in the gas provider's billing system."""

    account_number: str
    holder: str
    address: str
    region: str

    def to_json(self) -> dict[str, str]:
        """The account as the provider's `GET /v1/accounts/{n}` returns it."""
        return {
            "account_number": self.account_number,
            "holder": self.holder,
            "address": self.address,
            "region": self.region,
        }


@dataclass
class World:
    """Everything the simulated outside systems know, plus the faults scripted for them.

    `webhook_url` and `webhook_secret` say where and how the SMS gateway delivers citizens'
    replies; they are read at delivery time, so they may be set after the simulators start.
    """

    subscribers: dict[str, str] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)
    messages: list[SentSms] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)
    vouchers: dict[str, dict[str, Any]] = field(default_factory=dict)
    voucher_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    handovers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    food_reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    inbound: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, deque[Fault]] = field(
        default_factory=lambda: {name: deque() for name in SYSTEMS}
    )
    requests: Counter[str] = field(default_factory=Counter)
    received: list[Received] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: str = ""
    sms_by_key: dict[str, SentSms] = field(default_factory=dict, repr=False)

    def fail(
        self, system: str, *, status: int = 500, times: int = 1, retry_after: int | None = None
    ) -> None:
        """Make the next `times` requests to `system` answer `status` (and `Retry-After`)."""
        self.script(system, Fault(status=status, retry_after=retry_after), times)

    def slow(self, system: str, *, seconds: float, times: int = 1) -> None:
        """Make the next `times` requests to `system` wait `seconds`, then answer normally."""
        self.script(system, Fault(status=None, delay_s=seconds), times)

    def take_fault(self, system: str) -> Fault | None:
        """Count one request to `system` and consume its next scripted fault, if any."""
        self.requests[system] += 1
        queue = self.faults[system]
        return queue.popleft() if queue else None

    def sent_to(self, phone: str) -> list[SentSms]:
        """The SMS accepted for `phone`, oldest first."""
        return [m for m in self.messages if m.to == phone]

    def reset(self) -> None:
        """Forget all data, faults and counters; keep the webhook settings."""
        # Cleared in place, so a test holding `world.messages` keeps seeing the live list.
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "faults":
                for queue in value.values():
                    queue.clear()
            elif hasattr(value, "clear"):
                value.clear()

    def script(self, system: str, fault: Fault, times: int = 1) -> None:
        """Queue `fault` for the next `times` requests to `system`."""
        if system not in self.faults:
            raise ValueError(f"unknown system {system!r}; expected one of {SYSTEMS}")
        self.faults[system].extend([fault] * times)
