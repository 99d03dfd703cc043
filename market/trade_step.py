"""The pure trade step: a book and an order in; the quote, the next book and the legs out.

One step, the same wherever a trade happens: the trading service runs it under the
market's row lock and then persists what it returns; a per-market sequencer can run it
for each queued order in turn, in one transaction (`run_steps`); the simulator runs it on
books it keeps in memory. No I/O, no clock, no SQLAlchemy: every figure is a pure,
deterministic function of ``(book, order)``, so an auditor can recompute it.

For an order on outcome ``k`` of a book ``q`` (micro-shares) with liquidity ``b``:

- buy ``s`` micro-shares: ``cash = ⌈C(q + s·e_k) − C(q)⌉ ≥ 1`` paid by the trader;
- buy by spend ``x``: the largest ``s`` whose cash is at most ``x``;
- sell ``s`` micro-shares: ``proceeds = ⌊C(q) − C(q − s·e_k)⌋ ≥ 0`` paid to the trader;

(`market.book`). The ledger legs move the branch's conditional cash: ``account −c``,
``maker +c`` with ``c`` the quote's signed cash (``c < 0`` for a sale: the maker pays);
they sum to zero. Whether the trader holds the cash or the shares is for the caller to
check (the service does it with conditional UPDATEs, `market.conditional.Holdings` in
memory), as is whether the market is open.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from market.book import MICROS, Book, Limit, Quote, quote_buy, quote_sell, quote_spend
from market.errors import InvalidMarketInput, MarketError


class Side(enum.StrEnum):
    """Buy shares from the maker, or sell shares held back to it."""

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True)
class Order:
    """What a trader asks for in one market.

    Attributes:
        outcome: the outcome index (book order: ``0 = LONG, 1 = SHORT`` or the bins).
        side: `Side.BUY` or `Side.SELL` (or their strings).
        shares_micros: micro-shares to buy or sell; exactly one of this and
            ``spend_micros``.
        spend_micros: buys only: micro-units of branch cash to spend on as many shares as
            they pay for.
        limit: optional price protection (`market.book.Limit`); a quote breaking it is
            refused with `PriceLimitExceeded`.
    """

    outcome: int
    side: Side
    shares_micros: int | None = None
    spend_micros: int | None = None
    limit: Limit | None = None


@dataclass(frozen=True, slots=True)
class TradeLeg:
    """One ledger leg of a trade, in the market's conditional cash (micro-units).

    ``holder`` names a `market.ledger.Holder` value; the caller adds the market and, for
    the account leg, the account.
    """

    holder: Literal["account", "maker"]
    amount_micros: int


@dataclass(frozen=True)
class Step:
    """A priced order and what it leaves behind.

    Attributes:
        quote: the `market.book.Quote` (signed delta and cash, prices before and after).
        book_after: the book after the trade (``book.apply(quote)``).
        side: buy or sell.
        outcome: the outcome traded.
        shares_micros: micro-shares traded, ``> 0``.
        cash_micros: micro-units the trader pays (a buy, ``≥ 1``) or receives (a sale,
            ``≥ 0``).
        average_price_micros: ``cash · 1e6 / shares``, micro-units per whole share, rounded
            up for buys and down for sells (against the trader, like the cash).
        legs: ``(account −c, maker +c)`` with ``c = quote.cash_micros``; they sum to zero.
    """

    quote: Quote
    book_after: Book
    side: Side
    outcome: int
    shares_micros: int
    cash_micros: int
    average_price_micros: int
    legs: tuple[TradeLeg, TradeLeg]


def check_order(order: object) -> Side:
    """The order's side, after checking the order's shape.

    Raises:
        InvalidMarketInput: not an `Order`, a side other than buy or sell, both or neither
            of shares and spend, a spend on a sale, or a limit that is not a `Limit`.
    """
    if not isinstance(order, Order):
        raise InvalidMarketInput(f"expected an Order, got {type(order).__name__}")
    try:
        side = Side(order.side)
    except ValueError:
        raise InvalidMarketInput(f"the side must be 'buy' or 'sell', got {order.side!r}") from None
    if (order.shares_micros is None) == (order.spend_micros is None):
        raise InvalidMarketInput("give either a number of shares or an amount to spend, not both")
    if order.spend_micros is not None and side is Side.SELL:
        raise InvalidMarketInput("a sale is given in shares; only a buy can be given as a spend")
    if order.limit is not None and not isinstance(order.limit, Limit):
        raise InvalidMarketInput(f"expected a Limit, got {type(order.limit).__name__}")
    return side


def step(book: Book, order: Order) -> Step:
    """Price ``order`` on ``book`` and apply it: the pure trade step.

    Args:
        book: the market's book (shares outstanding and ``b``).
        order: what the trader asks for.

    Returns:
        The `Step`: quote, next book, the trader's cash and average price, ledger legs.

    Raises:
        InvalidMarketInput: a malformed order (`check_order`), a bad outcome or amount, or
            a trade beyond the book's bounds.
        PriceLimitExceeded: the quote breaks the order's limit.
    """
    side = check_order(order)
    if order.spend_micros is not None:  # check_order allows a spend on buys only
        quote = quote_spend(book, order.outcome, order.spend_micros, order.limit)
    else:
        amount = order.shares_micros
        assert amount is not None  # check_order: exactly one of shares and spend
        price = quote_buy if side is Side.BUY else quote_sell
        quote = price(book, order.outcome, amount, order.limit)
    k = quote.outcome
    assert k is not None  # single-outcome quotes always name their outcome
    shares = abs(quote.delta_micros[k])
    signed = quote.cash_micros
    if side is Side.BUY:
        cash = signed
        average = -((-cash * MICROS) // shares)  # rounded up
    else:
        cash = -signed
        average = cash * MICROS // shares  # rounded down
    return Step(
        quote=quote,
        book_after=book.apply(quote),
        side=side,
        outcome=k,
        shares_micros=shares,
        cash_micros=cash,
        average_price_micros=average,
        legs=(TradeLeg("account", -signed), TradeLeg("maker", signed)),
    )


def run_steps(book: Book, orders: Sequence[Order]) -> tuple[Book, list[Step | MarketError]]:
    """Apply queued orders one after another, as a per-market sequencer would.

    Each order is priced on the book the previous accepted orders left; a refused order
    (any `market.errors.MarketError`: a malformed order, a broken limit) leaves the book
    as it was and takes its error's place in the results.

    Returns:
        ``(final book, one Step or error per order, in order)``.
    """
    results: list[Step | MarketError] = []
    for order in orders:
        try:
            done = step(book, order)
        except MarketError as refused:
            results.append(refused)
            continue
        results.append(done)
        book = done.book_after
    return book, results
