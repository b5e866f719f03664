"""The SMS gateway simulator's control routes: what was sent, and citizens' replies."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from simulators.common import error
from simulators.state import SentSms, World
from simulators.webhook import send_reply

PHONE_PATTERN = r"^\+77\d{9}$"


class ReplyIn(BaseModel):
    """Body of `POST /sim/replies`: a citizen's SMS to a program's short number."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", pattern=PHONE_PATTERN)
    to: str = Field(min_length=1)
    text: str
    deliver_twice: bool = False


class WebhookIn(BaseModel):
    """Body of `PUT /sim/webhook`."""

    url: str | None
    secret: str | None = None


def sms_json(sms: SentSms) -> dict[str, Any]:
    """An accepted SMS as the control routes show it."""
    return {
        "message_id": sms.message_id,
        "from": sms.from_,
        "to": sms.to,
        "text": sms.text,
        "idempotency_key": sms.idempotency_key,
        "accepted_at": sms.accepted_at.isoformat(),
    }


def install_control(app: FastAPI, world: World, *, attempts: int, backoff_s: float) -> None:
    """Add `GET /sim/messages`, `POST /sim/replies` and `PUT /sim/webhook` to the gateway app.

    Args:
        app: the SMS gateway app.
        world: the shared world.
        attempts: webhook requests per delivery before giving up.
        backoff_s: wait before the first retry of a delivery; doubles for each next one.
    """

    @app.get("/sim/messages", tags=["simulator control"])
    async def get_messages(to: str | None = None) -> JSONResponse:
        """The accepted SMS, oldest first, optionally only those to one number."""
        sent = world.messages if to is None else world.sent_to(to)
        return JSONResponse({"messages": [sms_json(m) for m in sent]})

    @app.post("/sim/replies", tags=["simulator control"])
    async def post_reply(body: ReplyIn) -> JSONResponse:
        """A citizen replies; answers with the webhook's final status and body (409 if none)."""
        try:
            payload, deliveries = await send_reply(
                world,
                from_=body.from_,
                to=body.to,
                text=body.text,
                deliver_twice=body.deliver_twice,
                attempts=attempts,
                backoff_s=backoff_s,
            )
        except LookupError as exc:
            return error(409, "no_webhook", str(exc))
        return JSONResponse(
            {
                "message_id": payload["message_id"],
                **deliveries[-1].to_json(),
                "deliveries": [d.to_json() for d in deliveries],
            }
        )

    @app.put("/sim/webhook", status_code=204, tags=["simulator control"])
    async def put_webhook(body: WebhookIn) -> Response:
        """Point reply delivery at the product (and optionally change the secret)."""
        world.webhook_url = body.url
        if body.secret is not None:
            world.webhook_secret = body.secret
        return Response(status_code=204)
