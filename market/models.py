"""ORM models of the trading service: cash, proposals, their branch markets, holdings, trades.

All money is integer micro-units of cash and all shares integer micro-shares (BIGINT).
Where a balance cannot go negative a CHECK constraint says so, as a backstop behind the
services' own checks.

Layout, and why:

- `CashBalance`: one row per account holding unconditional cash.
- `Proposal`: K alternatives + the status quo, the welfare asset (scalar LONG/SHORT on
  ``[lo, hi]`` or binned with edges), the trading window, the subsidy ``F`` per branch and
  the *collateral*: the unconditional cash locked behind the proposal's conditional cash.
  Every split adds to it and every merge takes from it, so for each branch
  ``Σ traders' branch cash + maker cash = collateral`` at all times.
- `Market`: one per branch (a branch *is* its market row: ``(proposal_id, branch_index)``).
  It carries everything a trade needs in one row, so a trade locks and updates one row:
  the LMSR state ``q`` (a JSON array of micro-shares), ``b``, the maker's conditional cash
  (``F`` plus every trade's charge minus every payment), the status and a copy of the
  (immutable) trading window.
- `BranchCash`: a trader's conditional cash in one branch.
- `Position`: a trader's shares of one outcome of one market.
- `Trade`: one executed trade with the prices after it (the price history).

The ledger (`market.ledger`) and idempotency records (`market.idempotency`) live beside.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.types import UTCDateTime, utcnow


class AssetKind(enum.StrEnum):
    """What each branch market trades: LONG/SHORT on ``[lo, hi]`` or a binned distribution."""

    SCALAR = "scalar"
    BINNED = "binned"


class MarketStatus(enum.StrEnum):
    """Stored lifecycle of a proposal and of its markets.

    A market also stops trading when its window has passed, whatever the stored status;
    `market.trading` checks both.
    """

    OPEN = "open"
    CLOSED = "closed"
    SETTLED = "settled"


_STATUSES = "('open', 'closed', 'settled')"


class CashBalance(Base):
    """An account's unconditional cash, micro-units (never negative)."""

    __tablename__ = "cash_balance"
    __table_args__ = (CheckConstraint("cash_micros >= 0", name="cash_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    cash_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class Proposal(Base):
    """K policy alternatives plus the status quo, traded in one market per branch.

    Attributes:
        metric_version_id: the welfare metric version the markets bind to; an opaque id
            here (the welfare package links it).
        asset_kind: `AssetKind`.
        lo, hi: tradable welfare bounds (welfare units); for a binned asset the outer edges.
        bin_edges: the bin edges of a binned asset (``n + 1`` increasing numbers), else null.
        subsidy_micros: ``F``, the market maker's loss budget in each branch; the sponsor
            pays ``F`` once (split into every branch).
        collateral_micros: unconditional cash locked behind the conditional cash (``F`` plus
            splits minus merges).
    """

    __tablename__ = "proposal"
    __table_args__ = (
        CheckConstraint("asset_kind IN ('scalar', 'binned')", name="asset_kind_known"),
        CheckConstraint(f"status IN {_STATUSES}", name="status_known"),
        CheckConstraint("lo < hi", name="bounds_ordered"),
        CheckConstraint("opens_at < closes_at", name="window_ordered"),
        CheckConstraint("subsidy_micros > 0", name="subsidy_positive"),
        CheckConstraint("collateral_micros >= 0", name="collateral_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    metric_version_id: Mapped[str] = mapped_column(String(100))
    asset_kind: Mapped[str] = mapped_column(String(16))
    lo: Mapped[float] = mapped_column(Double)
    hi: Mapped[float] = mapped_column(Double)
    bin_edges: Mapped[list[float] | None] = mapped_column(JSON(none_as_null=True), default=None)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    subsidy_micros: Mapped[int] = mapped_column(BigInteger)
    sponsor_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    collateral_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=MarketStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Market(Base):
    """The LMSR market of one branch of a proposal.

    Invariants: ``q_micros`` equals the sum of this market's trades' share deltas and the
    sum of all traders' positions; ``maker_cash_micros = subsidy_micros + Σ trade cash``
    and never negative (the LMSR loses at most ``b ln n ≤ F``).

    Attributes:
        branch_index: 0..K; the status quo is the last branch.
        outcomes: outcome names in book order (``["LONG", "SHORT"]`` or the bins).
        q_micros: shares outstanding per outcome, micro-shares (JSON array of ints).
        b_micros: LMSR liquidity ``b = ⌊F / ln n⌋``, micro-units.
        subsidy_micros: ``F``, the maker's starting conditional cash.
        maker_cash_micros: the maker's conditional cash now; its P&L is this minus ``F``.
        trade_count: trades executed so far.
    """

    __tablename__ = "market"
    __table_args__ = (
        UniqueConstraint("proposal_id", "branch_index", name="uq_market_proposal_branch"),
        CheckConstraint(f"status IN {_STATUSES}", name="status_known"),
        CheckConstraint("branch_index >= 0", name="branch_index_not_negative"),
        CheckConstraint("b_micros > 0", name="b_positive"),
        CheckConstraint("subsidy_micros > 0", name="subsidy_positive"),
        CheckConstraint("maker_cash_micros >= 0", name="maker_cash_not_negative"),
        CheckConstraint("trade_count >= 0", name="trade_count_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"))
    branch_index: Mapped[int] = mapped_column(Integer)
    branch_name: Mapped[str] = mapped_column(String(200))
    is_status_quo: Mapped[bool] = mapped_column(Boolean)
    outcomes: Mapped[list[str]] = mapped_column(JSON)
    q_micros: Mapped[list[int]] = mapped_column(JSON)
    b_micros: Mapped[int] = mapped_column(BigInteger)
    subsidy_micros: Mapped[int] = mapped_column(BigInteger)
    maker_cash_micros: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=MarketStatus.OPEN.value)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trade_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BranchCash(Base):
    """An account's conditional cash in one branch (cash-if-this-branch), micro-units."""

    __tablename__ = "branch_cash"
    __table_args__ = (CheckConstraint("cash_micros >= 0", name="cash_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("market.id"), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), index=True)
    cash_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class Position(Base):
    """An account's shares of one outcome of one market, micro-shares (never negative)."""

    __tablename__ = "position"
    __table_args__ = (CheckConstraint("shares_micros >= 0", name="shares_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("market.id"), primary_key=True)
    outcome: Mapped[int] = mapped_column(Integer, primary_key=True)
    shares_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class Trade(Base):
    """One executed trade of one outcome.

    Attributes:
        shares_micros: micro-shares bought (> 0) or sold (< 0).
        cash_micros: the trader paid the maker (> 0: a charge, rounded up) or was paid
            (< 0: proceeds, rounded down in magnitude), in branch cash.
        prices_after: the market's prices after the trade (probabilities, one per outcome).
    """

    __tablename__ = "trade"
    __table_args__ = (
        CheckConstraint("shares_micros <> 0", name="shares_not_zero"),
        CheckConstraint("outcome >= 0", name="outcome_not_negative"),
        Index("ix_trade_market_id_id", "market_id", "id"),
        Index("ix_trade_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("market.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    outcome: Mapped[int] = mapped_column(Integer)
    shares_micros: Mapped[int] = mapped_column(BigInteger)
    cash_micros: Mapped[int] = mapped_column(BigInteger)
    prices_after: Mapped[list[float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def as_int_list(value: Any) -> list[int]:
    """A JSON array of integers as read back from either backend."""
    return [int(x) for x in value]
