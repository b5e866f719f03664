"""The layers import downward only: the domain types load without the outside world's libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOMAIN = ["calls", "cycle", "voucher", "programs", "reference", "settings", "search"]
OUTSIDE = ("httpx", "sqlalchemy", "sqlmodel", "alembic")


def test_the_domain_types_import_without_httpx_sqlalchemy_or_alembic() -> None:
    """Importing ``models``' domain modules, in a fresh interpreter, loads none of them."""
    # A fresh interpreter: this process has long imported them for other tests.
    probe = (
        f"import sys, {', '.join(f'models.{name}' for name in DOMAIN)}\n"
        f"print(sorted({{m for m in sys.modules if m.split('.')[0] in {OUTSIDE!r}}}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "[]", run.stdout
