"""SDU, the state analytics system: the journal of citizens who could not be reached."""

from __future__ import annotations

import httpx
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import JournalEntry
from rules.pseudonyms import citizen_ref


class Sdu:
    """Activities calling SDU (``SDU_URL``)."""

    def __init__(self, http: httpx.AsyncClient, *, pseudonym_key: str) -> None:
        self._http = http
        self._pseudonym_key = pseudonym_key

    @activity.defn(name="sdu.journal")
    async def journal(self, entry: JournalEntry) -> None:
        """Report an event (``NO_PHONE``) about a listed citizen back to SDU.

        The IIN travels in the body, as the journal's contract says; the idempotency key names
        the citizen by pseudonym, because proxies and gateways log headers (CONTRACTS.md §1).
        """
        citizen = citizen_ref(self._pseudonym_key, entry.iin)
        key = f"{entry.program}:{entry.month}:{entry.event}:{citizen}"
        response = await self._http.post(
            "/v1/journal", json=entry.model_dump(mode="json"), headers={"Idempotency-Key": key}
        )
        raise_for_retry(response, "SDU")
