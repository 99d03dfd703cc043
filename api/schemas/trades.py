"""Schemas for orders, quotes, executed trades, positions and a trader's trade list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.money import Amount, OptionalLimitAmount, PositiveAmount
from api.schemas.base import RequestModel
from market.book import Limit
from market.models import Trade
from market.proposals import MAX_BINS
from market.trading import Order, Side, TradeQuote, TradeResult


class OrderIn(RequestModel):
    """A buy or sell of one outcome, by shares or (buys only) by an amount to spend.

    Give exactly one of ``shares`` and ``spend``. The optional limits refuse the trade
    (409) if the price turns out worse: average prices are cash per whole share.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": 0, "side": "buy", "shares": "5", "max_average_price": "0.6"},
                {"outcome": 1, "side": "buy", "spend": "10"},
                {"outcome": 0, "side": "sell", "shares": "2.5", "min_proceeds": "1"},
            ]
        },
    )

    outcome: int = Field(
        ge=0, lt=MAX_BINS, description="Outcome index (0 = LONG, 1 = SHORT, or the bin)."
    )
    side: Side
    shares: PositiveAmount | None = Field(default=None, description="Shares to buy or sell.")
    spend: PositiveAmount | None = Field(
        default=None, description="Buys only: spend up to this much branch cash."
    )
    max_average_price: OptionalLimitAmount = Field(
        default=None, description="Buys: the highest average price per share accepted."
    )
    min_average_price: OptionalLimitAmount = Field(
        default=None, description="Sells: the lowest average price per share accepted."
    )
    max_cost: OptionalLimitAmount = Field(
        default=None, description="Buys: the largest total charge accepted."
    )
    min_proceeds: OptionalLimitAmount = Field(
        default=None, description="Sells: the smallest total proceeds accepted."
    )

    def order(self) -> Order:
        """The service's order (micro-units), with a `Limit` when any limit is given."""
        limits = (self.max_average_price, self.min_average_price, self.max_cost, self.min_proceeds)
        limit = (
            None
            if all(v is None for v in limits)
            else Limit(
                max_average_price_micros=self.max_average_price,
                min_average_price_micros=self.min_average_price,
                max_cost_micros=self.max_cost,
                min_proceeds_micros=self.min_proceeds,
            )
        )
        return Order(
            outcome=self.outcome,
            side=self.side,
            shares_micros=self.shares,
            spend_micros=self.spend,
            limit=limit,
        )


def _quote_fields(quote: TradeQuote) -> dict[str, Any]:
    return {
        "market_id": quote.market_id,
        "proposal_id": quote.proposal_id,
        "branch_index": quote.branch_index,
        "outcome": quote.outcome,
        "outcome_name": quote.outcome_name,
        "side": quote.side,
        "shares": quote.shares_micros,
        "cash": quote.cash_micros,
        "average_price": quote.average_price_micros,
        "prices_before": list(quote.prices_before),
        "prices_after": list(quote.prices_after),
    }


class QuoteRead(BaseModel):
    """What an order would do now (nothing changed)."""

    market_id: int
    proposal_id: int
    branch_index: int
    outcome: int
    outcome_name: str
    side: Side
    shares: Amount = Field(description="Shares traded (> 0).")
    cash: Amount = Field(description="Branch cash paid (buy) or received (sell).")
    average_price: Amount = Field(description="cash / shares, rounded against the trader.")
    prices_before: list[float]
    prices_after: list[float]

    @classmethod
    def of(cls, quote: TradeQuote) -> QuoteRead:
        """The API form of `market.trading.TradeQuote`."""
        return cls(**_quote_fields(quote))


class TradeRead(QuoteRead):
    """An executed trade and what it left the trader with in this branch."""

    trade_id: int
    branch_cash_after: Amount = Field(description="The trader's cash in this branch now.")
    position_after: Amount = Field(description="The trader's shares of this outcome now.")
    created_at: datetime

    @classmethod
    def of_result(cls, result: TradeResult) -> TradeRead:
        """The API form of `market.trading.TradeResult`."""
        return cls(
            **_quote_fields(result),
            trade_id=result.trade_id,
            branch_cash_after=result.branch_cash_after_micros,
            position_after=result.position_after_micros,
            created_at=result.created_at,
        )


class TradeRecordRead(BaseModel):
    """One of the caller's past trades."""

    trade_id: int
    market_id: int
    outcome: int
    side: Side
    shares: Amount = Field(description="Shares traded (> 0).")
    cash: Amount = Field(description="Branch cash paid (buy) or received (sell), ≥ 0.")
    prices_after: list[float]
    created_at: datetime

    @classmethod
    def of(cls, trade: Trade) -> TradeRecordRead:
        """The API form of a stored trade (signed amounts become a side and magnitudes)."""
        return cls(
            trade_id=trade.id,
            market_id=trade.market_id,
            outcome=trade.outcome,
            side=Side.BUY if trade.shares_micros > 0 else Side.SELL,
            shares=abs(int(trade.shares_micros)),
            cash=abs(int(trade.cash_micros)),
            prices_after=[float(p) for p in trade.prices_after],
            created_at=trade.created_at,
        )


class PositionPage(BaseModel):
    """A page of positions, whole markets at a time, by market id. To read on, pass
    ``after_id`` = ``next_after_id`` (a market id); it is null on the last page."""

    positions: list[PositionRead]
    next_after_id: int | None


class TradePage(BaseModel):
    """A page of trades by id. To read on, pass ``after_id`` = ``next_after_id``."""

    trades: list[TradeRecordRead]
    next_after_id: int | None


class PositionRead(BaseModel):
    """Shares the caller holds of one outcome of one market."""

    market_id: int
    proposal_id: int
    branch_index: int
    branch_name: str
    outcome: int
    outcome_name: str
    shares: Amount
