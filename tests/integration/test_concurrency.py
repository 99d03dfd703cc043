"""Many threads trading one market at once, through `Database.write()`, on SQLite and PG.

8 threads × 25 operations, 4 traders, random buys (by shares or spend), sells and a few
splits and merges, all against branch 0 of one proposal. Refusals for lack of cash or
shares are expected and change nothing. Afterwards:

- the conservation audit is clean (ledger = balances, every branch fully backed,
  ``q = Σ trades = Σ positions``, maker's worst case ``≥ F − b ln n``, nothing negative);
- every acknowledged trade is stored exactly once and nothing else is;
- replaying the stored trades in id order through the LMSR from ``q = 0`` reproduces every
  charge and every price to the micro-unit: no trade was priced against a stale ``q``;
- each trader's branch cash is their splits − merges − the cash of their trades.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict

import pytest
from sqlalchemy import select

from db.session import Database
from market import funding
from market.book import Book, quote_buy, quote_sell
from market.conservation import check_conservation
from market.errors import InsufficientFunds, InsufficientShares, MarketClosed
from market.models import Trade
from market.proposals import close_proposal
from market.trading import Order, Side, TradeResult, execute
from tests.integration.trading_helpers import F_BINARY, UNIT, build_world, market_row

THREADS = 8
OPERATIONS = 25
TRADERS = 4
SPLIT = 40 * UNIT


@pytest.mark.slow
def test_concurrent_trades_on_one_market_conserve_everything(db: Database) -> None:
    world = build_world(db, traders=TRADERS, trader_cash=100 * UNIT, split=SPLIT)
    market, pid = world.market_ids[0], world.proposal_id
    results: list[TradeResult] = []
    refused: list[str] = []
    moved: defaultdict[int, int] = defaultdict(int)  # splits − merges per trader
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(OPERATIONS):
            trader = rng.choice(world.traders)
            roll = rng.random()
            try:
                with db.write() as s:
                    if roll < 0.05:
                        funding.split(s, trader, pid, UNIT)
                        change = UNIT
                    elif roll < 0.10:
                        funding.merge(s, trader, pid, UNIT)
                        change = -UNIT
                    else:
                        change = 0
                        outcome = rng.randrange(2)
                        if roll < 0.45:
                            order = Order(outcome, Side.BUY, shares_micros=rng.randint(1, 8 * UNIT))
                        elif roll < 0.65:
                            order = Order(outcome, Side.BUY, spend_micros=rng.randint(1, 4 * UNIT))
                        else:
                            order = Order(
                                outcome, Side.SELL, shares_micros=rng.randint(1, 6 * UNIT)
                            )
                        result = execute(s, trader, market, order)
                if change:
                    with lock:
                        moved[trader] += change
                else:
                    with lock:
                        results.append(result)
            except (InsufficientFunds, InsufficientShares) as exc:
                with lock:
                    refused.append(type(exc).__name__)
            except BaseException as exc:  # anything else fails the test
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert errors == [], str(errors[0])
    assert len(results) >= THREADS * OPERATIONS // 2  # most operations trade
    assert len(results) + len(refused) + sum(abs(v) // UNIT for v in moved.values()) <= (
        THREADS * OPERATIONS
    )

    with db.read() as s:
        report = check_conservation(s)
        assert report.ok, report.problems
        trades = s.scalars(select(Trade).where(Trade.market_id == market).order_by(Trade.id)).all()
        m = market_row(s, market)
        # every acknowledged trade stored once, and nothing else
        assert sorted(r.trade_id for r in results) == [t.id for t in trades]
        assert m.trade_count == len(trades) == report.totals["trades"]
        assert m.q_micros == [
            sum(t.shares_micros for t in trades if t.outcome == i) for i in range(2)
        ]
        assert m.maker_cash_micros == F_BINARY + sum(t.cash_micros for t in trades)
        assert (
            m.maker_cash_micros - max(m.q_micros)
            >= F_BINARY - Book((0, 0), m.b_micros).max_loss_micros
        )

        # replay in lock order: each trade was priced against the state the previous left
        book = Book((0, 0), m.b_micros)
        for t in trades:
            if t.shares_micros > 0:
                q = quote_buy(book, t.outcome, t.shares_micros)
            else:
                q = quote_sell(book, t.outcome, -t.shares_micros)
            assert q.cash_micros == t.cash_micros, t.id
            assert list(q.prices_after) == t.prices_after, t.id
            book = book.apply(q)
        assert list(book.q_micros) == m.q_micros

        for trader in world.traders:
            paid = sum(t.cash_micros for t in trades if t.account_id == trader)
            branches = {b.market_id: b.cash_micros for b in funding.balances(s, trader).branches}
            assert branches[market] == SPLIT + moved[trader] - paid
            assert branches[world.market_ids[1]] == SPLIT + moved[trader]
            assert min(branches.values()) >= 0


@pytest.mark.slow
def test_closing_while_trading_on_every_branch_neither_deadlocks_nor_leaks(db: Database) -> None:
    """Trades on both branches, first splits of newcomers, merges, and a close mid-way."""
    world = build_world(
        db, traders=6, trader_cash=100 * UNIT, split=0, alternatives=("Plan A", "Plan B")
    )
    pid = world.proposal_id
    done: list[TradeResult] = []
    outcomes: defaultdict[str, int] = defaultdict(int)
    errors: list[BaseException] = []
    lock = threading.Lock()
    halfway = threading.Event()
    start = threading.Barrier(THREADS + 1)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(OPERATIONS):
            trader = rng.choice(world.traders)
            roll = rng.random()
            try:
                with db.write() as s:
                    if roll < 0.15:
                        funding.split(s, trader, pid, rng.randint(1, 10) * UNIT)
                        kind, result = "split", None
                    elif roll < 0.25:
                        funding.merge(s, trader, pid, UNIT)
                        kind, result = "merge", None
                    else:
                        market = rng.choice(world.market_ids)
                        side = Side.BUY if roll < 0.7 else Side.SELL
                        order = Order(
                            rng.randrange(2), side, shares_micros=rng.randint(1, 3 * UNIT)
                        )
                        kind, result = "trade", execute(s, trader, market, order)
                with lock:
                    outcomes[kind] += 1
                    if result is not None:
                        done.append(result)
                        if len(done) >= 40:
                            halfway.set()
            except (InsufficientFunds, InsufficientShares, MarketClosed) as exc:
                with lock:
                    outcomes[type(exc).__name__] += 1
            except BaseException as exc:  # anything else fails the test
                with lock:
                    errors.append(exc)

    def closer() -> None:
        start.wait()
        halfway.wait(timeout=30)
        try:
            with db.write() as s:
                close_proposal(s, pid)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    threads.append(threading.Thread(target=closer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert errors == [], str(errors[0]) if errors else ""
    assert halfway.is_set()
    assert outcomes["MarketClosed"] > 0  # the close landed while work was still coming
    assert outcomes["trade"] == len(done) >= 40

    with db.read() as s:
        report = check_conservation(s)
        assert report.ok, report.problems
        stored = s.scalars(select(Trade.id).order_by(Trade.id)).all()
        assert sorted(r.trade_id for r in done) == list(stored)
        assert {market_row(s, m).status for m in world.market_ids} == {"closed"}
