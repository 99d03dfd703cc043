"""One write transaction per request, run start to finish on ONE worker thread.

Why not the `api.deps.WriteSession` dependency for these routes: FastAPI enters a sync
dependency's context manager on a worker thread of the shared pool (40 by default) and
runs the endpoint on another. On SQLite `Database.write()` waits for the process's write
lock inside that entry, so with 40 or more concurrent writers every pool thread can be
waiting for the lock while the request holding it waits for a thread to run its endpoint:
the server stops (seen with 48 clients). Here the lock wait, the work and the commit run in
one call on one thread, so the holder of the lock always has its thread; it also saves
two thread hand-offs per request.

Semantics are those of `WriteSession`: services only flush; the transaction commits before
the response is sent, and any exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session

from db.session import Database

T = TypeVar("T")


async def run_write(database: Database, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one write transaction on a worker thread; commit; return.

    Raises:
        Whatever ``work`` raises, after the transaction was rolled back.
    """

    def unit() -> T:
        with database.write() as session:
            return work(session)

    return await anyio.to_thread.run_sync(unit)
