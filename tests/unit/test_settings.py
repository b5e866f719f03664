"""``Settings()`` refuses an invalid secret by its variable's name, never echoing it; the
production entry points refuse the embedded stack's dev secrets; the rest keeps them."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from models.settings import (
    DEV_API_TOKENS,
    DEV_PAYLOAD_KEYS,
    DEV_PSEUDONYM_KEY,
    DEV_SMS_GATEWAY_TOKEN,
    DEV_SMS_WEBHOOK_SECRET,
    Settings,
    refuse_dev_secrets,
)
from tests.entry_points import run_entry_point

SECRETS = ["SMS_GATEWAY_TOKEN", "SMS_WEBHOOK_SECRET", "API_TOKENS", "PSEUDONYM_KEY", "PAYLOAD_KEYS"]
DEV_VALUES = [
    DEV_SMS_GATEWAY_TOKEN,
    DEV_SMS_WEBHOOK_SECRET,
    *(item.split(":", 1)[1] for item in DEV_API_TOKENS.split(",")),
    DEV_PSEUDONYM_KEY,
    DEV_PAYLOAD_KEYS.split(":", 1)[1],
]
REAL_KEY = "2026-11:" + base64.b64encode(bytes(range(32))).decode()
OLD_KEY = "2026-10:" + base64.b64encode(bytes(range(32, 64))).decode()
REAL_TOKENS = {
    "sdu": "t-sdu-81f2c4e09a7b3d5f61c8e2a4b7d903fe",
    "wallet": "t-wallet-3c9a0d7e5b1f48c2a6e9d3b70f15c4a8",
    "provider": "t-provider-77d0e4b9c2a6f1d853e0b7c4a9f2d61e",
    "ops": "t-ops-e41b9f3c7a05d2e86b4f1c9a3d7e05b2",
}
REAL = {
    "sms_gateway_token": "gw-4b1f0c9e7a2d",
    "sms_webhook_secret": "whsec-9c2e71d04ab3f865",
    "api_tokens": ",".join(f"{role}:{token}" for role, token in REAL_TOKENS.items()),
    "pseudonym_key": "pk-5e0a93c1d7f24b68e2c9a0d47b13f6e8",
    "payload_keys": REAL_KEY,
}
DEV_TOKEN = dict(item.split(":", 1) for item in DEV_API_TOKENS.split(","))


def _tokens(**tokens: str) -> str:
    """``API_TOKENS`` with the real tokens except ``tokens``."""
    return ",".join(f"{role}:{token}" for role, token in (REAL_TOKENS | tokens).items())


def _settings(**overrides: object) -> Settings:
    """Settings with real secrets except ``overrides`` (arguments win over the environment)."""
    return Settings.model_validate({**REAL, "allow_dev_secrets": False, **overrides})


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret and no ALLOW_DEV_SECRETS from the environment running the tests."""
    for name in [*SECRETS, "ALLOW_DEV_SECRETS"]:
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_are_the_dev_values(clean_env: None) -> None:
    """Settings read from an environment without secrets name every secret, in a fixed order."""
    assert Settings().dev_defaults_in_use() == SECRETS


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("sms_gateway_token", DEV_SMS_GATEWAY_TOKEN, "SMS_GATEWAY_TOKEN"),
        ("sms_webhook_secret", DEV_SMS_WEBHOOK_SECRET, "SMS_WEBHOOK_SECRET"),
        ("api_tokens", DEV_API_TOKENS, "API_TOKENS"),
        ("api_tokens", _tokens(ops=DEV_TOKEN["ops"]), "API_TOKENS"),
        ("api_tokens", _tokens(sdu=DEV_TOKEN["wallet"]), "API_TOKENS"),
        ("pseudonym_key", DEV_PSEUDONYM_KEY, "PSEUDONYM_KEY"),
        ("payload_keys", DEV_PAYLOAD_KEYS, "PAYLOAD_KEYS"),
        ("payload_keys", f"{REAL_KEY},{DEV_PAYLOAD_KEYS}", "PAYLOAD_KEYS"),
        ("payload_keys", "prod-1:" + DEV_PAYLOAD_KEYS.split(":", 1)[1], "PAYLOAD_KEYS"),
    ],
)
def test_each_dev_default_is_named(field: str, value: str, name: str) -> None:
    """One dev secret among real ones, even one dev token or an old dev key, is named alone."""
    assert _settings(**{field: value}).dev_defaults_in_use() == [name]


def test_real_secrets_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """With no dev value left the entry points start, silently."""
    settings = _settings()
    assert settings.dev_defaults_in_use() == []
    refuse_dev_secrets(settings)
    assert capsys.readouterr().err == ""


def test_dev_secrets_are_refused_by_name_without_values(
    clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal exits with status 2 and one line naming the variables, not their values."""
    with pytest.raises(SystemExit) as refused:
        refuse_dev_secrets(Settings())
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(name in err for name in SECRETS)
    assert "ALLOW_DEV_SECRETS" in err
    assert not any(value in err for value in DEV_VALUES)


def test_allow_dev_secrets_lifts_the_refusal(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALLOW_DEV_SECRETS=1 starts with the dev values, which are still reported as such."""
    monkeypatch.setenv("ALLOW_DEV_SECRETS", "1")
    settings = Settings()
    assert settings.allow_dev_secrets and settings.dev_defaults_in_use() == SECRETS
    refuse_dev_secrets(settings)


@pytest.mark.parametrize("entry_point", ["api", "workers"])
def test_the_production_entry_point_exits_on_dev_secrets(entry_point: str, tmp_path: Path) -> None:
    """``python -m api`` and ``python -m workers`` exit with status 2 before connecting."""
    env = {k: v for k, v in os.environ.items() if k not in {*SECRETS, "ALLOW_DEV_SECRETS"}}
    done = run_entry_point(entry_point, env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("refusing to start: SMS_GATEWAY_TOKEN, SMS_WEBHOOK_SECRET")
    assert done.stdout == "" and not any(value in done.stderr for value in DEV_VALUES)


SECRET = "s3cr3t-value-that-must-never-be-echoed-0123456789"


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("api_tokens", _tokens(ops=""), "API_TOKENS"),
        ("api_tokens", _tokens(ops="\xa0"), "API_TOKENS"),
        ("api_tokens", _tokens(ops=SECRET[:31]), "API_TOKENS"),
        ("api_tokens", _tokens(ops=SECRET + " x"), "API_TOKENS"),
        ("api_tokens", _tokens(ops=SECRET + "\x00"), "API_TOKENS"),
        ("api_tokens", _tokens(ops=SECRET, wallet=SECRET), "API_TOKENS"),
        ("api_tokens", _tokens() + f",ops:{SECRET}", "API_TOKENS"),
        ("api_tokens", f"sdu:{SECRET}", "API_TOKENS"),
        ("api_tokens", _tokens() + f",admin:{SECRET}", "API_TOKENS"),
        ("api_tokens", _tokens() + ",", "API_TOKENS"),
        ("pseudonym_key", SECRET[:31], "PSEUDONYM_KEY"),
        ("pseudonym_key", SECRET + "\n", "PSEUDONYM_KEY"),
        ("payload_keys", f"k1:{SECRET}", "PAYLOAD_KEYS"),
        ("payload_keys", "k1:" + base64.b64encode(SECRET.encode()[:31]).decode(), "PAYLOAD_KEYS"),
        ("payload_keys", f"{REAL_KEY},{REAL_KEY}", "PAYLOAD_KEYS"),
        ("payload_keys", f"{REAL_KEY},2026-11:{OLD_KEY.split(':')[1]}", "PAYLOAD_KEYS"),
        ("payload_keys", f":{REAL_KEY.split(':')[1]}", "PAYLOAD_KEYS"),
        ("payload_keys", "", "PAYLOAD_KEYS"),
    ],
)
def test_an_invalid_secret_is_refused_by_name_without_its_value(
    field: str, value: str, name: str
) -> None:
    """A blank, short, shared, duplicated or malformed secret is refused at construction; the
    error names the variable and holds none of the value given."""
    with pytest.raises(ValidationError) as refused:
        _settings(**{field: value})
    message = str(refused.value)
    assert name in message
    assert SECRET[:16] not in message and REAL_KEY.split(":")[1] not in message
    assert not any(token in message for token in REAL_TOKENS.values())


def test_an_invalid_secret_from_the_environment_is_refused(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same refusal for a value read from the environment: a blank token cannot be ops."""
    monkeypatch.setenv("API_TOKENS", _tokens(ops=""))
    with pytest.raises(ValidationError, match="API_TOKENS"):
        Settings()


def test_rotated_payload_keys_with_distinct_ids_pass() -> None:
    """Newest key first, an older one kept to decrypt: valid."""
    assert _settings(payload_keys=f"{REAL_KEY},{OLD_KEY}").payload_keys.startswith("2026-11:")


def test_the_dev_defaults_are_valid_settings(clean_env: None) -> None:
    """The embedded stack, the tests and CONTRACTS.md §4's ``Settings()`` construct with the dev
    values, which the production entry points still refuse without ALLOW_DEV_SECRETS."""
    settings = Settings()
    assert sorted(settings.tokens_by_role().values()) == sorted(
        ["sdu", "wallet", "provider", "ops"]
    )


@pytest.mark.parametrize("entry_point", ["api", "workers"])
def test_the_production_entry_point_exits_on_an_invalid_secret_without_echoing_it(
    entry_point: str, tmp_path: Path
) -> None:
    """An invalid ``API_TOKENS``: exit status 2 and one line naming it, never a traceback or the
    value, before anything connects."""
    env = {k: v for k, v in os.environ.items() if k not in {*SECRETS, "ALLOW_DEV_SECRETS"}}
    done = run_entry_point(entry_point, env | {"API_TOKENS": _tokens(ops=SECRET[:20])}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("refusing to start: ") and done.stderr.count("\n") == 1
    assert "API_TOKENS" in done.stderr and "Traceback" not in done.stderr
    assert SECRET[:20] not in done.stderr
    assert not any(token in done.stderr for token in REAL_TOKENS.values())
