"""The SMS gateway: every consent request, reminder and confirmation goes out through here."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.http import raise_for_retry
from models.calls import OutgoingSms, SmsAccepted
from store import queries
from store.engine import Sessions
from store.tables import SmsRecord

# The longest an SMS waits for its turn inside one attempt; beyond, the attempt gives way and is
# retried when its turn would have come (it holds no turn meanwhile, so a burst cannot starve).
LONGEST_TURN_WAIT_S = 5.0


class Pace:
    """At most ``per_second`` SMS a second from this worker, evenly spaced (no bursts)."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0

    async def turn(self) -> None:
        """Wait for this SMS's turn.

        Raises:
            ApplicationError: ``Paced``, its turn is further off than
                ``LONGEST_TURN_WAIT_S``; the retry comes back when the turn would have come.
        """
        now = time.monotonic()
        slot = max(now, self._next)
        if slot - now > LONGEST_TURN_WAIT_S:
            raise ApplicationError(
                "the worker's SMS rate is taken up: sending later",
                type="Paced",
                next_retry_delay=timedelta(seconds=slot - now),
            )
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class SmsGateway:
    """Activities calling the SMS gateway (``SMS_GATEWAY_URL``), paced to ``SMS_PER_SECOND``.

    The send is a local activity of the cycle (one history event per SMS): the gateway's
    contracted rate is kept by each worker's :class:`Pace` (``SMS_PER_SECOND`` is a worker's
    share), the send-day spread (``SEND_SPREAD_MINUTES``) and the gateway's own 429s, whose
    ``Retry-After`` the retry honours.
    """

    def __init__(self, http: httpx.AsyncClient, sessions: Sessions, pace: Pace) -> None:
        self._http = http
        self._sessions = sessions
        self._pace = pace

    @activity.defn(name="sms.send")
    async def send(self, sms: OutgoingSms) -> SmsAccepted:
        """Hand one SMS to the gateway and log it.

        The idempotency key is the cycle and the kind of message, so however often this activity
        is retried (gateway 5xx, 429, a worker killed mid-call) the citizen gets one SMS of a kind.
        """
        key = f"{sms.cycle_id}:{sms.kind}"
        await self._pace.turn()
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
