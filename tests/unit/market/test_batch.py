"""The batch engine: many markets at once, exactly the single-market `Book` quotes.

Every row of `batch_trade` and `batch_spend` must equal what `quote_buy`, `quote_sell` and
`quote_spend` say for the same book and order: equality of integers, on random batches of
ordinary and extreme markets.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from market import batch
from market.batch import batch_spend, batch_trade
from market.book import MAX_SHARES_MICROS, MICROS, Book, quote_buy, quote_sell, quote_spend
from market.errors import InvalidMarketInput
from tests.unit.market.exact import exact_trade_cost, reference_cash


@st.composite
def batches(
    draw: st.DrawFn, max_markets: int = 40
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(q, b, outcome)`` for a batch of markets with the same number of outcomes: each
    row an ordinary book (``|q/b| ≤ 30``) or, one time in four, an extreme one."""
    markets = draw(st.integers(1, max_markets))
    n = draw(st.sampled_from([2, 2, 3, 5, 12]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    b = rng.choice([1, 1_000, MICROS, 144_269_504, 10**12, 10**15], size=markets)
    b = np.where(rng.random(markets) < 0.5, rng.integers(1, 10**12, size=markets), b)
    scale = np.where(rng.random(markets) < 0.25, 10**6, 30)
    span = np.minimum(scale * b, MAX_SHARES_MICROS // 2)
    q = (rng.uniform(-1.0, 1.0, size=(markets, n)) * span[:, None]).astype(np.int64)
    outcome = rng.integers(0, n, size=markets)
    return q, b.astype(np.int64), outcome.astype(np.int64)


def _amounts(draw: st.DrawFn, b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    small = rng.integers(1, 100, size=b.shape[0])
    large = (rng.random(b.shape[0]) * np.minimum(20 * b, 10**14)).astype(np.int64) + 1
    return np.where(rng.random(b.shape[0]) < 0.3, small, large).astype(np.int64)


def _book(q: npt.NDArray[np.int64], b: npt.NDArray[np.int64], m: int) -> Book:
    return Book(tuple(q[m].tolist()), int(b[m]))


@given(batches(), st.data())
def test_every_buy_and_sale_in_a_batch_is_the_book_quote_exactly(
    batch_books: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    data: st.DataObject,
) -> None:
    q, b, outcome = batch_books
    shares = _amounts(data.draw, b) * data.draw(st.sampled_from([1, -1]))
    after = q[np.arange(q.shape[0]), outcome] + shares
    if (np.abs(after) > MAX_SHARES_MICROS).any():
        with pytest.raises(InvalidMarketInput, match="beyond the bound"):
            batch_trade(q, b, outcome, shares)
        return
    result = batch_trade(q, b, outcome, shares)
    for m in range(q.shape[0]):
        book, k, s = _book(q, b, m), int(outcome[m]), int(shares[m])
        quote = quote_buy(book, k, s) if s > 0 else quote_sell(book, k, -s)
        assert int(result.cash_micros[m]) == quote.cash_micros
        assert tuple(result.q_after_micros[m].tolist()) == quote.q_after_micros
    assert result.shares_micros.tolist() == shares.tolist()


@given(batches(max_markets=25), st.data())
def test_every_spend_in_a_batch_is_the_book_quote_exactly(
    batch_books: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    data: st.DataObject,
) -> None:
    q, b, outcome = batch_books
    spend = _amounts(data.draw, b)
    books = [_book(q, b, m) for m in range(q.shape[0])]
    expected = []
    for m, book in enumerate(books):
        try:
            expected.append(quote_spend(book, int(outcome[m]), int(spend[m])))
        except InvalidMarketInput:
            with pytest.raises(InvalidMarketInput, match=f"market {m}: "):
                batch_spend(q, b, outcome, spend)
            return
    result = batch_spend(q, b, outcome, spend)
    for m, quote in enumerate(expected):
        k = int(outcome[m])
        assert int(result.shares_micros[m]) == quote.delta_micros[k]
        assert int(result.cash_micros[m]) == quote.cash_micros
        assert tuple(result.q_after_micros[m].tolist()) == quote.q_after_micros


def test_a_batch_of_binary_markets_by_hand() -> None:
    q = np.array([[0, 0], [10 * MICROS, 0], [10**15, 0], [0, 5 * MICROS]])
    b = np.array([100 * MICROS, 100 * MICROS, 10**9, 100 * MICROS])
    result = batch_trade(
        q, b, np.array([0, 0, 1, 0]), np.array([10 * MICROS, -10 * MICROS, 10**9, 10 * MICROS])
    )
    # 5.1249479… up; 5.1249479… down; a long shot's e^-1e6 up to one micro; exactly 5
    assert result.cash_micros.tolist() == [5_124_948, -5_124_947, 1, 5 * MICROS]
    assert result.q_after_micros.tolist() == [
        [10 * MICROS, 0],
        [0, 0],
        [10**15, 10**9],
        [10 * MICROS, 5 * MICROS],
    ]
    spent = batch_spend(q[:1], b[:1], np.array([0]), np.array([5_124_947]))
    assert (spent.shares_micros.tolist(), spent.cash_micros.tolist()) == ([9_999_998], [5_124_947])


def test_a_batch_with_a_bad_row_is_refused_naming_the_market() -> None:
    q = np.zeros((3, 2), dtype=np.int64)
    b = np.full(3, MICROS)
    k = np.zeros(3, dtype=np.int64)
    with pytest.raises(InvalidMarketInput, match="market 1: outcome 2 does not exist"):
        batch_trade(q, b, np.array([0, 2, 1]), np.ones(3, dtype=np.int64))
    with pytest.raises(InvalidMarketInput, match="market 2: shares_micros must be non-zero"):
        batch_trade(q, b, k, np.array([1, 1, 0]))
    with pytest.raises(InvalidMarketInput, match="market 0: the liquidity b must be between"):
        batch_trade(q, np.array([0, 1, 1]), k, np.ones(3, dtype=np.int64))
    with pytest.raises(InvalidMarketInput, match="must be an array of integers"):
        batch_trade(q.astype(float), b, k, np.ones(3, dtype=np.int64))
    with pytest.raises(InvalidMarketInput, match="market 1: spend_micros must be positive"):
        batch_spend(q, b, k, np.array([1, -1, 1]))
    with pytest.raises(InvalidMarketInput, match="market 0: this trade would take outcome 0"):
        batch_trade(np.array([[MAX_SHARES_MICROS, 0]]), np.array([1]), np.array([0]), np.array([1]))


def test_the_fast_path_bound_holds_where_it_decides() -> None:
    """Inside the vectorised fast path's domain |c̃ − c| ≤ E, against 60 digits; and where
    the interval holds no integer, its ceiling is the exact one."""
    rng = np.random.default_rng(20261203)
    markets = 400
    b = rng.choice([1_000, MICROS, 10**12, 10**15], size=markets)
    q = (rng.uniform(-30, 30, size=(markets, 3)) * b[:, None]).clip(-1e15, 1e15).astype(np.int64)
    k = rng.integers(0, 3, size=markets)
    s = (rng.choice([1e-6, 0.1, 3.0], size=markets) * np.minimum(b, 10**13)).astype(np.int64) + 1
    states = batch._states(q, b.astype(np.int64), k)
    cost, err, in_domain = batch._estimate(states, s)
    assert in_domain.mean() > 0.9
    for m in np.flatnonzero(in_domain).tolist():
        delta = [0, 0, 0]
        delta[int(k[m])] = int(s[m])
        exact = exact_trade_cost(q[m].tolist(), delta, int(b[m]))
        assert abs(float(exact) - cost[m]) <= err[m]
        if math.ceil(cost[m] - err[m]) == math.ceil(cost[m] + err[m]):
            assert math.ceil(cost[m] + err[m]) == reference_cash(q[m].tolist(), delta, int(b[m]))


def test_the_float_fast_mode_buy_cost_agrees_with_the_single_market_formula() -> None:
    rng = np.random.default_rng(11)
    markets, n = 500, 3
    b = rng.uniform(1.0, 1000.0, size=markets)
    q = (
        rng.normal(0.0, 1.0, size=(markets, n))
        * b[:, None]
        * rng.choice([1.0, 100.0, 1e5], markets)[:, None]
    )
    outcome = rng.integers(0, n, size=markets)
    shares = b * rng.choice([1e-6, 0.1, 10.0, 40.0, 5000.0], size=markets)
    got = batch.batch_buy_cost(q, b, outcome, shares)
    for m in range(markets):
        want = float(
            exact_trade_cost(q[m], [shares[m] if i == outcome[m] else 0.0 for i in range(n)], b[m])
        )
        assert got[m] == pytest.approx(want, rel=1e-9, abs=1e-12 * b[m])


def test_the_float_fast_mode_prices_rows_are_the_single_market_prices() -> None:
    q = np.array([[0.0, 0.0], [10.0, 0.0], [1e9, 0.0]])
    b = np.array([1.0, 100.0, 1.0])
    p = batch.batch_prices(q, b)
    assert p[0].tolist() == [0.5, 0.5]
    assert p[1, 0] == pytest.approx(0.52497918747894, rel=1e-13)
    assert p[2].tolist() == [1.0, 0.0]


def test_the_float_fast_mode_refuses_bad_arrays() -> None:
    q = np.zeros((3, 2))
    b = np.ones(3)
    with pytest.raises(InvalidMarketInput, match="one entry per market"):
        batch.batch_buy_cost(q, np.ones(2), np.zeros(3, dtype=int), np.ones(3))
    with pytest.raises(InvalidMarketInput, match="integer index from 0 to 1"):
        batch.batch_buy_cost(q, b, np.array([0, 2, 1]), np.ones(3))
    with pytest.raises(InvalidMarketInput, match="must be positive"):
        batch.batch_buy_cost(q, np.array([1.0, 0.0, 1.0]), np.zeros(3, dtype=int), np.ones(3))
    with pytest.raises(InvalidMarketInput, match="not negative"):
        batch.batch_buy_cost(q, b, np.zeros(3, dtype=int), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(InvalidMarketInput, match="finite"):
        batch.batch_prices(np.array([[0.0, math.nan]]), np.ones(1))
