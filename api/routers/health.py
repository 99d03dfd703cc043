"""Liveness and readiness for load balancers and orchestrators.

- ``GET /healthz``: the process answers (no database; cheap enough to poll every second).
- ``GET /readyz``: the database answers a ``SELECT 1`` within the pool's timeout; 503 with a
  problem when it does not (the only 5xx the API gives on purpose: it is about the server,
  never about the request).
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import DatabaseDep
from api.problems import PROBLEM_JSON, PROBLEM_SCHEMA, problem
from db.session import Database

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The server's state."""

    status: str


@router.get("/healthz", operation_id="liveness")
async def healthz() -> Health:
    """The process is up (the database is not asked)."""
    return Health(status="ok")


def _ping(database: Database) -> None:
    with database.read() as session:
        session.execute(text("SELECT 1"))


@router.get(
    "/readyz",
    operation_id="readiness",
    response_model=Health,
    responses={
        503: {
            "description": "The database does not answer.",
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
    },
)
async def readyz(database: DatabaseDep) -> Health | JSONResponse:
    """The database answers: ready to serve requests."""
    try:
        await anyio.to_thread.run_sync(_ping, database)
    except SQLAlchemyError as exc:
        return problem(503, f"the database does not answer: {type(exc).__name__}")
    return Health(status="ok")
