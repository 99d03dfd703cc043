"""The batch engine's float fast mode (`market.batch.FloatBooks`) and the assets' vectorised
reading of prices (`expected_welfare_many`), which the simulator steps every market with.

A `FloatBooks` spend must be the exact inverse of `batch_buy_cost`: spending ``F`` buys
``x`` shares whose cost ``b · ln(1 − p + p·e^{x/b})`` is ``F`` again, to 1e-9 relative, at
ordinary prices, for spends from a billionth of ``b`` to a thousand times ``b`` (where
``e^{F/b}`` overflows), and on an outcome whose price has underflowed to 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.assets import BinnedAsset, ScalarAsset
from market.batch import FloatBooks, batch_buy_cost
from market.errors import InvalidMarketInput
from tests.strategies import bin_edges


def _buy(books: FloatBooks, outcome: list[int], spend: list[float]) -> np.ndarray:
    return books.buy_with(np.array(outcome, dtype=np.int64), np.array(spend, dtype=np.float64))


# --- prices ---------------------------------------------------------------------------------


def test_a_new_book_prices_every_outcome_at_one_over_n() -> None:
    books = FloatBooks(4, [1e6, 2.5e9])
    assert books.q.shape == (4, 2)
    np.testing.assert_array_equal(books.q, np.zeros((4, 2)))
    np.testing.assert_allclose(books.prices(), np.full((4, 2), 0.25), rtol=1e-15)


def test_a_binary_buy_moves_the_price_to_the_logistic_of_the_shares() -> None:
    # b = 100: spending b · ln((1 + e^1) / 2) = 62.0114506958 on LONG buys exactly 100
    # shares, so p_LONG = e^1 / (1 + e^1) = 0.7310585786
    books = FloatBooks(2, [100.0])
    shares = _buy(books, [0], [100.0 * math.log((1.0 + math.e) / 2.0)])
    assert shares[0] == pytest.approx(100.0, rel=1e-12)
    assert books.prices()[:, 0] == pytest.approx([0.7310585786, 0.2689414214], rel=1e-9)


@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 8]))
def test_prices_sum_to_one_after_any_buys(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    markets = 12
    b = rng.choice([1.0, 1e3, 1e6, 1.44e9, 1e12], size=markets)
    books = FloatBooks(n, b)
    for _ in range(5):
        spend = b * 10.0 ** rng.uniform(-6.0, 3.0, size=markets)
        books.buy_with(rng.integers(n, size=markets), spend)
        p = books.prices()
        assert p.shape == (n, markets)
        assert bool((p >= 0.0).all())
        np.testing.assert_allclose(p.sum(axis=0), np.ones(markets), rtol=1e-12)


# --- a spend buys the shares that cost exactly that spend -----------------------------------


@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 8]))
def test_a_spend_buys_the_shares_whose_cost_is_that_spend(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    markets = 20
    b = rng.choice([1.0, 1e3, 1e6, 1.44e9, 1e12], size=markets)
    books = FloatBooks(n, b)
    for _ in range(4):
        outcome = rng.integers(n, size=markets)
        spend = b * 10.0 ** rng.uniform(-9.0, 3.0, size=markets)
        q_before = books.q.T.copy()
        shares = books.buy_with(outcome, spend)
        assert bool((shares > 0.0).all())
        cost = batch_buy_cost(q_before, b, outcome, shares)
        np.testing.assert_allclose(cost, spend, rtol=1e-9)
        # q grows by the shares bought, in the outcome bought, and nowhere else
        expected = q_before.copy()
        expected[np.arange(markets), outcome] += shares
        np.testing.assert_array_equal(books.q.T, expected)


def test_a_spend_a_thousand_times_b_is_inverted_without_overflow() -> None:
    # e^{F/b} = e^{1000} overflows a float; the shares are still ≈ F + b·ln 2 (p = 1/2)
    books = FloatBooks(2, [1e6])
    shares = _buy(books, [0], [1e9])
    assert math.isfinite(shares[0])
    assert shares[0] == pytest.approx(1e9 + 1e6 * math.log(2.0), rel=1e-12)
    cost = batch_buy_cost(np.zeros((1, 2)), [1e6], [0], shares)
    assert cost[0] == pytest.approx(1e9, rel=1e-9)


def test_an_outcome_priced_at_zero_can_still_be_bought() -> None:
    # 800·b spent on LONG buys q_LONG = b·(800 + ln 2), so p_SHORT ≈ e^{-800.69} underflows
    # to 0.0; then 1 unit (1e-6·b) on SHORT buys b·(800 + ln 2 + ln expm1(1e-6)) =
    # 786.877637·b shares, and they cost exactly that unit again
    b = 1e6
    books = FloatBooks(2, [b])
    _buy(books, [0], [800.0 * b])
    assert books.prices()[1, 0] == 0.0
    q_before = books.q.T.copy()
    shares = _buy(books, [1], [1.0])
    assert math.isfinite(shares[0])
    assert shares[0] == pytest.approx(786.877637 * b, rel=1e-9)
    cost = batch_buy_cost(q_before, [b], [1], shares)
    assert cost[0] == pytest.approx(1.0, rel=1e-9)


def test_a_spend_of_zero_buys_nothing_and_leaves_the_book_alone() -> None:
    books = FloatBooks(3, [1e6, 1e6, 1e6])
    _buy(books, [0, 1, 2], [5e5, 5e5, 5e5])
    q_before = books.q.copy()
    p_before = books.prices().copy()
    shares = _buy(books, [1, 2, 0], [0.0, 2e5, 0.0])
    assert shares[0] == 0.0
    assert shares[2] == 0.0
    assert shares[1] > 0.0
    np.testing.assert_array_equal(books.q[:, [0, 2]], q_before[:, [0, 2]])
    np.testing.assert_array_equal(books.prices()[:, [0, 2]], p_before[:, [0, 2]])


def test_a_larger_spend_buys_more_shares() -> None:
    books = FloatBooks(2, [1e6, 1e6, 1e6])
    shares = _buy(books, [0, 0, 0], [1.0, 1e3, 1e6])
    assert shares[0] < shares[1] < shares[2]


# --- what the constructor refuses -----------------------------------------------------------


@pytest.mark.parametrize("n", [1, 0, -2, True, 2.0, "2"])
def test_a_book_needs_at_least_two_outcomes_given_as_an_integer(n: object) -> None:
    with pytest.raises(InvalidMarketInput, match="at least two outcomes"):
        FloatBooks(n, [1e6])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "b",
    [[0.0], [1e6, -1.0], [math.nan], [math.inf], [[1e6, 1e6]], 1e6],
    ids=["zero", "negative", "nan", "inf", "two-d", "scalar"],
)
def test_liquidity_must_be_a_flat_array_of_finite_positive_numbers(b: object) -> None:
    with pytest.raises(InvalidMarketInput, match="b must be a 1-d array"):
        FloatBooks(2, b)  # type: ignore[arg-type]


# --- expected_welfare_many is expected_welfare, row by row ----------------------------------


@given(
    st.lists(st.lists(st.floats(1e-9, 1.0), min_size=2, max_size=2), min_size=1, max_size=12),
    st.floats(-1e6, 1e6),
    st.floats(1e-3, 1e6),
)
def test_scalar_expected_welfare_many_is_the_scalar_formula_per_row(
    rows: list[list[float]], lo: float, width: float
) -> None:
    asset = ScalarAsset(lo, lo + width)
    many = asset.expected_welfare_many(np.array(rows))
    assert many.shape == (len(rows),)
    for got, row in zip(many.tolist(), rows, strict=True):
        assert got == pytest.approx(asset.expected_welfare(row), rel=1e-12, abs=1e-9)


@given(bin_edges(), st.data())
def test_binned_expected_welfare_many_is_the_binned_formula_per_row(
    edges: tuple[float, ...], data: st.DataObject
) -> None:
    asset = BinnedAsset(edges)
    n = asset.n
    rows = data.draw(
        st.lists(st.lists(st.floats(1e-9, 1.0), min_size=n, max_size=n), min_size=1, max_size=8)
    )
    many = asset.expected_welfare_many(np.array(rows))
    assert many.shape == (len(rows),)
    scale = max(abs(e) for e in edges)
    for got, row in zip(many.tolist(), rows, strict=True):
        assert got == pytest.approx(asset.expected_welfare(row), rel=1e-12, abs=1e-12 * scale)


def test_expected_welfare_many_keeps_the_leading_axes() -> None:
    # (2 branches, 3 runs, 2 outcomes) on [0, 100]: E[W] = 100 · p_LONG / (p_LONG + p_SHORT)
    scalar = ScalarAsset(0.0, 100.0)
    prices = np.array(
        [[[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]], [[0.6, 0.6], [1.0, 3.0], [0.02, 0.98]]]
    )
    np.testing.assert_allclose(
        scalar.expected_welfare_many(prices),
        [[50.0, 25.0, 90.0], [50.0, 25.0, 2.0]],
        rtol=1e-12,
    )
    # bins [0, 10), [10, 20), [20, 40]: midpoints 5, 15, 30
    binned = BinnedAsset((0.0, 10.0, 20.0, 40.0))
    p = np.array([[[1.0, 0.0, 0.0], [0.25, 0.25, 0.5]], [[0.0, 2.0, 2.0], [0.1, 0.1, 0.1]]])
    np.testing.assert_allclose(
        binned.expected_welfare_many(p), [[5.0, 20.0], [22.5, 50.0 / 3.0]], rtol=1e-12
    )


def test_expected_welfare_many_refuses_the_wrong_number_of_outcomes() -> None:
    with pytest.raises(InvalidMarketInput, match="Expected 2 prices on the last axis"):
        ScalarAsset(0.0, 1.0).expected_welfare_many(np.full((4, 3), 1.0 / 3.0))
    with pytest.raises(InvalidMarketInput, match="Expected 3 prices on the last axis"):
        BinnedAsset((0.0, 1.0, 2.0, 3.0)).expected_welfare_many(np.full((3, 2), 0.5))
