"""Welfare assets: reading prices as welfare, and resolving a measured W into payouts."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.assets import BinnedAsset, ScalarAsset, payout_of_position
from market.book import MICROS
from market.errors import InvalidMarketInput
from tests.strategies import bin_edges, price_vectors, welfare_values

# --- scalar LONG/SHORT --------------------------------------------------------------------


def test_scalar_payouts_inside_at_and_beyond_the_bounds() -> None:
    asset = ScalarAsset(lo=0.0, hi=100.0)
    assert asset.outcomes == ("LONG", "SHORT")
    assert asset.payout_micros(25.0) == (250_000, 750_000)
    assert asset.payout_micros(0.0) == (0, 1_000_000)
    assert asset.payout_micros(100.0) == (1_000_000, 0)
    assert asset.payout_micros(-5.0) == (0, 1_000_000)  # below lo: clipped
    assert asset.payout_micros(130.0) == (1_000_000, 0)  # above hi: clipped


def test_scalar_payouts_round_down_so_a_pair_never_pays_more_than_one() -> None:
    # x = 1/3 exactly: LONG ⌊333_333.33⌋, SHORT ⌊666_666.67⌋, together one micro short
    assert ScalarAsset(0.0, 3.0).payout_micros(1.0) == (333_333, 666_666)


def test_scalar_expected_welfare_reads_the_long_price() -> None:
    asset = ScalarAsset(lo=60.0, hi=80.0)
    assert asset.expected_welfare([0.25, 0.75]) == pytest.approx(65.0)
    # LS-LMSR prices sum above 1: they are normalised first
    assert asset.expected_welfare([0.55, 0.55]) == pytest.approx(70.0)


@given(welfare_values, welfare_values, welfare_values)
def test_scalar_payouts_are_monotone_and_sum_to_one_unit_less_rounding(
    lo: float, width: float, W: float
) -> None:
    hi = lo + abs(width) + 1.0
    asset = ScalarAsset(lo, hi)
    long_pays, short_pays = asset.payout_micros(W)
    assert 0 <= long_pays <= MICROS
    assert MICROS - 1 <= long_pays + short_pays <= MICROS
    assert asset.payout_micros(W + abs(width) / 3)[0] >= long_pays


@pytest.mark.parametrize(
    ("lo", "hi", "message"),
    [
        (1.0, 1.0, "lo < hi"),
        (2.0, 1.0, "lo < hi"),
        (math.nan, 1.0, "finite"),
        (0.0, math.inf, "finite"),
    ],
)
def test_bad_scalar_bounds_are_refused(lo: float, hi: float, message: str) -> None:
    with pytest.raises(InvalidMarketInput, match=message):
        ScalarAsset(lo, hi)


def test_a_scalar_cannot_resolve_to_nan_or_read_bad_prices() -> None:
    asset = ScalarAsset(0.0, 1.0)
    with pytest.raises(InvalidMarketInput, match="finite"):
        asset.payout_micros(math.nan)
    with pytest.raises(InvalidMarketInput, match="Expected 2 prices"):
        asset.expected_welfare([1.0])
    with pytest.raises(InvalidMarketInput, match="negative"):
        asset.expected_welfare([-0.1, 1.1])


# --- binned distribution ------------------------------------------------------------------

WORKED = BinnedAsset(edges=(0.0, 10.0, 20.0, 30.0))
WORKED_PRICES = [0.2, 0.5, 0.3]


def test_binned_worked_example_expectation_quantiles_and_tail_probabilities() -> None:
    # E = 0.2·5 + 0.5·15 + 0.3·25 = 16
    assert WORKED.expected_welfare(WORKED_PRICES) == pytest.approx(16.0)
    # the median lies in bin 1: 10 + (0.5 − 0.2) / 0.5 · 10 = 16
    assert WORKED.quantile(WORKED_PRICES, 0.5) == pytest.approx(16.0)
    assert WORKED.quantile(WORKED_PRICES, 0.1) == pytest.approx(5.0)
    assert WORKED.quantile(WORKED_PRICES, 0.9) == pytest.approx(20.0 + 0.2 / 0.3 * 10.0)
    assert WORKED.quantile(WORKED_PRICES, 0.0) == 0.0
    assert WORKED.quantile(WORKED_PRICES, 1.0) == pytest.approx(30.0)
    # P(W < 25) = 0.2 + 0.5 + 0.3 · 0.5 = 0.85
    assert WORKED.prob_below(WORKED_PRICES, 25.0) == pytest.approx(0.85)
    assert WORKED.prob_below(WORKED_PRICES, 10.0) == pytest.approx(0.2)
    assert WORKED.prob_below(WORKED_PRICES, -1.0) == 0.0
    assert WORKED.prob_below(WORKED_PRICES, 40.0) == 1.0


def test_binned_resolution_pays_the_bin_holding_w_and_clips_outside_the_edges() -> None:
    assert WORKED.outcomes == ("[0, 10)", "[10, 20)", "[20, 30]")
    assert WORKED.payout_micros(15.0) == (0, 1_000_000, 0)
    assert WORKED.payout_micros(10.0) == (0, 1_000_000, 0)  # a bin includes its lower edge
    assert WORKED.payout_micros(30.0) == (0, 0, 1_000_000)  # the last bin is closed
    assert WORKED.payout_micros(-100.0) == (1_000_000, 0, 0)
    assert WORKED.payout_micros(1e9) == (0, 0, 1_000_000)


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ((0.0, 1.0), "at least two bins"),
        ((0.0, 1.0, 1.0), "strictly increasing"),
        ((0.0, 2.0, 1.0), "strictly increasing"),
        ((0.0, math.nan, 1.0), "finite"),
    ],
)
def test_bad_bin_edges_are_refused(edges: tuple[float, ...], message: str) -> None:
    with pytest.raises(InvalidMarketInput, match=message):
        BinnedAsset(edges)


def test_bad_readings_of_a_binned_asset_are_refused() -> None:
    with pytest.raises(InvalidMarketInput, match="Expected 3 prices"):
        WORKED.expected_welfare([0.5, 0.5])
    with pytest.raises(InvalidMarketInput, match="between 0 and 1"):
        WORKED.quantile(WORKED_PRICES, 1.5)
    with pytest.raises(InvalidMarketInput, match="positive sum"):
        WORKED.prob_below([0.0, 0.0, 0.0], 5.0)
    with pytest.raises(InvalidMarketInput, match="finite"):
        WORKED.payout_micros(math.inf)


@given(st.data())
def test_quantile_and_prob_below_are_inverse_and_the_mean_lies_inside(
    data: st.DataObject,
) -> None:
    edges = data.draw(bin_edges())
    asset = BinnedAsset(edges)
    prices = data.draw(price_vectors(asset.n))
    level = data.draw(st.floats(0.0, 1.0))
    x = asset.quantile(prices, level)
    assert edges[0] <= x <= edges[-1]
    # x carries an ulp of the largest edge; the CDF turns that into ulp / narrowest width
    narrowest = min(b - a for a, b in itertools.pairwise(edges))
    tolerance = 1e-9 + 1e-15 * max(abs(e) for e in edges) / narrowest
    assert asset.prob_below(prices, x) == pytest.approx(level, abs=tolerance)
    assert edges[0] <= asset.expected_welfare(prices) <= edges[-1]
    higher = asset.quantile(prices, min(1.0, level + 0.1))
    assert higher >= x


@given(bin_edges(), welfare_values)
def test_binned_resolution_pays_exactly_one_bin(edges: tuple[float, ...], W: float) -> None:
    asset = BinnedAsset(edges)
    payout = asset.payout_micros(W)
    assert sorted(payout) == [0] * (asset.n - 1) + [MICROS]
    k = payout.index(MICROS)
    clipped = min(max(W, edges[0]), edges[-1])
    assert edges[k] <= clipped <= edges[k + 1]


# --- positions ----------------------------------------------------------------------------


def test_a_position_pays_shares_times_payout_rounded_down() -> None:
    assert payout_of_position(1_500_000, 333_333) == 499_999  # 499_999.5 → 499_999
    assert payout_of_position(10 * MICROS, MICROS) == 10 * MICROS
    assert payout_of_position(0, MICROS) == 0
    with pytest.raises(InvalidMarketInput, match="non-negative integer"):
        payout_of_position(-1, MICROS)
    with pytest.raises(InvalidMarketInput, match="non-negative integer"):
        payout_of_position(1, 0.5)  # type: ignore[arg-type]
