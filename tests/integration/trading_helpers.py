"""Shared set-up for the trading-service integration tests (plain functions, no fixtures)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.identity import create_account
from db.session import Database
from db.types import utcnow
from market import funding
from market.models import AssetKind, Market
from market.proposals import ProposalSpec, create_proposal, markets_of
from tests.helpers import adopt_metric

UNIT = 1_000_000
"""Micro-units per unit."""

F_BINARY = 69_314_718
"""A subsidy giving a binary market ``b = ⌊F / ln 2⌋ = 99_999_999`` micro-units (b ≈ 100)."""

B_BINARY = 99_999_999

_TABLES = (
    "cash_balance",
    "proposal",
    "market",
    "branch_cash",
    "position",
    "trade",
    "ledger_entry",
)


def spec(**changes: Any) -> ProposalSpec:
    """A valid scalar proposal with one alternative, open now for a day, F = `F_BINARY`,
    bound to the metric in force, whose bounds are `tests.helpers.adopt_metric`'s [0, 100]."""
    now = utcnow()
    base = ProposalSpec(
        title="Raise the school leaving age",
        alternatives=("Leave at 18",),
        asset_kind=AssetKind.SCALAR,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
        subsidy_micros=F_BINARY,
    )
    return replace(base, **changes)


def new_account(session: Session, name: str, role: str = "trader", cash: int = 0) -> int:
    """Create an account holding ``cash`` micro-units; returns its id."""
    account = create_account(session, name, role)
    if cash:
        funding.credit(session, account.id, cash)
    return account.id


@dataclass(frozen=True)
class World:
    """A sponsor, one open proposal and some traders who split cash into it."""

    sponsor: int
    proposal_id: int
    market_ids: tuple[int, ...]
    traders: tuple[int, ...]


def build_world(
    db: Database,
    *,
    traders: int = 2,
    trader_cash: int = 100 * UNIT,
    split: int = 50 * UNIT,
    **spec_changes: Any,
) -> World:
    """The metric in force (`tests.helpers.adopt_metric`), a sponsor with exactly F, a
    proposal from `spec`, traders with cash, ``split`` split."""
    proposal_spec = spec(**spec_changes)
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", proposal_spec.subsidy_micros)
        proposal = create_proposal(s, sponsor, proposal_spec)
        ids = [new_account(s, f"trader-{i}", cash=trader_cash) for i in range(traders)]
        if split:
            for t in ids:
                funding.split(s, t, proposal.id, split)
        market_ids = tuple(m.id for m in markets_of(s, proposal.id))
        return World(sponsor, proposal.id, market_ids, tuple(ids))


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the trading tables, ordered: to show that a refusal changed nothing."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in _TABLES:
        rows = session.execute(text(f"SELECT * FROM {table}")).all()
        out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


def market_row(session: Session, market_id: int) -> Market:
    """A fresh copy of the market row (not the session's cached object)."""
    stmt = select(Market).where(Market.id == market_id).execution_options(populate_existing=True)
    return session.scalars(stmt).one()


def at(hours: float) -> datetime:
    """Now plus ``hours`` (UTC)."""
    return utcnow() + timedelta(hours=hours)
