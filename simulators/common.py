"""What every simulator app shares: error bodies, fault injection, and the `/sim` control routes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.middleware.base import RequestResponseEndpoint
from starlette.requests import ClientDisconnect

from simulators.state import Fault, Received, World

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class FaultIn(BaseModel):
    """Body of `POST /sim/faults`: `status` null means "answer normally after `delay_s`"."""

    status: int | None = Field(default=500, ge=100, le=599)
    times: int = Field(default=1, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    delay_s: float = Field(default=0.0, ge=0.0)


def error(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error answer in the project's `{"error", "detail"}` shape."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def fault_response(fault: Fault, system: str) -> JSONResponse:
    """The answer a scripted fault gives; a 429 always carries `Retry-After`."""
    assert fault.status is not None
    retry_after = fault.retry_after
    if retry_after is None and fault.status == 429:
        retry_after = 1
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    code = "rate_limited" if fault.status == 429 else "injected_fault"
    return error(fault.status, code, f"{system} simulator: scripted fault", headers)


async def raw_json(request: Request) -> dict[str, Any]:
    """The request's JSON body exactly as received (Starlette caches it after validation)."""
    body: dict[str, Any] = await request.json()
    return body


def install_common(
    app: FastAPI, world: World, system: str, state: Callable[[], dict[str, Any]]
) -> None:
    """Add request counting, scripted faults and the shared `/sim` routes to `app`.

    Args:
        app: the simulator app.
        world: the shared world.
        system: the system's name in `world.faults` ("bmg", "sms", ...).
        state: returns the system's recorded data for `GET /sim/state`.
    """

    @app.middleware("http")
    async def inject_faults(request: Request, call_next: RequestResponseEndpoint) -> Response:
        # Control routes are the test's side channel: never counted, never faulted.
        if request.url.path.startswith("/sim/"):
            return await call_next(request)
        raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
        query: bytes = request.scope.get("query_string", b"")
        target = (raw + (b"?" + query if query else b"")).decode("latin-1")
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
        world.received.append(Received(system, request.method, target, headers))
        fault = world.take_fault(system)
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status is not None:
                return fault_response(fault, system)
        return await call_next(request)

    @app.exception_handler(ClientDisconnect)
    async def caller_gone(_: Request, __: ClientDisconnect) -> Response:
        # The caller went away while its body was read (a worker stopping mid-call): nobody's
        # error. The answer, 499 (a proxy's code for a request its client closed), is dropped by
        # the server: there is nobody to send it to.
        return Response(status_code=499)

    @app.post("/sim/faults", status_code=204, tags=["simulator control"])
    async def add_faults(body: FaultIn) -> Response:
        """Script the next `times` requests' answers."""
        fault = Fault(status=body.status, retry_after=body.retry_after, delay_s=body.delay_s)
        world.script(system, fault, body.times)
        return Response(status_code=204)

    @app.delete("/sim/faults", status_code=204, tags=["simulator control"])
    async def clear_faults() -> Response:
        """Drop every fault still queued."""
        world.faults[system].clear()
        return Response(status_code=204)

    @app.get("/sim/state", tags=["simulator control"])
    async def get_state() -> JSONResponse:
        """What this system has received, its request count and pending faults."""
        return JSONResponse(
            {
                "system": system,
                "requests": world.requests[system],
                "faults_pending": len(world.faults[system]),
                **state(),
            }
        )
