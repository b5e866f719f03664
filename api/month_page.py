"""The month at a glance for the program owner: ``report.html`` (funnel, regions, money, the
cycles needing attention, charts drawn here as SVG) and ``report.csv``, from the same report as
the JSON route. Ops role, authenticated as the codec is (token, SSO access token, dev mode)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse, Response

from api.auth import require
from api.deps import ApiDeps, deps
from api.month_html import MonthPage, render_month
from api.openapi import refusals
from api.reports import month_report_of
from models.cycle import MONTH_PATTERN
from rules.funnel import funnel
from store.reports import attention_cycles

router = APIRouter(tags=["ops"], dependencies=[Depends(require("ops", dev_open=True))])
ATTENTION_SHOWN = 200  # the page lists this many; the Web UI's `Attention` query finds all


@router.get(
    "/v1/programs/{program}/months/{month}/report.html",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **refusals({404: ["unknown_program"]})},
)
async def month_page(
    program: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    api: Annotated[ApiDeps, Depends(deps)],
) -> HTMLResponse:
    """The program-month's page: printable, readable at 1280 px, no script, no outside fetch."""
    page = await _page(api, program, month)
    return HTMLResponse(
        render_month(page),
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


@router.get(
    "/v1/programs/{program}/months/{month}/report.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **refusals({404: ["unknown_program"]})},
)
async def month_csv(
    program: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    api: Annotated[ApiDeps, Depends(deps)],
) -> Response:
    """The report in long form: ``program,month,region,metric,value`` (region ``ALL`` for the
    month's totals), every state, funnel stage and figure of the JSON report."""
    page = await _page(api, program, month)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["program", "month", "region", "metric", "value"])
    for region, states in [*sorted(page.report["by_region"].items()), ("ALL", page.by_state)]:
        for metric, value in _metrics(states):
            writer.writerow([program, month, region, metric, value])
    for name, figure in page.figures.items():
        writer.writerow([program, month, "ALL", name, figure])
    for flagged in page.attention:
        writer.writerow([program, month, flagged.region, f"attention:{flagged.attention}", 1])
    filename = f"{program}-{month}-report.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _metrics(states: dict[str, int]) -> list[tuple[str, int]]:
    stages = [(f"funnel:{name}", count) for name, count in funnel(states).items()]
    return [*stages, *((f"state:{s}", n) for s, n in sorted(states.items()))]


async def _page(api: ApiDeps, program: str, month: str) -> MonthPage:
    report = (await month_report_of(api, program, month)).model_dump(mode="json")
    async with api.sessions() as session:
        flagged = await attention_cycles(
            session, program=program, month=month, limit=ATTENTION_SHOWN
        )
    regions = {code: region.name.en for code, region in api.reference.regions.items()}
    return MonthPage(
        report=report,
        by_state=report["by_state"],
        figures=_figures(report),
        attention=flagged,
        region_names=regions,
        generated_at=datetime.now(UTC),
    )


def _figures(report: dict[str, Any]) -> dict[str, int | float]:
    """The report's scalar figures (SMS sent, money, any a later version adds), read
    generically so that a new field shows up on the page and in the CSV."""
    return {
        name: value
        for name, value in report.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
