"""The vectorised futarchy path and the one-market-at-a-time reference agree.

`sim.trading.run_futarchy` steps every run and branch at once in numpy; the reference
`sim.reference.run_futarchy_reference` trades one branch market of one run at a time with
the service's scalar trade step, advancing the averaging state after every trade as the
service does. On the same block they make the same trades, so they decide the same,
measure the same welfare and settle to the same micro-unit.

The averaged welfare agrees to rounding only (checked to 1e-12 relative): the vectorised
path advances every market once per averaging interval, the reference at each trade, so an
interval without a trade is crossed in one call of the averaging kernel here and in several
there (``o + 2c`` against ``(o + c) + c``). The live-welfare path is exact for LONG/SHORT and
agrees to rounding for bins, whose expected welfare the service sums with ``math.fsum`` and
the batch path with a dot product. Four bins keep the prices themselves bit-equal (numpy
sums eight or more outcomes in another order than Python).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sim.reference import run_futarchy_reference
from sim.scenario import FUTARCHY_MODES, Scenario, ScenarioError, from_dict
from sim.trading import FutarchyRun, run_futarchy
from sim.world import MANIPULATOR, NOISE, agents_of, draw_world

RTOL = 1e-12


def scenario(asset: str, **changes: Any) -> Scenario:
    """Three runs of three branches (status quo 50, A 56, B 46 points); four days of
    trading in four rounds, the last day the averaging window (hourly intervals, cap 5);
    six agents: two informed traders, an insider, two noise traders and a manipulator who
    wants B with a budget of the subsidy (100 cash); ε = 0.5 for the exploring modes."""
    data: dict[str, Any] = {
        "name": "reference check",
        "runs": 3,
        "seed": 7,
        "engine": "exact",
        "branches": [
            {"name": "status quo", "effect": 0.0},
            {"name": "A", "effect": 6.0},
            {"name": "B", "effect": -4.0},
        ],
        "welfare": {"lo": 0.0, "hi": 100.0, "base": 50.0, "noise": 5.0, "prior_sd": 10.0},
        "market": {
            "subsidy": 100.0,
            "asset": asset,
            "bins": 4,
            "rounds": 4,
            "trading_seconds": 4 * 86_400,
            "min_trade": 0.01,
        },
        "rule": {
            "window_seconds": 86_400,
            "interval_seconds": 3_600,
            "cap": 5.0,
            "threshold": 0.0,
            "epsilon": 0.5,
        },
        "population": {
            "informed": {"count": 2, "signal_noise": 5.0, "budget": 50.0, "kelly": 0.5},
            "insiders": {"count": 1, "signal_noise": 1.0, "budget": 80.0, "kelly": 0.5},
            "noise": {"count": 2, "budget": 40.0, "max_fraction": 0.5},
            "manipulator": {"target": 2, "budget_multiple": 1.0},
        },
    }
    data.update(changes)
    return from_dict(data)


def both(spec: Scenario, mechanism: str) -> tuple[FutarchyRun, FutarchyRun]:
    agents = agents_of(spec)
    world = draw_world(spec, agents, 0)
    return (
        run_futarchy(spec, agents, world, mechanism),
        run_futarchy_reference(spec, agents, world, mechanism),
    )


def test_the_population_has_a_noise_trader_and_a_manipulator() -> None:
    kinds = agents_of(scenario("long_short")).kind.tolist()
    assert len(kinds) == 6
    assert kinds.count(NOISE) == 2
    assert kinds.count(MANIPULATOR) == 1


@pytest.mark.parametrize("asset", ["long_short", "bins"])
@pytest.mark.parametrize("mechanism", list(FUTARCHY_MODES))
def test_both_paths_decide_measure_and_settle_the_same(asset: str, mechanism: str) -> None:
    fast, ref = both(scenario(asset), mechanism)

    assert ref.decisions.executed.tolist() == fast.decisions.executed.tolist()
    assert ref.decisions.greedy.tolist() == fast.decisions.greedy.tolist()
    assert ref.decisions.explored.tolist() == fast.decisions.explored.tolist()
    assert ref.decisions.settles.tolist() == fast.decisions.settles.tolist()
    assert ref.decisions.probability.tolist() == fast.decisions.probability.tolist()
    assert ref.welfare.tolist() == fast.welfare.tolist()
    assert ref.pnl_micros.tolist() == fast.pnl_micros.tolist()
    assert ref.maker_loss_micros.tolist() == fast.maker_loss_micros.tolist()
    np.testing.assert_allclose(ref.averaged, fast.averaged, rtol=RTOL, atol=0.0)
    if asset == "long_short":
        assert ref.path.tolist() == fast.path.tolist()
    else:
        np.testing.assert_allclose(ref.path, fast.path, rtol=RTOL, atol=0.0)
    assert ref.path_times.tolist() == fast.path_times.tolist()
    assert ref.target.tolist() == fast.target.tolist()
    assert ref.loss_bound_micros == fast.loss_bound_micros
    assert ref.actions == fast.actions == 3 * 4 * 6


@pytest.mark.parametrize("asset", ["long_short", "bins"])
def test_the_check_is_not_vacuous(asset: str) -> None:
    """Prices move in every branch of every run; the settled runs pay every agent something
    other than its deposit back; ipw explores in some run and randomised-only settles in
    some run, so the scaled and the unwound settlements are both compared above."""
    spec = scenario(asset)
    plain, _ = both(spec, "futarchy")
    ipw, _ = both(spec, "futarchy_ipw")
    randomised, _ = both(spec, "futarchy_randomised")

    opening = plain.path[0]
    assert (np.abs(plain.path[-1] - opening) > 0.5).all()  # welfare units, (B, R)
    assert (plain.pnl_micros != 0).all()
    assert ipw.decisions.explored.any()
    assert randomised.decisions.settles.any()
    assert not randomised.decisions.settles.all()
    settled = randomised.decisions.settles
    assert (randomised.pnl_micros[settled] != 0).all()
    assert (randomised.pnl_micros[~settled] == 0).all()


def test_the_reference_runs_the_exact_engine_only() -> None:
    spec = scenario("long_short", engine="fast")
    agents = agents_of(spec)
    world = draw_world(spec, agents, 0)
    with pytest.raises(ScenarioError) as refused:
        run_futarchy_reference(spec, agents, world, "futarchy")
    assert refused.value.field == "engine"
