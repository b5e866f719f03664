"""IIN validation (rules/iin.py) against an independent check-digit computation."""

from __future__ import annotations

import pytest

from rules.iin import check_digit, iin_problem, is_valid_iin


def _independent_check_digit(first11: str) -> int | None:
    """The check digit computed longhand, written apart from the module under test."""
    total = 0
    for position, char in enumerate(first11, start=1):
        total += int(char) * position
    if total % 11 != 10:
        return total % 11
    second = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
    total = 0
    for index, char in enumerate(first11):
        total += int(char) * second[index]
    return None if total % 11 == 10 else total % 11


def _complete(first11: str) -> str:
    digit = _independent_check_digit(first11)
    assert digit is not None
    return first11 + str(digit)


# 880315300123 by hand: 8·1+8·2+0·3+3·4+1·5+5·6+3·7+0·8+0·9+1·10+2·11 = 124, 124 mod 11 = 3.
# 880315300511 by hand: first pass 153 mod 11 = 10; second pass
# 8·3+8·4+0·5+3·6+1·7+5·8+3·9+0·10+0·11+5·1+1·2 = 155, 155 mod 11 = 1.
HAND_CHECKED = ["880315300123", "880315300511"]


@pytest.mark.parametrize(
    "first11",
    [
        "88031530012",  # 1988, man
        "95123140987",  # 1995, woman
        "00022950045",  # 29 Feb 2000, man
        "12010160001",  # 2012, woman
        "75070710000",  # 1875, man
        "88031530051",  # check digit from the second weights
    ],
)
def test_valid_iins_are_accepted(first11: str) -> None:
    """An IIN with a real birth date, a century digit 1-6 and a right check digit is valid."""
    iin = _complete(first11)
    assert is_valid_iin(iin) and iin_problem(iin) is None


@pytest.mark.parametrize("iin", HAND_CHECKED)
def test_hand_checked_iins_are_accepted(iin: str) -> None:
    """The two IINs checked by hand above are valid."""
    assert is_valid_iin(iin)


def test_check_digit_agrees_with_the_independent_computation() -> None:
    """The module's check digit equals the longhand one over a spread of prefixes."""
    for n in range(0, 10**11, 7_919_113):
        first11 = f"{n:011d}"
        assert check_digit(first11) == _independent_check_digit(first11)


@pytest.mark.parametrize(
    ("iin", "why"),
    [
        ("", "empty"),
        ("88031530012", "11 digits"),
        ("8803153001234", "13 digits"),
        (" 880315300123", "leading space"),
        ("88031530012a", "a letter"),
        ("８８０３１５３００１２３", "full-width digits"),
        ("880315300124", "wrong check digit"),
    ],
)
def test_invalid_iins_are_refused(iin: str, why: str) -> None:
    """Malformed IINs, impossible birth dates and wrong check digits are invalid."""
    assert not is_valid_iin(iin), why
    assert iin_problem(iin) == "invalid_iin"


@pytest.mark.parametrize("last", "0123456789")
def test_prefix_whose_both_passes_give_ten_has_no_valid_iin(last: str) -> None:
    """When both weightings leave remainder 10, no final digit makes the IIN valid."""
    assert _independent_check_digit("88031530050") is None
    assert not is_valid_iin("88031530050" + last)


@pytest.mark.parametrize(
    ("first11", "why"),
    [
        ("88131530012", "month 13"),
        ("88000030012", "month 0"),
        ("88023030012", "30 February"),
        ("88043130012", "31 April"),
        ("00022930045", "29 February 1900 (century digit 3)"),
        ("01022950045", "29 February 2001"),
        ("88031500012", "century digit 0"),
        ("88031570012", "century digit 7"),
        ("88031590012", "century digit 9"),
    ],
)
def test_impossible_birth_date_or_century_is_refused(first11: str, why: str) -> None:
    """A right check digit does not save an impossible birth date or an unknown century digit."""
    assert not is_valid_iin(_complete(first11)), why
