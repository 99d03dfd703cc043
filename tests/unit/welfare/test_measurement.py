"""Measuring a metric version: breakdown, vintage and missing-data policies, Monte Carlo."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pytest

from tests.unit.welfare.metric_examples import hdi_like
from welfare.errors import InvalidWelfareInput, MeasurementNotFinite, MeasurementUnavailable
from welfare.measurement import measure
from welfare.metric import parse_definition
from welfare.vintage import Obs

RELEASE = date(2009, 1, 1)
CUTOFF = date(2010, 1, 1)


def o(
    indicator: str,
    period: str,
    value: float,
    *,
    entity: str = "World",
    released: date = RELEASE,
    se: float | None = None,
    seq: int = 0,
) -> Obs:
    return Obs(indicator, entity, period, value, se, released, seq, "test")


def hdi_obs() -> list[Obs]:
    return [
        o("lifeExp", "2007", 67.0, seq=1),
        o("gdpPercap", "2007", 9_000.0, seq=2),
        o("lifeExp", "2002", 65.0, seq=3),
        o("gdpPercap", "2002", 7_500.0, seq=4),
        o("lifeExp", "2007", 50.0, entity="Chad", seq=5),  # another entity: ignored
    ]


def test_the_hdi_like_value_and_its_breakdown_by_hand() -> None:
    """health = (67 − 20)/65 = 0.723077; income = ln(9000/100)/ln(75000/100)
    = 4.499810/6.620073 = 0.679722; W = √(health · income) = √0.491491 = 0.701064."""
    result = measure(parse_definition(hdi_like()), hdi_obs(), 2007, CUTOFF)
    health = 47 / 65
    income = math.log(90) / math.log(750)
    assert health == pytest.approx(0.723077, abs=1e-6)
    assert income == pytest.approx(0.679722, abs=1e-6)
    assert result.value == pytest.approx(math.sqrt(health * income))
    assert result.value == pytest.approx(0.701064, abs=1e-6)
    h, i = result.components
    assert (h.key, h.status, h.period, h.raw, h.observation_seq) == (
        "health",
        "observed",
        "2007",
        67.0,
        1,
    )
    assert h.normalised == pytest.approx(health)
    assert i.transformed == pytest.approx(math.log(9000))
    assert h.weight == i.weight == 0.5
    assert h.contribution is not None
    assert i.contribution is not None
    assert h.contribution * i.contribution == pytest.approx(result.value)  # geometric: product
    assert result.missing.to_json() == {
        "policy": "fail",
        "carried_forward": {},
        "dropped": [],
        "reweighted": False,
    }
    assert result.uncertainty is None
    assert result.breakdown_json()[0]["release_date"] == "2009-01-01"


def test_arithmetic_contributions_add_up_to_the_value() -> None:
    result = measure(
        parse_definition(hdi_like(aggregation="weighted_arithmetic")), hdi_obs(), "2007", CUTOFF
    )
    assert sum(c.contribution or 0 for c in result.components) == pytest.approx(result.value)


def test_observations_released_after_the_cutoff_are_not_known() -> None:
    late = [*hdi_obs(), o("lifeExp", "2007", 80.0, released=date(2011, 1, 1), seq=9)]
    before = measure(parse_definition(hdi_like()), late, 2007, CUTOFF)
    after = measure(parse_definition(hdi_like()), late, 2007, date(2011, 1, 1))
    assert before.components[0].raw == 67.0
    assert after.components[0].raw == 80.0
    with pytest.raises(MeasurementUnavailable, match="no value released by 2008-12-31"):
        measure(parse_definition(hdi_like()), late, 2007, date(2008, 12, 31))


def test_first_release_settles_on_the_first_value_even_when_revised() -> None:
    revised = [*hdi_obs(), o("lifeExp", "2007", 68.0, released=date(2009, 6, 1), seq=10)]
    as_of = measure(parse_definition(hdi_like()), revised, 2007, CUTOFF)
    first = measure(
        parse_definition(hdi_like(vintage_policy="first_release")), revised, 2007, CUTOFF
    )
    assert as_of.components[0].raw == 68.0
    assert first.components[0].raw == 67.0


def test_fail_policy_refuses_a_missing_component() -> None:
    data = [x for x in hdi_obs() if not (x.indicator == "gdpPercap" and x.period == "2007")]
    with pytest.raises(
        MeasurementUnavailable, match=r"'income' \(gdpPercap for World, 2007\).*fail"
    ):
        measure(parse_definition(hdi_like()), data, 2007, CUTOFF)


def test_carry_forward_uses_the_latest_earlier_period_of_the_same_form() -> None:
    data = [x for x in hdi_obs() if not (x.indicator == "gdpPercap" and x.period == "2007")]
    data += [
        o("gdpPercap", "1997", 1.0, seq=20),
        o("gdpPercap", "2006-12", 1.0, seq=21),  # a month: not the same form as a year
        o("gdpPercap", "2012", 1.0, seq=22),  # later: never carried backwards
    ]
    result = measure(parse_definition(hdi_like(missing_policy="carry_forward")), data, 2007, CUTOFF)
    income = result.components[1]
    assert (income.status, income.period, income.raw) == ("carried_forward", "2002", 7_500.0)
    assert result.missing.carried_forward == {"income": "2002"}
    only_later = [x for x in data if x.indicator == "lifeExp" or x.period == "2012"]
    with pytest.raises(MeasurementUnavailable, match="nor for any earlier period"):
        measure(
            parse_definition(hdi_like(missing_policy="carry_forward")), only_later, 2007, CUTOFF
        )


def test_drop_and_reweight_renormalises_the_remaining_weights() -> None:
    data = [x for x in hdi_obs() if not (x.indicator == "gdpPercap" and x.period == "2007")]
    result = measure(
        parse_definition(hdi_like(missing_policy="drop_and_reweight")), data, 2007, CUTOFF
    )
    health, income = result.components
    assert health.weight == 1.0
    assert result.value == pytest.approx(47 / 65)
    assert (income.status, income.raw, income.weight) == ("dropped", None, None)
    assert result.missing.to_json()["reweighted"] is True
    with pytest.raises(MeasurementUnavailable, match="no component with a positive weight"):
        measure(parse_definition(hdi_like(missing_policy="drop_and_reweight")), [], 2007, CUTOFF)


def test_minmax_reference_is_every_entity_in_the_period() -> None:
    definition = parse_definition(
        hdi_like(
            aggregation="weighted_arithmetic",
            components=[
                {
                    "key": "health",
                    "indicator": "lifeExp",
                    "unit": "years",
                    "weight": 1,
                    "normalisation": {"kind": "minmax"},
                }
            ],
        )
    )
    data = [*hdi_obs(), o("lifeExp", "2007", 82.0, entity="Japan", seq=30)]
    result = measure(definition, data, 2007, CUTOFF)
    assert result.value == pytest.approx((67 - 50) / (82 - 50))


def test_a_non_positive_value_under_log_is_unavailable() -> None:
    data = [o("lifeExp", "2007", 67.0, seq=1), o("gdpPercap", "2007", 0.0, seq=2)]
    with pytest.raises(MeasurementUnavailable, match="its log is undefined"):
        measure(parse_definition(hdi_like()), data, 2007, CUTOFF)


def test_bad_period_or_draw_count_is_invalid_input() -> None:
    with pytest.raises(InvalidWelfareInput, match="period"):
        measure(parse_definition(hdi_like()), hdi_obs(), "07", CUTOFF)
    with pytest.raises(InvalidWelfareInput, match="monte_carlo"):
        measure(parse_definition(hdi_like()), hdi_obs(), 2007, CUTOFF, monte_carlo=-1)


LINEAR: dict[str, Any] = hdi_like(
    aggregation="weighted_arithmetic",
    components=[
        {
            "key": "a",
            "indicator": "x",
            "unit": "u",
            "weight": 0.25,
            "normalisation": {"kind": "goalposts", "lo": 0, "hi": 100},
        },
        {
            "key": "b",
            "indicator": "y",
            "unit": "u",
            "weight": 0.75,
            "normalisation": {"kind": "goalposts", "lo": 0, "hi": 10},
        },
    ],
)


def test_monte_carlo_matches_the_analytic_spread_of_a_linear_metric() -> None:
    """W = 0.25·x/100 + 0.75·y/10 with x ~ N(50, 4²), y ~ N(5, 0.2²):
    sd = √((0.25·4/100)² + (0.75·0.2/10)²) = √(0.0001 + 0.000225) = 0.018028."""
    data = [o("x", "2007", 50.0, se=4.0, seq=1), o("y", "2007", 5.0, se=0.2, seq=2)]
    result = measure(parse_definition(LINEAR), data, 2007, CUTOFF, monte_carlo=20_000, seed=7)
    u = result.uncertainty
    assert u is not None
    assert result.value == pytest.approx(0.5)
    assert u.sd == pytest.approx(math.sqrt(0.0001 + 0.000225), rel=0.03)
    assert u.mean == pytest.approx(0.5, abs=3 * u.sd / math.sqrt(20_000))
    assert u.p5 < u.p50 < u.p95
    assert u.p95 - u.p5 == pytest.approx(2 * 1.6449 * u.sd, rel=0.05)
    again = measure(parse_definition(LINEAR), data, 2007, CUTOFF, monte_carlo=20_000, seed=7)
    assert again.uncertainty == u  # the seed reproduces every number
    other = measure(parse_definition(LINEAR), data, 2007, CUTOFF, monte_carlo=20_000, seed=8)
    assert other.uncertainty != u


def test_monte_carlo_without_standard_errors_has_no_spread_and_log_draws_stay_positive() -> None:
    fixed = measure(parse_definition(hdi_like()), hdi_obs(), 2007, CUTOFF, monte_carlo=100)
    assert fixed.uncertainty is not None
    assert fixed.uncertainty.sd == pytest.approx(0.0, abs=1e-15)
    assert fixed.uncertainty.p50 == pytest.approx(fixed.value)
    noisy = [
        o("lifeExp", "2007", 67.0, se=1.0, seq=1),
        o("gdpPercap", "2007", 300.0, se=600.0, seq=2),
    ]
    result = measure(parse_definition(hdi_like()), noisy, 2007, CUTOFF, monte_carlo=5_000, seed=1)
    assert result.uncertainty is not None
    assert result.uncertainty.sd > 0
    assert np.isfinite(result.uncertainty.mean)


# --- a measurement is a finite number or none: observations may be any finite number


def money_metric(weight: float = 1.0) -> dict[str, Any]:
    """Net benefit in USD: gain − cost, each weighted ``weight``."""
    return {
        "name": "net benefit",
        "entity": "World",
        "unit": "USD",
        "lo": -1e15,
        "hi": 1e15,
        "aggregation": "money_sum",
        "components": [
            {"key": "gain", "indicator": "g", "unit": "USD", "weight": weight,
             "normalisation": {"kind": "none"}},
            {"key": "cost", "indicator": "c", "unit": "USD", "weight": weight, "direction": -1,
             "normalisation": {"kind": "none"}},
        ],
    }  # fmt: skip


def test_observations_of_1e308_beyond_the_goalposts_score_at_the_goalpost() -> None:
    # (1e308 − 20)/65 overflows nothing that matters: the score is capped at 1
    result = measure(
        parse_definition(hdi_like(aggregation="weighted_arithmetic")),
        [o("lifeExp", "2007", 1e308), o("gdpPercap", "2007", 1e308)],
        2007,
        CUTOFF,
    )
    assert result.value == 1.0
    assert [c.normalised for c in result.components] == [1.0, 1.0]


def test_a_contribution_beyond_the_float_range_is_refused_naming_the_component() -> None:
    # weight 2 × 1e308 = 2e308 > 1.8e308, the largest float
    with pytest.raises(MeasurementNotFinite, match=r"component 'gain': its contribution"):
        measure(
            parse_definition(money_metric(weight=2.0)),
            [o("g", "2007", 1e308), o("c", "2007", 1.0)],
            2007,
            CUTOFF,
        )


def test_a_sum_beyond_the_float_range_is_refused_naming_the_contributions() -> None:
    # gain 1.5e308 and cost −1.5e308 (lower is better: contributes +1.5e308): 3e308
    with pytest.raises(MeasurementNotFinite, match="W is not a finite number") as info:
        measure(
            parse_definition(money_metric()),
            [o("g", "2007", 1.5e308), o("c", "2007", -1.5e308)],
            2007,
            CUTOFF,
        )
    assert "'cost' 1.5e+308, 'gain' 1.5e+308" in str(info.value)
    # 409, not 422: the stored data cannot produce a value, the request itself is fine
    assert isinstance(info.value, MeasurementUnavailable)


def test_a_z_score_over_references_beyond_the_float_range_is_refused() -> None:
    # the reference values 1.7e308 and −1.7e308: their spread overflows the float range
    definition = parse_definition(
        hdi_like(
            aggregation="weighted_arithmetic",
            components=[
                {"key": "health", "indicator": "lifeExp", "unit": "years", "weight": 1,
                 "normalisation": {"kind": "zscore"}},
            ],
        )
    )  # fmt: skip
    observations = [
        o("lifeExp", "2007", 1.7e308),
        o("lifeExp", "2007", -1.7e308, entity="Chad"),
    ]
    # σ = 1.7e308 exactly, but (x − μ)² overflows: σ would come out infinite and every
    # z-score a silent 0, so the measurement is refused instead
    with pytest.raises(MeasurementNotFinite, match=r"component 'health': the mean or standard"):
        measure(definition, observations, 2007, CUTOFF)
    minmax = parse_definition(
        hdi_like(
            aggregation="weighted_arithmetic",
            components=[
                {"key": "health", "indicator": "lifeExp", "unit": "years", "weight": 1,
                 "normalisation": {"kind": "minmax"}},
            ],
        )
    )  # fmt: skip
    with pytest.raises(MeasurementNotFinite, match=r"component 'health': the range"):
        measure(minmax, observations, 2007, CUTOFF)


def test_monte_carlo_draws_beyond_the_float_range_are_refused() -> None:
    # a standard error of 1e308 around 1e308: draws beyond 1.8e308 are infinite
    definition = parse_definition(money_metric())
    observations = [o("g", "2007", 1e308, se=1e308), o("c", "2007", 0.0)]
    with pytest.raises(MeasurementNotFinite, match=r"component 'gain': Monte Carlo draws"):
        measure(definition, observations, 2007, CUTOFF, monte_carlo=100, seed=1)
    # without draws the same data measures fine: W = 1e308 − 0
    assert measure(definition, observations, 2007, CUTOFF).value == 1e308


def test_a_monte_carlo_summary_beyond_the_float_range_is_refused() -> None:
    # seed 14 draws W = 6.96e307 and −9.79e307: both finite, but their squared deviations
    # from the mean, and so the sample variance, are not
    definition = parse_definition(money_metric())
    observations = [o("g", "2007", 0.0, se=1e308), o("c", "2007", 0.0)]
    with pytest.raises(MeasurementNotFinite, match="the Monte Carlo sd of W is not a finite"):
        measure(definition, observations, 2007, CUTOFF, monte_carlo=2, seed=14)
