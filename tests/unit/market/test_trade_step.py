"""The pure trade step: book + order → quote, next book, ledger legs; nothing else touched."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import market.trade_step
from market.book import MICROS, Book, Limit, quote_buy, quote_sell
from market.errors import InvalidMarketInput, PriceLimitExceeded
from market.trade_step import Order, Side, Step, TradeLeg, check_order, run_steps, step
from tests.strategies import books, share_amounts

B100 = 100 * MICROS


def test_a_buy_step_prices_applies_and_posts_two_legs() -> None:
    book = Book((0, 0), B100)
    done = step(book, Order(0, Side.BUY, shares_micros=10 * MICROS))
    assert done.side is Side.BUY
    assert (done.outcome, done.shares_micros, done.cash_micros) == (0, 10 * MICROS, 5_124_948)
    assert done.average_price_micros == 512_495  # 5.124948 / 10 = 0.5124948, rounded up
    assert done.book_after == Book((10 * MICROS, 0), B100)
    assert done.legs == (TradeLeg("account", -5_124_948), TradeLeg("maker", 5_124_948))
    assert done.quote == quote_buy(book, 0, 10 * MICROS)


def test_a_sale_step_pays_the_proceeds_rounded_down() -> None:
    book = Book((10 * MICROS, 0), B100)
    done = step(book, Order(0, "sell", shares_micros=10 * MICROS))  # type: ignore[arg-type]
    assert (done.side, done.cash_micros) == (Side.SELL, 5_124_947)
    assert done.average_price_micros == 512_494  # 0.5124947, rounded down
    assert done.legs == (TradeLeg("account", 5_124_947), TradeLeg("maker", -5_124_947))
    assert done.book_after == Book((0, 0), B100)


def test_a_spend_step_buys_the_most_shares_the_money_covers() -> None:
    done = step(Book((0, 0), B100), Order(0, Side.BUY, spend_micros=5_124_947))
    assert (done.shares_micros, done.cash_micros) == (9_999_998, 5_124_947)


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (Order(0, Side.BUY), "either a number of shares or an amount to spend"),
        (Order(0, Side.BUY, shares_micros=1, spend_micros=1), "not both"),
        (Order(0, Side.SELL, spend_micros=5), "only a buy can be given as a spend"),
        (Order(0, "hold", shares_micros=1), "the side must be 'buy' or 'sell'"),  # type: ignore[arg-type]
        (Order(0, Side.BUY, shares_micros=1, limit=5), "expected a Limit"),  # type: ignore[arg-type]
        (Order(2, Side.BUY, shares_micros=1), "Outcome 2 does not exist"),
        (Order(0, Side.BUY, shares_micros=0), "must be positive"),
    ],
)
def test_malformed_orders_are_refused(order: Order, message: str) -> None:
    with pytest.raises(InvalidMarketInput, match=message):
        step(Book((0, 0), B100), order)


def test_check_order_refuses_what_is_not_an_order() -> None:
    with pytest.raises(InvalidMarketInput, match="expected an Order, got dict"):
        check_order({"outcome": 0})
    assert check_order(Order(1, "sell", shares_micros=3)) is Side.SELL  # type: ignore[arg-type]


def test_a_sequencer_applies_queued_orders_in_turn_and_skips_the_refused() -> None:
    book = Book((0, 0), B100)
    orders = [
        Order(0, Side.BUY, shares_micros=10 * MICROS),
        Order(1, Side.BUY, shares_micros=MICROS, limit=Limit(max_cost_micros=1)),  # refused
        Order(0, Side.SELL, shares_micros=10 * MICROS),
    ]
    final, results = run_steps(book, orders)
    assert isinstance(results[0], Step)
    assert isinstance(results[1], PriceLimitExceeded)
    assert isinstance(results[2], Step)
    assert [r.cash_micros for r in results if isinstance(r, Step)] == [5_124_948, 5_124_947]
    assert final == book  # bought and sold back; the refused order left no trace


@given(st.data())
def test_a_step_is_the_book_quote_and_its_legs_balance(data: st.DataObject) -> None:
    book = data.draw(books(extreme=False))
    k = data.draw(st.integers(0, book.n - 1))
    shares = data.draw(share_amounts(book))
    side = data.draw(st.sampled_from([Side.BUY, Side.SELL]))
    done = step(book, Order(k, side, shares_micros=shares))
    again = step(book, Order(k, side, shares_micros=shares))
    quote = (quote_buy if side is Side.BUY else quote_sell)(book, k, shares)
    assert done.quote == quote == again.quote  # a pure function of (book, order)
    assert done.book_after == book.apply(quote) == again.book_after
    assert sum(leg.amount_micros for leg in done.legs) == 0
    assert done.cash_micros == (quote.cash_micros if side is Side.BUY else -quote.cash_micros)
    # the average price rounds against the trader, like the cash
    exact = done.cash_micros * MICROS / done.shares_micros
    if side is Side.BUY:
        assert exact <= done.average_price_micros < exact + 1
    else:
        assert exact - 1 < done.average_price_micros <= exact


def test_the_step_is_pure_no_database_or_clock_imports() -> None:
    source = Path(market.trade_step.__file__).read_text()
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "enum", "collections", "dataclasses", "typing", "market"}
