"""The programs' date and time rules, for every month of 2027 and of leap year 2028.

Expected values are written out here (UTC+5 literals, ``calendar.monthrange``), never computed
with the functions under test.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models.programs import (
    ProgramBook,
    ProgramVersion,
    SendingWindow,
    SmsTexts,
    Territory,
    VoucherRule,
    load_programs,
)
from rules.calendar import (
    ALMATY,
    activation_window,
    consent_deadline,
    day_start,
    days_in_month,
    earliest_open_month,
    end_of_day,
    first_request_moment,
    handover_moment,
    into_window,
    list_closes,
    month_end,
    month_of,
    month_open_for_listing,
    month_start,
    next_month,
    parse_month,
    pilot_ends,
    reminder_due,
    reminder_in_time,
    send_moment,
    staggered,
    voucher_lapses,
    voucher_valid_until,
    window_closes,
    within_pilot,
)

# A fixed offset, not the zone database: the expectations must not share the code's tz source.
PLUS5 = timezone(timedelta(hours=5))
MONTHS = [f"{year}-{number:02d}" for year in (2027, 2028) for number in range(1, 13)]


def _at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=PLUS5)


def _ym(month: str) -> tuple[int, int]:
    year, number = month.split("-")
    return int(year), int(number)


def _last_day(month: str) -> int:
    return calendar.monthrange(*_ym(month))[1]


def _day(month: str, day: int, hour: int = 0) -> datetime:
    return _at(*_ym(month), day, hour)


def _first_of_next(month: str) -> datetime:
    last = date(*_ym(month), _last_day(month))
    following = last + timedelta(days=1)
    return _at(following.year, following.month, following.day)


def _gas_close(month: str) -> datetime:
    """The end of the 29th: 00:00 on the 30th, or on 1 March in February."""
    return _day(month, 30) if _last_day(month) >= 30 else _first_of_next(month)


def _assert_local(actual: datetime, expected: datetime) -> None:
    assert actual == expected
    assert actual.tzinfo is not None and str(actual.tzinfo) == "Asia/Almaty"
    assert actual.replace(tzinfo=None) == expected.replace(tzinfo=None)


def _version(**rules: Any) -> ProgramVersion:
    return ProgramVersion(
        version="test",
        title="Test program",
        source="tests",
        effective_from=date(2027, 1, 1),
        effective_until=date(2028, 12, 31),
        territory=Territory(regions=("ASTANA",)),
        eligible_assistance=("TSA",),
        short_number="1414",
        support_phone="5104",
        sms=SmsTexts(consent_request={"ru": "request"}, confirmation={"ru": "ok"}),
        sending_window=SendingWindow(opens=time(9), closes=time(21)),
        **rules,
    )


@pytest.fixture
def gas() -> ProgramVersion:
    return _version(
        program="gas",
        list_cutoff_day=14,
        send_day=7,
        reminder_after_days=7,
        consent_deadline_day=29,
        consent_scope="month",
        activation_from_day=7,
        activation_until_day=29,
        handover_day=30,
        voucher=VoucherRule(kind="gas_discount", per="recipient"),
    )


@pytest.fixture
def food() -> ProgramVersion:
    return _version(
        program="food",
        list_cutoff_day=4,
        send_day=5,
        reminder_after_days=5,
        consent_deadline_day=None,
        consent_scope="program_period",
        activation_from_day=1,
        activation_until_day=None,
        handover_day=None,
        voucher=VoucherRule(kind="fixed_mrp", per="family_member"),
    )


def test_almaty_is_utc_plus_5() -> None:
    """ALMATY is the Asia/Almaty zone, five hours ahead of UTC in 2027-2028."""
    assert str(ALMATY) == "Asia/Almaty"
    assert datetime(2027, 7, 1, tzinfo=ALMATY).utcoffset() == timedelta(hours=5)


# --- months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "expected"),
    [("2027-01", (2027, 1)), ("2028-12", (2028, 12)), ("0001-01", (1, 1))],
)
def test_parse_month(month: str, expected: tuple[int, int]) -> None:
    """A well-formed month splits into year and month numbers."""
    assert parse_month(month) == expected


@pytest.mark.parametrize(
    "month",
    [
        "2027-00",
        "2027-13",
        "2027-1",
        "27-01",
        "2027/01",
        "2027-01-01",
        "",
        " 2027-01",
        "2027-01\n",
        "0000-01",
        "\uff12\uff10\uff12\uff17-01",  # full-width digits match \d but are not a month
    ],
)
def test_parse_month_rejects(month: str) -> None:
    """A malformed month or a month number outside 01-12 raises ValueError."""
    with pytest.raises(ValueError):
        parse_month(month)


@pytest.mark.parametrize("month", MONTHS)
def test_days_in_month(month: str) -> None:
    """Every month has as many days as the standard library's calendar says."""
    assert days_in_month(month) == _last_day(month)


def test_february_lengths() -> None:
    """February has 28 days in 2027 and 29 in leap year 2028."""
    assert (days_in_month("2027-02"), days_in_month("2028-02")) == (28, 29)


@pytest.mark.parametrize("month", MONTHS)
def test_month_start_and_end(month: str) -> None:
    """A month runs from 00:00 on its 1st to 00:00 on the next month's 1st, exclusive."""
    _assert_local(month_start(month), _day(month, 1))
    _assert_local(month_end(month), _first_of_next(month))


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        ("2027-01", "2027-02"),
        ("2027-12", "2028-01"),
        ("2028-02", "2028-03"),
        ("0999-12", "1000-01"),
    ],
)
def test_next_month(month: str, expected: str) -> None:
    """The next month rolls over the year after December."""
    assert next_month(month) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (_at(2027, 3, 1), "2027-03"),
        (_at(2027, 3, 31, 23, 59, 59, 999999), "2027-03"),
        (datetime(2027, 12, 31, 18, 59, 59, tzinfo=UTC), "2027-12"),
        (datetime(2027, 12, 31, 19, 0, tzinfo=UTC), "2028-01"),
        (datetime(2028, 2, 29, 21, 59, tzinfo=ZoneInfo("Europe/Moscow")), "2028-02"),
        (datetime(2028, 2, 29, 22, 0, tzinfo=ZoneInfo("Europe/Moscow")), "2028-03"),
    ],
)
def test_month_of(moment: datetime, expected: str) -> None:
    """The month of a moment is its month in Almaty, whatever zone the moment is given in."""
    assert month_of(moment) == expected


@pytest.mark.parametrize(
    ("month", "day", "expected"),
    [
        ("2027-03", 1, _at(2027, 3, 1)),
        ("2027-03", 31, _at(2027, 3, 31)),
        ("2027-02", 29, _at(2027, 2, 28)),
        ("2027-02", 31, _at(2027, 2, 28)),
        ("2028-02", 30, _at(2028, 2, 29)),
        ("2027-04", 31, _at(2027, 4, 30)),
    ],
)
def test_day_start_clamps_to_month(month: str, day: int, expected: datetime) -> None:
    """A day past the month's end means the month's last day."""
    _assert_local(day_start(month, day), expected)


@pytest.mark.parametrize(
    ("month", "day", "expected"),
    [
        ("2027-03", 29, _at(2027, 3, 30)),
        ("2027-03", 31, _at(2027, 4, 1)),
        ("2027-02", 29, _at(2027, 3, 1)),
        ("2028-02", 29, _at(2028, 3, 1)),
        ("2028-02", 28, _at(2028, 2, 29)),
        ("2027-12", 31, _at(2028, 1, 1)),
        ("2027-12", None, _at(2028, 1, 1)),
        ("2028-02", None, _at(2028, 3, 1)),
    ],
)
def test_end_of_day(month: str, day: int | None, expected: datetime) -> None:
    """The end of day N is 00:00 of the next day, clamped to the month; None is the month end."""
    _assert_local(end_of_day(month, day), expected)


@pytest.mark.parametrize("call", [partial(day_start, "2027-03"), partial(end_of_day, "2027-03")])
def test_day_zero_rejected(call: Callable[[int], datetime]) -> None:
    """Day 0 is not a day of any month."""
    with pytest.raises(ValueError):
        call(0)


# --- every month, both programs ---------------------------------------------------------------


@pytest.mark.parametrize("month", MONTHS)
def test_gas_list_closes_after_the_14th(gas: ProgramVersion, month: str) -> None:
    """The gas list may change until the end of the 14th."""
    _assert_local(list_closes(gas, month), _day(month, 15))


@pytest.mark.parametrize("month", MONTHS)
def test_food_list_closes_after_the_4th(food: ProgramVersion, month: str) -> None:
    """The food list may change until the end of the 4th."""
    _assert_local(list_closes(food, month), _day(month, 5))


@pytest.mark.parametrize("month", MONTHS)
def test_gas_send_moment(gas: ProgramVersion, month: str) -> None:
    """The gas consent SMS go out at 09:00 on the 7th."""
    _assert_local(send_moment(gas, month), _day(month, 7, 9))


@pytest.mark.parametrize("month", MONTHS)
def test_food_send_moment(food: ProgramVersion, month: str) -> None:
    """The food consent SMS go out at 09:00 on the 5th."""
    _assert_local(send_moment(food, month), _day(month, 5, 9))


@pytest.mark.parametrize("month", MONTHS)
def test_gas_consent_deadline(gas: ProgramVersion, month: str) -> None:
    """Gas consent closes at the end of the 29th, or of February's last day."""
    _assert_local(consent_deadline(gas, month), _gas_close(month))


@pytest.mark.parametrize("month", MONTHS)
def test_food_consent_deadline(food: ProgramVersion, month: str) -> None:
    """Food consent closes at the end of the month."""
    _assert_local(consent_deadline(food, month), _first_of_next(month))


@pytest.mark.parametrize("month", MONTHS)
def test_gas_activation_window(gas: ProgramVersion, month: str) -> None:
    """Gas vouchers activate from 00:00 on the 7th until the end of the 29th."""
    opens, closes = activation_window(gas, month)
    _assert_local(opens, _day(month, 7))
    _assert_local(closes, _gas_close(month))


@pytest.mark.parametrize("month", MONTHS)
def test_food_activation_window(food: ProgramVersion, month: str) -> None:
    """Food vouchers activate from the 1st until the end of the month."""
    opens, closes = activation_window(food, month)
    _assert_local(opens, _day(month, 1))
    _assert_local(closes, _first_of_next(month))


@pytest.mark.parametrize("month", MONTHS)
def test_gas_voucher_valid_until(gas: ProgramVersion, month: str) -> None:
    """An unactivated gas voucher lapses after the 29th, or after February's last day."""
    year, number = _ym(month)
    assert voucher_valid_until(gas, month) == date(year, number, min(29, _last_day(month)))


@pytest.mark.parametrize("month", MONTHS)
def test_food_voucher_valid_until(food: ProgramVersion, month: str) -> None:
    """An unactivated food voucher lapses after the month's last day."""
    year, number = _ym(month)
    assert voucher_valid_until(food, month) == date(year, number, _last_day(month))


@pytest.mark.parametrize("month", MONTHS)
def test_gas_handover(gas: ProgramVersion, month: str) -> None:
    """Gas hands over at 00:00 on the 30th, or on 1 March in February."""
    moment = handover_moment(gas, month)
    assert moment is not None
    _assert_local(moment, _gas_close(month))


@pytest.mark.parametrize("month", MONTHS)
def test_food_has_no_handover(food: ProgramVersion, month: str) -> None:
    """Food has no hand-over moment: the wallet reports to the provider daily."""
    assert handover_moment(food, month) is None


@pytest.mark.parametrize(
    ("month", "deadline", "valid_until"),
    [
        ("2027-02", _at(2027, 3, 1), date(2027, 2, 28)),
        ("2028-02", _at(2028, 3, 1), date(2028, 2, 29)),
        ("2027-04", _at(2027, 4, 30), date(2027, 4, 29)),
        ("2028-12", _at(2028, 12, 30), date(2028, 12, 29)),
    ],
)
def test_gas_february_literals(
    gas: ProgramVersion, month: str, deadline: datetime, valid_until: date
) -> None:
    """Spelled out: February's gas deadline and hand-over are 1 March 00:00."""
    assert consent_deadline(gas, month) == deadline
    assert activation_window(gas, month)[1] == deadline
    assert handover_moment(gas, month) == deadline
    assert voucher_valid_until(gas, month) == valid_until


def test_food_december_closes_at_new_year(food: ProgramVersion) -> None:
    """Food's December deadline is 1 January 00:00 of the next year."""
    assert consent_deadline(food, "2028-12") == _at(2029, 1, 1)
    assert voucher_valid_until(food, "2028-12") == date(2028, 12, 31)


# --- sending window ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (_at(2027, 3, 10, 0, 0), _at(2027, 3, 10, 9, 0)),
        (_at(2027, 3, 10, 8, 59, 59), _at(2027, 3, 10, 9, 0)),
        (_at(2027, 3, 10, 9, 0), _at(2027, 3, 10, 9, 0)),
        (_at(2027, 3, 10, 14, 30, 5, 123), _at(2027, 3, 10, 14, 30, 5, 123)),
        (_at(2027, 3, 10, 20, 59, 59), _at(2027, 3, 10, 20, 59, 59)),
        (_at(2027, 3, 10, 20, 59, 59, 999999), _at(2027, 3, 10, 20, 59, 59, 999999)),
        (_at(2027, 3, 10, 21, 0), _at(2027, 3, 11, 9, 0)),
        (_at(2027, 3, 10, 23, 0), _at(2027, 3, 11, 9, 0)),
        (_at(2027, 3, 31, 22, 0), _at(2027, 4, 1, 9, 0)),
        (_at(2027, 2, 28, 22, 0), _at(2027, 3, 1, 9, 0)),
        (_at(2028, 2, 28, 22, 0), _at(2028, 2, 29, 9, 0)),
        (_at(2027, 12, 31, 22, 0), _at(2028, 1, 1, 9, 0)),
        (datetime(2027, 3, 7, 4, 0, tzinfo=UTC), _at(2027, 3, 7, 9, 0)),
        (datetime(2027, 3, 7, 3, 59, 59, tzinfo=UTC), _at(2027, 3, 7, 9, 0)),
        (datetime(2027, 3, 7, 16, 0, tzinfo=UTC), _at(2027, 3, 8, 9, 0)),
        # 20:00 UTC on the 6th is 01:00 on the 7th in Almaty: the local date decides.
        (datetime(2027, 3, 6, 20, 0, tzinfo=UTC), _at(2027, 3, 7, 9, 0)),
        (datetime(2027, 3, 7, 7, 0, tzinfo=ZoneInfo("Europe/Moscow")), _at(2027, 3, 7, 9, 0)),
    ],
)
def test_into_window(gas: ProgramVersion, moment: datetime, expected: datetime) -> None:
    """A moment outside 09:00-21:00 local moves to the next opening; inside, it stays."""
    _assert_local(into_window(moment, gas), expected)


def test_into_window_uses_the_programs_window(gas: ProgramVersion) -> None:
    """The window's hours come from the program version, not from a constant."""
    late = gas.model_copy(update={"sending_window": SendingWindow(opens=time(10), closes=time(18))})
    _assert_local(into_window(_at(2027, 3, 10, 9, 30), late), _at(2027, 3, 10, 10, 0))
    _assert_local(into_window(_at(2027, 3, 10, 18, 0), late), _at(2027, 3, 11, 10, 0))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (_at(2027, 3, 10, 0, 0), _at(2027, 3, 10, 21, 0)),
        (_at(2027, 3, 10, 9, 0), _at(2027, 3, 10, 21, 0)),
        (_at(2027, 3, 10, 20, 59, 59, 999999), _at(2027, 3, 10, 21, 0)),
        (_at(2027, 3, 10, 21, 0), _at(2027, 3, 11, 21, 0)),
        (_at(2027, 2, 28, 22, 0), _at(2027, 3, 1, 21, 0)),
        (_at(2028, 2, 28, 22, 0), _at(2028, 2, 29, 21, 0)),
        (_at(2027, 12, 31, 23, 59), _at(2028, 1, 1, 21, 0)),
        # 17:00 UTC is 22:00 in Almaty: today's window has closed, tomorrow's closes next.
        (datetime(2027, 3, 7, 17, 0, tzinfo=UTC), _at(2027, 3, 8, 21, 0)),
    ],
)
def test_window_closes(gas: ProgramVersion, moment: datetime, expected: datetime) -> None:
    """The close of the window open at ``moment``, or of the next one when it is shut."""
    _assert_local(window_closes(moment, gas), expected)


def test_window_closes_uses_the_programs_window(gas: ProgramVersion) -> None:
    """The window's hours come from the program version, not from a constant."""
    late = gas.model_copy(update={"sending_window": SendingWindow(opens=time(10), closes=time(18))})
    _assert_local(window_closes(_at(2027, 3, 10, 17, 59), late), _at(2027, 3, 10, 18, 0))
    _assert_local(window_closes(_at(2027, 3, 10, 18, 0), late), _at(2027, 3, 11, 18, 0))


@pytest.mark.parametrize(
    ("moment", "offset", "expected"),
    [
        (_at(2027, 3, 7, 9, 0), timedelta(0), _at(2027, 3, 7, 9, 0)),
        (_at(2027, 3, 7, 9, 0), timedelta(minutes=95, seconds=7), _at(2027, 3, 7, 10, 35, 7)),
        (_at(2027, 3, 7, 9, 0), timedelta(hours=11, minutes=59), _at(2027, 3, 7, 20, 59)),
        # A late addition near the close is texted on arrival, not held overnight.
        (_at(2027, 3, 7, 20, 0), timedelta(hours=1), _at(2027, 3, 7, 20, 0)),
        (_at(2027, 3, 7, 20, 0), timedelta(minutes=59), _at(2027, 3, 7, 20, 59)),
        (datetime(2027, 3, 7, 4, 0, tzinfo=UTC), timedelta(hours=2), _at(2027, 3, 7, 11, 0)),
    ],
)
def test_staggered(
    gas: ProgramVersion, moment: datetime, offset: timedelta, expected: datetime
) -> None:
    """A citizen's place in the morning's spread stays inside the window it starts in."""
    _assert_local(staggered(moment, offset, gas), expected)


# --- consent requests and reminders -----------------------------------------------------------


@pytest.mark.parametrize(
    ("listed_at", "expected"),
    [
        (_at(2027, 2, 20, 10, 0), _at(2027, 3, 7, 9, 0)),
        (_at(2027, 3, 3, 12, 0), _at(2027, 3, 7, 9, 0)),
        (_at(2027, 3, 7, 8, 0), _at(2027, 3, 7, 9, 0)),
        (_at(2027, 3, 7, 9, 0), _at(2027, 3, 7, 9, 0)),
        (_at(2027, 3, 10, 14, 30), _at(2027, 3, 10, 14, 30)),
        (_at(2027, 3, 10, 22, 0), _at(2027, 3, 11, 9, 0)),
        (_at(2027, 3, 14, 23, 59), _at(2027, 3, 15, 9, 0)),
        (datetime(2027, 3, 10, 9, 30, tzinfo=UTC), _at(2027, 3, 10, 14, 30)),
    ],
)
def test_gas_first_request(gas: ProgramVersion, listed_at: datetime, expected: datetime) -> None:
    """Listed before the 7th: texted at 09:00 on the 7th; later: on arrival, inside the window."""
    _assert_local(first_request_moment(gas, "2027-03", listed_at), expected)


@pytest.mark.parametrize(
    "listed_at", [_at(2027, 2, 25, 10, 0), _at(2027, 3, 1, 0, 0), _at(2027, 3, 4, 23, 0)]
)
def test_food_first_request(food: ProgramVersion, listed_at: datetime) -> None:
    """Food citizens, all listed by the 4th, are texted at 09:00 on the 5th."""
    _assert_local(first_request_moment(food, "2027-03", listed_at), _at(2027, 3, 5, 9, 0))


@pytest.mark.parametrize(
    ("first_sent_at", "expected"),
    [
        (_at(2027, 3, 7, 9, 0), _at(2027, 3, 14, 9, 0)),
        (_at(2027, 3, 10, 20, 30), _at(2027, 3, 17, 20, 30)),
        (_at(2027, 3, 14, 20, 59, 59), _at(2027, 3, 21, 20, 59, 59)),
        (_at(2027, 3, 10, 21, 0), _at(2027, 3, 18, 9, 0)),
        (_at(2027, 12, 28, 10, 0), _at(2028, 1, 4, 10, 0)),
        (datetime(2027, 3, 7, 4, 0, tzinfo=UTC), _at(2027, 3, 14, 9, 0)),
    ],
)
def test_gas_reminder_due(gas: ProgramVersion, first_sent_at: datetime, expected: datetime) -> None:
    """The gas reminder is due 7 × 24 h after the first SMS, moved into the window."""
    _assert_local(reminder_due(gas, first_sent_at), expected)


@pytest.mark.parametrize(
    ("first_sent_at", "expected"),
    [
        (_at(2027, 3, 5, 9, 0), _at(2027, 3, 10, 9, 0)),
        (_at(2027, 2, 26, 12, 0), _at(2027, 3, 3, 12, 0)),
        (_at(2028, 2, 26, 12, 0), _at(2028, 3, 2, 12, 0)),
    ],
)
def test_food_reminder_due(
    food: ProgramVersion, first_sent_at: datetime, expected: datetime
) -> None:
    """The food reminder is due 5 × 24 h after the first SMS, counting 29 February."""
    _assert_local(reminder_due(food, first_sent_at), expected)


@pytest.mark.parametrize(
    ("program", "month", "first_sent_at", "expected"),
    [
        ("gas", "2027-03", _at(2027, 3, 7, 9, 0), True),
        ("gas", "2027-03", _at(2027, 3, 22, 20, 0), True),
        ("gas", "2027-03", _at(2027, 3, 23, 9, 0), False),
        ("gas", "2027-02", _at(2027, 2, 21, 10, 0), True),
        ("gas", "2027-02", _at(2027, 2, 22, 9, 0), False),
        ("gas", "2028-02", _at(2028, 2, 22, 9, 0), True),
        ("gas", "2028-02", _at(2028, 2, 23, 9, 0), False),
        ("food", "2027-03", _at(2027, 3, 5, 9, 0), True),
        ("food", "2027-03", _at(2027, 3, 26, 20, 0), True),
        ("food", "2027-03", _at(2027, 3, 27, 9, 0), False),
    ],
)
def test_reminder_in_time(
    request: pytest.FixtureRequest,
    program: str,
    month: str,
    first_sent_at: datetime,
    expected: bool,
) -> None:
    """A reminder is sent only if it would go out before the consent deadline."""
    rules: ProgramVersion = request.getfixturevalue(program)
    assert reminder_in_time(rules, month, first_sent_at) is expected


@pytest.mark.parametrize(
    ("first_sent_at", "expected"),
    [(_at(2027, 3, 22, 23, 0), True), (_at(2027, 3, 23, 0, 0), False)],
)
def test_reminder_landing_on_the_deadline_is_late(
    gas: ProgramVersion, first_sent_at: datetime, expected: bool
) -> None:
    """With an all-day window, a reminder due exactly at the deadline instant is not sent."""
    all_day = SendingWindow(opens=time(0), closes=time(23, 59, 59, 999999))
    rules = gas.model_copy(update={"sending_window": all_day})
    assert reminder_in_time(rules, "2027-03", first_sent_at) is expected


# --- deadline boundaries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "in_time"),
    [
        (_at(2027, 3, 29, 23, 59, 59, 999999), True),
        (_at(2027, 3, 30, 0, 0), False),
        (datetime(2027, 3, 29, 18, 59, 59, 999999, tzinfo=UTC), True),
        (datetime(2027, 3, 29, 19, 0, tzinfo=UTC), False),
    ],
)
def test_gas_deadline_boundary(gas: ProgramVersion, moment: datetime, in_time: bool) -> None:
    """The last microsecond of the 29th is in time for consent and activation; 00:00 is not."""
    assert (moment < consent_deadline(gas, "2027-03")) is in_time
    assert (moment < activation_window(gas, "2027-03")[1]) is in_time


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (_at(2027, 3, 14, 23, 59, 59, 999999), True),
        (_at(2027, 3, 15, 0, 0), False),
        (datetime(2027, 3, 14, 18, 59, 59, tzinfo=UTC), True),
        (datetime(2027, 3, 14, 19, 0, tzinfo=UTC), False),
    ],
)
def test_gas_list_open_until_end_of_14th(
    gas: ProgramVersion, now: datetime, expected: bool
) -> None:
    """The gas list for March takes changes through the last instant of the 14th."""
    assert month_open_for_listing(gas, "2027-03", now) is expected


def test_list_closed_when_version_not_in_force(gas: ProgramVersion) -> None:
    """A version that starts after the month's send day does not govern that month."""
    later = gas.model_copy(update={"effective_from": date(2027, 3, 8)})
    assert not month_open_for_listing(later, "2027-03", _at(2027, 2, 20))
    assert month_open_for_listing(later, "2027-04", _at(2027, 2, 20))


def test_list_open_when_version_starts_by_the_send_day(gas: ProgramVersion) -> None:
    """A version published mid-month, by the send day, governs that month."""
    later = gas.model_copy(update={"effective_from": date(2027, 3, 7)})
    assert month_open_for_listing(later, "2027-03", _at(2027, 2, 20))


# --- earliest open month ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "now", "expected"),
    [
        ("gas", _at(2027, 3, 10, 12, 0), "2027-03"),
        ("gas", _at(2027, 3, 14, 23, 59, 59, 999999), "2027-03"),
        ("gas", _at(2027, 3, 15, 0, 0), "2027-04"),
        ("gas", datetime(2027, 3, 14, 18, 59, 59, tzinfo=UTC), "2027-03"),
        ("gas", datetime(2027, 3, 14, 19, 0, tzinfo=UTC), "2027-04"),
        ("gas", _at(2027, 12, 20, 10, 0), "2028-01"),
        ("gas", datetime(2027, 12, 31, 19, 30, tzinfo=UTC), "2028-01"),
        ("gas", _at(2028, 12, 15, 0, 0), None),
        ("gas", _at(2026, 11, 20, 0, 0), "2027-01"),
        ("food", _at(2027, 12, 4, 23, 59), "2027-12"),
        ("food", _at(2027, 12, 5, 0, 0), "2028-01"),
        ("food", _at(2028, 2, 4, 12, 0), "2028-02"),
        ("food", _at(2028, 2, 29, 12, 0), "2028-03"),
    ],
)
def test_earliest_open_month(
    request: pytest.FixtureRequest, program: str, now: datetime, expected: str | None
) -> None:
    """The earliest open month is this one until its cut-off, then the next one in force."""
    book = ProgramBook(versions=(request.getfixturevalue(program),))
    assert earliest_open_month(partial(book.for_month, program), now) == expected


@pytest.mark.parametrize(("defined", "expected"), [("2028-01", "2028-01"), ("2028-02", None)])
def test_earliest_open_month_looks_12_months_ahead(
    gas: ProgramVersion, defined: str, expected: str | None
) -> None:
    """Months up to 12 after the current one are considered, and no further."""
    assert earliest_open_month({defined: gas}.get, _at(2027, 1, 20)) == expected


# --- naive datetimes --------------------------------------------------------------------------

NAIVE = datetime(2027, 3, 10, 12, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda rules: into_window(NAIVE, rules),
        lambda rules: window_closes(NAIVE, rules),
        lambda rules: month_of(NAIVE),
        lambda rules: first_request_moment(rules, "2027-03", NAIVE),
        lambda rules: reminder_due(rules, NAIVE),
        lambda rules: reminder_in_time(rules, "2027-03", NAIVE),
        lambda rules: month_open_for_listing(rules, "2027-03", NAIVE),
        lambda rules: earliest_open_month(lambda month: rules, NAIVE),
    ],
)
def test_naive_datetime_rejected(
    gas: ProgramVersion, call: Callable[[ProgramVersion], Any]
) -> None:
    """A datetime without a time zone raises ValueError instead of being guessed at."""
    with pytest.raises(ValueError, match="naive"):
        call(gas)


def test_local_date_is_the_date_in_almaty() -> None:
    """19:00 UTC on the 1st is already the 2nd in Almaty (UTC+5)."""
    from rules.calendar import local_date

    assert local_date(datetime(2027, 3, 1, 19, 0, tzinfo=UTC)) == date(2027, 3, 2)
    assert local_date(datetime(2027, 3, 1, 18, 59, 59, tzinfo=UTC)) == date(2027, 3, 1)


def test_day_bounds_are_local_midnights() -> None:
    """A report day runs from 00:00 to 00:00 local, across a month's end too."""
    from rules.calendar import day_bounds

    start, end = day_bounds(date(2028, 2, 29))
    assert start == datetime(2028, 2, 28, 19, 0, tzinfo=UTC)
    assert end == datetime(2028, 2, 29, 19, 0, tzinfo=UTC)


# --- a pilot ending inside a month (SPEC.md §7) ----------------------------------------------

LAST_DAYS = [date(2027, 1, 1) + timedelta(days=n) for n in range(731)]  # 2027 and leap 2028


def _midnight_after(day: date) -> datetime:
    after = day + timedelta(days=1)
    return datetime(after.year, after.month, after.day, tzinfo=PLUS5)


@pytest.mark.parametrize("last_day", LAST_DAYS, ids=str)
def test_a_pilot_ending_inside_a_month_cuts_its_last_month(
    food: ProgramVersion, gas: ProgramVersion, last_day: date
) -> None:
    """Seed 002 ends on 26 September 2025 (Alg. 4): in its last month vouchers are valid, and
    activation and purchases allowed, until the end of the pilot's last day, then they lapse
    (SPEC.md §7); a consent after it would bring a voucher that cannot be used, so the consent
    deadline is cut too. Every day of 2027 and (leap) 2028 as the last day, both programs."""
    month = f"{last_day.year:04d}-{last_day.month:02d}"
    ends = _midnight_after(last_day)
    cut_food = food.model_copy(update={"effective_until": last_day})
    assert pilot_ends(cut_food) == ends
    assert voucher_lapses(cut_food, month) == min(_first_of_next(month), ends)
    assert activation_window(cut_food, month)[1] == min(_first_of_next(month), ends)
    assert consent_deadline(cut_food, month) == min(_first_of_next(month), ends)
    assert voucher_valid_until(cut_food, month) == last_day

    cut_gas = gas.model_copy(update={"effective_until": last_day})
    gas_close = _gas_close(month)
    assert activation_window(cut_gas, month)[1] == min(gas_close, ends)
    assert consent_deadline(cut_gas, month) == min(gas_close, ends)
    assert voucher_valid_until(cut_gas, month) == min(last_day, (gas_close - timedelta(1)).date())


@pytest.mark.parametrize("month", MONTHS)
def test_a_month_before_the_pilots_last_one_is_whole(food: ProgramVersion, month: str) -> None:
    """A pilot ending later leaves the month as it is: vouchers lapse at the month's end."""
    later = food.model_copy(update={"effective_until": date(2029, 3, 15)})
    assert voucher_lapses(later, month) == _first_of_next(month)
    assert activation_window(later, month)[1] == _first_of_next(month)
    open_ended = food.model_copy(update={"effective_until": None})
    assert pilot_ends(open_ended) is None
    assert voucher_lapses(open_ended, month) == _first_of_next(month)


def test_seed_002_last_month_ends_on_the_26th() -> None:
    """Seed 002's September 2025: valid to the 26th inclusive, lapsed from 27 September 00:00
    local, not on the 30th (Alg. 4, order item 9)."""
    seed_002 = ProgramBook(versions=load_programs().versions).for_month("food", "2025-09")
    assert seed_002 is not None and seed_002.version == "food-2025-06"
    assert voucher_valid_until(seed_002, "2025-09") == date(2025, 9, 26)
    assert voucher_lapses(seed_002, "2025-09") == datetime(2025, 9, 27, tzinfo=PLUS5)
    assert within_pilot(seed_002, datetime(2025, 9, 30, tzinfo=PLUS5)) == datetime(
        2025, 9, 27, tzinfo=PLUS5
    )
    assert voucher_valid_until(seed_002, "2025-08") == date(2025, 8, 31)
