"""The food program's reporting endpoint: daily activation and use reports (CONTRACTS.md §2)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict

from simulators.common import error, install_common, raw_json
from simulators.state import World


class DailyReportIn(BaseModel):
    """Body of `PUT /v1/reports/daily/{date}`: counts and sums ride along as extra fields."""

    model_config = ConfigDict(extra="allow")

    program: Literal["food"]
    date: dt.date


def create_app(world: World) -> FastAPI:
    """The food reporting simulator: keeps the last report per date."""
    app = FastAPI(title="Food reporting simulator")
    install_common(app, world, "food", lambda: {"reports": dict(world.food_reports)})

    @app.put("/v1/reports/daily/{date}", status_code=204)
    async def put_report(date: dt.date, body: DailyReportIn, request: Request) -> Response:
        """Record (or replace) the day's report."""
        if body.date != date:
            return error(422, "date_mismatch", "the body's date differs from the path's")
        world.food_reports[date.isoformat()] = await raw_json(request)
        return Response(status_code=204)

    return app
