"""ORM models of deciding and settling: each trader's stake, the decision, the settlement
and its payouts.

Money is integer micro-units (BIGINT). Layout, and why:

- `Stake`: a trader's net cash put into a proposal, ``Σ splits − Σ merges`` (micro-units),
  kept by `market.funding.split` / ``merge`` in the same transaction as the split or merge
  (under the proposal's row lock), so settling reads one row per trader instead of the
  ledger. It can be NEGATIVE: a trader whose trades gained conditional cash in every
  branch can merge out more than it split in; an unwind then pays it nothing (it has
  already taken out more than it put in) and the sponsor's share absorbs the difference.
- `Decision`: the recorded decision of one proposal (unique per proposal), with everything
  needed to recompute it from the revealed seed: each branch's capped average, the best
  alternative and its margin over the status quo, the greedy choice, the distribution
  ``d``, the public uniform ``u`` and the executed branch (`market.decision.Decision`).
- `Settlement`: how a proposal ended (unique per proposal): ``settled`` against a
  certified measurement (measurement, welfare value and executed branch all set), or
  ``unwound`` with the reason; what the traders and the sponsor were paid.
- `Payout`: one row per trader per settled or unwound proposal: its stake at settlement
  and what it was paid.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.types import UTCDateTime, utcnow


class Stake(Base):
    """A trader's net deposit into one proposal: ``Σ splits − Σ merges``, micro-units.

    The row is created by the trader's first split and kept afterwards (``0`` once merged
    out). Invariant (`market.conservation`): it equals the ledger's SPLIT minus MERGE cash
    of the account and proposal. It may be negative (see the module docstring).
    """

    __tablename__ = "stake"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id"), primary_key=True, index=True
    )
    deposit_micros: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class Decision(Base):
    """The decision of one proposal, recorded once.

    Attributes:
        rule_hash: the proposal's ``decision_rule_hash`` the decision applied.
        averaged: welfare units, one capped time-weighted average per branch (JSON list).
        best_index: the alternative with the highest average.
        margin: welfare units; ``averaged[best] − averaged[status quo]``.
        greedy_index: ``best_index`` if ``margin > δ``, else the status quo.
        distribution: ``d``, one probability per branch (JSON list).
        seed_hex: the revealed seed (``SHA-256`` of it is the proposal's commitment).
        draw_u: the public uniform number ``u`` of the seed and proposal id (null without a
            seed).
        executed_index: the branch executed.
        explored: chance picked it (see `market.decision.Decision.explored`).
        settles: the markets settle in the executed branch (else every bet is unwound).
    """

    __tablename__ = "decision"
    __table_args__ = (
        CheckConstraint("best_index >= 0", name="best_index_not_negative"),
        CheckConstraint("greedy_index >= 0", name="greedy_index_not_negative"),
        CheckConstraint("executed_index >= 0", name="executed_index_not_negative"),
        CheckConstraint("draw_u IS NULL OR (draw_u >= 0 AND draw_u <= 1)", name="draw_u_in_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), unique=True)
    rule_hash: Mapped[str] = mapped_column(String(64))
    averaged: Mapped[list[float]] = mapped_column(JSON)
    best_index: Mapped[int] = mapped_column(Integer)
    margin: Mapped[float] = mapped_column(Double)
    greedy_index: Mapped[int] = mapped_column(Integer)
    distribution: Mapped[list[float]] = mapped_column(JSON)
    seed_hex: Mapped[str] = mapped_column(Text)
    draw_u: Mapped[float | None] = mapped_column(Double, default=None)
    executed_index: Mapped[int] = mapped_column(Integer)
    explored: Mapped[bool] = mapped_column(Boolean)
    settles: Mapped[bool] = mapped_column(Boolean)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id"), default=None
    )


class Settlement(Base):
    """How one proposal ended, recorded once.

    Attributes:
        kind: ``settled`` or ``unwound``.
        reason: why (a sentence; empty for a plain settlement).
        measurement_id: the certified measurement it settled against (``settled`` only).
        welfare_value: the measured welfare ``W`` (welfare units; ``settled`` only).
        executed_index: the executed branch (``settled`` only).
        paid_micros: ``Σ`` paid to traders.
        sponsor_paid_micros: paid to the sponsor (the collateral left over).
    """

    __tablename__ = "settlement"
    __table_args__ = (
        CheckConstraint("kind IN ('settled', 'unwound')", name="kind_known"),
        CheckConstraint(
            "kind <> 'settled' OR (measurement_id IS NOT NULL AND welfare_value IS NOT NULL "
            "AND executed_index IS NOT NULL)",
            name="settled_has_measurement",
        ),
        CheckConstraint("paid_micros >= 0", name="paid_not_negative"),
        CheckConstraint("sponsor_paid_micros >= 0", name="sponsor_paid_not_negative"),
        CheckConstraint(
            "executed_index IS NULL OR executed_index >= 0", name="executed_index_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    measurement_id: Mapped[int | None] = mapped_column(ForeignKey("measurement.id"), default=None)
    welfare_value: Mapped[float | None] = mapped_column(Double, default=None)
    executed_index: Mapped[int | None] = mapped_column(Integer, default=None)
    paid_micros: Mapped[int] = mapped_column(BigInteger)
    sponsor_paid_micros: Mapped[int] = mapped_column(BigInteger)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Payout(Base):
    """What one trader put into a settled or unwound proposal and what it was paid."""

    __tablename__ = "payout"
    __table_args__ = (CheckConstraint("paid_micros >= 0", name="paid_not_negative"),)

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True, index=True)
    deposit_micros: Mapped[int] = mapped_column(BigInteger)
    paid_micros: Mapped[int] = mapped_column(BigInteger)
