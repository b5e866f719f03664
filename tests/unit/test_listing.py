"""The morning's spread of consent requests (``rules.listing.send_offset``)."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta

from rules.listing import send_offset


def _ref(n: int) -> str:
    return hashlib.sha256(f"citizen-{n}".encode()).hexdigest()[:20]


def test_no_spread_texts_everyone_at_the_opening() -> None:
    """``SEND_SPREAD_MINUTES=0`` (the default): every offset is zero, as SPEC.md says."""
    assert {send_offset(_ref(n), timedelta(0)) for n in range(100)} == {0}


def test_a_citizen_always_gets_the_same_place() -> None:
    """The offset depends on the pseudonym alone: a restarted intake gives the same moment."""
    spread = timedelta(minutes=120)
    assert [send_offset(_ref(n), spread) for n in range(50)] == [
        send_offset(_ref(n), spread) for n in range(50)
    ]


def test_offsets_fall_inside_the_spread_and_cover_it_evenly() -> None:
    """10,000 citizens over two hours: every offset in [0, 7200) s, each 12-minute slice
    holding its tenth give or take a fifth."""
    spread = timedelta(minutes=120)
    offsets = [send_offset(_ref(n), spread) for n in range(10_000)]
    assert min(offsets) >= 0 and max(offsets) < 7200
    slices = Counter(offset // 720 for offset in offsets)
    assert sorted(slices) == list(range(10))
    assert all(800 <= count <= 1200 for count in slices.values()), slices
