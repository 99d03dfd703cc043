"""The audit log, public: anyone may read every stream and have the server verify them.

- ``GET /audit/streams``: each stream's head (paged by market id);
- ``GET /audit/streams/{stream}``: a stream's events in order (``after`` = a sequence
  number), each with the exact text that was hashed;
- ``GET /audit/verify``: the server recomputes every chain, motion result, decision,
  settlement and balance from the streams (`market.audit_verify`) and compares the
  balances with its tables.

No key is needed: the log is evidence for outsiders. Nothing here writes.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, ReadSession
from api.params import AfterId, PageSize
from api.problems import problem_responses
from api.schemas.audit import AuditEventRead, EventPage, StreamHead, StreamPage, VerificationRead
from db import audit
from db.audit_chain import GOVERNANCE, Head, market_of_stream
from db.errors import NotFoundError
from db.paging import DEFAULT_PAGE, MAX_PAGE, next_after_id
from market import repository as repo
from market.audit_export import verify_database
from market.audit_trail import market_heads

router = APIRouter(prefix="/audit", tags=["audit"])

StreamName = Annotated[
    str,
    Path(
        pattern=r"^(governance|market-[1-9][0-9]{0,9})$",
        max_length=32,
        description="`governance` or `market-<id>`.",
    ),
]
AfterSeq = Annotated[
    int,
    Query(ge=0, le=2**62, description="Return only events with a larger sequence number."),
]


class UnknownStream(NotFoundError):
    """No such stream (a market that does not exist)."""


@router.get("/streams", operation_id="audit_streams", responses=problem_responses(422))
def streams(
    session: ReadSession, after_id: AfterId = 0, limit: PageSize = DEFAULT_PAGE
) -> StreamPage:
    """Every stream's head: ``governance`` first (on the first page), then ``market-<id>``
    for every market by id (``after_id`` and ``next_after_id`` are market ids). Publish
    these (or a manifest of an export) to let anyone later prove the history unchanged
    with ``futarchy audit verify --published FILE``."""
    heads: list[Head] = [audit.governance_head(session)] if after_id == 0 else []
    markets = market_heads(session, after_id, limit)
    return StreamPage(
        streams=[StreamHead.of(h) for h in heads + markets],
        next_after_id=next_after_id([market_of_stream(h.stream) or 0 for h in markets], limit),
    )


def _check_stream(session: Session, stream: str) -> None:
    market_id = market_of_stream(stream)
    if stream != GOVERNANCE and (market_id is None or market_id > 2**31 - 1):
        raise UnknownStream(f"no stream named {stream!r}")
    if market_id is not None:
        try:
            repo.get_market(session, market_id)
        except NotFoundError:
            raise UnknownStream(
                f"no stream named {stream!r}: market {market_id} does not exist"
            ) from None


@router.get(
    "/streams/{stream}", operation_id="audit_stream_events", responses=problem_responses(404, 422)
)
def events(
    stream: StreamName, session: ReadSession, after: AfterSeq = 0, limit: PageSize = DEFAULT_PAGE
) -> EventPage:
    """A stream's events in order, from ``after + 1``: each event's sequence number,
    kind, hash and ``body``, the canonical JSON record exactly as hashed (docs/audit.md).
    404 for a stream that does not exist."""
    _check_stream(session, stream)
    page = audit.events_page(session, stream, after=after, limit=min(limit, MAX_PAGE))
    items = [AuditEventRead(seq=e.seq, kind=e.kind, hash=e.hash, body=e.body) for e in page]
    return EventPage(
        stream=stream, events=items, next_after=next_after_id([e.seq for e in page], limit)
    )


@router.get("/verify", operation_id="audit_verify", responses=problem_responses(422))
async def verify(database: DatabaseDep, chain_only: bool = False) -> VerificationRead:
    """Recompute everything from the streams and report the first record that disagrees:
    every chain link and head; every motion result from its ballots, delegations, seats
    and rules; every decision from its rule, the price paths and the revealed seed; every
    settlement's payouts; every market state and balance from the replayed ledger, then
    compared with the stored balances. ``chain_only=true`` checks the chains alone (fast).
    A failed verification is still a 200: ``ok`` is false and ``disagreement`` names the
    stream, the sequence number and what was expected."""
    report = await anyio.to_thread.run_sync(
        lambda: verify_database(database, replay=not chain_only)
    )
    return VerificationRead.of(report)
