"""CORS for the codec routes only: the Temporal Web UI calls them from the browser (a preflight,
then a POST with ``Content-Type``, ``X-Namespace`` and, with SSO, ``Authorization``). No other
route is meant for a browser on another origin, so none answers a preflight."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec/"


class CodecCors:
    """Starlette's CORS middleware, applied to ``/codec/…`` and to nothing else."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            # The UI's "include cross-origin credentials" option sends cookies along.
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CODEC_PREFIX):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)
