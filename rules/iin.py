"""IIN (individual identification number) validation for individuals.

An IIN is 12 digits: the birth date ``YYMMDD``; a digit 1-6 for the century and sex (1/2: 1800s,
3/4: 1900s, 5/6: 2000s; odd is male); a 4-digit serial; a check digit. Business identification
numbers (BIN) of legal entities use digit 5 for the entity type instead and are rejected here:
the programs serve people.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["check_digit", "iin_problem", "is_valid_iin"]

_DIGITS = re.compile(r"[0-9]{12}")
_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}
_WEIGHTS = (tuple(range(1, 12)), (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2))


def check_digit(first11: str) -> int | None:
    """The check digit of the first 11 digits, or ``None`` when none exists.

    Weights 1..11 mod 11; a result of 10 retries with weights 3..11, 1, 2; a second 10 means
    the number cannot be valid.
    """
    digits = [int(c) for c in first11]
    for weights in _WEIGHTS:
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


def _birth_date_ok(iin: str) -> bool:
    century = _CENTURY.get(int(iin[6]))
    if century is None:
        return False
    try:
        date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return False
    return True


def is_valid_iin(iin: str) -> bool:
    """Whether ``iin`` is a well-formed IIN of an individual.

    Exactly 12 ASCII digits (no spaces: callers normalise), a real birth date in the century the
    7th digit names, and a matching check digit.
    """
    if not _DIGITS.fullmatch(iin) or not _birth_date_ok(iin):
        return False
    return check_digit(iin[:11]) == int(iin[11])


def iin_problem(iin: str) -> str | None:
    """The reason code for a bad IIN (``"invalid_iin"``), or ``None`` when it is valid."""
    return None if is_valid_iin(iin) else "invalid_iin"
