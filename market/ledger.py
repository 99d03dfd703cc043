"""The append-only money ledger: every operation posts entries that sum to zero per asset.

There are ``1 + Σ branches`` assets: unconditional cash (``market_id`` null) and, for each
branch market, its conditional cash (``market_id`` = that market). Holders:

- ``account``: a person's cash or branch cash (``account_id`` set);
- ``maker``: a branch market's maker (its conditional cash);
- ``collateral``: a proposal's collateral pool. It holds the unconditional cash locked
  by splits and subsidies and has *issued* (holds minus) the same amount of every branch's
  conditional cash, so each branch's cash is fully backed;
- ``outside``: the world beyond the engine, on the other side of credits and debits.

Postings per operation (amounts in micro-units; every line sums to zero per asset):

=========  =================================================================
credit a   cash: outside −a, account +a
debit a    cash: account −a, outside +a
split a    cash: account −a, collateral +a; each branch j: collateral −a, account +a
merge a    the reverse of split
subsidy F  cash: sponsor −F, collateral +F; each branch j: collateral −F, maker +F
trade c    branch j: account −c, maker +c   (c < 0 for a sale: the maker pays)
=========  =================================================================

So at any time the stored balances equal the ledger's sums per (holder, asset), and
``Σ cash + Σ collateral = Σ credits − Σ debits``.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Table, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.base import Base
from db.prepared import prepared
from db.types import BigId, UTCDateTime, utcnow


class OperationKind(enum.StrEnum):
    """What an operation did; every entry of one operation carries the same kind."""

    CREDIT = "credit"
    DEBIT = "debit"
    SPLIT = "split"
    MERGE = "merge"
    SUBSIDY = "subsidy"
    TRADE = "trade"
    SETTLE = "settle"
    UNWIND = "unwind"


class Holder(enum.StrEnum):
    """Who holds the money an entry moves."""

    ACCOUNT = "account"
    MAKER = "maker"
    COLLATERAL = "collateral"
    OUTSIDE = "outside"


class LedgerEntry(Base):
    """One leg of one operation. Never updated or deleted.

    Attributes:
        operation: groups the entries of one operation (a UUID, hex).
        market_id: the asset: null for unconditional cash, else that branch's conditional
            cash.
        holder: `Holder`; ``account_id`` is set exactly for account holders.
        proposal_id: the proposal involved (always set for collateral entries).
        amount_micros: signed, never zero; the entries of an operation sum to zero per asset.

    Indexed by operation, account, market and proposal, so settling a proposal or auditing
    one market never scans the whole ledger.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("amount_micros <> 0", name="amount_not_zero"),
        CheckConstraint(
            "kind IN ('credit', 'debit', 'split', 'merge', 'subsidy', 'trade', 'settle', 'unwind')",
            name="kind_known",
        ),
        CheckConstraint(
            "holder IN ('account', 'maker', 'collateral', 'outside')", name="holder_known"
        ),
        CheckConstraint(
            "(holder = 'account' AND account_id IS NOT NULL) "
            "OR (holder <> 'account' AND account_id IS NULL)",
            name="account_holder_has_account",
        ),
        CheckConstraint(
            "holder <> 'collateral' OR proposal_id IS NOT NULL", name="collateral_has_proposal"
        ),
        CheckConstraint("holder <> 'maker' OR market_id IS NOT NULL", name="maker_has_market"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operation: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    market_id: Mapped[int | None] = mapped_column(ForeignKey("market.id"), default=None, index=True)
    holder: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id"), default=None, index=True
    )
    proposal_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal.id"), default=None, index=True
    )
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg to post: ``amount_micros`` of asset ``market_id`` (None: cash) to a holder."""

    holder: Holder
    amount_micros: int
    market_id: int | None = None
    account_id: int | None = None
    proposal_id: int | None = None


class UnbalancedPosting(AssertionError):
    """A service tried to post entries that do not sum to zero per asset (a bug, never input)."""


def new_operation() -> str:
    """A fresh operation id (32 hex characters)."""
    return uuid.uuid4().hex


def post(session: Session, kind: OperationKind, legs: Sequence[Leg]) -> str:
    """Append one balanced operation to the ledger, in one INSERT; return its id.

    Zero legs are dropped (a sale may pay nothing). Raises `UnbalancedPosting` when the
    legs do not sum to zero for every asset; that is a programming error, checked here so
    no unbalanced operation can ever be written.
    """
    totals: defaultdict[int | None, int] = defaultdict(int)
    for leg in legs:
        totals[leg.market_id] += leg.amount_micros
    unbalanced = {asset: total for asset, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedPosting(f"{kind.value} posting does not balance: {unbalanced}")
    operation = new_operation()
    now = utcnow()
    rows = [
        {
            "operation": operation,
            "kind": kind.value,
            "market_id": leg.market_id,
            "holder": leg.holder.value,
            "account_id": leg.account_id,
            "proposal_id": leg.proposal_id,
            "amount_micros": leg.amount_micros,
            "created_at": now,
        }
        for leg in legs
        if leg.amount_micros != 0
    ]
    if rows:
        table = cast(Table, LedgerEntry.__table__)
        session.execute(prepared(("ledger_post",), lambda: insert(table)), rows)
    return operation
