"""The pages' stylesheet and script, served by the app itself (no CDN, no build step).

``GET /web/static/site.css`` and ``GET /web/static/site.js``: read once from this package,
served with their type, ``nosniff`` and a short cache lifetime.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from api.web.routing import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STATIC = Path(__file__).parent / "static"

TYPES = {"site.css": "text/css; charset=utf-8", "site.js": "text/javascript; charset=utf-8"}
"""The files served, by name, with their media type (nothing else under the folder is)."""


@lru_cache(maxsize=len(TYPES))
def _content(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _asset(name: str) -> Response:
    return Response(
        _content(name),
        media_type=TYPES[name],
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/web/static/site.css")
async def stylesheet() -> Response:
    """The one stylesheet."""
    return _asset("site.css")


@router.get("/web/static/site.js")
async def script() -> Response:
    """The one script: the live quote and the price refresh."""
    return _asset("site.js")
