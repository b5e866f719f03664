"""Every date and time rule of the programs (SPEC.md §2), in Kazakhstan local time.

Pure: no I/O, no clock. Callers pass ``now`` (``workflow.now()`` inside workflows) and the
resolved ``ProgramVersion``. Inputs may be aware datetimes in any zone; every returned datetime
is in ``ALMATY``. Months are ``"YYYY-MM"`` strings.

A "day N" deadline is the *end* of day N, represented as the exclusive instant 00:00 of day N+1:
a moment ``t`` is in time iff ``t < deadline``. A day past the month's end means its last day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    # Typing only: keeps this module stdlib-only at runtime, cheap to pass through the sandbox.
    from models.programs import ProgramVersion

ALMATY = ZoneInfo("Asia/Almaty")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_LOOKAHEAD_MONTHS = 12


def parse_month(month: str) -> tuple[int, int]:
    """Split a month into numbers.

    Args:
        month: A month as ``"YYYY-MM"``.

    Returns:
        ``(year, month)``.

    Raises:
        ValueError: If ``month`` is not ``YYYY-MM`` with a month from 01 to 12.
    """
    match = _MONTH.fullmatch(month)
    if match is None:
        raise ValueError(f"month must be 'YYYY-MM', got {month!r}")
    year, number = int(match[1]), int(match[2])
    if year < 1 or not 1 <= number <= 12:
        raise ValueError(f"no such month: {month!r}")
    return year, number


def next_month(month: str) -> str:
    """The month after ``month``."""
    year, number = parse_month(month)
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def month_start(month: str) -> datetime:
    """00:00 local on the 1st of ``month``."""
    year, number = parse_month(month)
    return datetime(year, number, 1, tzinfo=ALMATY)


def month_end(month: str) -> datetime:
    """The exclusive end of ``month``: 00:00 local on the 1st of the next month."""
    return month_start(next_month(month))


def days_in_month(month: str) -> int:
    """How many days ``month`` has."""
    return (month_end(month).date() - month_start(month).date()).days


def month_of(moment: datetime) -> str:
    """The local month in which ``moment`` falls."""
    local = _local(moment)
    return f"{local.year:04d}-{local.month:02d}"


def day_start(month: str, day: int) -> datetime:
    """00:00 local of ``day`` of ``month``; a day past the month's end means its last day."""
    if day < 1:
        raise ValueError(f"day must be 1 or more, got {day}")
    year, number = parse_month(month)
    return datetime(year, number, min(day, days_in_month(month)), tzinfo=ALMATY)


def end_of_day(month: str, day: int | None) -> datetime:
    """The exclusive end of ``day`` (clamped to the month), or of the month when ``None``."""
    if day is None:
        return month_end(month)
    # Aware arithmetic is wall-clock: this is local midnight of the following day.
    return day_start(month, day) + timedelta(days=1)


def into_window(moment: datetime, rules: ProgramVersion) -> datetime:
    """Move ``moment`` into the sending window: the next opening if outside it, else unchanged."""
    local = _local(moment)
    window = rules.sending_window
    if local.time() < window.opens:
        return datetime.combine(local.date(), window.opens, tzinfo=ALMATY)
    if local.time() >= window.closes:
        return datetime.combine(local.date() + timedelta(days=1), window.opens, tzinfo=ALMATY)
    return local


def window_closes(moment: datetime, rules: ProgramVersion) -> datetime:
    """When the sending window open at ``moment`` closes (or, outside it, the next one): an SMS
    the gateway has not taken by then waits for the following opening."""
    opening = into_window(moment, rules)
    return datetime.combine(opening.date(), rules.sending_window.closes, tzinfo=ALMATY)


def staggered(moment: datetime, offset: timedelta, rules: ProgramVersion) -> datetime:
    """``moment`` (in the sending window) moved ``offset`` later, if that is still inside the
    same window; otherwise ``moment`` itself (a late addition near 21:00 is not held overnight)."""
    later = _local(moment) + offset
    return later if later < window_closes(moment, rules) else _local(moment)


def list_closes(rules: ProgramVersion, month: str) -> datetime:
    """When SDU may no longer change the month's list: the end of the cut-off day."""
    return end_of_day(month, rules.list_cutoff_day)


def send_moment(rules: ProgramVersion, month: str) -> datetime:
    """When the month's first consent SMS go out: the window's opening on the send day."""
    return into_window(day_start(month, rules.send_day), rules)


def first_request_moment(rules: ProgramVersion, month: str, listed_at: datetime) -> datetime:
    """When the consent request goes out for a citizen listed at ``listed_at``.

    Listed before the send day: at the send moment. Listed later (a gas late addition): on
    arrival, moved into the sending window.
    """
    return max(send_moment(rules, month), into_window(listed_at, rules))


def reminder_due(rules: ProgramVersion, first_sent_at: datetime) -> datetime:
    """When the repeat SMS is due: ``reminder_after_days`` × 24 h later, moved into the window."""
    # Elapsed time, not wall-clock days: add in UTC so an offset change cannot stretch it.
    later = _local(first_sent_at).astimezone(UTC)
    return into_window(later + timedelta(days=rules.reminder_after_days), rules)


def pilot_ends(rules: ProgramVersion) -> datetime | None:
    """The exclusive end of the version's last day (``effective_until``), or ``None`` if open."""
    if rules.effective_until is None:
        return None
    last = rules.effective_until + timedelta(days=1)
    return datetime(last.year, last.month, last.day, tzinfo=ALMATY)


def within_pilot(rules: ProgramVersion, moment: datetime) -> datetime:
    """``moment``, or the pilot's end if that comes first: a pilot ending inside a month cuts
    the month short (seed 002 ends on 26 September 2025: its vouchers lapse then)."""
    ends = pilot_ends(rules)
    return _local(moment) if ends is None else min(_local(moment), ends)


def voucher_lapses(rules: ProgramVersion, month: str) -> datetime:
    """When the month's vouchers lapse: the month's end, or the pilot's end if earlier."""
    return within_pilot(rules, month_end(month))


def consent_deadline(rules: ProgramVersion, month: str) -> datetime:
    """The exclusive end of the consent period (``None`` deadline day: the month's end), never
    after the pilot's end: a voucher for a consent after it could not be used."""
    return within_pilot(rules, end_of_day(month, rules.consent_deadline_day))


def reminder_in_time(rules: ProgramVersion, month: str, first_sent_at: datetime) -> bool:
    """Whether the reminder falls before the consent deadline; if not, none is sent."""
    return reminder_due(rules, first_sent_at) < consent_deadline(rules, month)


def activation_window(rules: ProgramVersion, month: str) -> tuple[datetime, datetime]:
    """``(opens, closes)`` of voucher activation; ``closes`` is exclusive, and never after the
    pilot's end."""
    return (
        day_start(month, rules.activation_from_day),
        within_pilot(rules, end_of_day(month, rules.activation_until_day)),
    )


def voucher_valid_until(rules: ProgramVersion, month: str) -> date:
    """The last local day on which the month's voucher can still be activated."""
    return (activation_window(rules, month)[1] - timedelta(days=1)).date()


def handover_moment(rules: ProgramVersion, month: str) -> datetime | None:
    """When activated vouchers go to the provider, or ``None`` if the program has no hand-over.

    "On the 30th" is 00:00 on the 30th, but never before activation closes: in February the
    clamped day would fall inside the activation window, so it moves to 1 March.
    """
    if rules.handover_day is None:
        return None
    return max(day_start(month, rules.handover_day), activation_window(rules, month)[1])


def month_open_for_listing(rules: ProgramVersion, month: str, now: datetime) -> bool:
    """Whether SDU may still send the list of ``month`` under ``rules`` at ``now``."""
    in_force = rules.in_force_on(rules.send_date(month))
    return in_force and _local(now) < list_closes(rules, month)


def earliest_open_month(
    rules_for_month: Callable[[str], ProgramVersion | None], now: datetime
) -> str | None:
    """The earliest month, from the current one up to 12 ahead, whose list is open at ``now``.

    Args:
        rules_for_month: The program's rule version in force for a month, or ``None``.
        now: The current moment.

    Returns:
        The month as ``"YYYY-MM"``, or ``None`` if no month in that range is open.
    """
    month = month_of(now)
    for _ in range(_LOOKAHEAD_MONTHS + 1):
        rules = rules_for_month(month)
        if rules is not None and month_open_for_listing(rules, month, now):
            return month
        month = next_month(month)
    return None


def _local(moment: datetime) -> datetime:
    """``moment`` in local time; naive datetimes are refused, as their zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: a time zone is required")
    return moment.astimezone(ALMATY)


def local_date(moment: datetime) -> date:
    """The date in Kazakhstan of ``moment``."""
    return _local(moment).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local start of ``day`` and of the day after: the instants a daily report covers."""
    start = datetime(day.year, day.month, day.day, tzinfo=ALMATY)
    return start, datetime.combine(day + timedelta(days=1), start.timetz())
