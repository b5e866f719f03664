"""The SMS gateway's webhook: signed citizens' replies, routed to their cycles."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, ValidationError, field_validator
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from api.deps import ApiDeps, deps
from api.errors import ApiError
from api.limits import door_check
from api.openapi import refusals
from models.cycle import AWAITING_STATES, CycleState, Reply, ReplyResult
from models.text import MessageText, PrintableStr
from rules.phones import normalise_phone
from rules.pseudonyms import phone_ref
from rules.replies import parse_reply
from store.queries import (
    inbound,
    keep_inbound,
    record_reply_result,
    reply_route,
    withdraw_standing_consent,
)
from store.tables import CycleRecord, InboundSmsRecord

router = APIRouter(tags=["sms gateway"])
# The recorded states in which a cycle may still take a citizen's decision (the cycle's row
# follows its state, never ahead of it: a cycle that has decided is never recorded undecided).
UNDECIDED_STATES = frozenset({CycleState.SCHEDULED, *AWAITING_STATES})
MAX_SKEW_S = 300
# How long the webhook waits for the cycle's answer. A cycle answers within a second or so, but
# one whose workflow task waits behind a send day's backlog (or for a worker that is down) may
# take minutes, and a gateway gives up on a request long before that, while the API would hold
# the request open. Past this wait the webhook answers 503 with Retry-After: the message is kept
# and the gateway sends it again; the cycle takes a message once (its ``message_id``), so the
# copy is answered ``duplicate`` if the first delivery got through meanwhile.
REPLY_WAIT_S = 20.0
RETRY_AFTER_S = 30


class InboundSms(BaseModel):
    message_id: PrintableStr = Field(min_length=1, max_length=200)
    sender: PrintableStr = Field(alias="from", min_length=1, max_length=40)
    to: PrintableStr = Field(min_length=1, max_length=20)
    text: MessageText = Field(max_length=1_000)
    received_at: datetime

    @field_validator("received_at", mode="before")
    @classmethod
    def _iso_with_offset(cls, value: object) -> datetime:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        if moment is None or moment.tzinfo is None:
            raise ValueError("received_at must be ISO 8601 with an offset")
        try:
            return moment.astimezone(UTC)  # one offset, so stored times sort as they happened
        except OverflowError:  # 9999-12-31T23:59:59-12:00 is past the last moment in UTC
            raise ValueError("received_at is out of range") from None


class ReplyAnswer(BaseModel):
    result: ReplyResult


@door_check
async def signed_headers(request: Request) -> str:
    """The gateway's timestamp is fresh and a signature is given (checked before the body is
    read; the signature is verified over the body once read, at most 16 KiB of it)."""
    stamp = request.headers.get("X-Timestamp", "")
    fresh = stamp.isascii() and stamp.isdigit() and len(stamp) <= 12
    if not fresh or abs(time.time() - int(stamp)) > MAX_SKEW_S:
        raise ApiError(401, "bad_signature", "missing or stale X-Timestamp")
    if not request.headers.get("X-Signature", "").startswith("sha256="):
        raise ApiError(401, "bad_signature", "missing X-Signature")
    return stamp


@router.post(
    "/v1/sms/inbound",
    responses=refusals({404: ["not_found"]}),
    # The body is read raw (the signature covers its bytes): documented here, parsed by hand.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": InboundSms.model_json_schema()}},
        }
    },
)
async def inbound_sms(
    request: Request,
    stamp: Annotated[str, Depends(signed_headers)],
) -> ReplyAnswer:
    """Take a citizen's reply. A 2xx answer means it is durably recorded and decided."""
    body = await request.body()  # at most 16 KiB (api.limits), before anything else is done
    api = deps(request)
    _verify(request, stamp, body, api.settings.sms_webhook_secret)
    sms = _parse(body)
    phone = normalise_phone(sms.sender)
    ref = phone_ref(api.settings.pseudonym_key, phone) if phone else "unknown"
    # One session before the cycle is asked, one after: a reply costs the database two visits.
    async with api.sessions() as session:
        seen = await inbound(session, message_id=sms.message_id)
        if seen is not None and seen.result is not None:
            return ReplyAnswer(result="duplicate")
        # Kept before it is decided. Another gateway node delivering the same message at the
        # same moment loses this insert but is routed all the same: the cycle counts it once.
        first = seen is None and await keep_inbound(session, message=_kept(sms, ref))
        cycle = await reply_route(session, phone_ref=ref, short_number=sms.to)
    result = await _route(api, sms, cycle, first=first)
    async with api.sessions() as session:
        await record_reply_result(session, message_id=sms.message_id, result=result)
    return ReplyAnswer(result=result)


def _verify(request: Request, stamp: str, body: bytes, secret: str) -> None:
    """Refuse unless the gateway's HMAC of the fresh ``stamp`` and the body matches."""
    given = request.headers.get("X-Signature", "")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"sha256={expected}".encode(), given.encode()):
        raise ApiError(401, "bad_signature", "the signature does not verify")


def _parse(body: bytes) -> InboundSms:
    try:
        return InboundSms.model_validate(json.loads(body))
    except (ValueError, RecursionError, ValidationError) as invalid:
        raise ApiError(422, "malformed", f"not an inbound SMS: {invalid}") from invalid


def _kept(sms: InboundSms, ref: str) -> InboundSmsRecord:
    """The inbound message as it is recorded before it is decided."""
    return InboundSmsRecord(
        message_id=sms.message_id,
        phone_ref=ref,
        short_number=sms.to,
        text=sms.text,
        received_at=sms.received_at,
    )


async def _route(
    api: ApiDeps, sms: InboundSms, cycle: CycleRecord | None, *, first: bool
) -> ReplyResult:
    """What the message means to its ``cycle``. ``first``: no other request has this message;
    one that has it, and found its cycle decided, is the duplicate of the message that decided
    it."""
    if cycle is None:
        return "no_cycle"
    if cycle.state in UNDECIDED_STATES:
        reply = Reply(message_id=sms.message_id, text=sms.text, received_at=sms.received_at)
        result = await _cycles_answer(api, cycle.cycle_id, reply)
    else:
        # Decided (a voucher issued, a refusal, a final state): the cycle would change nothing
        # but a standing consent, which the database withdraws below. Answered here, the reply
        # never reaches the cycle's history, however many a phone sends (issue 12 item 5).
        result = "late" if first else "duplicate"
    if result == "late" and await _withdraws_standing_consent(api, sms, cycle):
        return "refusal"
    return result


async def _cycles_answer(api: ApiDeps, cycle_id: str, reply: Reply) -> ReplyResult:
    """The cycle's answer to ``reply``, or 503 with Retry-After if it takes longer than
    ``REPLY_WAIT_S`` (the message is kept: the gateway's next attempt is routed again)."""
    try:
        async with asyncio.timeout(REPLY_WAIT_S):
            return await api.cycles.reply(cycle_id, reply)
    # The SDK answers the cancellation of its update call with an error of its own.
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise ApiError(
            503,
            "temporarily_unavailable",
            f"the citizen's cycle has not answered within {REPLY_WAIT_S:g} s; the message is "
            "kept, send it again later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None


async def _withdraws_standing_consent(api: ApiDeps, sms: InboundSms, cycle: CycleRecord) -> bool:
    """A refusal between two months (no cycle open to take it) still withdraws a consent that
    holds for the program period (SPEC.md §2: ``21*2`` at any time), so the next month asks
    again instead of issuing the voucher on file."""
    rules = api.programs.for_month(cycle.program, cycle.month)
    if rules is None or not rules.consent_carries_over(cycle.month):
        return False
    if parse_reply(sms.text, rules.reply_codes) != "refuse":
        return False
    async with api.sessions() as session:
        return await withdraw_standing_consent(
            session,
            citizen_ref=cycle.citizen_ref,
            program=cycle.program,
            cycle_id=cycle.cycle_id,
            month=cycle.month,
            message_id=sms.message_id,
            received_at=sms.received_at,
        )
