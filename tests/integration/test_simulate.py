"""``make simulate``'s entry (``python -m devtools.simulate``) with a cohort size: the funnel and
money it prints by region are the database's month report, and the run prints no traceback."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from devtools.simulate import cohort_sizes
from rules.funnel import funnel
from store.engine import create_engine, create_sessions
from store.reports import money_totals, month_figures, voucher_use

ROOT = Path(__file__).resolve().parents[2]
CITIZENS = 20
TITLE = re.compile(r"^Funnel and money by region: (\w+) (\d{4}-\d{2})$")
# The printed columns and the figure of rules.funnel each is (the others are the SMS and money).
FUNNEL_OF = {
    "listed": "listed",
    "no_phone": "no_phone",
    "consented": "consented",
    "refused": "refused",
    "expired": "consent_expired",
    "issued": "issued",
    "activated": "activated",
    "lapsed": "voucher_expired",
    "waiting": "waiting",
}


def _tables(output: str) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
    """The printed funnel tables: (program, month) -> region (or TOTAL) -> column -> figure."""
    tables: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    lines = iter(output.splitlines())
    for line in lines:
        title = TITLE.match(line)
        if not title:
            continue
        columns = next(lines).split()[1:]
        rows = tables.setdefault((title[1], title[2]), {})
        for row in lines:
            if not row.strip():
                break
            region, *figures = row.split()
            rows[region] = dict(zip(columns, map(int, figures), strict=True))
            if region == "TOTAL":
                break
    return tables


def _sms_by_region(database: Path, program: str, month: str, kind: str) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT region, count(*) FROM sms_log WHERE program = ? AND month = ? AND kind = ? "
            "GROUP BY region",
            (program, month, kind),
        )
        return dict(rows.fetchall())


def _value_by_region(database: Path, program: str, month: str) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT region, coalesce(sum(amount_kzt), 0) FROM vouchers "
            "WHERE program = ? AND month = ? GROUP BY region",
            (program, month),
        )
        return dict(rows.fetchall())


async def _month_report(database: Path, program: str, month: str) -> dict[str, object]:
    """The figures of the API's month report (api.reports), straight from the database."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        session: AsyncSession
        async with create_sessions(engine)() as session:
            by_region, _ = await month_figures(session, program=program, month=month)
            discounts, redeemed = await money_totals(session, program=program, month=month)
            issued, used = await voucher_use(session, program=program, month=month)
    finally:
        await engine.dispose()
    return {
        "by_region": by_region,
        "settled": discounts + redeemed,
        "issued": issued,
        "used": used,
    }


@pytest.mark.timeout(110)
def test_simulate_prints_the_database_month_report_by_region(tmp_path: Path) -> None:
    """``--citizens 20``: 10 per program; each region's row and the totals are the month report's
    figures (funnel of its states, SMS, vouchers' value, money), and the output is clean."""
    database = tmp_path / "month.db"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.simulate",
            "--citizens",
            str(CITIZENS),
            "--database",
            str(database),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Traceback" not in output
    assert "database is locked" not in output
    assert "stopped early" not in output
    tables = _tables(run.stdout)
    assert {program for program, _ in tables} == {"gas", "food"}
    assert sum(rows["TOTAL"]["listed"] for rows in tables.values()) == CITIZENS
    for (program, month), rows in tables.items():
        report = asyncio.run(_month_report(database, program, month))
        by_region = report["by_region"]
        assert isinstance(by_region, dict)
        asked = _sms_by_region(database, program, month, "consent_request")
        reminded = _sms_by_region(database, program, month, "reminder")
        value = _value_by_region(database, program, month)
        regions = {region for region in rows if region != "TOTAL"}
        assert regions == set(by_region)
        for region in regions:
            expected = funnel(by_region[region])
            printed = rows[region]
            assert {c: printed[c] for c in FUNNEL_OF} == {
                c: expected[f] for c, f in FUNNEL_OF.items()
            }, (program, region)
            assert printed["asked"] == asked.get(region, 0)
            assert printed["reminded"] == reminded.get(region, 0)
            assert printed["value_kzt"] == value.get(region, 0)
        by_state: dict[str, int] = {}
        for states in by_region.values():
            for state, count in states.items():
                by_state[state] = by_state.get(state, 0) + count
        total, expected = rows["TOTAL"], funnel(by_state)
        assert {c: total[c] for c in FUNNEL_OF} == {c: expected[f] for c, f in FUNNEL_OF.items()}
        assert total["settled_kzt"] == report["settled"]
        assert total["used"] == report["used"]
        assert total["asked"] == sum(asked.values()) > 0
        assert total["value_kzt"] == sum(value.values())
        for column in [*FUNNEL_OF, "asked", "reminded", "used", "value_kzt", "settled_kzt"]:
            assert total[column] == sum(rows[region][column] for region in regions), column


@pytest.mark.parametrize(("citizens", "programs"), [(400, 2), (10_001, 2), (7, 1), (2, 2)])
def test_the_cohort_is_split_evenly_between_the_programs(citizens: int, programs: int) -> None:
    """``--citizens N``: N in all, the first program taking the odd one."""
    sizes = cohort_sizes(citizens, programs)
    assert sum(sizes) == citizens
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)
