"""The production entry points refuse the embedded stack's dev secrets; the rest keeps them."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.settings import (
    DEV_API_TOKENS,
    DEV_PAYLOAD_KEYS,
    DEV_PSEUDONYM_KEY,
    DEV_SMS_GATEWAY_TOKEN,
    DEV_SMS_WEBHOOK_SECRET,
    Settings,
    refuse_dev_secrets,
)

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ["SMS_GATEWAY_TOKEN", "SMS_WEBHOOK_SECRET", "API_TOKENS", "PSEUDONYM_KEY", "PAYLOAD_KEYS"]
DEV_VALUES = [
    DEV_SMS_GATEWAY_TOKEN,
    DEV_SMS_WEBHOOK_SECRET,
    *(item.split(":", 1)[1] for item in DEV_API_TOKENS.split(",")),
    DEV_PSEUDONYM_KEY,
    DEV_PAYLOAD_KEYS.split(":", 1)[1],
]
REAL_KEY = "2026-11:" + base64.b64encode(bytes(range(32))).decode()
REAL = {
    "sms_gateway_token": "gw-4b1f0c9e7a2d",
    "sms_webhook_secret": "whsec-9c2e71d04ab3f865",
    "api_tokens": "sdu:t-sdu-81f2,wallet:t-wallet-3c9a,provider:t-provider-77d0,ops:t-ops-e41b",
    "pseudonym_key": "pk-5e0a93c1d7f24b68",
    "payload_keys": REAL_KEY,
}


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
        ("api_tokens", "sdu:t-sdu-81f2,ops:dev-ops", "API_TOKENS"),
        ("api_tokens", "sdu:dev-wallet", "API_TOKENS"),
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
    # Should the refusal fail, nothing reachable and nothing written outside tmp_path.
    env |= {
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'voucher.db'}",
        "API_PORT": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", entry_point],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("refusing to start: SMS_GATEWAY_TOKEN, SMS_WEBHOOK_SECRET")
    assert done.stdout == "" and not any(value in done.stderr for value in DEV_VALUES)
