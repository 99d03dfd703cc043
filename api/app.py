"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems, web
from api.auth import CallerCache
from api.middleware import RequestEnvelope
from api.openapi import contract
from api.routers import all_routers
from api.routers.decisions import due_timer
from db.session import Database
from db.settings import Settings, get_settings

DESCRIPTION = """\
A futarchy engine: *vote on values, bet on beliefs*.

Authenticate with an API key: `Authorization: Bearer fut_…`. Money and shares are decimal
strings with at most six decimals (micro-units). Every POST that moves money needs an
`Idempotency-Key` header. Every error is `application/problem+json`. Every list is paged
the same way: `after_id` and `limit` in, the items and `next_after_id` out (null on the last
page). Every response carries an `X-Request-ID` (yours, if you sent a sane one).
"""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. The database must already be migrated (`futarchy db upgrade`).

    Args:
        settings: configuration; read from the environment when omitted.
        database: an existing `Database` to share (tests); built from settings when omitted.
    """
    settings = settings or get_settings()
    owned = database is None
    db = database or Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # decides due proposals on a timer when DECIDE_DUE_EVERY_SECONDS > 0 (idempotent, so
        # every worker may run one)
        with due_timer(db, settings.decide_due_every_seconds):
            yield
        if owned:
            db.dispose()

    app = FastAPI(
        title="futarchy",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.callers = CallerCache(settings.auth_cache_seconds)
    problems.install(app)
    for router in all_routers():
        app.include_router(router)
    app.include_router(web.router)  # the pages, after the API (left out of the OpenAPI)
    app.openapi = lambda: contract(app)  # type: ignore[method-assign]
    app.add_middleware(RequestEnvelope, openapi=app.openapi)
    return app
