"""Normalisation and aggregation, with the UNDP HDI worked by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from welfare.aggregation import aggregate, contributions, normalise, transform
from welfare.errors import MeasurementUnavailable
from welfare.metric import Aggregation, Component, Direction, Normalisation, NormKind


def arr(*values: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array(values, dtype=np.float64)


def comp(
    kind: NormKind = NormKind.GOALPOSTS, *, log: bool = False, direction: int = 1, **params: float
) -> Component:
    return Component(
        key="c",
        indicator="i",
        unit="u",
        weight=1.0,
        direction=Direction(direction),
        log=log,
        normalisation=Normalisation(kind=kind, **params),
    )


def test_goalposts_scale_linearly_and_cap_at_the_posts() -> None:
    c = comp(lo=20, hi=85)
    assert normalise(arr(20, 52.5, 85, 10, 90), c).tolist() == [0.0, 0.5, 1.0, 0.0, 1.0]
    lower_better = comp(lo=0, hi=200, direction=-1)
    assert normalise(arr(50), lower_better).tolist() == [0.75]


def test_log_goalposts_use_log_values_and_log_posts() -> None:
    c = comp(lo=100, hi=10_000, log=True)
    # ln 1000 lies halfway between ln 100 and ln 10 000 (10², 10³, 10⁴)
    assert normalise(transform(arr(1000), True), c)[0] == pytest.approx(0.5)
    with pytest.raises(MeasurementUnavailable, match="cannot be log-transformed"):
        transform(arr(0.0), True)


def test_minmax_and_zscore_use_the_reference_set() -> None:
    reference = arr(10, 20, 30, 40)
    assert normalise(arr(25), comp(NormKind.MINMAX), reference).tolist() == [0.5]
    assert normalise(arr(25), comp(NormKind.MINMAX, direction=-1), reference).tolist() == [0.5]
    assert normalise(arr(40), comp(NormKind.MINMAX, direction=-1), reference).tolist() == [0.0]
    # mean 25, population sd sqrt(125)
    z = normalise(arr(40), comp(NormKind.ZSCORE), reference)[0]
    assert z == pytest.approx(15 / math.sqrt(125))
    assert normalise(arr(40), comp(NormKind.ZSCORE, direction=-1), reference)[0] == -z
    for kind in (NormKind.MINMAX, NormKind.ZSCORE):
        with pytest.raises(MeasurementUnavailable, match="every reference value is equal"):
            normalise(arr(1), comp(kind), arr(3, 3, 3))
        with pytest.raises(MeasurementUnavailable, match="at least two entities"):
            normalise(arr(1), comp(kind), arr(3))


def test_distance_to_target_is_one_on_target_and_zero_beyond_the_scale() -> None:
    c = comp(NormKind.TARGET, target=2.0, scale=4.0)
    assert normalise(arr(2, 0, 5, 6, -10), c).tolist() == [1.0, 0.5, 0.25, 0.0, 0.0]


def test_none_is_the_signed_raw_amount() -> None:
    assert normalise(arr(7), comp(NormKind.NONE, direction=-1)).tolist() == [-7.0]


def test_aggregations_and_their_contributions() -> None:
    scores = [arr(0.25), arr(1.0)]
    weights = [0.5, 0.5]
    assert aggregate(Aggregation.WEIGHTED_ARITHMETIC, scores, weights)[0] == 0.625
    assert aggregate(Aggregation.WEIGHTED_GEOMETRIC, scores, weights)[0] == 0.5
    parts = contributions(Aggregation.WEIGHTED_GEOMETRIC, scores, weights)
    assert [p[0] for p in parts] == [0.5, 1.0]
    money = aggregate(Aggregation.MONEY_SUM, [arr(100), arr(-30)], [1.0, 2.0])
    assert money.tolist() == [40.0]
    assert aggregate(Aggregation.WEIGHTED_GEOMETRIC, [arr(0.0), arr(0.9)], weights)[0] == 0.0
    with pytest.raises(MeasurementUnavailable, match="no component"):
        aggregate(Aggregation.WEIGHTED_ARITHMETIC, [], [])


def test_aggregation_is_vectorised_over_draws() -> None:
    out = aggregate(Aggregation.WEIGHTED_ARITHMETIC, [arr(0, 1), arr(1, 1)], [0.25, 0.75])
    assert out.tolist() == [0.75, 1.0]


def test_the_hdi_of_china_in_the_2019_human_development_report_by_hand() -> None:
    """UNDP HDR 2019 technical notes: China 2018, life expectancy 76.7 years, expected
    schooling 13.9 years, mean schooling 7.9 years, GNI per head 16 127 (2011 PPP $);
    published HDI 0.758.

    By hand:
      health    = (76.7 − 20)/(85 − 20)                       = 56.7/65          = 0.87231
      education = ((13.9 − 0)/(18 − 0) + (7.9 − 0)/(15 − 0))/2 = (0.77222 + 0.52667)/2 = 0.64944
      income    = (ln 16127 − ln 100)/(ln 75000 − ln 100)     = 5.08308/6.62007   = 0.76783
      HDI       = (0.87231 · 0.64944 · 0.76781)^(1/3)         = 0.43499^(1/3)     = 0.75769
    """
    health = normalise(arr(76.7), comp(lo=20, hi=85))[0]
    eys = normalise(arr(13.9), comp(lo=0, hi=18))[0]
    mys = normalise(arr(7.9), comp(lo=0, hi=15))[0]
    education = aggregate(Aggregation.WEIGHTED_ARITHMETIC, [arr(eys), arr(mys)], [0.5, 0.5])[0]
    income_c = comp(lo=100, hi=75_000, log=True)
    income = normalise(transform(arr(16_127), True), income_c)[0]
    assert health == pytest.approx(0.87231, abs=5e-6)
    assert education == pytest.approx(0.64944, abs=5e-6)
    assert income == pytest.approx(0.76783, abs=5e-6)
    third = 1 / 3
    hdi = aggregate(
        Aggregation.WEIGHTED_GEOMETRIC,
        [arr(health), arr(education), arr(income)],
        [third, third, third],
    )[0]
    assert hdi == pytest.approx(0.75769, abs=5e-6)
    assert round(hdi, 3) == 0.758
