"""BMG, the base of mobile citizens: who has a registered mobile number (CONTRACTS.md §2)."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulators.common import error, install_common
from simulators.state import World


class SubscriberIn(BaseModel):
    """Body of `POST /sim/subscribers`."""

    iin: str = Field(pattern=r"^\d{12}$")
    phone: str = Field(pattern=r"^\+7\d{10}$")


def create_app(world: World) -> FastAPI:
    """The BMG simulator: `GET /v1/subscribers/{iin}` answers from `world.subscribers`."""
    app = FastAPI(title="BMG simulator")
    install_common(app, world, "bmg", lambda: {"subscribers": dict(world.subscribers)})

    @app.get("/v1/subscribers/{iin}")
    async def get_subscriber(iin: str) -> JSONResponse:
        """The citizen's mobile number, or 404 when BMG has none."""
        phone = world.subscribers.get(iin)
        if phone is None:
            return error(404, "not_found", "no mobile number registered for this IIN")
        return JSONResponse({"iin": iin, "phone": phone})

    @app.post("/sim/subscribers", status_code=204, tags=["simulator control"])
    async def add_subscriber(body: SubscriberIn) -> Response:
        """Register (or replace) a citizen's number."""
        world.subscribers[body.iin] = body.phone
        return Response(status_code=204)

    @app.delete("/sim/subscribers/{iin}", status_code=204, tags=["simulator control"])
    async def remove_subscriber(iin: str) -> Response:
        """Forget a citizen's number."""
        world.subscribers.pop(iin, None)
        return Response(status_code=204)

    return app
