"""Every error leaves the API as ``application/problem+json`` (RFC 9457).

Domain errors know nothing of HTTP: they map to a status here, in one table, by class. The
first matching row wins, so specific classes go before their bases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from db.errors import ConflictError, FutarchyError, InvalidInputError, NotFoundError

PROBLEM_JSON = "application/problem+json"


class AuthenticationRequired(FutarchyError):
    """No API key, or a key that is unknown or revoked (HTTP 401)."""


class PermissionDenied(FutarchyError):
    """The account's role may not do this (HTTP 403)."""


class BadRequest(FutarchyError):
    """The request is missing something the protocol needs, e.g. a header (HTTP 400)."""


class PayloadTooLarge(FutarchyError):
    """The request body is larger than the route accepts (HTTP 413)."""


class UnsupportedMediaType(FutarchyError):
    """The request body's Content-Type is not one the route reads (HTTP 415)."""


ERROR_STATUS: list[tuple[type[FutarchyError], int, str]] = [
    (AuthenticationRequired, 401, "Authentication required"),
    (PermissionDenied, 403, "Forbidden"),
    (BadRequest, 400, "Bad request"),
    (PayloadTooLarge, 413, "Content too large"),
    (UnsupportedMediaType, 415, "Unsupported media type"),
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (InvalidInputError, 422, "Invalid input"),
]
"""Domain error class → (HTTP status, problem title). Anything else deliberate is a 400."""

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal server error",
}


def status_for(exc: FutarchyError) -> tuple[int, str]:
    """The HTTP status and title a domain error maps to."""
    for cls, status, title in ERROR_STATUS:
        if isinstance(exc, cls):
            return status, title
    return 400, "Bad request"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_problem(exc: FutarchyError) -> JSONResponse:
    """The problem response for a domain error (status and title from `ERROR_STATUS`)."""
    status, title = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, str(exc), title=title, type_=_error_type(exc), headers=headers)


def _error_type(exc: BaseException) -> str:
    """A stable, documented-by-name problem type: the error's class name in kebab case."""
    name = type(exc).__name__
    kebab = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    return f"/problems/{kebab}"


def _describe_validation(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid"))
        errors.append({"field": loc, "message": msg})
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "the request is invalid", errors


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""

    @app.exception_handler(FutarchyError)
    async def _domain(_request: Request, exc: FutarchyError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if malformed:
            where = malformed[0].get("ctx", {}).get("error", "")
            return problem(
                400,
                f"the body is not valid JSON ({where}); send one JSON document"
                if where
                else "the body is not valid JSON; send one JSON document",
                type_="/problems/malformed-json",
            )
        detail, errors = _describe_validation(exc)
        return problem(422, detail, type_="/problems/validation", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = exc.headers
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            detail = f"{request.method} is not allowed here; this path takes {', '.join(allowed)}"
        elif exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.url.path}; see /docs for the routes"
        return problem(exc.status_code, detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this request's path (Starlette's own 405 names only
    the first route that matched the path).

    The routes' path patterns are compiled once per app (with their convertors, so
    ``/measurements/preview`` does not match ``/measurements/{measurement_id:int}``)."""
    table: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(
        request.app.state, "route_methods", None
    )
    if table is None:
        table = []
        for context in iter_route_contexts(request.app.routes):
            if context.path and context.methods:
                regex, _, _ = compile_path(context.path)
                table.append((regex, frozenset(context.methods)))
        request.app.state.route_methods = table
    path = request.scope["path"]
    return sorted({m for regex, methods in table if regex.match(path) for m in methods})


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}

_DESCRIPTIONS = {
    400: (
        "The body is not valid JSON, or the request lacks something the protocol needs "
        "(e.g. an Idempotency-Key)."
    ),
    401: "Missing, unknown or revoked API key.",
    403: "The account's role may not do this.",
    404: "A referenced entity does not exist.",
    409: "The current state forbids this (closed market, insufficient funds, price limit...).",
    413: "The request body is larger than the route accepts.",
    415: "The request body's Content-Type is not one the route reads.",
    422: "Malformed or out-of-range input.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error statuses a route can return."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, _TITLES.get(status, "Error")),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }
