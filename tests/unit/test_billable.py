"""The billable-actions count (``benchmarks.billable``) follows Temporal Cloud's definitions, on
copies of two 1.0 histories kept here (the recorded ones are replaced at each release)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from benchmarks.billable import count_actions, count_file, first_sms, load
from rules import calendar

HISTORIES = Path(__file__).parent / "histories"


def test_a_happy_gas_month_bills_its_starts_activities_timers_upserts_messages_markers() -> None:
    """1.0's settled gas month: 38 actions. Its nine local activities run in nine workflow
    tasks (one action each), its 135 events include 22 workflow tasks that bill nothing."""
    actions = count_actions(load(HISTORIES / "gas-settled-1.0.json"))
    assert actions == Counter(
        {
            "workflow started": 1,
            "activity": 11,
            "local activity": 9,
            "search-attribute upsert": 7,
            "timer": 5,
            "update": 3,
            "signal": 2,
        }
    )
    assert actions.total() == 38


def test_an_activity_retried_bills_each_attempt() -> None:
    """The SMS gateway failing 500 then 429: the consent request's ``sms.send`` starts on its
    4th attempt, so it bills 4 actions, though it has one scheduled event."""
    actions = count_actions(load(HISTORIES / "gas-sms_gateway_faults-1.0.json"))
    assert actions["activity"] == 3 + 3
    assert actions.total() == 17


def test_the_send_day_is_the_day_of_the_first_sms_and_counts_what_happens_on_it() -> None:
    """The settled month's send day (7 January 2027 in Almaty) holds 21 of its 38 actions; the
    09:00 task itself bills 4 (the SMS activity, an upsert, a local activity, a timer)."""
    count = count_file(HISTORIES / "gas-settled-1.0.json")
    assert count.total == 38
    assert count.send_day_actions == 21
    assert count.burst_actions == 4
    assert count.executions["sms.send"] == 2
    moment = first_sms(load(HISTORIES / "gas-settled-1.0.json"))
    assert moment is not None
    assert moment.astimezone(calendar.ALMATY).date() == date(2027, 1, 7)
