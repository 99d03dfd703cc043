"""Executing trades: buy or sell one outcome of a branch market, paid in its branch cash."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import DatabaseDep, TraderCaller
from api.idempotency import IdempotencyKey, idempotent
from api.params import MarketId
from api.problems import problem_responses
from api.schemas.trades import OrderIn, TradeRead
from market import trading

router = APIRouter(prefix="/markets", tags=["trades"])


@router.post(
    "/{market_id:int}/trades",
    status_code=status.HTTP_201_CREATED,
    operation_id="execute_trade",
    response_model=TradeRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def execute(
    market_id: MarketId,
    body: OrderIn,
    database: DatabaseDep,
    trader: TraderCaller,
    idem: IdempotencyKey,
) -> Response:
    """Buy or sell one outcome (trader only), by shares or by an amount to spend.

    The market row is locked, then the trader's rows, so concurrent trades on one market
    run one after another. 409 when the market does not trade now, the branch cash is
    short, the trader sells shares not held, or a limit is broken; 422 for malformed
    amounts or a bad outcome. A retry with the same ``Idempotency-Key`` returns this
    trade again, never a second one.
    """
    return await idempotent(
        database,
        trader.account_id,
        idem,
        body,
        status.HTTP_201_CREATED,
        lambda session: TradeRead.of_result(
            trading.execute(session, trader.account_id, market_id, body.order())
        ),
    )
