"""The micro-unit boundary: quotes are the exact cost rounded in the maker's favour, limits,
bounds, the maker's loss, round trips and spends, exactly."""

from __future__ import annotations

import itertools
import math
import pickle
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.assets import ScalarAsset, payout_of_position
from market.book import (
    MAX_SHARES_MICROS,
    MICROS,
    Book,
    Limit,
    Quote,
    format_micros,
    quote_buy,
    quote_sell,
    quote_spend,
    quote_trade,
)
from market.errors import InvalidMarketInput, PriceLimitExceeded, StaleQuote
from tests.strategies import books, int_trade_vectors, share_amounts, trade_sequences
from tests.unit.market.exact import exact_cost, exact_trade_cost, reference_cash

B100 = 100 * MICROS  # b = 100 units


def _within_bound(book: Book, delta: tuple[int, ...]) -> bool:
    return all(abs(x + d) <= MAX_SHARES_MICROS for x, d in zip(book.q_micros, delta, strict=True))


def _exact(quote: Quote, book: Book) -> Decimal:
    return exact_trade_cost(quote.q_before_micros, quote.delta_micros, book.b_micros)


def _is_integer_cost(quote: Quote) -> bool:
    return sorted(quote.q_after_micros) == [
        x + quote.cash_micros for x in sorted(quote.q_before_micros)
    ]


# --- exact cases, by hand -----------------------------------------------------------------


def test_buying_10_shares_at_b_100_charges_the_exact_cost_rounded_up() -> None:
    book = Book((0, 0), B100)
    quote = quote_buy(book, 0, 10 * MICROS)
    # exact 5_124_947.95136… micros, rounded up
    assert quote.cash_micros == 5_124_948
    assert quote.outcome == 0
    assert quote.delta_micros == (10_000_000, 0)
    assert quote.q_after_micros == (10_000_000, 0)
    assert quote.prices_before == (0.5, 0.5)
    assert quote.prices_after[0] == pytest.approx(0.52497918747894, rel=1e-13)
    after = book.apply(quote)
    assert after == Book((10_000_000, 0), B100)
    assert after.prices() == quote.prices_after == Book((10_000_000, 0), B100).prices()


def test_selling_them_back_pays_the_exact_proceeds_rounded_down() -> None:
    book = Book((10 * MICROS, 0), B100)
    quote = quote_sell(book, 0, 10 * MICROS)
    assert quote.cash_micros == -5_124_947
    assert quote.delta_micros == (-10_000_000, 0)
    # the round trip cost the trader 5_124_948 − 5_124_947 = 1 micro: the two roundings
    assert book.apply(quote) == Book((0, 0), B100)


def test_a_subsidy_sets_b_rounded_down_so_the_worst_loss_fits_inside_it() -> None:
    book = Book.from_subsidy(2, 100 * MICROS)
    # 1e8 / ln 2 = 144_269_504.0888…
    assert book == Book((0, 0), 144_269_504)
    assert book.max_loss_micros == 99_999_999
    assert Book.from_subsidy(5, 1_000 * MICROS).b_micros == 621_334_934  # 1e9 / ln 5


def test_formatting_micro_units_as_decimal_strings() -> None:
    assert format_micros(5_124_948) == "5.124948"
    assert format_micros(-1) == "-0.000001"
    assert format_micros(7 * MICROS) == "7"


def test_spending_buys_the_most_shares_the_money_covers() -> None:
    book = Book((0, 0), B100)
    assert quote_spend(book, 0, 5_124_948).delta_micros == (10_000_000, 0)
    assert quote_spend(book, 0, 5_124_947).delta_micros == (9_999_998, 0)
    assert quote_spend(book, 0, 5_124_947).cash_micros == 5_124_947
    # one micro-unit buys one micro-share at p = 0.5, two buy three
    assert quote_spend(book, 0, 1).delta_micros == (1, 0)
    assert quote_spend(book, 0, 2).delta_micros == (3, 0)


def test_a_vector_of_one_share_of_every_outcome_costs_exactly_one_unit() -> None:
    book = Book((3 * MICROS, 0, -2 * MICROS), 50 * MICROS)
    quote = quote_trade(book, (MICROS, MICROS, MICROS))
    assert quote.outcome is None
    assert quote.cash_micros == MICROS  # C(q + 1) = C(q) + 1, exactly


def test_a_vector_with_one_entry_is_priced_like_the_single_outcome_quote() -> None:
    book = Book((0, 4 * MICROS, 0), B100)
    assert quote_trade(book, (0, 7 * MICROS, 0)) == quote_buy(book, 1, 7 * MICROS)
    assert quote_trade(book, (0, -3 * MICROS, 0)) == quote_sell(book, 1, 3 * MICROS)


# --- correct rounding, property by property ---------------------------------------------


@given(st.data())
def test_every_single_outcome_charge_is_the_exact_cost_rounded_up(data: st.DataObject) -> None:
    book = data.draw(books())
    k = data.draw(st.integers(0, book.n - 1))
    shares = data.draw(share_amounts(book))
    sell = data.draw(st.booleans())
    if not _within_bound(
        book, tuple(-shares if sell and i == k else shares if i == k else 0 for i in range(book.n))
    ):
        with pytest.raises(InvalidMarketInput, match="beyond the market's bound"):
            quote_sell(book, k, shares) if sell else quote_buy(book, k, shares)
        return
    quote = quote_sell(book, k, shares) if sell else quote_buy(book, k, shares)
    assert quote.cash_micros == reference_cash(
        book.q_micros, list(quote.delta_micros), book.b_micros
    )
    assert (quote.cash_micros <= 0) if sell else (quote.cash_micros >= 1)


@given(st.data())
def test_every_vector_trade_charge_is_the_exact_cost_rounded_up(data: st.DataObject) -> None:
    book = data.draw(books())
    delta = data.draw(int_trade_vectors(book))
    if not _within_bound(book, delta):
        with pytest.raises(InvalidMarketInput, match="beyond the market's bound"):
            quote_trade(book, delta)
        return
    quote = quote_trade(book, delta)
    assert quote.cash_micros == reference_cash(book.q_micros, list(delta), book.b_micros)


@given(st.data())
def test_a_round_trip_never_profits_and_loses_exactly_the_rounding(data: st.DataObject) -> None:
    book = data.draw(books(extreme=False))
    k = data.draw(st.integers(0, book.n - 1))
    shares = data.draw(share_amounts(book))
    bought = quote_buy(book, k, shares)
    sold = quote_sell(book.apply(bought), k, shares)
    profit = -(bought.cash_micros + sold.cash_micros)
    # ⌊c⌋ − ⌈c⌉: 0 when the exact cost is an integer, −1 otherwise
    assert profit == (0 if _is_integer_cost(bought) else -1)


@given(st.data())
def test_splitting_a_trade_never_costs_less_than_the_whole(data: st.DataObject) -> None:
    """For a trade δ split into pieces δ¹ + … + δᵏ (cᵢ their exact costs, c = Σ cᵢ):

    ⌈c⌉ ≤ Σ ⌈cᵢ⌉ < c + k, so cash(whole) ≤ Σ cash(pieces) < cash(whole) + k.
    """
    book = data.draw(books(extreme=False))
    whole = data.draw(int_trade_vectors(book))
    k = data.draw(st.integers(2, 5))
    cuts = sorted(data.draw(st.lists(st.floats(0.0, 1.0), min_size=k - 1, max_size=k - 1)))
    marks = [0.0, *cuts, 1.0]
    pieces = []
    for lo, hi in itertools.pairwise(marks):
        piece = tuple(round(d * hi) - round(d * lo) for d in whole)
        if any(piece):
            pieces.append(piece)
    single = quote_trade(book, whole)
    total, state = 0, book
    for piece in pieces:
        quote = quote_trade(state, piece)
        total += quote.cash_micros
        state = state.apply(quote)
    assert state.q_micros == single.q_after_micros
    assert single.cash_micros <= total < single.cash_micros + len(pieces)


def _loss_after(
    book: Book, steps: list[tuple[int, int]], asset_w: float | None = None
) -> tuple[int, Book]:
    """Run the steps from ``book`` (q = 0), sells clipped to what traders hold; return the
    maker's worst realised loss over every resolution, and the final book."""
    collected = 0
    for k, signed in steps:
        held = book.q_micros[k]  # traders' aggregate holding: q − q⁰ with q⁰ = 0
        if signed < 0:
            shares = min(-signed, held)
            if shares == 0:
                continue
            quote = quote_sell(book, k, shares)
        else:
            quote = quote_buy(book, k, signed)
        collected += quote.cash_micros
        book = book.apply(quote)
    winner_takes_all = max(book.q_micros)  # outcome j pays 1e6 micros a share: q_j micros
    loss = winner_takes_all - collected
    if asset_w is not None and book.n == 2:
        long_pays, short_pays = ScalarAsset(0.0, 1.0).payout_micros(asset_w)
        scalar = payout_of_position(book.q_micros[0], long_pays) + payout_of_position(
            book.q_micros[1], short_pays
        )
        loss = max(loss, scalar - collected)
    return loss, book


@given(st.data())
def test_the_maker_never_loses_more_than_b_ln_n_whatever_the_trades(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 5))
    subsidy = data.draw(st.integers(1, 10**10))
    book = Book.from_subsidy(n, max(subsidy, 2))
    steps = data.draw(trade_sequences(n, book.b_micros, max_size=60))
    loss, final = _loss_after(book, steps, data.draw(st.floats(-0.5, 1.5)))
    assert loss <= book.max_loss_micros <= book.b_micros * math.log(n)
    assert loss <= max(subsidy, 2)
    # and the cash taken covers the exact cost of reaching the final state
    collected = max(final.q_micros) - loss
    assert collected >= exact_cost(final.q_micros, book.b_micros) - exact_cost(
        (0,) * n, book.b_micros
    )


@pytest.mark.slow
def test_the_bound_holds_over_200_000_random_trades_with_rounding() -> None:
    rng = np.random.default_rng(20240501)
    book = Book.from_subsidy(2, 50 * MICROS)  # b ≈ 72 units: q/b wanders far
    b = book.b_micros
    sizes = np.concatenate([rng.integers(1, 100, 100_000), rng.integers(1, 5 * b, 100_000)])
    rng.shuffle(sizes)
    signs = rng.choice([-1, 1], size=sizes.size, p=[0.45, 0.55])
    outcomes = rng.integers(0, 2, size=sizes.size)
    steps = [(int(k), int(s * d)) for k, s, d in zip(outcomes, signs, sizes, strict=True)]
    loss, final = _loss_after(book, steps)
    assert loss <= book.max_loss_micros
    collected = max(final.q_micros) - loss
    assert collected >= exact_cost(final.q_micros, b) - exact_cost((0, 0), b)


@given(st.data())
def test_quote_spend_buys_the_most_shares_whose_charge_fits(data: st.DataObject) -> None:
    book = data.draw(books(extreme=False))
    k = data.draw(st.integers(0, book.n - 1))
    spend = data.draw(st.one_of(st.integers(1, 100), st.integers(1, 50 * book.b_micros)))
    quote = quote_spend(book, k, spend)
    shares = quote.delta_micros[k]
    assert 1 <= quote.cash_micros <= spend
    assert quote == quote_buy(book, k, shares)
    assert quote_buy(book, k, shares + 1).cash_micros > spend
    # the largest x whose exact cost is at most the spend: c(x) ≤ spend < c(x + 1)
    after = [0] * book.n
    after[k] = shares + 1
    assert exact_trade_cost(book.q_micros, after, book.b_micros) > spend


@given(books())
def test_book_prices_are_probabilities(book: Book) -> None:
    p = book.prices()
    assert all(0.0 <= x <= 1.0 for x in p)
    assert math.fsum(p) == pytest.approx(1.0, abs=1e-14)


# --- limits -------------------------------------------------------------------------------


def test_a_buy_above_the_average_price_limit_is_refused_naming_both_prices() -> None:
    book = Book((0, 0), B100)
    with pytest.raises(PriceLimitExceeded) as refused:
        quote_buy(book, 0, 10 * MICROS, Limit(max_average_price_micros=500_000))
    assert str(refused.value) == (
        "Buying 10 shares of outcome 0 would cost 5.124948 at an average price of "
        "0.512495 per share, above your limit of 0.5."
    )
    # at the limit is accepted: 5.124948 / 10 = 0.5124948 ≤ 0.512495
    ok = quote_buy(book, 0, 10 * MICROS, Limit(max_average_price_micros=512_495))
    assert ok.cash_micros == 5_124_948
    with pytest.raises(PriceLimitExceeded):
        quote_buy(book, 0, 10 * MICROS, Limit(max_average_price_micros=512_494))


def test_cost_and_proceeds_limits() -> None:
    book = Book((10 * MICROS, 0), B100)
    # 100 · ln((e^0.2 + 1) / (e^0.1 + 1)) = 5.3742209… units
    with pytest.raises(PriceLimitExceeded) as refused:
        quote_buy(book, 0, 10 * MICROS, Limit(max_cost_micros=5_000_000))
    assert str(refused.value) == (
        "Buying 10 shares of outcome 0 would cost 5.374221, above your limit of 5."
    )
    with pytest.raises(
        PriceLimitExceeded, match=r"would pay 5\.124947, below your minimum proceeds"
    ):
        quote_sell(book, 0, 10 * MICROS, Limit(min_proceeds_micros=5_200_000))
    with pytest.raises(PriceLimitExceeded) as refused:
        quote_sell(book, 0, 10 * MICROS, Limit(min_average_price_micros=520_000))
    assert "average price of 0.512495 per share, below your limit of 0.52" in str(refused.value)
    assert quote_sell(book, 0, 10 * MICROS, Limit(min_proceeds_micros=5_124_947)).cash_micros == (
        -5_124_947
    )


def test_limits_for_the_wrong_side_or_shape_of_trade_are_refused_not_ignored() -> None:
    book = Book((0, 0, 0), B100)
    with pytest.raises(InvalidMarketInput, match="limits a sale; this is a buy"):
        quote_buy(book, 0, MICROS, Limit(min_average_price_micros=1))
    with pytest.raises(InvalidMarketInput, match="limits a buy; this is a sale"):
        quote_sell(book, 0, MICROS, Limit(max_cost_micros=1))
    with pytest.raises(InvalidMarketInput, match="Average-price limits apply"):
        quote_trade(book, (MICROS, -MICROS, 0), Limit(max_average_price_micros=1))
    with pytest.raises(PriceLimitExceeded, match="This trade would cost"):
        quote_trade(book, (2 * MICROS, MICROS, 0), Limit(max_cost_micros=MICROS))
    with pytest.raises(InvalidMarketInput, match="non-negative integer"):
        Limit(max_cost_micros=-1)


# --- bad input, bounds and stale quotes ---------------------------------------------------


@pytest.mark.parametrize(
    ("q", "b", "message"),
    [
        ((), B100, "at least two outcomes"),
        ((0,), B100, "at least two outcomes"),
        ((0, 0.5), B100, "whole micro-shares"),
        ((0, True), B100, "whole micro-shares"),
        ((0, MAX_SHARES_MICROS + 1), B100, "beyond the market's bound"),
        ((0, 0), 0, "between 0.000001 and"),
        ((0, 0), -5, "between 0.000001 and"),
        ((0, 0), 1.5, "integer micro-units"),
        ((0, 0), 10**16, "between 0.000001 and"),
    ],
)
def test_bad_books_are_refused(q: tuple[int, ...], b: int, message: str) -> None:
    with pytest.raises(InvalidMarketInput, match=message):
        Book(q, b)


def test_bad_quotes_are_refused_and_leave_the_book_as_it_was() -> None:
    book = Book((5 * MICROS, 0), B100)
    before = book.prices()
    with pytest.raises(InvalidMarketInput, match="Outcome 2 does not exist"):
        quote_buy(book, 2, MICROS)
    with pytest.raises(InvalidMarketInput, match="must be positive"):
        quote_buy(book, 0, 0)
    with pytest.raises(InvalidMarketInput, match="must be positive"):
        quote_sell(book, 0, -MICROS)
    with pytest.raises(InvalidMarketInput, match="whole number of micro-units"):
        quote_buy(book, 0, 1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidMarketInput, match="has 3 entries but the market has 2"):
        quote_trade(book, (1, 2, 3))
    with pytest.raises(InvalidMarketInput, match="buys and sells nothing"):
        quote_trade(book, (0, 0))
    with pytest.raises(InvalidMarketInput, match="exceeds the bound"):
        quote_buy(book, 0, MAX_SHARES_MICROS + 1)
    with pytest.raises(InvalidMarketInput, match="beyond the market's bound"):
        quote_buy(Book((MAX_SHARES_MICROS - 5, 0), B100), 0, 6)
    with pytest.raises(InvalidMarketInput, match="spend must be positive"):
        quote_spend(book, 0, 0)
    with pytest.raises(InvalidMarketInput, match="Expected a Book"):
        quote_buy((0, 0), 0, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidMarketInput, match="subsidy"):
        Book.from_subsidy(2, 0)
    with pytest.raises(InvalidMarketInput, match="too small"):
        Book.from_subsidy(3, 1)
    assert book == Book((5 * MICROS, 0), B100)
    assert book.prices() == before


def test_a_quote_for_another_state_is_refused() -> None:
    book = Book((0, 0), B100)
    first = quote_buy(book, 0, MICROS)
    second = quote_buy(book, 1, MICROS)
    moved = book.apply(first)
    with pytest.raises(StaleQuote, match="ask for a fresh quote"):
        moved.apply(second)
    with pytest.raises(StaleQuote):
        Book((0, 0), 2 * B100).apply(first)


def test_extreme_states_quote_exact_integer_amounts() -> None:
    # q/b = 1e6 on both sides of the spread
    book = Book((10**15, 0), 10**9)
    assert book.prices() == (1.0, 0.0)
    buy_long_shot = quote_buy(book, 1, 10**9)  # exact cost about e^-1e6: one micro-unit
    assert buy_long_shot.cash_micros == 1
    sell_favourite = quote_sell(book, 0, 10**12)  # the sure thing: 1e12 − ε, rounded down
    assert sell_favourite.cash_micros == -999_999_999_999


def test_quotes_and_books_are_immutable_values() -> None:
    book = Book((0, 0), B100)
    quote = quote_buy(book, 0, MICROS)
    with pytest.raises(AttributeError):
        book.b_micros = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        quote.cash_micros = 5  # type: ignore[misc]
    assert hash(book) == hash(Book((0, 0), B100))
    assert repr(book) == "Book(q_micros=(0, 0), b_micros=100000000)"
    assert pickle.loads(pickle.dumps(book)) == book
    assert pickle.loads(pickle.dumps(quote)) == quote
    hand_built = Quote(0, (MICROS, 0), 500_001, (0, 0), (MICROS, 0), (0.5, 0.5), (0.5025, 0.4975))
    assert book.apply(hand_built) == Book((MICROS, 0), B100)
