"""Confidence intervals over runs, against numbers worked by hand (``z = 1.959964``).

- a mean: ``x̄ ± z · s / √n`` with the sample standard deviation ``s``;
- a proportion: Wilson's score interval
  ``(p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)``, with ``z² = 3.841458881296``.
"""

from __future__ import annotations

import math

import pytest

from sim.stats import Z95, mean_ci, per_column, proportion_ci, rounded


def test_z_is_the_two_sided_95_percent_normal_quantile() -> None:
    assert Z95 == 1.959964


def test_the_mean_of_one_two_three_four() -> None:
    # x̄ = 2.5, s = √(5/3) = 1.2909944, half width = 1.959964 · 1.2909944 / 2 = 1.2651513
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert ci is not None
    assert ci["mean"] == 2.5
    assert ci["lo"] == pytest.approx(1.2348487, abs=1e-7)
    assert ci["hi"] == pytest.approx(3.7651513, abs=1e-7)


def test_a_constant_sample_has_no_width() -> None:
    assert mean_ci([7.0, 7.0, 7.0]) == {"mean": 7.0, "lo": 7.0, "hi": 7.0}


def test_one_value_has_no_width() -> None:
    assert mean_ci([7.0]) == {"mean": 7.0, "lo": 7.0, "hi": 7.0}


def test_non_finite_values_are_left_out() -> None:
    # what is left is 1 and 3: x̄ = 2, s = √2, half width = 1.959964 · √2 / √2 = 1.959964
    ci = mean_ci([1.0, math.nan, 3.0, math.inf, -math.inf])
    assert ci is not None
    assert ci["mean"] == 2.0
    assert ci["lo"] == pytest.approx(0.040036, abs=1e-12)
    assert ci["hi"] == pytest.approx(3.959964, abs=1e-12)


def test_no_value_has_no_interval() -> None:
    assert mean_ci([]) is None
    assert mean_ci([math.nan, math.inf]) is None
    assert proportion_ci([]) is None


def test_the_floor_clips_the_lower_bound_only() -> None:
    # regrets 0, 0, 0, 4: x̄ = 1, s = 2, half width 1.959964, so x̄ − half = −0.959964,
    # a negative regret that cannot happen: clipped to the floor 0
    regrets = [0.0, 0.0, 0.0, 4.0]
    assert mean_ci(regrets) == pytest.approx({"mean": 1.0, "lo": -0.959964, "hi": 2.959964})
    assert mean_ci(regrets, floor=0.0) == pytest.approx({"mean": 1.0, "lo": 0.0, "hi": 2.959964})
    # a floor below the interval changes nothing
    assert mean_ci(regrets, floor=-5.0) == mean_ci(regrets)


def test_three_hits_in_ten() -> None:
    # centre = (0.3 + 0.1920729) / 1.3841459 = 0.3555066
    # half = 1.959964 · √(0.021 + 0.0096036) / 1.3841459 = 0.2477153
    ci = proportion_ci([True] * 3 + [False] * 7)
    assert ci is not None
    assert ci["mean"] == 0.3
    assert ci["lo"] == pytest.approx(0.3555066 - 0.2477153, abs=1e-7)
    assert ci["hi"] == pytest.approx(0.3555066 + 0.2477153, abs=1e-7)
    assert ci["lo"] == pytest.approx(0.1077913, abs=1e-7)
    assert ci["hi"] == pytest.approx(0.6032219, abs=1e-7)


def test_no_hit_in_ten_is_not_a_certain_zero() -> None:
    # p̂ = 0: lo = 0 and hi = (z²/n) / (1 + z²/n) = 0.3841459 / 1.3841459 = 0.2775328
    ci = proportion_ci([False] * 10)
    assert ci is not None
    assert ci["mean"] == 0.0
    assert ci["lo"] == 0.0
    assert ci["hi"] == pytest.approx(0.2775328, abs=1e-7)


def test_ten_hits_in_ten_mirror_no_hit() -> None:
    ci = proportion_ci([True] * 10)
    assert ci is not None
    assert ci["mean"] == 1.0
    assert ci["lo"] == pytest.approx(1.0 - 0.2775328, abs=1e-7)
    assert ci["hi"] == pytest.approx(1.0)
    assert ci["hi"] <= 1.0


def test_a_wilson_interval_always_holds_its_estimate_within_zero_and_one() -> None:
    for n in (1, 2, 5, 37):
        for hits in range(n + 1):
            ci = proportion_ci([True] * hits + [False] * (n - hits))
            assert ci is not None
            assert 0.0 <= ci["lo"] <= ci["mean"] <= ci["hi"] <= 1.0


def test_per_column_is_the_mean_of_each_column() -> None:
    # column 0 is 1, 3 (half width 1.959964); column 1 is ten times that
    first, second = per_column([[1.0, 10.0], [3.0, 30.0]])
    assert first == pytest.approx({"mean": 2.0, "lo": 0.040036, "hi": 3.959964})
    assert second == pytest.approx({"mean": 20.0, "lo": 0.40036, "hi": 39.59964})


def test_rounded_keeps_twelve_significant_digits_and_drops_non_finite_floats() -> None:
    data = {"a": [1.0 / 3.0, math.nan, (2.0 / 3.0, math.inf)], "b": "text", "c": 7}
    assert rounded(data) == {
        "a": [0.333333333333, None, [0.666666666667, None]],
        "b": "text",
        "c": 7,
    }
    assert rounded(123456.7890123456, digits=6) == 123457.0
