"""A production entry point (``python -m api``, ``python -m workers``) run as its own process, for
the tests of what it refuses at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_entry_point(
    entry_point: str, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m entry_point`` with ``env``. Should it fail to refuse, it reaches nothing
    and writes nothing outside ``tmp_path``."""
    unreachable = {
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'voucher.db'}",
        "API_PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", entry_point],
        cwd=ROOT,
        env=env | unreachable,
        capture_output=True,
        text=True,
        timeout=60,
    )
