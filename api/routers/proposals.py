"""Proposals: an admin creates (and may close) them; anyone with a key reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from api.deps import AdminCaller, CurrentCaller, DatabaseDep, ReadSession
from api.idempotency import IdempotencyKey, idempotent
from api.params import AfterId, PageSize, ProposalId
from api.problems import problem_responses
from api.schemas.proposals import ProposalCreate, ProposalPage, ProposalRead
from api.transactions import run_write
from db.types import utcnow
from market import proposals as service
from market import repository as repo
from market.models import Market, ProposalStatus

router = APIRouter(prefix="/proposals", tags=["proposals"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_proposal",
    response_model=ProposalRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create(
    body: ProposalCreate, database: DatabaseDep, admin: AdminCaller, idem: IdempotencyKey
) -> Response:
    """Create a proposal: K alternatives + the status quo, one funded LMSR market per branch.

    The markets bind to the adopted welfare metric version in force on the day trading
    opens and trade its tradable bounds ``[lo, hi]``: 409 if no version is in force then
    or the version named is a draft or another one, 404 if it names no version, 422 if
    the bounds sent differ from the version's. The calling admin is the sponsor and pays
    the subsidy ``F`` once from its cash (409 if it holds less); each branch's market maker
    gets ``F`` of conditional cash and liquidity ``b = F / ln n``. A malformed definition
    is a 422 naming the fault.

    The decision terms are fixed here and never change: ``decides_at`` (default: the close
    of trading), the decision ``rule`` (averaging window, observation interval, cap,
    threshold δ, exploration ε and its mode; each has a default), a secret ``seed`` (yours,
    or drawn by the server; only its SHA-256 commitment is shown until the decision) and
    what settles the proposal (``settles_on``: the metric version's entity by default, the
    period, an optional cut-off). Each parameter out of range is a 422 naming it (e.g.
    ``decision.cap: …``). Exploration costs liquidity: with ``ipw`` each branch's
    ``b = F · d_min / ln n``, ``d_min = ε / (K + 1)``, and a buy must keep a margin of
    ``(1/d_min − 1) ×`` the trader's net spend in that branch.
    """

    def effect(session: Session) -> ProposalRead:
        now = utcnow()
        proposal = service.create_proposal(session, admin.account_id, body.spec(now))
        return ProposalRead.of(proposal, service.markets_of(session, proposal.id), now)

    return await idempotent(database, admin.account_id, idem, body, status.HTTP_201_CREATED, effect)


@router.get("", operation_id="list_proposals", responses=problem_responses(401, 422))
def list_(
    session: ReadSession,
    _caller: CurrentCaller,
    status_: Annotated[ProposalStatus | None, Query(alias="status")] = None,
    after_id: AfterId = 0,
    limit: PageSize = 50,
) -> ProposalPage:
    """Proposals by id with their markets and current prices, optionally by status."""
    proposals = repo.list_proposals(
        session, status=None if status_ is None else status_.value, after_id=after_id, limit=limit
    )
    by_proposal: dict[int, list[Market]] = {p.id: [] for p in proposals}
    for market in repo.markets_of(session, list(by_proposal)):
        by_proposal[market.proposal_id].append(market)
    now = utcnow()
    return ProposalPage(
        proposals=[ProposalRead.of(p, by_proposal[p.id], now) for p in proposals],
        next_after_id=proposals[-1].id if len(proposals) == limit else None,
    )


@router.get(
    "/{proposal_id:int}", operation_id="get_proposal", responses=problem_responses(401, 404, 422)
)
def read(proposal_id: ProposalId, session: ReadSession, _caller: CurrentCaller) -> ProposalRead:
    """One proposal with its markets, current prices and each branch's expected welfare."""
    proposal = service.get_proposal(session, proposal_id)
    return ProposalRead.of(proposal, service.markets_of(session, proposal_id), utcnow())


@router.post(
    "/{proposal_id:int}/close",
    operation_id="close_proposal",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def close(
    proposal_id: ProposalId, database: DatabaseDep, _admin: AdminCaller
) -> ProposalRead:
    """Stop trading on a proposal now (admin only). Closing a closed proposal is a no-op.

    Merges stay allowed until settlement; splits and trades stop. 409 once decided,
    settled or unwound (the lifecycle never goes back).
    """

    def work(session: Session) -> ProposalRead:
        proposal = service.close_proposal(session, proposal_id)
        return ProposalRead.of(proposal, service.markets_of(session, proposal_id), utcnow())

    return await run_write(database, work)
