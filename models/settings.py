"""The product's configuration (CONTRACTS.md §3), read once per process from the environment."""

from __future__ import annotations

import base64
import binascii
import sys
from datetime import timedelta
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = str  # "sdu" | "wallet" | "provider" | "ops"
ROLES = ("sdu", "wallet", "provider", "ops")
MIN_SECRET_CHARS = 32

# The embedded local stack's secrets (``make run``, ``make simulate``, the tests): public, so the
# production entry points refuse them (``refuse_dev_secrets``).
DEV_SMS_GATEWAY_TOKEN = "dev-sms-token"
DEV_SMS_WEBHOOK_SECRET = "dev-webhook-secret"
DEV_API_TOKENS = ",".join(
    f"{role}:dev-{role}-token-public-local-stack-only"
    for role in ("sdu", "wallet", "provider", "ops")
)
DEV_PSEUDONYM_KEY = "dev-pseudonym-key-public-local-stack-only"
DEV_PAYLOAD_KEYS = "dev-1:ZGV2LW9ubHktcGF5bG9hZC1rZXktMzItYnl0ZXMhISE="


class Settings(BaseSettings):
    """Every setting of the product, with the defaults of the embedded local stack."""

    # An invalid value is refused naming its variable; the input is never echoed (a secret).
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, hide_input_in_errors=True
    )

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
    sms_gateway_token: str = DEV_SMS_GATEWAY_TOKEN

    # An empty or short secret would let anyone sign a consent.
    sms_webhook_secret: str = Field(default=DEV_SMS_WEBHOOK_SECRET, min_length=16)
    api_tokens: str = DEV_API_TOKENS
    api_port: int = 8000

    # Keyed pseudonym of an IIN or phone number: workflow IDs, search attributes and the
    # database's routing keys carry this instead of the raw value.
    pseudonym_key: str = DEV_PSEUDONYM_KEY
    # Keys of the payload encryption, newest first: ``id:base64(32 bytes),…``. The first
    # encrypts; all decrypt, so a key is rotated by putting a new one in front.
    payload_keys: str = DEV_PAYLOAD_KEYS
    # SMS a second one worker sends at most: its share of the gateway's contracted rate.
    sms_per_second: float = Field(default=100.0, gt=0)
    # Port of the worker's Prometheus metrics endpoint; 0 serves none.
    metrics_port: int = 0
    # Minutes over which a month's first consent SMS are spread after the window opens (0: all
    # at the opening, as SPEC.md says). A million-citizen month: about what the gateway's rate
    # needs anyway (1,000,000 / 100 per s ≈ 170 min), so the 09:00 herd of timers is flattened.
    send_spread_minutes: int = Field(default=0, ge=0, le=600)
    # Seconds an outside call may take before it is retried.
    http_timeout_s: float = 10.0
    # A deployment's program versions and reference figures (CONTRACTS.md §3), added to the
    # shipped ones at start: a continuation of a pilot, next year's MRP, real tariffs.
    program_data_dir: Path | None = None
    # Whether money may be computed from figures labelled ``sample`` (SPEC.md §7): the demo and
    # the tests do; a real deployment waits for published figures.
    allow_sample_figures: bool = False
    # Lets ``python -m workers`` and ``python -m api`` start with the dev secrets above, for
    # someone deliberately running the production entry points on their own machine.
    allow_dev_secrets: bool = False

    # The Temporal Web UI's codec calls come from the browser: the UI's origins (``,``-separated,
    # e.g. ``https://temporal.example.kz``) may call the codec routes. None by default.
    codec_cors_origins: str = ""
    # ``make run`` only: the codec routes and the month page admit a caller with no token as
    # ops, so the local Web UI decodes without anyone typing one. The production entry points
    # refuse to start with it (``refuse_dev_secrets``), whatever ``ALLOW_DEV_SECRETS`` says.
    codec_dev_open: bool = False
    # SSO: the Web UI passes the user's OIDC access token to the codec ("pass access token").
    # It is verified against the identity provider's JWKS: signature, issuer, audience, expiry,
    # and the ops role in ``OIDC_ROLES_CLAIM`` (a dotted path, e.g. ``realm_access.roles``).
    # Issuer, audience or JWKS unset: no access token is accepted, only the static API_TOKENS.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_roles_claim: str = "roles"
    oidc_ops_role: str = "ops"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept the usual sync URLs and use the async driver of the same database."""
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url

    @field_validator("program_data_dir")
    @classmethod
    def _a_folder(cls, folder: Path | None) -> Path | None:
        """A deployment's data folder must exist: a typo would silently drop its versions."""
        if folder is not None and not folder.is_dir():
            raise ValueError("PROGRAM_DATA_DIR is not a folder")
        return folder

    @field_validator("api_tokens")
    @classmethod
    def _one_long_token_per_role(cls, api_tokens: str) -> str:
        """Each role named once, with its own printable token of at least 32 characters: a
        blank, short or shared token would let a guess, or another role, through."""
        roles = [item.partition(":")[0] for item in api_tokens.split(",")]
        tokens = [item.partition(":")[2] for item in api_tokens.split(",")]
        if sorted(roles) != sorted(ROLES):
            raise ValueError(f"API_TOKENS must be role:token,… naming each of {ROLES} once")
        if not all(_printable_word(token) for token in tokens):
            raise ValueError("API_TOKENS: a token is blank or holds spaces or control characters")
        if min(len(token) for token in tokens) < MIN_SECRET_CHARS:
            raise ValueError(
                f"API_TOKENS: each token must be at least {MIN_SECRET_CHARS} characters"
            )
        if len(set(tokens)) != len(tokens):
            raise ValueError("API_TOKENS: two roles share a token; each role needs its own")
        return api_tokens

    @field_validator("pseudonym_key")
    @classmethod
    def _long_pseudonym_key(cls, key: str) -> str:
        if len(key) < MIN_SECRET_CHARS or not _printable_word(key):
            raise ValueError(
                f"PSEUDONYM_KEY must be at least {MIN_SECRET_CHARS} printable characters "
                "without spaces"
            )
        return key

    @field_validator("payload_keys")
    @classmethod
    def _distinct_32_byte_keys(cls, payload_keys: str) -> str:
        """``id:base64-of-32-bytes,…``, newest first, with distinct ids (a duplicate id would
        make the codec decrypt with the wrong key)."""
        ids = []
        for item in payload_keys.split(","):
            key_id, _, encoded = item.partition(":")
            if not _printable_word(key_id) or _key_bytes(encoded) is None:
                raise ValueError("PAYLOAD_KEYS must be id:base64-of-32-bytes,… (newest first)")
            ids.append(key_id)
        if len(set(ids)) != len(ids):
            raise ValueError("PAYLOAD_KEYS: two keys have the same id; each id must be distinct")
        return payload_keys

    @property
    def send_spread(self) -> timedelta:
        """How long after the send moment the morning's last citizen is texted."""
        return timedelta(minutes=self.send_spread_minutes)

    def tokens_by_role(self) -> dict[str, Role]:
        """Map each API bearer token to its role (``API_TOKENS`` = ``role:token,…``)."""
        pairs = (item.split(":", 1) for item in self.api_tokens.split(","))
        return {token: role for role, token in pairs}

    def dev_defaults_in_use(self) -> list[str]:
        """The environment variables of the secrets that still hold a dev value, in a fixed order.

        ``API_TOKENS`` counts if any one token is a dev token, ``PAYLOAD_KEYS`` if any key (an old
        one kept for decryption too) is the dev key.
        """
        dev_tokens = set(_tokens(DEV_API_TOKENS))
        dev_keys = set(_payload_keys(DEV_PAYLOAD_KEYS))
        in_use = {
            "SMS_GATEWAY_TOKEN": self.sms_gateway_token.strip() == DEV_SMS_GATEWAY_TOKEN,
            "SMS_WEBHOOK_SECRET": self.sms_webhook_secret.strip() == DEV_SMS_WEBHOOK_SECRET,
            "API_TOKENS": not dev_tokens.isdisjoint(_tokens(self.api_tokens)),
            "PSEUDONYM_KEY": self.pseudonym_key.strip() == DEV_PSEUDONYM_KEY,
            "PAYLOAD_KEYS": not dev_keys.isdisjoint(_payload_keys(self.payload_keys)),
        }
        return [name for name, dev in in_use.items() if dev]

    def cors_origins(self) -> list[str]:
        """The origins of ``CODEC_CORS_ORIGINS``."""
        return [item.strip() for item in self.codec_cors_origins.split(",") if item.strip()]


def _printable_word(value: str) -> bool:
    """Not blank, and no whitespace, control or other non-printable character."""
    return bool(value) and value.isprintable() and not any(c.isspace() for c in value)


def _key_bytes(encoded: str) -> bytes | None:
    """The 32 bytes of a base64 key, or None if it is not exactly that."""
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


def _tokens(api_tokens: str) -> list[str]:
    """The tokens of ``role:token,…``, roles dropped."""
    return [item.split(":", 1)[1].strip() for item in api_tokens.split(",") if ":" in item]


def _payload_keys(payload_keys: str) -> list[bytes]:
    """The key bytes of ``id:base64,…``; one that is not base64 is left to the codec to reject."""
    keys = []
    for item in payload_keys.split(","):
        try:
            keys.append(base64.b64decode(item.partition(":")[2].strip()))
        except binascii.Error:
            continue
    return keys


def settings_from_environment() -> Settings:
    """``Settings()`` for a production entry point: an invalid value exits with status 2 and
    one line naming the variables at fault (never their values), not a traceback."""
    try:
        return Settings()
    except ValidationError as invalid:
        reasons = "; ".join(str(error["msg"]) for error in invalid.errors())
        print(f"refusing to start: {reasons}", file=sys.stderr)
        raise SystemExit(2) from None


def refuse_dev_secrets(settings: Settings) -> None:
    """Exit with status 2 if a production entry point would run with a dev secret.

    The message names the variables, never their values. ``ALLOW_DEV_SECRETS`` lifts the
    refusal, except of ``CODEC_DEV_OPEN``; the embedded stack and the tests never call this.
    """
    if settings.codec_dev_open:
        print(
            "refusing to start: CODEC_DEV_OPEN lets anyone decode the cycles' payloads without a "
            "token; it is for make run only (docs/DEPLOYMENT.md)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    names = settings.dev_defaults_in_use()
    if names and not settings.allow_dev_secrets:
        print(
            f"refusing to start: {', '.join(names)} still hold the local stack's public dev "
            "values; set real secrets (docs/DEPLOYMENT.md), or ALLOW_DEV_SECRETS=1 to run "
            "locally on purpose",
            file=sys.stderr,
        )
        raise SystemExit(2)
