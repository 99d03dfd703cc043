"""Branch markets: state and prices, price history, and quotes (which change nothing)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentCaller, ReadSession
from api.params import AfterId, MarketId, PageSize, ProposalFilter
from api.problems import problem_responses
from api.schemas.markets import MarketPage, MarketRead, PriceHistoryRead, PricePointRead
from api.schemas.trades import OrderIn, QuoteRead
from db.types import utcnow
from market import repository as repo
from market import trading

router = APIRouter(prefix="/markets", tags=["markets"])


@router.get("", operation_id="list_markets", responses=problem_responses(401, 422))
def list_(
    session: ReadSession,
    _caller: CurrentCaller,
    proposal_id: ProposalFilter = None,
    after_id: AfterId = 0,
    limit: PageSize = 100,
) -> MarketPage:
    """Markets by id with their current prices, optionally of one proposal."""
    markets = repo.list_markets(session, proposal_id=proposal_id, after_id=after_id, limit=limit)
    proposals = {pid: repo.get_proposal(session, pid) for pid in {m.proposal_id for m in markets}}
    now = utcnow()
    return MarketPage(
        markets=[MarketRead.of(m, proposals[m.proposal_id], now) for m in markets],
        next_after_id=markets[-1].id if len(markets) == limit else None,
    )


@router.get(
    "/{market_id:int}", operation_id="get_market", responses=problem_responses(401, 404, 422)
)
def read(market_id: MarketId, session: ReadSession, _caller: CurrentCaller) -> MarketRead:
    """One market: its state, current prices and the expected welfare they imply."""
    market = repo.get_market(session, market_id)
    return MarketRead.of(market, repo.get_proposal(session, market.proposal_id), utcnow())


@router.get(
    "/{market_id:int}/prices",
    operation_id="get_price_history",
    responses=problem_responses(401, 404, 422),
)
def prices(
    market_id: MarketId,
    session: ReadSession,
    _caller: CurrentCaller,
    after_id: AfterId = 0,
    limit: PageSize = 100,
) -> PriceHistoryRead:
    """The market's prices after each trade, oldest first, a page at a time."""
    points = trading.price_history(session, market_id, after_id=after_id, limit=limit)
    market = repo.get_market(session, market_id)
    return PriceHistoryRead(
        market_id=market_id,
        outcomes=list(market.outcomes),
        points=[PricePointRead.of(p) for p in points],
        next_after_id=points[-1].trade_id if len(points) == limit else None,
    )


@router.post(
    "/{market_id:int}/quote",
    operation_id="quote_order",
    responses=problem_responses(401, 404, 409, 422),
)
def quote(
    market_id: MarketId, body: OrderIn, session: ReadSession, _caller: CurrentCaller
) -> QuoteRead:
    """Price an order against the market as it is now; nothing changes, no key needed.

    409 when the market does not trade now or the quote breaks a limit; 422 for a bad
    outcome or amount. The price may move before you trade: set a limit on the trade.
    """
    return QuoteRead.of(trading.quote(session, market_id, body.order()))
