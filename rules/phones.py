"""Kazakhstan mobile numbers in the forms citizens, BMG and gateways write them."""

from __future__ import annotations

import phonenumbers


def normalise_phone(raw: str) -> str | None:
    """The E.164 form (``+77…``) of a Kazakhstan mobile number, or ``None`` if it is not one.

    Accepts the national ``8 7xx …`` form, ``+7 7xx …``, ``7 7xx …`` and any spacing or dashes.
    """
    text = raw.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and len(digits) == 11 and digits[0] in "78":
        text = "+7" + digits[1:]  # national trunk prefix 8, or the country code without "+"
    try:
        number = phonenumbers.parse(text, "KZ")
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not (e164.startswith("+77") and len(e164) == 12):
        return None
    return e164
