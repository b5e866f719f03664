"""Text that may reach storage: printable only (CONTRACTS.md §1).

A control character (NUL among them) fails an insert on PostgreSQL, or hides in a log line or a
report; a lone surrogate cannot be encoded at all. Either is refused at the door (422), so no
store or outside call ever sees one.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, PlainSerializer, PlainValidator, WithJsonSchema

# Control characters (C0, DEL, C1), lone surrogates, and the line and paragraph separators.
# Format characters (a zero-width joiner inside an emoji) and characters beyond the BMP are text.
_NOT_PRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def is_printable(value: str) -> bool:
    """True if ``value`` holds no control character, surrogate or line separator."""
    return not any(unicodedata.category(char) in _NOT_PRINTABLE for char in value)


def _printable(value: str) -> str:
    if not is_printable(value):
        raise ValueError("must be printable text, without control characters")
    return value


PrintableStr = Annotated[str, AfterValidator(_printable)]
"""A ``str`` refused (422) if it holds a control character: use for every string stored."""

_LINE_BREAKS = re.compile(r"[\t\r\n]+")


def _one_line(value: str) -> str:
    return _printable(_LINE_BREAKS.sub(" ", value))


MessageText = Annotated[str, AfterValidator(_one_line)]
"""A citizen's message: tabs and line breaks (a phone may add them) become one space, so what is
stored is printable; any other control character is refused (422)."""


def json_integer(value: object) -> object:
    """A field validator (before) keeping an integer field to JSON's integers: ``5`` or ``5.0``,
    never ``true`` nor ``"5"`` (which pydantic's lax mode would take, the document not)."""
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError("must be a JSON integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A decimal on the wire: a JSON integer, or a string of at most 9 digits before the point and
# 3 after (no exponent, no sign, no leading zero). What is documented is what is accepted: the
# OpenAPI schema below and the check are the same pattern.
_POSITIVE_3DP = (
    r"^(?:[1-9][0-9]{0,8}(?:\.[0-9]{1,3})?|0\.(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9]))$"
)
# A quantity sold: more than 0, at most 10⁶ (so that no purchase's sum overflows 64 bits).
_QUANTITY_3DP = (
    r"^(?:[1-9][0-9]{0,5}(?:\.[0-9]{1,3})?|1000000(?:\.0{1,3})?"
    r"|0\.(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9]))$"
)
_NON_NEGATIVE_3DP = r"^(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,3})?$"
_MAX_WHOLE = 999_999_999


def _decimal_3dp(pattern: str, minimum: int, maximum: int = _MAX_WHOLE) -> Any:
    """The type of a decimal of at most 3 places, from ``minimum`` to ``maximum`` (999,999,999
    and its decimals unless said otherwise; ``pattern`` says the same for strings)."""
    matches = re.compile(pattern).fullmatch
    lowest = "above 0" if minimum == 1 else f"from {minimum}"

    def parse(value: object) -> Decimal:
        if isinstance(value, Decimal) and value.is_finite():
            value = format(value, "f")  # the workflows' own payloads carry it as a Decimal
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 5.0 is an integer to JSON Schema
        if isinstance(value, int) and not isinstance(value, bool):
            if minimum <= value <= maximum:
                return Decimal(value)
        elif isinstance(value, str) and matches(value):
            return Decimal(value)
        raise ValueError(
            f"must be a decimal {lowest}, at most {maximum}, with at most 3 digits after the "
            'point: a JSON integer, or a string such as "12.5"'
        )

    schema = {
        "anyOf": [
            {"type": "integer", "minimum": minimum, "maximum": maximum},
            {"type": "string", "pattern": pattern},
        ]
    }
    # Written as the string the pattern takes back (a plain validator leaves pydantic's own
    # decimal serializer warning about what it was given).
    written = PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")
    return Annotated[Decimal, PlainValidator(parse), written, WithJsonSchema(schema)]


PositiveDecimal3 = _decimal_3dp(_POSITIVE_3DP, 1)
"""A positive decimal of at most 3 decimal places (``2``, ``"1.5"``, ``"0.25"``)."""
MAX_QUANTITY = 10**6
Quantity = _decimal_3dp(_QUANTITY_3DP, 1, MAX_QUANTITY)
"""A quantity sold: more than 0, at most 10⁶, at most 3 decimal places (``2``, ``"0.25"``)."""
NonNegativeDecimal3 = _decimal_3dp(_NON_NEGATIVE_3DP, 0)
"""A measured volume: 0 or more, at most 3 decimal places (``"123.4"``)."""
