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

The ledger (`market.ledger`), idempotency records (`market.idempotency`) and what deciding
and settling write (`market.settlement_models`: decisions, settlements, payouts and each
trader's stake) live beside.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from db.audit_chain import GENESIS
from db.base import Base
from db.types import BigId, UTCDateTime, utcnow
from market.proposal_rule import default_terms


class AssetKind(enum.StrEnum):
    """What each branch market trades: LONG/SHORT on ``[lo, hi]`` or a binned distribution."""

    SCALAR = "scalar"
    BINNED = "binned"


class ProposalStatus(enum.StrEnum):
    """Stored lifecycle of a proposal: open → closed → decided → settled | unwound.

    ``decided``: the decision is recorded (`market.settlement_models.Decision`); merges are
    still allowed. ``settled``: the executed branch paid out. ``unwound``: everyone got back
    what they put in (the council declared it unmeasurable, or a ``randomised_only`` draw did
    not explore).
    """

    OPEN = "open"
    CLOSED = "closed"
    DECIDED = "decided"
    SETTLED = "settled"
    UNWOUND = "unwound"


class MarketStatus(enum.StrEnum):
    """Stored lifecycle of a branch market: open → closed → settled | void | unwound.

    ``settled``: the executed branch; its conditional cash redeemed 1:1 and its shares paid.
    ``void``: a branch not taken (its bets are called off). ``unwound``: every branch of an
    unwound proposal. A market also stops trading when its window has passed, whatever the
    stored status; `market.trading` checks both. (Older code compares a proposal's status
    with ``MarketStatus.OPEN/CLOSED/SETTLED``; those values are the same strings in
    `ProposalStatus`.)
    """

    OPEN = "open"
    CLOSED = "closed"
    SETTLED = "settled"
    VOID = "void"
    UNWOUND = "unwound"


def _status_check(statuses: type[enum.StrEnum]) -> str:
    return "status IN (" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


_TWAP_COLUMNS = (
    "twap_observation",
    "twap_observed_at",
    "twap_cum_weighted",
    "twap_window_start",
    "twap_last_live",
)
_TWAP_ALL_OR_NONE = (
    "("
    + " AND ".join(f"{c} IS NULL" for c in _TWAP_COLUMNS)
    + ") OR ("
    + " AND ".join(f"{c} IS NOT NULL" for c in _TWAP_COLUMNS)
    + ")"
)


class CashBalance(Base):
    """An account's unconditional cash, micro-units (never negative)."""

    __tablename__ = "cash_balance"
    __table_args__ = (CheckConstraint("cash_micros >= 0", name="cash_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    cash_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class Proposal(Base):
    """K policy alternatives plus the status quo, traded in one market per branch.

    Attributes:
        metric_version_id: the welfare metric version the markets bind to
            (``metric_version.version_id``); null only for proposals older than the foreign
            key whose stored id named no version (such a proposal can be decided and
            unwound, never settled).
        asset_kind: `AssetKind`.
        lo, hi: tradable welfare bounds (welfare units); for a binned asset the outer edges.
        bin_edges: the bin edges of a binned asset (``n + 1`` increasing numbers), else null.
        subsidy_micros: ``F``, the market maker's loss budget in each branch; the sponsor
            pays ``F`` once (split into every branch).
        collateral_micros: unconditional cash locked behind the conditional cash (``F`` plus
            splits minus merges).
        status: `ProposalStatus`.
        decision_rule: ``market.decision.DecisionRule.to_dict()``, fixed at creation.
        decision_rule_hash: ``market.proposal_rule.rule_hash`` of the rule document (rule,
            ``decides_at``, ``seed_commitment``, ``settles_on``), 64 hex digits.
        decides_at: the decision time ``T`` (the averaging window ends here).
        seed_commitment: ``SHA-256(seed)``, hex, public from creation.
        seed_hex: the secret seed, hex; never shown before the decision reveals it.
        settle_entity, settle_period, settle_cutoff: what settles it (the bound version's
            certified measurement of that entity and period, at that cut-off); null: it
            cannot settle until they are set.

    The decision terms are nullable so older rows could migrate; every row has them (the
    migration backfilled `market.proposal_rule.default_terms`, and a proposal inserted
    without terms gets the same defaults, see `_default_terms`).
    """

    __tablename__ = "proposal"
    __table_args__ = (
        CheckConstraint("asset_kind IN ('scalar', 'binned')", name="asset_kind_known"),
        CheckConstraint(_status_check(ProposalStatus), name="status_known"),
        CheckConstraint("lo < hi", name="bounds_ordered"),
        CheckConstraint("opens_at < closes_at", name="window_ordered"),
        CheckConstraint("subsidy_micros > 0", name="subsidy_positive"),
        CheckConstraint("collateral_micros >= 0", name="collateral_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    metric_version_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("metric_version.version_id"), default=None
    )
    asset_kind: Mapped[str] = mapped_column(String(16))
    lo: Mapped[float] = mapped_column(Double)
    hi: Mapped[float] = mapped_column(Double)
    bin_edges: Mapped[list[float] | None] = mapped_column(JSON(none_as_null=True), default=None)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    subsidy_micros: Mapped[int] = mapped_column(BigInteger)
    sponsor_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    collateral_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decision_rule: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), default=None
    )
    decision_rule_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    decides_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    seed_commitment: Mapped[str | None] = mapped_column(String(64), default=None)
    seed_hex: Mapped[str | None] = mapped_column(Text, default=None)
    settle_entity: Mapped[str | None] = mapped_column(String(100), default=None)
    settle_period: Mapped[str | None] = mapped_column(String(20), default=None)
    settle_cutoff: Mapped[date | None] = mapped_column(Date, default=None)


@event.listens_for(Proposal, "before_insert")
def _default_terms(_mapper: Mapper[Any], _connection: Connection, target: Proposal) -> None:
    """A proposal inserted without a decision rule gets `default_terms`, the same terms the
    migration gave older proposals (so every proposal can be decided)."""
    if target.decision_rule is not None:
        return
    if None in (target.opens_at, target.closes_at, target.lo, target.hi):
        return  # the INSERT is refused by its NOT NULL constraints anyway
    terms = default_terms(target.opens_at, target.closes_at, target.lo, target.hi)
    target.decision_rule = terms.rule.to_dict()
    target.decides_at = terms.decides_at
    target.seed_hex = terms.seed_hex
    target.seed_commitment = terms.seed_commitment
    target.decision_rule_hash = terms.rule_hash


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
        twap_observation, twap_observed_at, twap_cum_weighted, twap_window_start,
            twap_last_live: the branch's capped time-weighted averaging state, the fields of
            `market.decision.TwapState` (welfare units; times in seconds since the Unix
            epoch), advanced by the trade's own UPDATE; all null until it starts (the
            service initialises it lazily), never partly set.
        audit_seq, audit_hash: the head of the market's audit stream ``market-<id>``
            (`db.audit_chain`): the last event's sequence number and hash (0 and 64 zeros
            before the first), advanced in the same UPDATE as the change it records.
    """

    __tablename__ = "market"
    __table_args__ = (
        UniqueConstraint("proposal_id", "branch_index", name="uq_market_proposal_branch"),
        CheckConstraint(_status_check(MarketStatus), name="status_known"),
        CheckConstraint("branch_index >= 0", name="branch_index_not_negative"),
        CheckConstraint("b_micros > 0", name="b_positive"),
        CheckConstraint("subsidy_micros > 0", name="subsidy_positive"),
        CheckConstraint("maker_cash_micros >= 0", name="maker_cash_not_negative"),
        CheckConstraint("trade_count >= 0", name="trade_count_not_negative"),
        CheckConstraint(_TWAP_ALL_OR_NONE, name="twap_all_or_none"),
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
    twap_observation: Mapped[float | None] = mapped_column(Double, default=None)
    twap_observed_at: Mapped[float | None] = mapped_column(Double, default=None)
    twap_cum_weighted: Mapped[float | None] = mapped_column(Double, default=None)
    twap_window_start: Mapped[float | None] = mapped_column(Double, default=None)
    twap_last_live: Mapped[float | None] = mapped_column(Double, default=None)
    audit_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    audit_hash: Mapped[str] = mapped_column(
        String(64), default=GENESIS, server_default=text(f"'{GENESIS}'")
    )


class BranchCash(Base):
    """An account's conditional cash in one branch (cash-if-this-branch), micro-units.

    Attributes:
        cash_micros: the conditional cash held now (never negative).
        spent_micros: net cash the account paid into this branch's market by trading:
            ``Σ buy charges − Σ sale proceeds`` (``= Σ trade.cash_micros`` of the account in
            the market); negative when its sales brought in more than its buys cost. Kept by
            the trade's own UPDATE (`market.repository.take_branch_cash` /
            `add_branch_cash`).
    """

    __tablename__ = "branch_cash"
    __table_args__ = (CheckConstraint("cash_micros >= 0", name="cash_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("market.id"), primary_key=True, index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), index=True)
    cash_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class Position(Base):
    """An account's shares of one outcome of one market, micro-shares (never negative)."""

    __tablename__ = "position"
    __table_args__ = (CheckConstraint("shares_micros >= 0", name="shares_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("market.id"), primary_key=True, index=True)
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

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
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
