"""Bearer tokens, one role each: a route admits only its own roles (401 / 403).

The check is a door check (``api.limits``): it runs on the request's headers before its body
is read; the route's dependency then takes the door's answer.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request

from api.errors import ApiError
from api.limits import door_check

_ROLES: dict[Callable[..., object], tuple[str, ...]] = {}


def roles_of(check: Callable[..., object]) -> tuple[str, ...]:
    """The roles a ``require`` check admits (none for any other check)."""
    return _ROLES.get(check, ())


def require(*roles: str, dev_open: bool = False) -> Callable[[Request], Awaitable[str]]:
    """A dependency admitting callers whose token belongs to one of ``roles``.

    An ops route also admits an OIDC access token carrying the ops role (``api.oidc``); one
    marked ``dev_open`` (the codec, the month page) admits a caller with no token at all as ops
    when ``CODEC_DEV_OPEN`` is on (``make run`` only).
    """

    @door_check
    async def check(request: Request) -> str:
        # The door decided this request already (the scope is the request's own): its route
        # dependency takes that answer instead of verifying the token a second time.
        decided: dict[object, str] = request.scope.setdefault("roles_admitted", {})
        if check not in decided:
            decided[check] = await _admitted(request)
        return decided[check]

    async def _admitted(request: Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header and dev_open and request.app.state.settings.codec_dev_open:
            return "ops"
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "a bearer token is required")
        role = _role_of(token.strip(), request.app.state.tokens)
        if role is None and "ops" in roles and await request.app.state.oidc.ops_role(token.strip()):
            role = "ops"
        if role is None:
            raise ApiError(401, "unauthorized", "the token is not valid")
        if role not in roles:
            raise ApiError(403, "forbidden", f"the {role} role may not call this route")
        return role

    check.__doc__ = f"Admit the roles {', '.join(roles)} only."
    _ROLES[check] = roles
    return check


def _role_of(token: str, tokens: dict[str, str]) -> str | None:
    # Compare with every known token in constant time, so timing tells nothing about them.
    found = None
    for known, role in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = role
    return found
