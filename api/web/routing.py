"""Page routes answer in HTML, errors included.

The JSON API turns every error into problem+json (`api.problems`). A person opening a page
should read the error as a page instead, so page routes use `PageRoute`: a malformed path
or query (FastAPI's validation), a domain error (its status from `api.problems.status_for`)
or an HTTP error becomes `api.web.render.error_page` with the same status and the same
words. Nothing here changes what the JSON API answers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.problems import status_for
from api.web.render import error_page
from db.errors import FutarchyError

_HEADINGS = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Not possible now",
    413: "Too large",
    422: "Cannot read that",
}


def _validation_text(exc: RequestValidationError) -> tuple[int, str]:
    """404 when a path parameter is out of range (no such thing can exist), else 422."""
    parts = []
    in_path = False
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        in_path = in_path or (bool(loc) and loc[0] == "path")
        name = loc[-1] if loc else "input"
        parts.append(f"{name}: {err.get('msg', 'invalid')}")
    detail = "; ".join(parts) or "the request could not be read"
    return (404 if in_path else 422), detail


class PageRoute(APIRoute):
    """An `APIRoute` whose errors are HTML pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except RequestValidationError as exc:
                status, detail = _validation_text(exc)
                return error_page(status, _HEADINGS[status], detail)
            except FutarchyError as exc:
                status, title = status_for(exc)
                return error_page(status, _HEADINGS.get(status, title), str(exc))
            except StarletteHTTPException as exc:
                status = exc.status_code
                return error_page(status, _HEADINGS.get(status, "Error"), str(exc.detail))

        return handler
