"""The conservation audit: passes on a busy history, and catches every kind of tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db.session import Database
from market import funding
from market.conservation import check_conservation
from market.errors import UnknownProposal
from market.models import AssetKind
from market.proposals import close_proposal, create_proposal, markets_of
from market.trading import Order, Side, execute
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import F_BINARY, UNIT, build_world, new_account, spec


def test_a_busy_history_conserves_every_micro_unit(db: Database) -> None:
    world = build_world(db, traders=3, trader_cash=100 * UNIT, split=30 * UNIT)
    a, b, c = world.traders
    m0, m1 = world.market_ids
    with db.write() as s:
        # a second metric version, on [0, 30], comes into force; the open proposal keeps its own
        adopt_metric(s, hi=30.0, name="Test welfare on [0, 30]", motion_id=2)
        binned = create_proposal(
            s,
            new_account(s, "sponsor-2", "admin", cash=7 * UNIT),
            spec(
                asset_kind=AssetKind.BINNED,
                bin_edges=(0.0, 10.0, 20.0, 30.0),
                subsidy_micros=7 * UNIT,
                alternatives=("X", "Y"),
            ),
        )
        binned_markets = [m.id for m in markets_of(s, binned.id)]
        funding.split(s, c, binned.id, 20 * UNIT)
    with db.write() as s:
        cash_paid = 0
        for account, market, order in [
            (a, m0, Order(0, Side.BUY, shares_micros=10 * UNIT)),
            (b, m0, Order(1, Side.BUY, spend_micros=7 * UNIT)),
            (a, m1, Order(1, Side.BUY, shares_micros=3_333_333)),
            (a, m0, Order(0, Side.SELL, shares_micros=4 * UNIT)),
            (c, binned_markets[2], Order(2, Side.BUY, shares_micros=15 * UNIT)),
            (c, binned_markets[0], Order(0, Side.BUY, spend_micros=UNIT)),
            (b, m0, Order(1, Side.SELL, shares_micros=1)),
        ]:
            r = execute(s, account, market, order)
            cash_paid += r.cash_micros if r.side is Side.BUY else -r.cash_micros
        funding.merge(s, b, world.proposal_id, 20 * UNIT)
        funding.debit(s, b, 5 * UNIT)
        close_proposal(s, binned.id)
        funding.merge(s, c, binned.id, 2 * UNIT)
    with db.read() as s:
        report = check_conservation(s)
        assert report.ok, report.problems
        totals = report.totals
        credits = 3 * 100 * UNIT + F_BINARY + 7 * UNIT
        assert (totals["credits"], totals["debits"]) == (credits, 5 * UNIT)
        assert totals["cash"] + totals["collateral"] == credits - 5 * UNIT
        assert totals["collateral"] == F_BINARY + 3 * 30 * UNIT - 20 * UNIT + 7 * UNIT + 18 * UNIT
        assert totals["trades"] == 7
        assert totals["maker_pnl"] == totals["trade_cash"] == cash_paid
        assert (totals["proposals"], totals["markets"]) == (2, 5)
        for pid in (world.proposal_id, binned.id):
            scoped = check_conservation(s, pid)
            assert scoped.ok, scoped.problems
            assert "credits" not in scoped.totals
        assert check_conservation(s, binned.id).totals["trades"] == 2
        with pytest.raises(UnknownProposal):
            check_conservation(s, 999)


_FORGE = (
    "INSERT INTO ledger_entry (operation, kind, market_id, holder, account_id, proposal_id, "
    "amount_micros, created_at) VALUES "
)

TAMPERING = [
    (
        "UPDATE branch_cash SET cash_micros = cash_micros + 1 WHERE market_id = 1",
        ["of conditional cash in market 1 but the ledger says", "plus maker cash is"],
    ),
    (
        "UPDATE cash_balance SET cash_micros = cash_micros + 1",
        ["of cash but the ledger says", "credits minus debits"],
    ),
    (
        "UPDATE proposal SET collateral_micros = collateral_micros - 1",
        ["of collateral but the ledger says", "the collateral has issued"],
    ),
    (
        "UPDATE market SET maker_cash_micros = 0 WHERE id = 1",
        ["the maker holds 0 but the ledger says", "after resolution the maker could hold"],
    ),
    ("UPDATE market SET trade_count = 5 WHERE id = 1", ["trade_count is 5 but 1 trades"]),
    (
        "UPDATE position SET shares_micros = shares_micros + 1",
        ["but positions sum to 10000001"],
    ),
    (
        "UPDATE trade SET shares_micros = shares_micros + 1",
        ["but its trades sum to 10000001"],
    ),
    (
        "UPDATE trade SET cash_micros = cash_micros + 1",
        ["is not the subsidy plus the trades' cash"],
    ),
    (
        _FORGE + "('forged', 'trade', 1, 'maker', NULL, 1, 7, CURRENT_TIMESTAMP)",
        ["operation forged does not balance in branch cash of market 1: it sums to 7"],
    ),
    (
        _FORGE + "('forged', 'split', NULL, 'outside', NULL, 1, 7, CURRENT_TIMESTAMP)",
        ["split operations must not move money to or from outside"],
    ),
]


@pytest.mark.parametrize(("sql", "expected"), TAMPERING, ids=[t[0][:40] for t in TAMPERING])
def test_the_audit_catches_tampering(db: Database, sql: str, expected: list[str]) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    assert world.market_ids[0] == 1
    with db.write() as s:
        execute(s, world.traders[0], 1, Order(0, Side.BUY, shares_micros=10 * UNIT))
    with db.read() as s:
        assert check_conservation(s).ok
    with db.write() as s:
        s.execute(text(sql))
    with db.read() as s:
        report = check_conservation(s)
    assert not report.ok
    for fragment in expected:
        assert any(fragment in p for p in report.problems), (fragment, report.problems)
