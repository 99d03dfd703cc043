"""Every router, one module per resource, found by walking this package.

A module here that defines ``router`` (an `APIRouter`) is included by `api.app.create_app`,
in module-name order, so a new resource needs no edit elsewhere.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    """The ``router`` of every module in this package, by module name."""
    routers: list[APIRouter] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        router = getattr(loaded, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers
