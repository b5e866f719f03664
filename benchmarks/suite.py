"""``python -m benchmarks`` (``make bench``): every benchmark on SQLite and PostgreSQL, one table.

Runs ``benchmarks.cycles`` (whole gas months, time-skipping server), ``benchmarks.intake``
(baselines, the webhook alone, a 20,000-citizen listing with the webhook during it) and
``benchmarks.activation`` (the wallet's gas activation) once with the product's database on
SQLite (a temporary file) and once on PostgreSQL (a throwaway cluster from the machine's server
binaries, ``devtools.postgres``, fsync off like the tests'; where there are none, the column says
why). Each target of issue 13 is printed with what this run measured, the baseline measured on the
same server in the same run, the ratio, and PASS or FAIL; rows without a target say ``info``.
Event counts, the input's size and the "database is locked" count are read from the runs
themselves: the sampled histories, a started cycle's first event, the log records.

The output is a Markdown table, pasted as is into the README's performance section. Sizes are
chosen to finish in under 15 minutes on two cores; ``--quick`` is a smoke run; ``--details``
also prints each benchmark's own table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import activation, cycles, intake
from benchmarks.common import machine, quiet_core_logs, replace_section
from benchmarks.outside import SENT_AGAIN
from devtools.postgres import running_cluster, unavailable

HAPPY_EVENTS = 80
UNANSWERED_EVENTS = 35
INPUT_BYTES = 1024
INTAKE_RATIO = 0.9
WEBHOOK_RATIO = 0.9
WEBHOOK_P99_RATIO = 2.0
ACTIVATION_RATIO = 0.4
LISTING_P99_RATIO = 2.0
LOCKED = "database is locked"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Scale:
    """How much each benchmark does."""

    cycles: int = 400
    sample: int = 20
    happy: int = 10
    listing: int = 20_000
    window: int = 3_000  # of the listing's cycles, timed for the start rate
    trivial: int = 3_000
    replies: int = 500
    in_flight: int = 64
    activations: int = 200
    activation_in_flight: int = 16


QUICK = Scale(
    cycles=40,
    sample=6,
    happy=3,
    listing=2_000,
    window=300,
    trivial=300,
    replies=60,
    activations=30,
)


class LogCount(logging.Handler):
    """Counts the log records of the run: warnings and errors, and "database is locked"."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records = 0
        self.locked = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(record.exc_info[1]))
        if LOCKED in text:
            self.locked += 1


@dataclass
class Column:
    """One database's runs: what each benchmark gave, or why it did not."""

    database: str
    unavailable: str | None = None
    cycles: cycles.MonthRun | None = None
    intake: intake.IntakeRun | None = None
    activation: activation.ActivationRun | None = None
    failures: list[str] = field(default_factory=list)
    log_records: int = 0
    locked: int = 0
    wall_s: float = 0.0


@dataclass(frozen=True)
class Row:
    target: str
    cell: Callable[[Column], str]


async def _measure(
    column: Column,
    new_url: Callable[[], Awaitable[str]],
    scale: Scale,
    save_histories: Path | None,
) -> None:
    """Run the three benchmarks on one kind of database, each on a fresh database."""
    counter = LogCount()
    # A handler on the root logger retires logging's last resort: keep the records on stderr.
    shown = logging.StreamHandler(sys.stderr)
    shown.setLevel(logging.WARNING)
    shown.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for handler in (counter, shown):
        logging.getLogger().addHandler(handler)
    began = time.perf_counter()
    try:
        for name, run in (
            (
                "cycles",
                lambda url: cycles.measure(
                    url,
                    n=scale.cycles,
                    sample=scale.sample,
                    happy=scale.happy,
                    save_histories=save_histories and save_histories / column.database.lower(),
                ),
            ),
            (
                "intake",
                lambda url: intake.measure(
                    url,
                    n=scale.listing,
                    window=scale.window,
                    trivial=scale.trivial,
                    replies=scale.replies,
                    in_flight=scale.in_flight,
                ),
            ),
            (
                "activation",
                lambda url: activation.measure(
                    url, n=scale.activations, in_flight=scale.activation_in_flight
                ),
            ),
        ):
            _progress(f"{column.database}: {name} ...")
            started = time.perf_counter()
            try:
                setattr(column, name, await run(await new_url()))
            except Exception as error:  # a failed benchmark is a row that says so
                column.failures.append(f"{name}: {type(error).__name__}: {error}")
            _progress(f"{column.database}: {name} done in {time.perf_counter() - started:.0f} s")
    finally:
        for handler in (counter, shown):
            logging.getLogger().removeHandler(handler)
    column.log_records, column.locked = counter.records, counter.locked
    column.wall_s = time.perf_counter() - began


def _progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _databases(tmp: Path) -> Iterator[list[tuple[Column, Callable[[], Awaitable[str]] | None]]]:
    """SQLite files in ``tmp``, and a throwaway PostgreSQL cluster when the machine has one."""

    async def sqlite() -> str:
        return f"sqlite+aiosqlite:///{tmp / f'{uuid.uuid4().hex[:8]}.db'}"

    sqlite_column = Column("SQLite")
    postgres_column = Column("PostgreSQL", unavailable=unavailable())
    if postgres_column.unavailable is not None:
        yield [(sqlite_column, sqlite), (postgres_column, None)]
        return
    with running_cluster() as cluster:
        yield [(sqlite_column, sqlite), (postgres_column, cluster.create_database)]


async def run(scale: Scale, *, details: bool, save_histories: Path | None) -> list[Column]:
    """Every benchmark on each database, one after the other."""
    columns: list[Column] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, _databases(Path(tmp)) as kinds:
        for column, new_url in kinds:
            columns.append(column)
            if new_url is not None:
                await _measure(column, new_url, scale, save_histories)
            if details:
                _print_details(column)
    return columns


def _print_details(column: Column) -> None:
    print(f"\n## {column.database}\n")
    if column.cycles is not None:
        cycles.print_run(column.cycles)
        print()
    if column.intake is not None:
        intake.print_run(column.intake)
        print()
    if column.activation is not None:
        activation.print_run(column.activation)
        print()


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _missing(column: Column, name: str) -> str:
    if column.unavailable is not None:
        return f"not run: {column.unavailable}"
    return f"{name} failed (below)"


def _events(path: str, limit: int) -> Callable[[Column], str]:
    def cell(column: Column) -> str:
        if column.cycles is None:
            return _missing(column, "cycles")
        found = column.cycles.paths.get(path)
        if found is None or not found.events:
            return "none sampled"
        most = max(found.events)
        mean = sum(found.events) / len(found.events)
        return (
            f"{most} (max of {len(found.events)}, mean {mean:.1f}) ≤ {limit}: "
            f"{_verdict(most <= limit)}"
        )

    return cell


def _input(column: Column) -> str:
    if column.cycles is None:
        return _missing(column, "cycles")
    run = column.cycles
    return (
        f"{run.input_bytes} B ({run.input_stored_bytes} B stored, encrypted) ≤ {INPUT_BYTES} B: "
        f"{_verdict(run.input_bytes <= INPUT_BYTES)}"
    )


def _cycles_rate(column: Column) -> str:
    if column.cycles is None or column.cycles.trivial is None:
        return _missing(column, "cycles")
    run, trivial = column.cycles, column.cycles.trivial
    return (
        f"{run.per_s:.1f}/s ({run.n} in {run.wall_s:.0f} s) vs {trivial.per_s:.0f}/s = "
        f"{run.per_s / trivial.per_s:.3f}: info"
    )


def _ratio(value: float, base: float, unit: str, target: float, *, at_least: bool) -> str:
    ratio = value / base if base else float("inf")
    ok = ratio >= target if at_least else ratio <= target
    sign = "≥" if at_least else "≤"
    return f"{value:.1f}{unit} vs {base:.1f}{unit} = {ratio:.2f} {sign} {target}: {_verdict(ok)}"


def _intake_rate(column: Column) -> str:
    if column.intake is None:
        return _missing(column, "intake")
    run = column.intake
    return _ratio(run.listing.per_s, run.trivial.per_s, "/s", INTAKE_RATIO, at_least=True)


def _webhook_rate(column: Column) -> str:
    if column.intake is None:
        return _missing(column, "intake")
    run = column.intake
    judged = _ratio(run.alone.per_s, run.raw.per_s, "/s", WEBHOOK_RATIO, at_least=True)
    return _unanswered(run.alone) + judged


def _replies_were(column: Column) -> str:
    """What the webhook's replies did: the dev server runs in real time, so on a day when the
    month's consent requests are already out (a gas late-addition day after 09:00) each reply
    is a consent, with a voucher and an SMS after it; otherwise it is answered ``late``. The
    webhook's rows of two runs compare only on the same kind of day."""
    if column.intake is None:
        return _missing(column, "intake")
    month = column.intake.month
    if month.awaiting:
        return f"consents ({month.program} {month.month}'s requests are out): info"
    return f"answered late ({month.program} {month.month}'s requests not out yet): info"


def _listed_were(column: Column) -> str:
    """What the listing's cycles did on arrival: the listing is of a month whose consent
    requests are still ahead, so they wait for its send day; on a day when no open month's
    requests are ahead, they are texted on arrival, and each start carries an SMS."""
    if column.intake is None:
        return _missing(column, "intake")
    listed = column.intake.listed
    if listed.awaiting:
        return f"texted on arrival ({listed.program} {listed.month}'s requests are out): info"
    return f"waiting for {listed.program} {listed.month}'s send day: info"


def _unanswered(hook: intake.Webhook) -> str:
    """How many replies got no answer (an HTTP error or none at all), and how many times the
    gateway sent one again (the webhook's 503: the cycle did not answer in time), if any."""
    failed = sum(
        n for kind, n in hook.results.items() if kind.startswith("HTTP ") or kind[:1].isupper()
    )
    said = [f"{failed} of {len(hook.latencies)} replies unanswered"] if failed else []
    if again := hook.results.get(SENT_AGAIN, 0):
        said.append(f"{again} sent again")
    return "".join(f"{part}; " for part in said)


def _webhook_p99(column: Column) -> str:
    if column.intake is None:
        return _missing(column, "intake")
    run = column.intake
    return _ratio(
        run.alone.p99 * 1000, run.raw.p99 * 1000, " ms", WEBHOOK_P99_RATIO, at_least=False
    )


def _listing_p99(column: Column) -> str:
    if column.intake is None:
        return _missing(column, "intake")
    run = column.intake
    judged = _ratio(
        run.during.p99 * 1000, run.alone.p99 * 1000, " ms", LISTING_P99_RATIO, at_least=False
    )
    if not run.listing.under_way:
        judged += " (the fan-out had ended before the last reply)"
    return _unanswered(run.during) + judged


def _activation_rate(column: Column) -> str:
    if column.activation is None:
        return _missing(column, "activation")
    run = column.activation
    return _ratio(run.per_s, run.raw.per_s, "/s", ACTIVATION_RATIO, at_least=True)


def _locked(column: Column) -> str:
    if column.unavailable is not None:
        return _missing(column, "")
    return f"{column.locked} = 0: {_verdict(column.locked == 0)}"


def _logged(column: Column) -> str:
    if column.unavailable is not None:
        return _missing(column, "")
    failed = f"; {len(column.failures)} benchmark(s) failed" if column.failures else ""
    return f"{column.log_records} warnings or errors logged{failed}: info"


def rows(scale: Scale) -> list[Row]:
    """The table's rows: issue 13's targets, then what else the run says (sizes: caption)."""
    listing = f"{scale.listing:,}"
    return [
        Row(f"happy gas month: events ≤ {HAPPY_EVENTS}", _events("happy", HAPPY_EVENTS)),
        Row(
            f"unanswered month: events ≤ {UNANSWERED_EVENTS}",
            _events("unanswered", UNANSWERED_EVENTS),
        ),
        Row("voucher issued, never activated: events", _lapsed),
        Row(f"cycle input ≤ {INPUT_BYTES} B", _input),
        Row("whole gas months: cycles/s vs trivial/s", _cycles_rate),
        Row(f"intake starts/s ≥ {INTAKE_RATIO} × trivial starts/s", _intake_rate),
        Row("listed cycles were (by the real clock's day)", _listed_were),
        Row("webhook replies were (by the real clock's day)", _replies_were),
        Row(f"webhook replies/s ≥ {WEBHOOK_RATIO} × raw updates/s", _webhook_rate),
        Row(f"webhook p99 ≤ {WEBHOOK_P99_RATIO:g} × raw update p99", _webhook_p99),
        Row(f"webhook p99 in a {listing} listing ≤ {LISTING_P99_RATIO:g} × alone", _listing_p99),
        Row(f"gas activations/s ≥ {ACTIVATION_RATIO} × raw updates/s", _activation_rate),
        Row('"database is locked" in the logs = 0', _locked),
        Row("warnings and errors logged", _logged),
        Row("wall time of the column", _wall),
    ]


def caption(scale: Scale) -> str:
    """What the rows measured, in numbers."""
    return (
        f"Sizes: {scale.cycles} whole gas months ({scale.happy} happy, histories of "
        f"{scale.sample} unanswered and {scale.sample // 2} never activated sampled) against as "
        f"many trivial workflows; a {scale.listing:,}-citizen listing, its start rate timed over "
        f"its first {scale.window:,} cycles, against {scale.trivial:,} trivial starts (64 in "
        f"flight); {scale.replies} webhook replies alone and {scale.replies} during the listing, "
        f"{scale.in_flight} in flight, against {scale.replies} raw updates at the same "
        f"concurrency; {scale.activations} gas activations, {scale.activation_in_flight} in "
        f"flight, against as many raw updates at that concurrency. The webhook's and the "
        f"wallet's calls come from a process of their own, as from the gateway and the wallet."
    )


def _wall(column: Column) -> str:
    return f"{column.wall_s:.0f} s" if column.unavailable is None else "-"


def _lapsed(column: Column) -> str:
    if column.cycles is None:
        return _missing(column, "cycles")
    found = column.cycles.paths.get("lapsed")
    if found is None or not found.events:
        return "none sampled"
    return f"{max(found.events)} (max of {len(found.events)}): info"


def table(columns: list[Column], scale: Scale, wall_s: float) -> str:
    """The Markdown table: a row per target, a column per database; its caption below."""
    header = ["target", *(column.database for column in columns)]
    lines = [[row.target, *(row.cell(column) for column in columns)] for row in rows(scale)]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def markdown(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [markdown(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [markdown(line) for line in lines]
    out.append(f"\n{caption(scale)} Wall time of the whole run: {wall_s / 60:.1f} min.")
    out += [f"\n{c.database}: {failure}" for c in columns for failure in c.failures]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run at small sizes")
    parser.add_argument("--details", action="store_true", help="each benchmark's own table too")
    parser.add_argument(
        "--save-histories", type=Path, help="keep one history per path (for benchmarks.billable)"
    )
    parser.add_argument(
        "--write", type=Path, help="also put the table into this file's bench section (README.md)"
    )
    args = parser.parse_args()
    scale = QUICK if args.quick else Scale()
    quiet_core_logs()
    began = time.perf_counter()
    start = machine()
    columns = asyncio.run(run(scale, details=args.details, save_histories=args.save_histories))
    wall_s = time.perf_counter() - began
    text = table(columns, scale, wall_s)
    text += f"\n\nMachine: {start} at the start; {machine()} at the end."
    print(text)
    if args.write is not None:
        replace_section(args.write, BEGIN, END, text)
