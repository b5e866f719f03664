"""The HTML of the month page: a small template filled with escaped values, and its charts as
inline SVG drawn here (no script, no font or stylesheet fetched from anywhere)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from string import Template
from typing import Any

from rules import calendar
from rules.funnel import OUTCOMES, STAGES, funnel
from store.reports import FlaggedCycle

STAGE_LABELS = {
    "listed": "Listed",
    "texted": "Texted",
    "consented": "Consented",
    "issued": "Voucher issued",
    "activated": "Activated",
    "used_settled": "Used / settled",
}
OUTCOME_LABELS = {
    "waiting": "Still waiting",
    "refused": "Refused",
    "no_phone": "No phone",
    "consent_expired": "Consent expired",
    "voucher_expired": "Voucher expired",
    "withdrawn": "Withdrawn",
}
OUTCOME_COLOURS = {
    "active": "#1b7f5b",
    "waiting": "#9bb7d4",
    "refused": "#c0504d",
    "no_phone": "#7f7f7f",
    "consent_expired": "#e3a21a",
    "voucher_expired": "#b5651d",
    "withdrawn": "#5a4e8c",
}
# The report's structure, shown by its own sections; every other field is a figure.
STRUCTURE = {"program", "month", "by_state", "by_region"}


@dataclass(frozen=True)
class MonthPage:
    """What the page shows: the JSON report (as a dict, read generically) and the flagged."""

    report: dict[str, Any]
    by_state: dict[str, int]
    figures: dict[str, int | float]
    attention: list[FlaggedCycle]
    region_names: dict[str, str]
    generated_at: datetime


PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
  body { font: 15px/1.45 system-ui, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d2330;
         margin: 0 auto; max-width: 1200px; padding: 16px 24px; }
  h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
  .sub { color: #5b6474; margin: 0 0 16px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
           gap: 10px; }
  .card { border: 1px solid #d5dae3; border-radius: 6px; padding: 8px 12px; }
  .card .n { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .l { color: #5b6474; font-size: 13px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { border-bottom: 1px solid #e3e7ee; padding: 4px 8px; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  th { background: #f3f5f9; font-weight: 600; font-size: 13px; }
  td.mono, th.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px;
                     text-align: left; }
  svg { max-width: 100%; height: auto; } svg text { font: 13px system-ui, sans-serif; }
  .legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
  .legend i { display: inline-block; width: 11px; height: 11px; margin-right: 4px; }
  .links a { margin-right: 12px; } .note { color: #5b6474; font-size: 13px; }
  @media print {
    body { max-width: none; padding: 0; font-size: 11pt; } .links { display: none; }
    section { break-inside: avoid; } a { color: inherit; text-decoration: none; }
    th { background: none; }
  }
</style>
</head>
<body>
<header>
<h1>$title</h1>
<p class="sub">As of $generated Almaty · from the product's database, the same figures as the
JSON report</p>
<p class="links"><a href="report">JSON</a><a href="report.csv">CSV</a></p>
</header>
<section id="funnel">
<h2>Funnel</h2>
<div class="cards">$stage_cards</div>
$funnel_chart
</section>
<section id="outcomes">
<h2>Ways out and still waiting</h2>
<div class="cards">$outcome_cards</div>
</section>
<section id="regions">
<h2>By region</h2>
$region_chart
$region_table
</section>
<section id="money">
<h2>Money and other figures</h2>
$figures
</section>
<section id="attention">
<h2>Cycles needing attention ($attention_count)</h2>
$attention
</section>
<p class="note">A cycle counts at every stage its state has reached: a settled voucher was
also listed, texted, consented, issued and activated. A food citizen whose consent is on file
from an earlier month is issued without a text. Cycle IDs carry the citizen's pseudonym, never
the IIN: open one in the Temporal Web UI by its ID.</p>
</body>
</html>
""")


def render_month(page: MonthPage) -> str:
    """The whole page; every value from the report or the database is escaped."""
    report = page.report
    counts = funnel(page.by_state)
    title = f"{report['program']} vouchers · {report['month']}"
    return PAGE.substitute(
        title=escape(title),
        generated=escape(f"{page.generated_at.astimezone(calendar.ALMATY):%Y-%m-%d %H:%M}"),
        stage_cards=_cards({k: (v, counts[k]) for k, v in STAGE_LABELS.items()}),
        outcome_cards=_cards({k: (v, counts[k]) for k, v in OUTCOME_LABELS.items()}),
        funnel_chart=_funnel_chart(counts),
        region_chart=_region_chart(report["by_region"], page.region_names),
        region_table=_region_table(report["by_region"], page.region_names),
        figures=_figures(report, page.figures),
        attention_count=str(len(page.attention)),
        attention=_attention(page.attention),
    )


def _cards(cards: dict[str, tuple[str, int]]) -> str:
    return "".join(
        f'<div class="card"><div class="n" data-figure="{escape(key)}">{_num(count)}</div>'
        f'<div class="l">{escape(label)}</div></div>'
        for key, (label, count) in cards.items()
    )


def _funnel_chart(counts: dict[str, int]) -> str:
    """Horizontal bars, one per stage, scaled to the listed count."""
    width, label_w, row = 1100, 160, 34
    top = max(counts["listed"], 1)
    bars = []
    for i, stage in enumerate(STAGES):
        y = 8 + i * row
        length = round((width - label_w - 90) * counts[stage] / top)
        share = f"{100 * counts[stage] / top:.0f}%" if counts["listed"] else "–"
        bars.append(
            f'<text x="0" y="{y + 18}">{escape(STAGE_LABELS[stage])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{length}" height="24" fill="#2f6db5"/>'
            f'<text x="{label_w + length + 8}" y="{y + 18}">{_num(counts[stage])} '
            f"({share})</text>"
        )
    height = 16 + len(STAGES) * row
    return _svg(width, height, "The funnel, listed to used or settled", "".join(bars))


def _outcome_split(states: dict[str, int]) -> dict[str, int]:
    counts = funnel(states)
    split = {"active": counts["issued"] - counts["voucher_expired"]}
    split |= {name: counts[name] for name in OUTCOMES}
    return split


def _region_chart(by_region: dict[str, dict[str, int]], names: dict[str, str]) -> str:
    """One stacked bar per region: where its cycles stand, as a share of its listed."""
    width, label_w, row = 1100, 170, 26
    regions = sorted(by_region)
    if not regions:
        return '<p class="note">No cycle listed for this month yet.</p>'
    rows = []
    for i, region in enumerate(regions):
        y = 6 + i * row
        split = _outcome_split(by_region[region])
        total = max(sum(by_region[region].values()), 1)
        x = float(label_w)
        rows.append(f'<text x="0" y="{y + 15}">{escape(names.get(region, region))}</text>')
        for name, count in split.items():
            length = (width - label_w - 60) * count / total
            if length > 0:
                rows.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="20" '
                    f'fill="{OUTCOME_COLOURS[name]}"><title>{escape(name)}: {count}</title></rect>'
                )
            x += length
        rows.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{_num(total)}</text>')
    chart = _svg(width, 12 + len(regions) * row, "Cycles by region and outcome", "".join(rows))
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{escape(_legend_label(name))}</span>'
        for name, colour in OUTCOME_COLOURS.items()
    )
    return f'<p class="legend">{legend}</p>{chart}'


def _legend_label(name: str) -> str:
    return "Voucher issued or in use" if name == "active" else OUTCOME_LABELS[name]


def _region_table(by_region: dict[str, dict[str, int]], names: dict[str, str]) -> str:
    columns = [*STAGE_LABELS.items(), *OUTCOME_LABELS.items()]
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    body = []
    for region in sorted(by_region):
        counts = funnel(by_region[region])
        cells = "".join(f"<td>{_num(counts[key])}</td>" for key, _ in columns)
        label = f"{names.get(region, region)} ({region})"
        body.append(f'<tr data-region="{escape(region)}"><td>{escape(label)}</td>{cells}</tr>')
    return f"<table><tr><th>Region</th>{head}</tr>{''.join(body)}</table>"


def _figures(report: dict[str, Any], figures: dict[str, int | float]) -> str:
    """Every scalar of the report (money in tenge, SMS sent, counts a later version adds), a
    bar chart of the money, and any other structured field as it comes."""
    rows = "".join(
        f'<tr><td>{escape(_label(name))}</td><td data-figure="{escape(name)}">{_num(value)}'
        "</td></tr>"
        for name, value in figures.items()
    )
    money = {k: v for k, v in figures.items() if k.endswith("_kzt")}
    chart = _money_chart(money) if money else ""
    others = [
        f"<h3>{escape(_label(name))}</h3>{_generic(value)}"
        for name, value in report.items()
        if name not in STRUCTURE and name not in figures
    ]
    return f"<table><tr><th>Figure</th><th>Value</th></tr>{rows}</table>{chart}{''.join(others)}"


def _money_chart(money: dict[str, int | float]) -> str:
    width, label_w, row = 1100, 260, 30
    top = max([*money.values(), 1])
    bars = []
    for i, (name, value) in enumerate(money.items()):
        y = 6 + i * row
        length = round((width - label_w - 160) * value / top)
        bars.append(
            f'<text x="0" y="{y + 17}">{escape(_label(name))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{length}" height="22" fill="#1b7f5b"/>'
            f'<text x="{label_w + length + 8}" y="{y + 17}">{_num(value)} ₸</text>'
        )
    return _svg(width, 12 + len(money) * row, "Money of the month, in tenge", "".join(bars))


def _generic(value: Any) -> str:
    """A structured report field of a later version: a table of a mapping, else its JSON."""
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        rows = "".join(
            f"<tr><td>{escape(str(k))}</td><td>{escape(_plain(v))}</td></tr>"
            for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    return f"<pre>{escape(json.dumps(value, ensure_ascii=False, indent=1))}</pre>"


def _attention(flagged: Sequence[FlaggedCycle]) -> str:
    if not flagged:
        return '<p class="note">None: no cycle of this month is flagged.</p>'
    rows = "".join(
        f'<tr><td class="mono">{escape(c.cycle_id)}</td><td>{escape(c.region)}</td>'
        f"<td>{escape(c.state)}</td><td>{escape(c.attention)}</td></tr>"
        for c in flagged
    )
    head = '<tr><th class="mono">Cycle</th><th>Region</th><th>State</th><th>Why</th></tr>'
    return f"<table>{head}{rows}</table>"


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _label(name: str) -> str:
    text = name.replace("_kzt", " (KZT)").replace("sms_", "SMS_").replace("_", " ")
    return text[:1].upper() + text[1:]


def _plain(value: Any) -> str:
    return (
        _num(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
    )


def _num(value: int | float) -> str:
    """Thousands apart by a thin space, as Kazakhstan writes them (1 234 567)."""
    return f"{value:,}".replace(",", "\u202f")
