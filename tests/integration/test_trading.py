"""Trading on the database: exact LMSR charges, spends, sales, limits, refusals, history.

The binary markets here have ``F = 69.314718`` so ``b = ⌊F / ln 2⌋ = 99.999999`` units.
Buying 10 shares of LONG from ``q = 0`` costs exactly
``c = b · ln((e^{10/b} + 1) / 2) = 5.12494795…`` units; the charge is exactly ``⌈c⌉``
micro-units (`market.book`, correctly rounded), i.e. 5.124948.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Context, Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from db.session import Database
from market import funding
from market.book import Book, Limit, quote_buy
from market.conservation import check_conservation
from market.errors import (
    InsufficientFunds,
    InsufficientShares,
    InvalidMarketInput,
    MarketClosed,
    PriceLimitExceeded,
    UnknownMarket,
)
from market.ledger import LedgerEntry
from market.models import AssetKind, Trade
from market.trading import Order, Side, execute, price_history, quote
from tests.integration.trading_helpers import (
    B_BINARY,
    F_BINARY,
    UNIT,
    at,
    build_world,
    market_row,
    snapshot,
)

TEN = 10 * UNIT
"""Ten shares, in micro-shares."""


def _exact_buy_cost(b: int, shares: int) -> Decimal:
    """``b · ln((e^{s/b} + 1) / 2)`` micro-units for a binary market at q = 0, 60 digits."""
    ctx = Context(prec=60)
    x = ctx.divide(Decimal(shares), Decimal(b))
    return ctx.multiply(Decimal(b), ctx.ln(ctx.divide(ctx.exp(x) + 1, Decimal(2))))


def test_buying_ten_shares_at_b_100_costs_5_124948(db: Database) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    exact = _exact_buy_cost(B_BINARY, TEN)
    assert str(exact)[:10] == "5124947.95"
    with db.write() as s:
        result = execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN))
    assert result.cash_micros == 5_124_948 == math.ceil(exact)
    assert (result.side, result.outcome, result.outcome_name) == (Side.BUY, 0, "LONG")
    assert (result.market_id, result.proposal_id, result.branch_index) == (
        market,
        world.proposal_id,
        0,
    )
    assert result.shares_micros == TEN
    assert result.average_price_micros == 512_495  # 5.124948 / 10, rounded up
    assert result.prices_before == (0.5, 0.5)
    p_long = 1 / (1 + math.exp(-TEN / B_BINARY))
    assert result.prices_after == pytest.approx((p_long, 1 - p_long), rel=1e-12)
    assert result.prices_after[0] == pytest.approx(0.5249791877, abs=1e-10)
    assert result.branch_cash_after_micros == 20 * UNIT - 5_124_948
    assert result.position_after_micros == TEN
    with db.read() as s:
        m = market_row(s, market)
        assert m.q_micros == [TEN, 0]
        assert m.maker_cash_micros == F_BINARY + 5_124_948
        assert m.trade_count == 1
        other = market_row(s, world.market_ids[1])
        assert (other.q_micros, other.maker_cash_micros) == ([0, 0], F_BINARY)
        trade = s.get_one(Trade, result.trade_id)
        assert (trade.account_id, trade.outcome, trade.shares_micros, trade.cash_micros) == (
            trader,
            0,
            TEN,
            5_124_948,
        )
        assert trade.prices_after == list(result.prices_after)
        legs = s.execute(
            select(LedgerEntry.holder, LedgerEntry.market_id, LedgerEntry.amount_micros)
            .where(LedgerEntry.kind == "trade")
            .order_by(LedgerEntry.id)
        ).all()
        assert [tuple(leg) for leg in legs] == [
            ("account", market, -5_124_948),
            ("maker", market, 5_124_948),
        ]
        assert funding.balances(s, trader).cash_micros == 80 * UNIT  # untouched
        report = check_conservation(s)
        assert report.ok, report.problems
        assert report.totals["maker_pnl"] == 5_124_948


def test_a_quote_prices_exactly_like_the_trade_and_changes_nothing(db: Database) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    market = world.market_ids[0]
    with db.read() as s:
        before = snapshot(s)
        priced = quote(s, market, Order(1, Side.BUY, shares_micros=TEN))
        assert snapshot(s) == before
    assert (priced.cash_micros, priced.outcome_name) == (5_124_948, "SHORT")
    with db.write() as s:
        done = execute(s, world.traders[0], market, Order(1, Side.BUY, shares_micros=TEN))
    assert done.cash_micros == priced.cash_micros
    assert done.prices_after == priced.prices_after


def test_selling_back_pays_slightly_less_so_a_round_trip_never_profits(db: Database) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN))
        sold = execute(s, trader, market, Order(0, Side.SELL, shares_micros=TEN))
    assert sold.side == Side.SELL
    assert sold.cash_micros == 5_124_947  # proceeds, rounded down (exact 5.12494795)
    assert sold.average_price_micros == 512_494  # rounded down for sales
    assert sold.position_after_micros == 0
    assert sold.branch_cash_after_micros == 20 * UNIT - 1  # the round trip cost 1 micro-unit
    assert sold.prices_after == pytest.approx((0.5, 0.5), abs=1e-15)
    with db.read() as s:
        m = market_row(s, market)
        assert m.q_micros == [0, 0]
        assert m.maker_cash_micros == F_BINARY + 1
        trades = s.scalars(select(Trade).order_by(Trade.id)).all()
        assert [(t.shares_micros, t.cash_micros) for t in trades] == [
            (TEN, 5_124_948),
            (-TEN, -5_124_947),
        ]
        assert check_conservation(s).ok


def test_buying_by_spend_buys_the_most_shares_the_amount_pays_for(db: Database) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        bought = execute(s, trader, market, Order(0, Side.BUY, spend_micros=5 * UNIT))
    assert bought.shares_micros == 9_761_859
    assert bought.cash_micros == 5 * UNIT
    assert bought.branch_cash_after_micros == 15 * UNIT
    # one more micro-share would cost more than the spend
    fresh = Book.from_subsidy(2, F_BINARY)
    assert quote_buy(fresh, 0, bought.shares_micros + 1).cash_micros == 5 * UNIT + 1
    with db.read() as s:
        assert check_conservation(s).ok


def test_limits_refuse_a_trade_and_change_nothing(db: Database) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN))
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(PriceLimitExceeded, match=r"above your limit of 0\.525"):
            execute(
                s,
                trader,
                market,
                Order(
                    0,
                    Side.BUY,
                    shares_micros=TEN,
                    limit=Limit(max_average_price_micros=525_000),
                ),
            )
        with pytest.raises(
            PriceLimitExceeded, match=r"cost 4\.875053, above your limit of 4\.875052"
        ):
            execute(
                s,
                trader,
                market,
                Order(1, Side.BUY, shares_micros=TEN, limit=Limit(max_cost_micros=4_875_052)),
            )
        with pytest.raises(PriceLimitExceeded, match="below your minimum proceeds"):
            execute(
                s,
                trader,
                market,
                Order(0, Side.SELL, shares_micros=TEN, limit=Limit(min_proceeds_micros=6 * UNIT)),
            )
        with pytest.raises(PriceLimitExceeded, match=r"below your limit of 0\.53"):
            quote(
                s,
                market,
                Order(
                    0,
                    Side.SELL,
                    shares_micros=UNIT,
                    limit=Limit(min_average_price_micros=530_000),
                ),
            )
        assert snapshot(s) == before
        # a limit the quote meets lets the trade through
        ok = execute(
            s,
            trader,
            market,
            Order(0, Side.BUY, shares_micros=UNIT, limit=Limit(max_average_price_micros=530_000)),
        )
        assert ok.average_price_micros <= 530_000


@pytest.mark.parametrize(
    ("hours", "message"),
    [(-2.0, "does not trade yet: its trading window opens at"), (25.0, "window closed at")],
)
def test_outside_the_window_the_market_is_closed(db: Database, hours: float, message: str) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(MarketClosed, match=message):
            execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN), now=at(hours))
        with pytest.raises(MarketClosed, match=message):
            quote(s, market, Order(0, Side.BUY, shares_micros=TEN), now=at(hours))
        assert snapshot(s) == before
        # inside the window (the default: now) the same order trades
        assert execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN)).trade_id > 0


def test_a_market_not_yet_open_refuses_until_it_opens(db: Database) -> None:
    world = build_world(db, traders=1, split=20 * UNIT, opens_at=at(1), closes_at=at(2))
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s, pytest.raises(MarketClosed, match="does not trade yet"):
        execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN))
    with db.write() as s:
        done = execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN), now=at(1.5))
        assert abs(done.created_at - at(1.5)) < timedelta(minutes=1)


def test_insufficient_branch_cash_is_refused_and_changes_nothing(db: Database) -> None:
    world = build_world(db, traders=2, split=0)
    rich, poor = world.traders
    with db.write() as s:
        funding.split(s, rich, world.proposal_id, 20 * UNIT)
        funding.split(s, poor, world.proposal_id, 5 * UNIT)
    market = world.market_ids[0]
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(
            InsufficientFunds,
            match=r"costs 5\.124948 but you hold only 5 of conditional cash in branch 0",
        ):
            execute(s, poor, market, Order(0, Side.BUY, shares_micros=TEN))
        with pytest.raises(InsufficientFunds, match=r"hold only 0"):
            execute(s, world.sponsor, market, Order(0, Side.BUY, shares_micros=1))
        assert snapshot(s) == before
        # the poor trader's 5 cash is exactly enough for a spend of 5
        assert execute(s, poor, market, Order(0, Side.BUY, spend_micros=5 * UNIT)).cash_micros == (
            5 * UNIT
        )
        with pytest.raises(InsufficientFunds):
            execute(s, poor, market, Order(0, Side.BUY, shares_micros=1))


def test_selling_shares_not_held_is_refused_and_changes_nothing(db: Database) -> None:
    world = build_world(db, traders=2, split=20 * UNIT)
    alice, bob = world.traders
    market = world.market_ids[0]
    with db.write() as s:
        execute(s, alice, market, Order(0, Side.BUY, shares_micros=TEN))
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InsufficientShares, match=r"hold only 0"):
            execute(s, bob, market, Order(0, Side.SELL, shares_micros=UNIT))
        with pytest.raises(InsufficientShares, match=r"cannot sell 10\.000001 shares of LONG"):
            execute(s, alice, market, Order(0, Side.SELL, shares_micros=TEN + 1))
        with pytest.raises(InsufficientShares, match="SHORT"):
            execute(s, alice, market, Order(1, Side.SELL, shares_micros=1))
        with pytest.raises(InsufficientShares):  # shares of branch 0 are not held in branch 1
            execute(s, alice, world.market_ids[1], Order(0, Side.SELL, shares_micros=1))
        assert snapshot(s) == before


BAD_ORDERS = [
    (Order(2, Side.BUY, shares_micros=UNIT), "Outcome 2 does not exist"),
    (Order(-1, Side.BUY, shares_micros=UNIT), "Outcome -1 does not exist"),
    (Order(0, Side.BUY), "either a number of shares or an amount to spend"),
    (Order(0, Side.BUY, shares_micros=UNIT, spend_micros=UNIT), "not both"),
    (Order(0, Side.SELL, spend_micros=UNIT), "only a buy can be given as a spend"),
    (Order(0, Side.BUY, shares_micros=0), "must be positive"),
    (Order(0, Side.BUY, shares_micros=-5), "must be positive"),
    (Order(0, Side.BUY, shares_micros=10**15 + 1), "exceeds the bound"),
    (Order(0, "hold", shares_micros=UNIT), "side must be 'buy' or 'sell'"),  # type: ignore[arg-type]
    (
        Order(0, Side.BUY, shares_micros=UNIT, limit=Limit(min_proceeds_micros=1)),
        "limits a sale; this is a buy",
    ),
]


@pytest.mark.parametrize(("order", "message"), BAD_ORDERS, ids=[m for _, m in BAD_ORDERS])
def test_a_malformed_order_is_refused(db: Database, order: Order, message: str) -> None:
    world = build_world(db, traders=1, split=20 * UNIT)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(InvalidMarketInput, match=message):
            execute(s, world.traders[0], world.market_ids[0], order)
        assert snapshot(s) == before


def test_an_unknown_market(db: Database) -> None:
    world = build_world(db, traders=1, split=0)
    with db.write() as s:
        with pytest.raises(UnknownMarket, match="no market with id 999"):
            execute(s, world.traders[0], 999, Order(0, Side.BUY, shares_micros=UNIT))
        with pytest.raises(UnknownMarket):
            quote(s, 999, Order(0, Side.BUY, shares_micros=UNIT))
        with pytest.raises(UnknownMarket):
            price_history(s, 999)


def test_a_binned_market_trades_a_bin(db: Database) -> None:
    world = build_world(
        db,
        traders=1,
        split=20 * UNIT,
        asset_kind=AssetKind.BINNED,
        bin_edges=(0.0, 25.0, 50.0, 75.0, 100.0),
        subsidy_micros=10 * UNIT,
    )
    with db.write() as s:
        r = execute(s, world.traders[0], world.market_ids[1], Order(2, Side.BUY, shares_micros=TEN))
    assert (r.outcome_name, r.branch_index) == ("[50, 75)", 1)
    exact = 7_213_475 * math.log((3 + math.exp(TEN / 7_213_475)) / 4)
    assert exact <= r.cash_micros <= exact + 4
    assert r.prices_before == pytest.approx((0.25,) * 4)
    assert sum(r.prices_after) == pytest.approx(1.0)
    with db.read() as s:
        assert market_row(s, world.market_ids[1]).q_micros == [0, 0, TEN, 0]
        assert check_conservation(s, world.proposal_id).ok


def test_price_history_lists_prices_after_each_trade_in_pages(db: Database) -> None:
    world = build_world(db, traders=1, split=50 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        results = [
            execute(s, trader, market, Order(0, Side.BUY, shares_micros=TEN)),
            execute(s, trader, world.market_ids[1], Order(0, Side.BUY, shares_micros=TEN)),
            execute(s, trader, market, Order(1, Side.BUY, shares_micros=2 * TEN)),
            execute(s, trader, market, Order(0, Side.SELL, shares_micros=TEN)),
        ]
    mine = [r for r in results if r.market_id == market]
    with db.read() as s:
        history = price_history(s, market)
        assert [p.trade_id for p in history] == [r.trade_id for r in mine]
        assert [p.prices for p in history] == [r.prices_after for r in mine]
        assert [p.at for p in history] == [r.created_at for r in mine]
        page = price_history(s, market, after_id=mine[0].trade_id, limit=1)
        assert [p.trade_id for p in page] == [mine[1].trade_id]
        assert price_history(s, market, after_id=mine[-1].trade_id) == []
        with pytest.raises(InvalidMarketInput, match="page size"):
            price_history(s, market, limit=0)


def test_a_trade_is_a_handful_of_statements_and_never_reads_past_trades(db: Database) -> None:
    world = build_world(db, traders=1, split=50 * UNIT)
    trader, market = world.traders[0], world.market_ids[0]
    with db.write() as s:
        for _ in range(20):
            execute(s, trader, market, Order(0, Side.BUY, shares_micros=UNIT))
    statements: list[str] = []

    def capture(_conn: Connection, _cursor: object, sql: str, *_: object) -> None:
        statements.append(" ".join(sql.split()).lower())

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.write() as s:
            statements.clear()
            execute(s, trader, market, Order(0, Side.BUY, shares_micros=UNIT))
            buy = list(statements)
            statements.clear()
            execute(s, trader, market, Order(0, Side.SELL, shares_micros=UNIT))
            sell = list(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    for done in (buy, sell):
        done = [q for q in done if not q.startswith("begin")]
        # lock, cash or shares, shares or cash, market, trade, ledger (1-2 INSERTs)
        assert len(done) <= 7, done
        assert done[0].startswith("select")
        assert "from market join proposal" in done[0]  # the terms come with the lock
        if not db.is_sqlite:
            # the market row only: a trade never locks the proposal
            assert done[0].endswith("for no key update of market")
        # the averaging state advances in the UPDATE that records the trade
        (market_update,) = [q for q in done if q.startswith("update market")]
        assert "twap_cum_weighted=" in market_update.replace(" ", "")
        reads_of_trades = [q for q in done if "from trade" in q or "join trade" in q]
        assert reads_of_trades == []
        assert sum(q.startswith("insert into trade") for q in done) == 1
