"""The float LMSR: hand-computed values, the invariants of DESIGN.md, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from market import lmsr
from market.errors import InvalidMarketInput
from tests.strategies import extreme_lmsr_states, lmsr_states, trade_vectors
from tests.unit.market.exact import exact_cost, exact_trade_cost

# --- exact cases, by hand -----------------------------------------------------------------


def test_buying_10_shares_of_a_fresh_binary_market_with_b_100() -> None:
    # 100 · ln((e^0.1 + 1) / 2) = 5.12494795136255854...
    assert lmsr.trade_cost([0.0, 0.0], [10.0, 0.0], 100.0) == pytest.approx(
        5.124947951362559, rel=1e-15
    )
    assert lmsr.buy_cost([0.0, 0.0], 0, 10.0, 100.0) == pytest.approx(5.124947951362559, rel=1e-15)
    # e^0.1 / (1 + e^0.1) = 0.52497918747894...
    after = lmsr.prices([10.0, 0.0], 100.0)
    assert after[0] == pytest.approx(0.52497918747894, rel=1e-13)
    assert after[1] == pytest.approx(0.47502081252106, rel=1e-13)


def test_a_fresh_market_prices_every_outcome_at_one_over_n_and_costs_b_ln_n() -> None:
    assert lmsr.prices([0.0, 0.0, 0.0, 0.0], 50.0).tolist() == pytest.approx([0.25] * 4)
    assert lmsr.cost([0.0, 0.0, 0.0, 0.0], 50.0) == pytest.approx(50.0 * math.log(4), rel=1e-15)


def test_selling_the_shares_back_returns_what_they_cost() -> None:
    assert lmsr.sell_proceeds([10.0, 0.0], 0, 10.0, 100.0) == pytest.approx(
        5.124947951362559, rel=1e-14
    )


def test_shares_for_a_spend_is_the_closed_form_inverse() -> None:
    # 100 · ln(1 + (e^0.5 − 1) / 0.5) = 83.179656575118622...
    assert lmsr.shares_for_spend([0.0, 0.0], 0, 50.0, 100.0) == pytest.approx(
        83.17965657511862, rel=1e-14
    )
    assert lmsr.shares_for_spend([0.0, 0.0], 0, 5.124947951362559, 100.0) == pytest.approx(
        10.0, rel=1e-14
    )


def test_max_loss_and_the_liquidity_a_subsidy_buys() -> None:
    assert lmsr.max_loss(100.0, 2) == pytest.approx(69.31471805599453, rel=1e-15)
    assert lmsr.b_for_subsidy(69.31471805599453, 2) == pytest.approx(100.0, rel=1e-15)
    assert lmsr.b_for_subsidy(1000.0, 10) == pytest.approx(434.2944819032518, rel=1e-15)


def test_a_vector_trade_buying_one_of_every_outcome_costs_exactly_one() -> None:
    assert lmsr.trade_cost([3.0, -7.0, 12.0], [1.0, 1.0, 1.0], 20.0) == pytest.approx(1.0)


def test_buying_far_beyond_b_costs_nearly_the_shares_and_stays_finite() -> None:
    # 1e6 shares at b = 1: the first ln 2 is cheap, the rest costs 1 each
    cost = lmsr.buy_cost([0.0, 0.0], 0, 1e6, 1.0)
    assert cost == pytest.approx(1e6 - math.log(2), rel=1e-15)


# --- properties ---------------------------------------------------------------------------


@given(lmsr_states(max_ratio=15.0))
def test_prices_lie_strictly_between_0_and_1_and_sum_to_1(state: tuple[list[float], float]) -> None:
    # |q_i − q_j| ≤ 30·b: beyond ~37·b the leading price is within 2^-53 of 1 and float64
    # shows it as 1.0 (the next property covers that range)
    q, b = state
    p = lmsr.prices(q, b)
    assert ((p > 0.0) & (p < 1.0)).all()
    assert math.fsum(p) == pytest.approx(1.0, abs=1e-14)


@given(extreme_lmsr_states())
def test_prices_stay_probabilities_for_q_over_b_up_to_a_million(
    state: tuple[list[float], float],
) -> None:
    q, b = state
    p = lmsr.prices(q, b)
    assert ((p >= 0.0) & (p <= 1.0)).all()
    assert math.fsum(p) == pytest.approx(1.0, abs=1e-14)
    assert p[int(np.argmax(q))] >= 1.0 / len(q)


@given(lmsr_states(), st.floats(-1e6, 1e6))
def test_translation_invariance(state: tuple[list[float], float], k: float) -> None:
    q, b = state
    shifted = lmsr.cost([x + k for x in q], b)
    scale = max(abs(x) for x in q) + abs(k) + b
    assert shifted == pytest.approx(lmsr.cost(q, b) + k, abs=1e-12 * scale)
    # q + k rounds to an ulp of |k|, which moves a price by up to that ulp / b
    price_tolerance = 1e-12 + 4.5e-16 * scale / b
    assert lmsr.prices([x + k for x in q], b) == pytest.approx(
        lmsr.prices(q, b), abs=price_tolerance
    )


@given(extreme_lmsr_states())
def test_cost_is_finite_and_exact_for_q_over_b_up_to_a_million(
    state: tuple[list[float], float],
) -> None:
    q, b = state
    c = lmsr.cost(q, b)
    assert max(q) <= c <= max(q) + b * math.log(len(q)) * (1 + 1e-12)
    assert abs(c - float(exact_cost(q, b))) <= 1e-13 * (max(abs(x) for x in q) + b)


@given(st.data())
def test_trade_cost_matches_the_60_digit_reference_even_for_extreme_q(data: st.DataObject) -> None:
    q, b = data.draw(extreme_lmsr_states())
    delta = data.draw(trade_vectors(len(q), scale=data.draw(st.sampled_from([1e-3, 1.0, 1e3])) * b))
    got = lmsr.trade_cost(q, delta, b)
    want = exact_trade_cost(q, delta, b)
    # the float API's own accuracy: a few ulps of n·b and of Σ|δ|, whatever |q/b|
    bound = 2.0**-40 * ((len(q) + 64) * b + sum(abs(d) for d in delta)) / 100
    assert abs(got - float(want)) <= bound
    assert min(delta) - 1e-9 * b <= got <= max(delta) + 1e-9 * b


@given(st.data())
def test_cost_does_not_depend_on_how_a_trade_is_split(data: st.DataObject) -> None:
    q, b = data.draw(lmsr_states())
    first = data.draw(trade_vectors(len(q), scale=10 * b))
    second = data.draw(trade_vectors(len(q), scale=10 * b))
    middle = [x + d for x, d in zip(q, first, strict=True)]
    in_pieces = lmsr.trade_cost(q, first, b) + lmsr.trade_cost(middle, second, b)
    in_one_go = lmsr.trade_cost(q, [x + y for x, y in zip(first, second, strict=True)], b)
    assert in_pieces == pytest.approx(in_one_go, rel=1e-12, abs=1e-12 * b)


@given(lmsr_states(), st.data())
def test_buy_then_sell_is_a_zero_sum_round_trip_in_float(
    state: tuple[list[float], float], data: st.DataObject
) -> None:
    q, b = state
    k = data.draw(st.integers(0, len(q) - 1))
    shares = data.draw(st.floats(1e-6, 100.0)) * b
    paid = lmsr.buy_cost(q, k, shares, b)
    after = list(q)
    after[k] += shares
    received = lmsr.sell_proceeds(after, k, shares, b)
    assert received == pytest.approx(paid, rel=1e-12, abs=1e-15 * b)


@given(lmsr_states(), st.data())
def test_shares_for_spend_inverts_buy_cost(
    state: tuple[list[float], float], data: st.DataObject
) -> None:
    q, b = state
    k = data.draw(st.integers(0, len(q) - 1))
    spend = data.draw(st.floats(1e-6, 100.0)) * b
    shares = lmsr.shares_for_spend(q, k, spend, b)
    assert shares >= spend * (1 - 1e-12)  # every price is below 1
    assert lmsr.buy_cost(q, k, shares, b) == pytest.approx(spend, rel=1e-9)


@given(lmsr_states(min_n=2, max_n=6), st.data())
def test_maker_loss_never_exceeds_b_ln_n_in_float(
    state: tuple[list[float], float], data: st.DataObject
) -> None:
    _, b = state
    n = data.draw(st.integers(2, 6))
    q = [0.0] * n
    collected = 0.0
    for _ in range(data.draw(st.integers(1, 20))):
        delta = data.draw(trade_vectors(n, scale=30 * b))
        collected += lmsr.trade_cost(q, delta, b)
        q = [x + d for x, d in zip(q, delta, strict=True)]
    worst_payout = max(q)
    assert worst_payout - collected <= lmsr.max_loss(b, n) + 1e-9 * (b + sum(map(abs, q)))


def test_many_outcomes_run_in_numpy_and_agree_with_the_small_path() -> None:
    rng = np.random.default_rng(7)
    q = rng.normal(0.0, 40.0, size=300)
    delta = rng.normal(0.0, 5.0, size=300)
    b = 25.0
    assert len(q) >= lmsr.NUMPY_FROM_OUTCOMES
    assert lmsr.trade_cost(q, delta, b) == pytest.approx(float(exact_trade_cost(q, delta, b)))
    assert lmsr.cost(q, b) == pytest.approx(float(exact_cost(q, b)), rel=1e-14)
    assert lmsr.prices(q, b).sum() == pytest.approx(1.0, abs=1e-13)
    assert lmsr.buy_cost(q, 17, 3.0, b) == pytest.approx(
        float(exact_trade_cost(q, [3.0 if i == 17 else 0.0 for i in range(300)], b))
    )


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "b", "message"),
    [
        ([0.0, math.nan], 1.0, "finite"),
        ([0.0, math.inf], 1.0, "finite"),
        ([0.0, 0.0], 0.0, "must be positive"),
        ([0.0, 0.0], -3.0, "must be positive"),
        ([0.0, 0.0], math.nan, "finite"),
        ([0.0, 0.0], math.inf, "finite"),
        ([], 1.0, "at least two outcomes"),
        ([5.0], 1.0, "at least two outcomes"),
        ([0.0, "1"], 1.0, "only numbers"),
        ([0.0, True], 1.0, "only numbers"),
        (np.zeros((2, 2)), 1.0, "flat vector"),
    ],
)
def test_bad_states_are_refused_with_a_clear_message(q: object, b: float, message: str) -> None:
    with pytest.raises(InvalidMarketInput, match=message):
        lmsr.cost(q, b)  # type: ignore[arg-type]
    with pytest.raises(InvalidMarketInput, match=message):
        lmsr.prices(q, b)  # type: ignore[arg-type]


def test_bad_trades_are_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidMarketInput, match="has 3 entries but the market has 2 outcomes"):
        lmsr.trade_cost([0.0, 0.0], [1.0, 0.0, 0.0], 1.0)
    with pytest.raises(InvalidMarketInput, match="Outcome 2 does not exist"):
        lmsr.buy_cost([0.0, 0.0], 2, 1.0, 1.0)
    with pytest.raises(InvalidMarketInput, match="must be positive"):
        lmsr.buy_cost([0.0, 0.0], 0, 0.0, 1.0)
    with pytest.raises(InvalidMarketInput, match="must be positive"):
        lmsr.sell_proceeds([0.0, 0.0], 0, -1.0, 1.0)
    with pytest.raises(InvalidMarketInput, match="spend must be positive"):
        lmsr.shares_for_spend([0.0, 0.0], 0, 0.0, 1.0)
    with pytest.raises(InvalidMarketInput, match="not a finite number"):
        lmsr.trade_cost([0.0, 0.0], [1e308, 1e308], 1e-300)
    with pytest.raises(InvalidMarketInput, match="at least two outcomes"):
        lmsr.max_loss(1.0, 1)
    with pytest.raises(InvalidMarketInput, match="subsidy must be positive"):
        lmsr.b_for_subsidy(-1.0, 2)
