"""The OpenAPI document tells the truth (CONTRACTS.md §1): every answer a route gives is
documented with the product's error body ``{"error","detail"}`` and the error codes it may carry.

A route declares its own refusals with ``refusals({409: ["list_closed"], …})``; the answers
every route of a kind gives (401/403 of a token, 401 of the webhook's signature, 413 of a body,
422 of a malformed request, 503 while Temporal is unreachable) are added here from the route's
door checks, so they cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.auth import roles_of
from api.errors import ErrorAnswer
from api.limits import body_limit, door_checks

CODES = "x-error-codes"
BODY_METHODS = {"POST", "PUT", "PATCH"}
DESCRIPTIONS = {
    401: "no valid credentials",
    403: "another role's route",
    404: "not found",
    409: "refused in the current state",
    410: "the voucher's window or month is over",
    413: "the body is larger than this route's limit",
    422: "malformed request",
    503: "Temporal is unreachable, or the workflow did not answer in time: retry later (safe)",
}


def refusals(codes: dict[int, list[str]]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status with the error codes it carries."""
    return {
        status: {"description": _described(status, found), CODES: found}
        for status, found in codes.items()
    }


def _described(status: int, codes: list[str]) -> str:
    return f"{DESCRIPTIONS.get(status, 'refused')}: {', '.join(codes)}"


def install_openapi(app: FastAPI, routes: Sequence[BaseRoute], signed: Callable[..., Any]) -> None:
    """Make ``app.openapi()`` document every answer of ``routes``; ``signed`` is the webhook's
    door check (its 401 is ``bad_signature``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for route in routes:
                if isinstance(route, APIRoute) and route.include_in_schema:
                    for method in route.methods or ():
                        operation = document["paths"][route.path][method.lower()]
                        _document(operation, route, method, signed)
            _components(document)
            for path in document["paths"].values():
                for operation in path.values():
                    operation["description"] = operation.get("description", "").strip()
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(
    operation: dict[str, Any], route: APIRoute, method: str, signed: Callable[..., Any]
) -> None:
    checks = door_checks(route)
    operation.setdefault("description", "")
    answers: dict[int, list[str]] = {}
    roles = sorted({role for check in checks for role in roles_of(check)})
    if roles:
        answers |= {401: ["unauthorized"], 403: ["forbidden"]}
        operation["security"] = [{"bearer": []}]
        operation["description"] += f"\n\nRoles: {', '.join(roles)}."
    if signed in checks:
        answers[401] = ["bad_signature"]
    if method in BODY_METHODS:
        answers[413] = ["body_too_large"]
        operation["description"] += f"\n\nBody limit: {body_limit(route)} bytes."
    if (
        route.dependant.path_params
        or route.dependant.query_params
        or route.body_field
        or method in BODY_METHODS
    ):
        answers[422] = ["malformed"]
    if checks:
        answers[503] = ["temporarily_unavailable"]
    responses = operation["responses"]
    for status, declared in responses.items():
        if status.isdigit() and int(status) >= 400:
            answers[int(status)] = [*answers.get(int(status), []), *declared.get(CODES, [])]
    for status, codes in sorted(answers.items()):
        unique = list(dict.fromkeys(codes))
        responses[str(status)] = {
            "description": _described(status, unique),
            "content": {"application/json": {"schema": _error_schema(unique)}},
            CODES: unique,
        }
    operation["responses"] = dict(sorted(responses.items()))


def _error_schema(codes: list[str]) -> dict[str, Any]:
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Error"},
            {"type": "object", "properties": {"error": {"type": "string", "enum": codes}}},
        ]
    }


def _components(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ErrorAnswer.model_json_schema()
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A role's token from API_TOKENS (sdu, wallet, provider, ops).",
        }
    }
