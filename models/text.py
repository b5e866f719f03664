"""Text that may reach storage: printable only (CONTRACTS.md §1).

A control character (NUL among them) fails an insert on PostgreSQL, or hides in a log line or a
report; a lone surrogate cannot be encoded at all. Either is refused at the door (422), so no
store or outside call ever sees one.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

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
