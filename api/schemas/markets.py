"""Schemas for branch markets: state, current prices, expected welfare, price history."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.money import Amount
from market.assets import BinnedAsset, ScalarAsset
from market.book import Book
from market.models import AssetKind, Market, MarketStatus, Proposal, as_int_list
from market.trading import PricePoint


def expected_welfare(proposal: Proposal, prices: tuple[float, ...]) -> float:
    """The market's expected welfare from its prices (welfare units).

    Scalar: ``lo + (hi − lo) · p_LONG``; binned: ``Σ_i p_i · (e_i + e_{i+1}) / 2``.
    """
    if proposal.asset_kind == AssetKind.BINNED and proposal.bin_edges is not None:
        return BinnedAsset(tuple(proposal.bin_edges)).expected_welfare(prices)
    return ScalarAsset(proposal.lo, proposal.hi).expected_welfare(prices)


def is_trading(market: Market, now: datetime) -> bool:
    """Open, and ``opens_at ≤ now < closes_at``."""
    return market.status == MarketStatus.OPEN and market.opens_at <= now < market.closes_at


class MarketRead(BaseModel):
    """One branch market: its LMSR state, current prices and the expected welfare they imply.

    Prices are probabilities (one per outcome, summing to 1), not money.
    """

    id: int
    proposal_id: int
    branch_index: int = Field(description="0..K; the status quo is the last branch.")
    branch_name: str
    is_status_quo: bool
    status: MarketStatus
    trading: bool = Field(description="Whether the market takes trades right now.")
    opens_at: datetime
    closes_at: datetime
    outcomes: list[str] = Field(description='Outcome names in order (["LONG", "SHORT"] or bins).')
    prices: list[float] = Field(description="Current price (probability) of each outcome.")
    expected_welfare: float = Field(description="The welfare the prices imply (welfare units).")
    shares_outstanding: list[Amount] = Field(description="q: shares sold per outcome.")
    liquidity: Amount = Field(description="LMSR b = F / ln n.")
    subsidy: Amount = Field(description="F, the market maker's loss budget.")
    maker_cash: Amount = Field(description="The maker's conditional cash now (F + trade cash).")
    trade_count: int

    @classmethod
    def of(cls, market: Market, proposal: Proposal, now: datetime) -> MarketRead:
        """The API form of a market row (its proposal gives the asset)."""
        q = as_int_list(market.q_micros)
        prices = Book(tuple(q), int(market.b_micros)).prices()
        return cls(
            id=market.id,
            proposal_id=market.proposal_id,
            branch_index=market.branch_index,
            branch_name=market.branch_name,
            is_status_quo=market.is_status_quo,
            status=MarketStatus(market.status),
            trading=is_trading(market, now),
            opens_at=market.opens_at,
            closes_at=market.closes_at,
            outcomes=list(market.outcomes),
            prices=list(prices),
            expected_welfare=expected_welfare(proposal, prices),
            shares_outstanding=q,
            liquidity=int(market.b_micros),
            subsidy=int(market.subsidy_micros),
            maker_cash=int(market.maker_cash_micros),
            trade_count=market.trade_count,
        )


class PricePointRead(BaseModel):
    """The prices right after one trade."""

    trade_id: int
    at: datetime
    prices: list[float]

    @classmethod
    def of(cls, point: PricePoint) -> PricePointRead:
        """The API form of `market.trading.PricePoint`."""
        return cls(trade_id=point.trade_id, at=point.at, prices=list(point.prices))


class PriceHistoryRead(BaseModel):
    """A page of a market's price history, oldest first.

    Before the first trade the prices are uniform. To read on, pass ``after_id`` =
    ``next_after_id``; it is null on the last page.
    """

    market_id: int
    outcomes: list[str]
    points: list[PricePointRead]
    next_after_id: int | None


class MarketPage(BaseModel):
    """A page of markets by id. To read on, pass ``after_id`` = ``next_after_id``."""

    markets: list[MarketRead]
    next_after_id: int | None
