"""The product's configuration (CONTRACTS.md §3), read once per process from the environment."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = str  # "sdu" | "wallet" | "provider" | "ops"


class Settings(BaseSettings):
    """Every setting of the product, with the defaults of the embedded local stack."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    # Temporal Cloud or a TLS-fronted cluster: an API key (implies TLS), or TLS alone.
    temporal_api_key: str | None = None
    temporal_tls: bool = False
    task_queue: str = "voucher-cycles"
    database_url: str = "sqlite+aiosqlite:///./voucher.db"

    bmg_url: str = "http://127.0.0.1:8101"
    sdu_url: str = "http://127.0.0.1:8102"
    sms_gateway_url: str = "http://127.0.0.1:8103"
    wallet_url: str = "http://127.0.0.1:8104"
    gas_provider_url: str = "http://127.0.0.1:8105"
    food_provider_url: str = "http://127.0.0.1:8106"
    sms_gateway_token: str = "dev-sms-token"

    # An empty or short secret would let anyone sign a consent.
    sms_webhook_secret: str = Field(default="dev-webhook-secret", min_length=16)
    api_tokens: str = "sdu:dev-sdu,wallet:dev-wallet,provider:dev-provider,ops:dev-ops"
    api_port: int = 8000

    # Keyed pseudonym of an IIN or phone number: workflow IDs, search attributes and the
    # database's routing keys carry this instead of the raw value.
    pseudonym_key: str = Field(default="dev-pseudonym-key", min_length=8)
    # Keys of the payload encryption, newest first: ``id:base64(32 bytes),…``. The first
    # encrypts; all decrypt, so a key is rotated by putting a new one in front.
    payload_keys: str = "dev-1:ZGV2LW9ubHktcGF5bG9hZC1rZXktMzItYnl0ZXMhISE="
    # The SMS gateway's contracted rate, shared by every worker (a task-queue rate limit).
    sms_per_second: float = Field(default=100.0, gt=0)
    # Port of the worker's Prometheus metrics endpoint; 0 serves none.
    metrics_port: int = 0
    # Seconds an outside call may take before it is retried.
    http_timeout_s: float = 10.0

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept the usual sync URLs and use the async driver of the same database."""
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url

    def tokens_by_role(self) -> dict[str, Role]:
        """Map each API bearer token to its role (``API_TOKENS`` = ``role:token,…``)."""
        pairs = (item.split(":", 1) for item in self.api_tokens.split(",") if ":" in item)
        return {token.strip(): role.strip() for role, token in pairs}
