"""Kazakhstan IINs for generated citizens: birth date, century/sex digit, serial, check digit."""

from __future__ import annotations

from datetime import date

_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def check_digit(first11: str) -> int | None:
    """The 12th digit for the first 11, or None when no check digit exists (the IIN is unused).

    The weighted sum with weights 1..11 is taken mod 11; a result of 10 triggers a second pass
    with weights 3..11,1,2, and a second 10 means the 11 digits cannot form a valid IIN.
    """
    digits = [int(ch) for ch in first11]
    for weights in (_FIRST_WEIGHTS, _SECOND_WEIGHTS):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


def is_valid_iin(iin: str) -> bool:
    """Whether `iin` is 12 digits whose last digit is the check digit of the first 11."""
    if len(iin) != 12 or not iin.isdigit():
        return False
    return check_digit(iin[:11]) == int(iin[11])


def make_iin(birth: date, *, female: bool, serial: int) -> str | None:
    """The IIN for a birth date, sex and 4-digit serial, or None when it has no check digit."""
    if not 1900 <= birth.year <= 2099:
        raise ValueError("only the 20th and 21st centuries are generated")
    century_digit = (3 if birth.year < 2000 else 5) + int(female)
    first11 = f"{birth:%y%m%d}{century_digit}{serial:04d}"
    digit = check_digit(first11)
    return None if digit is None else f"{first11}{digit}"
