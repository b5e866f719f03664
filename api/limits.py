"""The door (CONTRACTS.md §1): a request is authenticated before its body is read, and a body
larger than its route's limit is refused with 413 ``body_too_large`` without being read.

``Door`` is a pure ASGI middleware. It finds the route a request is for, runs that route's door
checks (its dependencies marked ``@door_check``: the bearer token, the webhook's signature
headers) on the headers alone, refuses a declared ``Content-Length`` above the route's limit,
then counts the bytes the route reads (chunked bodies declare no length) and stops it at the
limit. FastAPI reads a route's JSON body before it solves its dependencies, so these checks
cannot be dependencies only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError

KIB = 1024
WEBHOOK_LIMIT = 16 * KIB
RECIPIENTS_LIMIT = 8 * KIB * KIB
DEFAULT_LIMIT = 64 * KIB
# Route (path template) → the largest body it reads; any other route: DEFAULT_LIMIT.
BODY_LIMITS = {
    "/v1/sms/inbound": WEBHOOK_LIMIT,
    "/v1/programs/{program}/months/{month}/recipients": RECIPIENTS_LIMIT,
}

DoorCheck = Callable[[Request], Awaitable[Any]]
Check = TypeVar("Check", bound=DoorCheck)
_DOOR_CHECKS: set[DoorCheck] = set()


def door_check(check: Check) -> Check:
    """Mark a route dependency ``async check(request)`` as one the door runs before the body:
    it may read the headers only, and refuses by raising ``ApiError``."""
    _DOOR_CHECKS.add(check)
    return check


class BodyTooLarge(HTTPException):
    """The body is larger than its route's limit (raised while the route reads it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than this route's limit of {limit} bytes")


def body_limit(route: APIRoute | None) -> int:
    """The largest body ``route`` reads, in bytes."""
    return BODY_LIMITS.get(route.path, DEFAULT_LIMIT) if route else DEFAULT_LIMIT


class Door:
    """Checks before the body, and the body's size limit, for every HTTP request."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        """``routes``: the app's routes as declared (their routers' dependencies included)."""
        self.app = app
        self.routes = [route for route in routes if isinstance(route, APIRoute)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self._route_of(scope)
        limit = body_limit(route)
        try:
            for check in door_checks(route):
                await check(Request(scope))
        except ApiError as refused:
            await _refuse(scope, send, refused.status, refused.error, refused.detail)
            return
        if _declared_length(scope) > limit:
            await _refuse(scope, send, 413, "body_too_large", BodyTooLarge(limit).detail)
            return
        await self._counted(scope, receive, send, limit)

    def _route_of(self, scope: Scope) -> APIRoute | None:
        """The API route this request is for (path and method), or None (404, 405, /docs…)."""
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return route
        return None

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the request on, stopping its body at ``limit`` bytes whatever it declared."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as too_large:
            # Normally answered by the app's handler of HTTPException; should one escape it,
            # it is answered here, unless a response has begun.
            if started:
                raise
            await _refuse(scope, send, 413, "body_too_large", too_large.detail)


def door_checks(route: APIRoute | None) -> list[DoorCheck]:
    """The door checks among a route's dependencies, outermost first."""
    return _checks_of(route.dependant) if route else []


def _checks_of(dependant: Dependant) -> list[DoorCheck]:
    found: list[DoorCheck] = []
    for dependency in dependant.dependencies:
        if dependency.call in _DOOR_CHECKS:
            found.append(dependency.call)
        found.extend(_checks_of(dependency))
    return found


def _declared_length(scope: Scope) -> int:
    """The request's ``Content-Length``, 0 if none; an unreadable one counts as 0 (the server
    refuses it, and the bytes are counted all the same)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _refuse(scope: Scope, send: Send, status: int, error: str, detail: str) -> None:
    answer = JSONResponse({"error": error, "detail": detail}, status_code=status)
    await answer(scope, _no_body, send)


async def _no_body() -> Message:
    # The refusal never reads the body; a response may still ask whether the client left.
    return {"type": "http.disconnect"}
