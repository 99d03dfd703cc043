"""Proposals: validation, the sponsor's subsidy paid once, K + 1 funded markets, closing."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db.identity import UnknownAccount
from db.session import Database
from db.types import utcnow
from market import funding
from market.conservation import check_conservation
from market.errors import InsufficientFunds, InvalidProposal, MarketClosed, UnknownProposal
from market.ledger import LedgerEntry
from market.models import AssetKind, MarketStatus, Proposal
from market.proposals import close_proposal, create_proposal, get_proposal, markets_of
from market.trading import Order, Side, execute, quote
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import (
    B_BINARY,
    F_BINARY,
    UNIT,
    build_world,
    market_row,
    new_account,
    snapshot,
    spec,
)


def test_creating_a_proposal_charges_the_sponsor_once_and_funds_every_branch(
    db: Database,
) -> None:
    with db.write() as s:
        metric = adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=100 * UNIT)
        proposal = create_proposal(
            s, sponsor, spec(alternatives=("Leave at 17", "Leave at 18"), description="why")
        )
        pid = proposal.id
    with db.read() as s:
        p = get_proposal(s, pid)
        assert (p.title, p.description, p.metric_version_id) == (
            "Raise the school leaving age",
            "why",
            metric,
        )
        assert (p.asset_kind, p.lo, p.hi, p.bin_edges) == ("scalar", 0.0, 100.0, None)
        assert p.status == MarketStatus.OPEN
        assert p.subsidy_micros == p.collateral_micros == F_BINARY
        # F is paid ONCE although three branches are funded with F each
        assert funding.balances(s, sponsor).cash_micros == 100 * UNIT - F_BINARY
        markets = markets_of(s, pid)
        assert [(m.branch_index, m.branch_name, m.is_status_quo) for m in markets] == [
            (0, "Leave at 17", False),
            (1, "Leave at 18", False),
            (2, "Status quo", True),
        ]
        for m in markets:
            assert m.outcomes == ["LONG", "SHORT"]
            assert m.q_micros == [0, 0]
            assert m.b_micros == B_BINARY  # ⌊69.314718 / ln 2⌋ = 99.999999
            assert m.b_micros * math.log(2) <= F_BINARY
            assert m.maker_cash_micros == m.subsidy_micros == F_BINARY
            assert (m.status, m.trade_count) == ("open", 0)
            assert (m.opens_at, m.closes_at) == (p.opens_at, p.closes_at)
        # one SUBSIDY operation: sponsor −F, collateral +F; per branch collateral −F, maker +F
        kinds = s.execute(
            select(LedgerEntry.kind, func.count(), func.count(func.distinct(LedgerEntry.operation)))
            .where(LedgerEntry.proposal_id == pid)
            .group_by(LedgerEntry.kind)
        ).all()
        assert [tuple(k) for k in kinds] == [("subsidy", 2 + 2 * 3, 1)]
        report = check_conservation(s)
        assert report.ok, report.problems
        assert report.totals["cash"] + report.totals["collateral"] == 100 * UNIT


def test_a_binned_proposal_opens_one_outcome_per_bin(db: Database) -> None:
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=10 * UNIT)
        pid = create_proposal(
            s,
            sponsor,
            spec(
                asset_kind=AssetKind.BINNED,
                bin_edges=(0.0, 25.0, 50.0, 75.0, 100.0),
                subsidy_micros=10 * UNIT,
                status_quo_name="Keep 16",
            ),
        ).id
    with db.read() as s:
        markets = markets_of(s, pid)
        assert [m.branch_name for m in markets] == ["Leave at 18", "Keep 16"]
        assert markets[0].outcomes == ["[0, 25)", "[25, 50)", "[50, 75)", "[75, 100]"]
        assert markets[0].q_micros == [0, 0, 0, 0]
        assert markets[0].b_micros == 7_213_475  # ⌊10 / ln 4⌋ micro-units
        assert get_proposal(s, pid).bin_edges == [0.0, 25.0, 50.0, 75.0, 100.0]
        assert check_conservation(s).ok


def _past(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"title": "  "}, "title must be a non-empty text"),
    ({"title": "x" * 201}, "title is 201 characters long"),
    ({"alternatives": ()}, "between 1 and 20 policy alternatives"),
    ({"alternatives": ("A", "")}, "name of alternative 2 must be a non-empty"),
    ({"alternatives": ("Plan A", "plan a")}, "appears twice"),
    ({"alternatives": ("Status quo",)}, "appears twice"),
    ({"description": "x" * 10_001}, "description is 10001 characters long"),
    ({"asset_kind": "ternary"}, "asset kind must be one of scalar, binned"),
    ({"lo": 5.0}, r"lo = 5 differs from the tradable bounds \[0, 100\] of metric version"),
    ({"hi": 99.5}, r"hi = 99.5 differs from the tradable bounds \[0, 100\]"),
    ({"lo": float("nan")}, "lo must be a finite number"),
    ({"hi": float("inf")}, "hi must be a finite number"),
    ({"lo": "0"}, "lo must be a finite number"),
    ({"bin_edges": (0.0, 50.0, 100.0)}, "a scalar asset has none"),
    ({"asset_kind": AssetKind.BINNED}, "needs its bin edges"),
    ({"asset_kind": AssetKind.BINNED, "bin_edges": (0.0, 100.0)}, "at least two bins"),
    ({"asset_kind": AssetKind.BINNED, "bin_edges": (0.0, 60.0, 50.0, 100.0)}, "increasing"),
    ({"asset_kind": AssetKind.BINNED, "bin_edges": (10.0, 50.0, 100.0)}, "first bin edge"),
    ({"opens_at": datetime(2026, 1, 1)}, "with a time zone"),
    ({"opens_at": utcnow() + timedelta(days=2)}, "must open before it closes"),
    ({"opens_at": _past(48), "closes_at": _past(24)}, "which has passed"),
    ({"subsidy_micros": 0}, "subsidy must be a positive amount"),
    ({"subsidy_micros": -5}, "subsidy must be a positive amount"),
    ({"subsidy_micros": 10**16}, "exceeds the limit"),
    (
        {
            "asset_kind": AssetKind.BINNED,
            "bin_edges": (0.0, 40.0, 60.0, 100.0),
            "subsidy_micros": 1,
        },
        "too small for 3 outcomes",
    ),
]


@pytest.mark.parametrize(("changes", "message"), INVALID, ids=[m for _, m in INVALID])
def test_an_invalid_definition_is_refused_and_changes_nothing(
    db: Database, changes: dict[str, Any], message: str
) -> None:
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=100 * UNIT)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InvalidProposal, match=message):
            create_proposal(s, sponsor, spec(**changes))
        assert snapshot(s) == before


def test_a_sponsor_short_of_the_subsidy_is_refused_and_nothing_changes(db: Database) -> None:
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=F_BINARY - 1)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InsufficientFunds, match=r"more than the sponsor's cash of 69\.314717"):
            create_proposal(s, sponsor, spec())
        assert snapshot(s) == before
        with pytest.raises(UnknownAccount):
            create_proposal(s, 999, spec())
        assert snapshot(s) == before
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Proposal)) == 0


def test_unknown_proposal(db: Database) -> None:
    with db.read() as s, pytest.raises(UnknownProposal, match="no proposal with id 42"):
        get_proposal(s, 42)
    with db.write() as s, pytest.raises(UnknownProposal):
        close_proposal(s, 42)


def test_closing_stops_trading_and_splitting_but_not_merging(db: Database) -> None:
    world = build_world(db, traders=1, split=10 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        execute(s, trader, market, Order(0, Side.BUY, shares_micros=UNIT))
        closed = close_proposal(s, world.proposal_id)
        assert closed.status == MarketStatus.CLOSED
        assert [m.status for m in markets_of(s, world.proposal_id)] == ["closed", "closed"]
    with db.write() as s:
        assert close_proposal(s, world.proposal_id).status == "closed"  # again: no change
        before = snapshot(s)
        with pytest.raises(MarketClosed, match=f"market {market} is closed"):
            execute(s, trader, market, Order(0, Side.SELL, shares_micros=UNIT))
        with pytest.raises(MarketClosed):
            quote(s, market, Order(1, Side.BUY, shares_micros=UNIT))
        with pytest.raises(MarketClosed, match="can no longer be split"):
            funding.split(s, trader, world.proposal_id, UNIT)
        assert snapshot(s) == before
        # the status quo branch still holds the full 10; branch 0 paid for the share
        balances = funding.merge(s, trader, world.proposal_id, 5 * UNIT)
        assert [b.cash_micros for b in balances.branches][1] == 5 * UNIT
        assert market_row(s, market).status == "closed"
    with db.read() as s:
        assert check_conservation(s).ok


def test_closing_a_settled_proposal_is_refused(db: Database) -> None:
    world = build_world(db, traders=0, split=0)
    with db.write() as s:
        s.get_one(Proposal, world.proposal_id).status = MarketStatus.SETTLED.value
    with db.write() as s, pytest.raises(MarketClosed, match="is settled"):
        close_proposal(s, world.proposal_id)
