"""``CODEC_DEV_OPEN`` (the codec without a token, for ``make run``) never reaches production:
the production entry points refuse it, even with ALLOW_DEV_SECRETS (issue 10 item 1)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from models.settings import Settings, refuse_dev_secrets
from tests.entry_points import run_entry_point

REAL = {
    "SMS_GATEWAY_TOKEN": "gw-4b1f0c9e7a2d",
    "SMS_WEBHOOK_SECRET": "whsec-9c2e71d04ab3f865",
    "API_TOKENS": ",".join(
        f"{role}:t-{role}-{seed}-5e0a93c1d7f24b68e2c9a0d47b13f6e8"
        for role, seed in (
            ("sdu", "81f2"),
            ("wallet", "3c9a"),
            ("provider", "77d0"),
            ("ops", "e41b"),
        )
    ),
    "PSEUDONYM_KEY": "pk-5e0a93c1d7f24b68e2c9a0d47b13f6e8",
    "PAYLOAD_KEYS": "2026-11:" + base64.b64encode(bytes(range(32))).decode(),
}


def test_the_dev_mode_is_off_by_default_and_no_origin_is_allowed() -> None:
    settings = Settings.model_validate({k.lower(): v for k, v in REAL.items()})
    assert not settings.codec_dev_open and settings.cors_origins() == []


def test_the_dev_mode_is_refused_even_where_dev_secrets_are_allowed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Real secrets, ALLOW_DEV_SECRETS on: CODEC_DEV_OPEN alone still stops the start."""
    settings = Settings.model_validate(
        {**{k.lower(): v for k, v in REAL.items()}, "allow_dev_secrets": True}
    ).model_copy(update={"codec_dev_open": True})
    with pytest.raises(SystemExit) as refused:
        refuse_dev_secrets(settings)
    assert refused.value.code == 2
    assert "CODEC_DEV_OPEN" in capsys.readouterr().err


@pytest.mark.parametrize("entry_point", ["api", "workers"])
def test_the_production_entry_point_exits_on_the_dev_mode(entry_point: str, tmp_path: Path) -> None:
    """``python -m api`` and ``python -m workers`` exit with status 2 before connecting."""
    env = {**os.environ, **REAL, "CODEC_DEV_OPEN": "true", "ALLOW_DEV_SECRETS": "1"}
    done = run_entry_point(entry_point, env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("refusing to start: CODEC_DEV_OPEN")
