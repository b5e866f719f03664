"""Keyed pseudonyms of personal identifiers.

Workflow IDs, search attributes and the database's routing keys must not carry a raw IIN or phone
number (the Temporal UI shows them in clear). A keyed HMAC gives a stable reference that cannot be
reversed by enumerating the 10^11 possible IINs without the key.
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(key: str, kind: str, value: str) -> str:
    """A stable 20-hex-digit reference to ``value`` (an IIN or a normalised phone number)."""
    digest = hmac.new(key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:20]


def citizen_ref(key: str, iin: str) -> str:
    """The pseudonym of a citizen, used in workflow IDs and records."""
    return pseudonym(key, "iin", iin)


def phone_ref(key: str, phone: str) -> str:
    """The pseudonym of a phone number in E.164 form, used to route SMS replies."""
    return pseudonym(key, "phone", phone)


def record_digest(key: str, record: str) -> str:
    """A keyed digest of a listed citizen's whole record (its canonical JSON): tells a
    correction from a re-send without keeping the record itself."""
    return pseudonym(key, "record", record)
