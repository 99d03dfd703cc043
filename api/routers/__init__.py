"""Every router, one module per resource, found by walking this package.

A module here that defines ``router`` (an `APIRouter`) is included by `api.app.create_app`,
so a new resource needs no edit elsewhere. FastAPI tries the included routers one after
another for every request, so the trading hot path (`HOT_PATH`) goes first: matching
``POST /markets/{id}/trades`` behind every other router cost 12% of a trade's server time.
The rest follow in module-name order. No two routers claim the same path, so the order
changes speed only, never which route answers.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

HOT_PATH = ("trades", "markets")
"""Router modules matched first, in this order: the money-moving trading routes."""


def all_routers() -> list[APIRouter]:
    """The ``router`` of every module in this package: `HOT_PATH` first, then by name."""

    def rank(name: str) -> tuple[int, str]:
        return (HOT_PATH.index(name) if name in HOT_PATH else len(HOT_PATH), name)

    routers: list[APIRouter] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: rank(m.name)):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        router = getattr(loaded, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers
