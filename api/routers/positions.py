"""The caller's own holdings: balances, positions and trades."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentCaller, ReadSession
from api.params import AfterId, MarketFilter, PageSize, ProposalFilter
from api.problems import problem_responses
from api.schemas.funds import BalancesRead
from api.schemas.trades import PositionPage, PositionRead, TradePage, TradeRecordRead
from db.paging import DEFAULT_PAGE, next_after_id
from market import funding
from market import repository as repo

router = APIRouter(prefix="/me", tags=["holdings"])


@router.get("/balances", operation_id="my_balances", responses=problem_responses(401, 422))
def balances(
    session: ReadSession,
    caller: CurrentCaller,
    proposal_id: ProposalFilter = None,
) -> BalancesRead:
    """The caller's unconditional cash and its conditional cash in every branch."""
    return BalancesRead.of(funding.balances(session, caller.account_id, proposal_id))


@router.get("/positions", operation_id="my_positions", responses=problem_responses(401, 422))
def positions(
    session: ReadSession,
    caller: CurrentCaller,
    proposal_id: ProposalFilter = None,
    market_id: MarketFilter = None,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> PositionPage:
    """The caller's non-empty positions by market and outcome, ``limit`` markets a page
    (``after_id`` and ``next_after_id`` are market ids)."""
    rows = repo.positions_of(
        session,
        caller.account_id,
        proposal_id=proposal_id,
        market_id=market_id,
        after_market_id=after_id,
        limit_markets=limit,
    )
    markets = list(dict.fromkeys(int(r.market_id) for r in rows))
    return PositionPage(
        positions=[
            PositionRead(
                market_id=r.market_id,
                proposal_id=r.proposal_id,
                branch_index=r.branch_index,
                branch_name=r.branch_name,
                outcome=r.outcome,
                outcome_name=str(list(r.outcomes)[r.outcome]),
                shares=int(r.shares_micros),
            )
            for r in rows
        ],
        next_after_id=next_after_id(markets, limit),
    )


@router.get("/trades", operation_id="my_trades", responses=problem_responses(401, 422))
def trades(
    session: ReadSession,
    caller: CurrentCaller,
    market_id: MarketFilter = None,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> TradePage:
    """The caller's trades, oldest first, a page at a time."""
    rows = repo.trades_of_account(
        session, caller.account_id, market_id=market_id, after_id=after_id, limit=limit
    )
    return TradePage(
        trades=[TradeRecordRead.of(t) for t in rows],
        next_after_id=next_after_id([t.id for t in rows], limit),
    )
