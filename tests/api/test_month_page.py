"""The month at a glance (issue 10 items 3 and 4): the program owner's HTML page and CSV of a
program-month, the same figures as the JSON report; and ops' IIN → pseudonym lookup."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import httpx

from api.month_html import MonthPage, render_month
from models.cycle import cycle_id
from rules.pseudonyms import citizen_ref
from store.reports import FlaggedCycle
from tests.api.test_gas_voucher import _settled
from tests.harness import Product


async def test_the_month_page_and_csv_show_the_json_report_s_figures(product: Product) -> None:
    """A settled voucher flagged for a differing discount, and a citizen without a phone: the
    page's funnel, ways out, money and attention list, and the CSV, agree with the JSON."""
    month, rules = await product.next_month("gas")
    unreachable = product.citizen("gas", with_phone=False)
    await product.list(rules, month, unreachable)
    view, expected = await _settled(product, "20", reported=1)
    assert view["month"] == month
    base = f"/v1/programs/gas/months/{month}"
    async with product.api("ops") as ops:
        report = (await ops.get(f"{base}/report")).json()
        page = await ops.get(f"{base}/report.html")
        exported = await ops.get(f"{base}/report.csv")
    assert report["by_state"] == {"SETTLED": 1, "NO_PHONE": 1}
    assert report["discount_total_kzt"] == expected > 0

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    figures = dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', html))
    assert figures["listed"] == "2" and figures["used_settled"] == "1"
    assert figures["no_phone"] == "1" and figures["refused"] == "0"
    assert figures["discount_total_kzt"] == f"{expected:,}".replace(",", "\u202f")
    assert figures["sms_sent"] == str(report["sms_sent"])
    (iin,) = product.world.subscribers  # the settled citizen; the other has no phone
    settled = cycle_id("gas", month, citizen_ref(product.settings.pseudonym_key, iin))
    attention = html.split('id="attention"', 1)[1]
    assert "discount_mismatch" in attention and settled in attention and iin not in html
    assert "<svg" in html and "@media print" in html
    assert "<script" not in html and "<link" not in html and " src=" not in html
    assert "script-src" not in page.headers["content-security-policy"]

    rows = list(csv.DictReader(io.StringIO(exported.text)))
    value = {(r["region"], r["metric"]): r["value"] for r in rows}
    assert value[("ALL", "funnel:listed")] == "2"
    assert value[("ALL", "state:SETTLED")] == "1"
    assert value[("ALL", "discount_total_kzt")] == str(expected)
    assert [r["metric"] for r in rows if r["metric"].startswith("attention:")] == [
        "attention:discount_mismatch"
    ]


async def test_the_month_page_is_for_ops_only(product: Product) -> None:
    """No token (dev mode off): 401; another role: 403; an unknown program: 404."""
    async with httpx.AsyncClient(base_url=product.api_url) as anyone:
        assert (await anyone.get("/v1/programs/gas/months/2026-12/report.html")).status_code == 401
        assert (await anyone.get("/v1/programs/gas/months/2026-12/report.csv")).status_code == 401
    async with product.api("wallet") as wallet, product.api("ops") as ops:
        assert (await wallet.get("/v1/programs/gas/months/2026-12/report.html")).status_code == 403
        assert (await ops.get("/v1/programs/tea/months/2026-12/report.html")).status_code == 404


def test_the_page_escapes_what_it_shows() -> None:
    """A region or a reason with markup in it is shown as text, never run."""
    evil = "<script>alert(1)</script>"
    html = render_month(
        MonthPage(
            report={
                "program": "gas",
                "month": "2026-12",
                "by_state": {"SETTLED": 1},
                "by_region": {evil: {"SETTLED": 1}},
                "goods": {evil: 3},
            },
            by_state={"SETTLED": 1},
            figures={"discount_total_kzt": 1234567},
            attention=[FlaggedCycle("cycle-gas-2026-12-x", evil, "SETTLED", evil)],
            region_names={},
            generated_at=datetime(2026, 12, 6, tzinfo=UTC),
        )
    )
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "1\u202f234\u202f567" in html and "Goods" in html


async def test_ops_turn_an_iin_into_its_pseudonym_and_the_citizen_s_cycles(
    product: Product,
) -> None:
    """POST /v1/ops/pseudonyms {"iin"}: the pseudonym, the workflow IDs and a ready query;
    other roles 403; a malformed IIN 422 without echoing it."""
    _, _, cycle, _ = await product.issued_voucher("gas")
    iin = next(iter(product.world.subscribers))
    async with product.api("ops") as ops, product.api("sdu") as sdu:
        found = await ops.post("/v1/ops/pseudonyms", json={"iin": iin})
        refused = await sdu.post("/v1/ops/pseudonyms", json={"iin": iin})
        malformed = await ops.post("/v1/ops/pseudonyms", json={"iin": "1234567890123"})
    assert found.status_code == 200, found.text
    ref = citizen_ref(product.settings.pseudonym_key, iin)
    assert found.json() == {
        "pseudonym": ref,
        "workflow_ids": [cycle.id],
        "query": f"WorkflowId IN ('{cycle.id}')",
    }
    assert refused.status_code == 403
    assert malformed.status_code == 422 and "1234567890123" not in malformed.text
