"""BMG, the base of mobile citizens: does a citizen have a mobile number, and which."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import PhoneFound, PhoneLookup
from rules.phones import normalise_phone
from rules.pseudonyms import phone_ref


class Bmg:
    """Activities calling BMG (``BMG_URL``)."""

    def __init__(self, http: httpx.AsyncClient, *, pseudonym_key: str) -> None:
        self._http = http
        self._key = pseudonym_key

    @activity.defn(name="bmg.find_phone")
    async def find_phone(self, lookup: PhoneLookup) -> PhoneFound:
        """The citizen's mobile number, or ``None`` when BMG has none (404)."""
        response = await self._http.get(f"/v1/subscribers/{quote(lookup.iin, safe='')}")
        if response.status_code == 404:
            return PhoneFound(phone=None)
        raise_for_retry(response, "BMG")
        # BMG's number in E.164, the form the webhook routes replies by; anything that is not a
        # Kazakhstan mobile cannot be texted, and counts as no number.
        phone = normalise_phone(str(response.json().get("phone", "")))
        if phone is None:
            return PhoneFound(phone=None)
        return PhoneFound(phone=phone, phone_ref=phone_ref(self._key, phone))
