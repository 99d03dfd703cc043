"""Funding: credit, debit, split and merge on the database, and that refusals change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.identity import UnknownAccount
from db.session import Database
from market import funding
from market.conservation import check_conservation
from market.errors import InsufficientFunds, InvalidMarketInput, MarketClosed, UnknownProposal
from market.ledger import LedgerEntry
from market.models import MarketStatus, Proposal
from market.proposals import create_proposal
from market.trading import Order, Side, execute
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import (
    F_BINARY,
    UNIT,
    build_world,
    new_account,
    snapshot,
    spec,
)


def test_credit_and_debit_move_cash_in_and_out_through_the_ledger(db: Database) -> None:
    with db.write() as s:
        alice = new_account(s, "alice")
        assert funding.credit(s, alice, 12_500_000) == 12_500_000
        assert funding.credit(s, alice, 1) == 12_500_001
        assert funding.debit(s, alice, 2_500_001) == 10_000_000
    with db.read() as s:
        assert funding.balances(s, alice).cash_micros == 10 * UNIT
        entries = s.execute(
            select(LedgerEntry.kind, LedgerEntry.holder, LedgerEntry.amount_micros).order_by(
                LedgerEntry.id
            )
        ).all()
        assert [tuple(e) for e in entries] == [
            ("credit", "outside", -12_500_000),
            ("credit", "account", 12_500_000),
            ("credit", "outside", -1),
            ("credit", "account", 1),
            ("debit", "account", -2_500_001),
            ("debit", "outside", 2_500_001),
        ]
        report = check_conservation(s)
        assert report.ok, report.problems
        assert (report.totals["credits"], report.totals["debits"]) == (12_500_001, 2_500_001)
        assert report.totals["cash"] == 10 * UNIT


@pytest.mark.parametrize(
    ("amount", "error", "message"),
    [
        (0, InvalidMarketInput, "credit must be positive"),
        (-1, InvalidMarketInput, "credit must be positive"),
        (10**15 + 1, InvalidMarketInput, "exceeds the limit of 1000000000"),
        (1.5, InvalidMarketInput, "whole number of micro-units"),
    ],
)
def test_a_bad_credit_is_refused(
    db: Database, amount: int, error: type[Exception], message: str
) -> None:
    with db.write() as s:
        alice = new_account(s, "alice", cash=UNIT)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(error, match=message):
            funding.credit(s, alice, amount)
        assert snapshot(s) == before


def test_credit_refuses_an_unknown_account_and_a_balance_beyond_the_cap(db: Database) -> None:
    with db.write() as s:
        alice = new_account(s, "alice")
        for _ in range(100):
            funding.credit(s, alice, 10**15)  # 1e17 micro-units: exactly the cap
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InvalidMarketInput, match="would take the balance beyond"):
            funding.credit(s, alice, 1)
        with pytest.raises(UnknownAccount):
            funding.credit(s, 999, 1)
        assert snapshot(s) == before


def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing(db: Database) -> None:
    with db.write() as s:
        alice = new_account(s, "alice", cash=3 * UNIT)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InsufficientFunds, match=r"holds only 3 of cash"):
            funding.debit(s, alice, 3 * UNIT + 1)
        with pytest.raises(InsufficientFunds, match=r"holds only 0"):
            funding.debit(s, new_account(s, "bob"), 1)
        with pytest.raises(InvalidMarketInput):
            funding.debit(s, alice, 0)
        with pytest.raises(UnknownAccount):
            funding.debit(s, 999, 1)
    with db.read() as s:
        assert snapshot(s) == before


def test_split_puts_the_amount_in_every_branch_and_merge_takes_it_back(db: Database) -> None:
    world = build_world(
        db, traders=1, trader_cash=30 * UNIT, split=0, alternatives=("Plan A", "Plan B")
    )
    trader, pid = world.traders[0], world.proposal_id
    with db.write() as s:
        after = funding.split(s, trader, pid, 12 * UNIT)
        assert after.cash_micros == 18 * UNIT
        assert [(b.branch_index, b.branch_name, b.cash_micros) for b in after.branches] == [
            (0, "Plan A", 12 * UNIT),
            (1, "Plan B", 12 * UNIT),
            (2, "Status quo", 12 * UNIT),
        ]
        funding.split(s, trader, pid, 1)
    with db.read() as s:
        assert s.get_one(Proposal, pid).collateral_micros == F_BINARY + 12 * UNIT + 1
        assert check_conservation(s).ok
    with db.write() as s:
        after = funding.merge(s, trader, pid, 12 * UNIT + 1)
        assert after.cash_micros == 30 * UNIT
        assert [b.cash_micros for b in after.branches] == [0, 0, 0]
    with db.read() as s:
        assert s.get_one(Proposal, pid).collateral_micros == F_BINARY
        report = check_conservation(s)
        assert report.ok, report.problems
        assert report.totals["branch_cash"] == 0


def test_refused_splits_and_merges_change_nothing(db: Database) -> None:
    world = build_world(db, traders=1, trader_cash=10 * UNIT, split=4 * UNIT)
    trader, pid = world.traders[0], world.proposal_id
    with db.write() as s:
        # spend branch 0's cash down to below 4 so a merge of 4 must fail there
        execute(s, trader, world.market_ids[0], Order(0, Side.BUY, spend_micros=UNIT))
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InsufficientFunds, match=r"only 6 of cash is available"):
            funding.split(s, trader, pid, 6 * UNIT + 1)
        with pytest.raises(InsufficientFunds, match=r"branch 0 holds only 3"):
            funding.merge(s, trader, pid, 4 * UNIT)
        with pytest.raises(InvalidMarketInput, match="must be positive"):
            funding.split(s, trader, pid, -1)
        with pytest.raises(InvalidMarketInput, match="must be positive"):
            funding.merge(s, trader, pid, 0)
        with pytest.raises(UnknownProposal):
            funding.split(s, trader, 999, UNIT)
        with pytest.raises(UnknownProposal):
            funding.merge(s, trader, 999, UNIT)
        assert snapshot(s) == before
        # the most a merge takes is the smallest branch: exactly 3
        assert funding.merge(s, trader, pid, 3 * UNIT).cash_micros == 9 * UNIT
    with db.read() as s:
        assert check_conservation(s).ok


def test_a_settled_proposal_refuses_merges_and_splits(db: Database) -> None:
    world = build_world(db, traders=1, split=UNIT)
    with db.write() as s:
        s.get_one(Proposal, world.proposal_id).status = MarketStatus.SETTLED.value
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(MarketClosed, match="settled: its conditional cash"):
            funding.merge(s, world.traders[0], world.proposal_id, UNIT)
        with pytest.raises(MarketClosed, match="is settled"):
            funding.split(s, world.traders[0], world.proposal_id, UNIT)
        assert snapshot(s) == before


def test_the_sponsor_may_trade_and_split_like_anyone(db: Database) -> None:
    with db.write() as s:
        adopt_metric(s)
        sponsor = new_account(s, "sponsor", "admin", cash=F_BINARY + 2 * UNIT)
        pid = create_proposal(s, sponsor, spec()).id
        balances = funding.split(s, sponsor, pid, 2 * UNIT)
        assert balances.cash_micros == 0
        assert [b.cash_micros for b in balances.branches] == [2 * UNIT, 2 * UNIT]
    with db.read() as s:
        assert check_conservation(s).ok
