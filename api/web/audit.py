"""The audit page: each stream's head, and the result of verifying the chains.

``GET /web/audit?after=…``: the governance stream's head and a page of the market
streams' heads (`market.audit_trail.market_heads`, by market id), as the audit API lists
them.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import DatabaseDep
from api.params import MAX_ID
from api.web import session as web_session
from api.web.render import page
from api.web.routing import PageRoute
from db import audit
from db.audit_chain import market_of_stream
from db.session import Database
from market.audit_export import verify_database
from market.audit_trail import market_heads

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE = 100
"""Market streams one page lists."""


def _read(database: Database, request: Request, after: int) -> tuple[Any, dict[str, Any]]:
    with database.read() as session:
        web = web_session.read_session(request, session)
        context = _context(session, after)
    # the first page also shows the server's own verification of every stream
    # (`market.audit_verify`: chains, motion results, decisions, settlements, balances)
    context["verification"] = verify_database(database) if after == 0 else None
    return web, context


def _context(session: Session, after: int) -> dict[str, Any]:
    heads = market_heads(session, after, PAGE)
    last = market_of_stream(heads[-1].stream) if heads else None
    return {
        "governance": audit.governance_head(session) if after == 0 else None,
        "heads": heads,
        "next_after": last if len(heads) == PAGE else None,
    }


@router.get("/web/audit")
async def audit_page(
    request: Request,
    database: DatabaseDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> HTMLResponse:
    """Each stream's head and, on the first page, the result of verifying them all."""
    web, context = await anyio.to_thread.run_sync(_read, database, request, after)
    return page(request, "audit.j2", context, web=web, title="Audit log")
