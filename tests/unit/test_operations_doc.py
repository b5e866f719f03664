"""docs/OPERATIONS.md walks ops through find, read and fix (retry, withdraw, flag), and describes
in words every screenshot the browser tests write (issue 10 item 6)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_operations_guide_describes_every_screenshot_and_each_kind_of_fix() -> None:
    guide = (ROOT / "docs" / "OPERATIONS.md").read_text()
    shots = re.findall(
        r'OUTPUT / "([^"]+\.png)"', (ROOT / "tests/browser/test_web_ui.py").read_text()
    )
    assert len(shots) >= 5
    flowing = " ".join(guide.split())
    for shot in shots:
        assert f"*Screenshot `{shot}`*" in flowing, shot
    headings = re.findall(r"^## \d\. (\w+)", guide, re.MULTILINE)
    assert headings == ["Find", "Read", "Fix"]
    fix = guide.split("## 3. Fix", 1)[1]
    for kind in ("(retry)", "(withdraw)", "(flag)"):
        assert kind in fix, kind
    for reason in ("discount_mismatch", "no_handover", "no_consumption", "tariff_missing"):
        assert f"`{reason}`" in fix, reason
