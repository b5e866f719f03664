"""The SMS gateway: every consent request, reminder and confirmation goes out through here."""

from __future__ import annotations

import httpx
from temporalio import activity

from activities.http import raise_for_retry
from models.calls import OutgoingSms, SmsAccepted
from store import queries
from store.engine import Sessions
from store.tables import SmsRecord


class SmsGateway:
    """Activities calling the SMS gateway (``SMS_GATEWAY_URL``)."""

    def __init__(self, http: httpx.AsyncClient, sessions: Sessions) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="sms.send")
    async def send(self, sms: OutgoingSms) -> SmsAccepted:
        """Hand one SMS to the gateway and log it.

        The idempotency key is the cycle and the kind of message, so however often this activity
        is retried (gateway 5xx, 429, a worker killed mid-call) the citizen gets one SMS of a kind.
        """
        key = f"{sms.cycle_id}:{sms.kind}"
        response = await self._http.post(
            "/v1/messages",
            json={"from": sms.sender, "to": sms.to, "text": sms.text},
            headers={"Idempotency-Key": key},
        )
        raise_for_retry(response, "SMS gateway")
        accepted = SmsAccepted(message_id=response.json()["message_id"])
        record = SmsRecord(
            idempotency_key=key,
            cycle_id=sms.cycle_id,
            kind=sms.kind,
            message_id=accepted.message_id,
            program=sms.program,
            month=sms.month,
            region=sms.region,
            accepted_at=sms.at,
        )
        async with self._sessions() as session:
            await queries.log_sms(session, sms=record)
        return accepted
