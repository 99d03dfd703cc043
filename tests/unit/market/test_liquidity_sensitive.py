"""The liquidity-sensitive LMSR (Othman et al. 2013): values by hand, gradient, homogeneity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market import liquidity_sensitive as ls
from market.errors import InvalidMarketInput


def test_ls_lmsr_at_equal_quantities_prices_each_outcome_at_one_over_n_plus_alpha_ln_n() -> None:
    # b = 0.1 · 2 = 0.2; C = 0.2 · ln(2 e^5) = 1.13862943611...; p_i = 1/2 + 0.1 ln 2
    assert ls.ls_b([1.0, 1.0], 0.1) == pytest.approx(0.2)
    assert ls.ls_cost([1.0, 1.0], 0.1) == pytest.approx(1.138629436111989, rel=1e-14)
    assert ls.ls_prices([1.0, 1.0], 0.1).tolist() == pytest.approx([0.5693147180559945] * 2)


@given(
    st.lists(st.floats(0.0, 1e4), min_size=2, max_size=6).filter(lambda q: sum(q) > 1.0),
    st.floats(1e-3, 0.2),
)
def test_ls_lmsr_prices_are_the_gradient_and_sum_between_1_and_1_plus_alpha_n_ln_n(
    q: list[float], alpha: float
) -> None:
    n = len(q)
    p = ls.ls_prices(q, alpha)
    assert (p > -1e-12).all()
    assert 1.0 - 1e-12 <= p.sum() <= 1.0 + alpha * n * math.log(n) + 1e-12
    h = 1e-4 * ls.ls_b(q, alpha)  # central differences, a step well inside the curvature
    for i in range(n):
        up = [x + (h if j == i else 0.0) for j, x in enumerate(q)]
        down = [x - (h if j == i and x >= h else 0.0) for j, x in enumerate(q)]
        step = up[i] - down[i]
        gradient = (ls.ls_cost(up, alpha) - ls.ls_cost(down, alpha)) / step
        assert gradient == pytest.approx(p[i], abs=1e-5)


@given(
    st.lists(st.floats(0.01, 1e4), min_size=2, max_size=6),
    st.floats(1e-3, 0.2),
    st.floats(0.01, 100.0),
)
def test_ls_lmsr_cost_is_homogeneous_unlike_the_lmsr(
    q: list[float], alpha: float, scale: float
) -> None:
    assert ls.ls_cost([scale * x for x in q], alpha) == pytest.approx(
        scale * ls.ls_cost(q, alpha), rel=1e-12
    )


def test_ls_lmsr_trade_cost_and_spread_helper() -> None:
    q = [10.0, 30.0, 5.0]
    assert ls.ls_trade_cost(q, [2.0, 0.0, -1.0], 0.05) == pytest.approx(
        ls.ls_cost([12.0, 30.0, 4.0], 0.05) - ls.ls_cost(q, 0.05)
    )
    alpha = ls.ls_alpha_for_spread(0.05, 2)
    assert alpha == pytest.approx(0.05 / (2 * math.log(2)))
    assert ls.ls_prices([7.0, 7.0], alpha).sum() == pytest.approx(1.05)
    with pytest.raises(InvalidMarketInput, match="non-negative quantities"):
        ls.ls_cost([1.0, -1.0], 0.1)
    with pytest.raises(InvalidMarketInput, match="non-negative quantities"):
        ls.ls_trade_cost([1.0, 1.0], [-2.0, 0.0], 0.1)
    with pytest.raises(InvalidMarketInput, match="alpha must be positive"):
        ls.ls_cost([1.0, 1.0], 0.0)
