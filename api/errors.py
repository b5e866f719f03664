"""Every error answer has one shape: ``{"error": "<code>", "detail": "<human text>"}``."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from temporalio.service import RPCError, RPCStatusCode


class ErrorAnswer(BaseModel):
    """Every refusal's body: a stable code for programs, a sentence for people."""

    model_config = ConfigDict(extra="forbid", title="Error")

    error: str
    detail: str


class ApiError(Exception):
    """An answer other than success, with its HTTP status and error code."""

    def __init__(
        self, status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.headers = headers


def _answer(
    status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Translate every failure, FastAPI's own included, into the one error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _answer(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _answer(422, "malformed", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        # Nothing was decided: the caller may retry (the gateway does), and loses nothing.
        if exc.status == RPCStatusCode.NOT_FOUND:
            return _answer(404, "not_found", "no such cycle (or it is past its retention)")
        return _answer(503, "temporarily_unavailable", "Temporal is unreachable; retry later")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8): malformed, as documented.
            return _answer(422, "malformed", f"body: {exc.detail}")
        # Kept headers: a 405's Allow names the methods the route takes.
        error = codes.get(exc.status_code, "error")
        return _answer(exc.status_code, error, str(exc.detail), exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def _caller_gone(_: Request, __: ClientDisconnect) -> Response:
        # The caller went away while its body was read (a gateway's timeout): nothing was
        # decided, and no traceback is logged. The answer, 499 (a proxy's code for a request its
        # client closed), is dropped by the server: there is nobody to send it to.
        return Response(status_code=499)
