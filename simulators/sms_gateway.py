"""The SMS gateway: sends messages once per idempotency key, delivers replies to the webhook."""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulators.common import error, install_common
from simulators.sms_control import PHONE_PATTERN, install_control, sms_json
from simulators.state import SentSms, World


class SmsIn(BaseModel):
    """Body of `POST /v1/messages`."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: str = Field(pattern=PHONE_PATTERN)
    text: str = Field(min_length=1)


def create_app(
    world: World,
    *,
    token: str,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    delivery_attempts: int = 3,
    delivery_backoff_s: float = 0.2,
) -> FastAPI:
    """The SMS gateway simulator.

    Args:
        world: the shared world; replies go to `world.webhook_url`, read at delivery time.
        token: the bearer token `POST /v1/messages` requires (non-empty).
        webhook_url: if given, stored as `world.webhook_url`.
        webhook_secret: if given, stored as `world.webhook_secret`.
        delivery_attempts: webhook requests per delivery before giving up.
        delivery_backoff_s: wait before the first retry; doubles for each next one.
    """
    if not token:
        raise ValueError("the SMS gateway needs a non-empty bearer token")
    if webhook_url is not None:
        world.webhook_url = webhook_url
    if webhook_secret is not None:
        world.webhook_secret = webhook_secret
    app = FastAPI(title="SMS gateway simulator")
    install_common(
        app,
        world,
        "sms",
        lambda: {
            "messages": [sms_json(m) for m in world.messages],
            "inbound": list(world.inbound),
            "webhook_url": world.webhook_url,
        },
    )

    @app.post("/v1/messages", status_code=202)
    async def post_message(request: Request) -> JSONResponse:
        """Accept an SMS: 401 before 400 before 422; one idempotency key is one message."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            return error(401, "unauthorized", "a valid bearer token is required")
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            return error(400, "missing_idempotency_key", "the Idempotency-Key header is required")
        try:
            body = SmsIn.model_validate_json(await request.body())
        except ValidationError as exc:
            return error(422, "malformed", str(exc))
        sms = world.sms_by_key.get(key)
        if sms is None:
            sms = SentSms(
                message_id=f"out-{uuid.uuid4().hex}",
                from_=body.from_,
                to=body.to,
                text=body.text,
                idempotency_key=key,
                accepted_at=datetime.now(UTC),
            )
            world.sms_by_key[key] = sms
            world.messages.append(sms)
        return JSONResponse({"message_id": sms.message_id}, status_code=202)

    install_control(app, world, attempts=delivery_attempts, backoff_s=delivery_backoff_s)
    return app
