"""Every router, one per resource. `api.app.create_app` includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from api.routers import accounts

ROUTERS: list[APIRouter] = [
    accounts.router,
]
