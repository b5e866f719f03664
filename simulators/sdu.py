"""SDU, the state analytics system: receives the NO_PHONE journal (CONTRACTS.md §2)."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from simulators.common import MONTH_PATTERN, install_common, raw_json
from simulators.state import World


class JournalIn(BaseModel):
    """Body of `POST /v1/journal`."""

    program: Literal["gas", "food"]
    month: str = Field(pattern=MONTH_PATTERN)
    iin: str = Field(min_length=1)
    event: Literal["NO_PHONE"]
    at: AwareDatetime


def create_app(world: World) -> FastAPI:
    """The SDU simulator: every journal entry is appended to `world.journal` as received."""
    app = FastAPI(title="SDU simulator")
    install_common(app, world, "sdu", lambda: {"journal": list(world.journal)})

    @app.post("/v1/journal", status_code=204)
    async def post_journal(body: JournalIn, request: Request) -> Response:
        """Record one journal entry."""
        world.journal.append(await raw_json(request))
        return Response(status_code=204)

    return app
