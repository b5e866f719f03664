"""SDU, the state analytics system: the journal of citizens who could not be reached."""

from __future__ import annotations

import httpx
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import JournalEntry


class Sdu:
    """Activities calling SDU (``SDU_URL``)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @activity.defn(name="sdu.journal")
    async def journal(self, entry: JournalEntry) -> None:
        """Report an event (``NO_PHONE``) about a listed citizen back to SDU."""
        response = await self._http.post(
            "/v1/journal",
            json=entry.model_dump(mode="json"),
            headers={"Idempotency-Key": f"{entry.program}:{entry.month}:{entry.event}:{entry.iin}"},
        )
        raise_for_retry(response, "SDU")
