"""``make bench``'s table (``benchmarks.suite``): each target judged against the baseline of
the same run, each database a column, a missing database saying why."""

from __future__ import annotations

from collections import Counter

from benchmarks.cycles import MonthRun, PathHistories
from benchmarks.intake import IntakeRun, Listing, Month, Starts, Webhook
from benchmarks.outside import SENT_AGAIN
from benchmarks.suite import Column, Row, Scale, rows, table
from benchmarks.updates import UpdateRun
from devtools.embedded import EXAMPLE_PROGRAM_DATA
from models.programs import load_programs


def _row(start: str) -> Row:
    return next(row for row in rows(Scale()) if row.target.startswith(start))


def _cycles(happy: list[int], unanswered: list[int]) -> Column:
    run = MonthRun(n=4, month="2027-01", consenting=2, happy=len(happy))
    run.paths = {"happy": PathHistories(events=happy), "unanswered": PathHistories(unanswered)}
    run.input_bytes, run.input_stored_bytes = 1024, 1140
    return Column("SQLite", cycles=run)


def test_a_path_whose_largest_sampled_history_is_over_its_target_fails() -> None:
    """The happy month's target is 80 events and the unanswered one's 35, for every sampled
    cycle: the largest decides."""
    at_target = _cycles(happy=[80, 79], unanswered=[35])
    over = _cycles(happy=[76, 81], unanswered=[36, 30])
    assert _row("happy gas month").cell(at_target).endswith("PASS")
    assert _row("happy gas month").cell(over).endswith("FAIL")
    assert _row("unanswered month").cell(at_target).endswith("PASS")
    assert _row("unanswered month").cell(over).endswith("FAIL")
    assert _row("cycle input").cell(at_target).endswith("PASS")  # 1024 B is 1 KB


def test_a_database_the_machine_lacks_says_why_in_its_column() -> None:
    """Without PostgreSQL's server binaries the column is there, and every target's cell says
    why it was not run."""
    missing = Column("PostgreSQL", unavailable="initdb not found")
    text = table([_cycles(happy=[70], unanswered=[30]), missing], Scale(), wall_s=60.0)
    header, _, *lines = text.splitlines()
    assert _cells(header) == ["target", "SQLite", "PostgreSQL"]
    body = [_cells(line) for line in lines if line.startswith("| ")]
    assert len(body) == len(rows(Scale()))
    for target, _, postgres in body:
        expected = "-" if target.startswith("wall time") else "not run: initdb not found"
        assert postgres == expected, target


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_table_says_whether_the_webhook_s_replies_were_consents_or_late_answers() -> None:
    """The dev server runs in real time: two runs' webhook rows compare only when their replies
    did the same (consents on a day the month's requests are out, late answers before it)."""
    for awaiting, said in ((True, "consents"), (False, "answered late")):
        run = _intake_run(replied=_month("2026-12", awaiting), listed=_month("2027-01", False))
        cell = _row("webhook replies were").cell(Column("SQLite", intake=run))
        assert cell.startswith(said), cell
        assert "gas 2026-12" in cell


def test_the_table_says_whether_the_listed_cycles_waited_for_their_send_day() -> None:
    """The listing is of a month whose requests are ahead; the table says if there was none."""
    for awaiting, said in ((False, "waiting for gas 2027-01's send day"), (True, "texted")):
        run = _intake_run(replied=_month("2026-12", True), listed=_month("2027-01", awaiting))
        cell = _row("listed cycles were").cell(Column("SQLite", intake=run))
        assert cell.startswith(said), cell


def test_the_listing_row_counts_replies_sent_again_and_says_when_the_fan_out_had_ended() -> None:
    """A reply the gateway sent again (after a 503) is counted beside the unanswered ones; replies
    that outlasted the fan-out were not all sent during it, and the row says so."""
    run = _intake_run(replied=_month("2026-12", True), listed=_month("2027-01", False))
    run.alone = Webhook(in_flight=64, wall_s=1.0, latencies=[0.1] * 100)
    answers = Counter({"consent": 99, "HTTP 500": 1, SENT_AGAIN: 2})
    run.during = Webhook(in_flight=64, wall_s=1.0, latencies=[0.1] * 98 + [25.0] * 2)
    run.during.results = answers
    run.listing = Listing(n=1_000, started_by_last_reply=400)
    row = _row("webhook p99 in a")
    during_fan_out = row.cell(Column("SQLite", intake=run))
    run.listing.started_by_last_reply = 1_000
    after_it = row.cell(Column("SQLite", intake=run))
    assert during_fan_out.startswith("1 of 100 replies unanswered; 2 sent again; ")
    assert during_fan_out.endswith("FAIL")
    assert after_it.endswith("FAIL (the fan-out had ended before the last reply)")


def _month(month: str, awaiting: bool) -> Month:
    rules = load_programs(EXAMPLE_PROGRAM_DATA).for_month("gas", month)
    assert rules is not None
    return Month(program="gas", month=month, rules=rules, awaiting=awaiting)


def _intake_run(*, replied: Month, listed: Month) -> IntakeRun:
    return IntakeRun(
        month=replied,
        listed=listed,
        listed_first=100,
        ready_s=1.0,
        raw=UpdateRun(in_flight=64),
        trivial=Starts(n=100, started_s=1.0, exist_s=1.0),
        alone=Webhook(in_flight=64),
        during=Webhook(in_flight=64),
        listing=Listing(),
        peak_mib=100.0,
    )
