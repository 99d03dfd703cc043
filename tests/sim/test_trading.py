"""Futarchy on a block of runs: the money adds up, nobody overdraws, the maker stays within
its bound, and the bets settle, scale or unwind as the exploration mode says.

The runs here are `tests.sim.conftest.TINY` (three branches, twelve agents, eight rounds)
unless a test says otherwise. The final holdings are read by wrapping `sim.trading._settle`,
which receives every agent's conditional cash and shares in every branch of every run.
Agents only ever buy, so a branch's cash only ever falls: cash that ends at or above 0
never went below it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from market.decision import greedy_choice, margin_multiple
from market.settlement import TraderState, ipw_paid, value_in_branch
from sim import trading
from sim.scenario import FUTARCHY_MODES, Scenario, from_dict
from sim.trading import FutarchyRun, asset_of_scenario, run_futarchy
from sim.world import Agents, World, agents_of, draw_world

MECHANISMS = list(FUTARCHY_MODES)


@dataclass
class Traded:
    """One futarchy mechanism on block 0, with what every agent held before settlement."""

    scenario: Scenario
    agents: Agents
    world: World
    run: FutarchyRun
    cash: np.ndarray  # (B, R, A) conditional cash, micro-units
    shares: np.ndarray  # (B, R, A, n) micro-shares


def _trade(monkeypatch: pytest.MonkeyPatch, data: dict[str, Any], mechanism: str) -> Traded:
    held: dict[str, np.ndarray] = {}
    settle = trading._settle

    def spy(*args: Any) -> Any:
        held["cash"], held["shares"] = args[2].copy(), args[3].copy()
        return settle(*args)

    monkeypatch.setattr(trading, "_settle", spy)
    scenario = from_dict(data)
    agents = agents_of(scenario)
    world = draw_world(scenario, agents, 0)
    run = run_futarchy(scenario, agents, world, mechanism)
    return Traded(scenario, agents, world, run, held["cash"], held["shares"])


def _stressed(tiny: dict[str, Any]) -> dict[str, Any]:
    """`TINY` where everyone spends hard: noise traders up to all their branch cash at
    once, and a manipulator with 5 × the subsidy who wants the bad policy."""
    data = copy.deepcopy(tiny)
    data["population"]["noise"]["max_fraction"] = 1.0
    data["population"]["manipulator"] = {"target": 2, "budget_multiple": 5.0}
    data["rule"]["epsilon"] = 0.5
    return data


# --- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_what_the_agents_win_the_maker_loses_to_the_micro_unit(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any], mechanism: str, engine: str
) -> None:
    tiny["engine"] = engine
    t = _trade(monkeypatch, _stressed(tiny), mechanism)
    pnl, loss = t.run.pnl_micros, t.run.maker_loss_micros
    assert pnl.shape == (20, t.agents.count)
    assert bool((pnl == np.round(pnl)).all())
    np.testing.assert_array_equal(pnl.sum(axis=1), loss)
    assert bool((pnl != 0).any())


def test_the_maker_loss_is_what_it_pays_out_less_what_it_took_in(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    # ε = 0, every run settles: in the executed branch e the maker took Σ_i (D_i − c_i) for
    # the shares it sold and pays Σ_i Σ_k ⌊s_ik · π_k / 1e6⌋ for them at the measured W
    t = _trade(monkeypatch, _stressed(tiny), "futarchy")
    asset = asset_of_scenario(t.scenario)
    deposit = t.agents.budget_micros
    for r in range(t.world.runs):
        e = int(t.run.decisions.executed[r])
        per_share = asset.payout_micros(float(t.run.welfare[r]))
        took = int((deposit - t.cash[e, r]).sum())
        pays = sum(
            int(s) * pi // 1_000_000
            for row in t.shares[e, r].tolist()
            for s, pi in zip(row, per_share, strict=True)
        )
        assert t.run.maker_loss_micros[r] == pays - took


def test_no_trader_overdraws_a_branch(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    t = _trade(monkeypatch, _stressed(tiny), "futarchy")
    deposit = t.agents.budget_micros
    assert t.cash.dtype == np.int64
    assert int(t.cash.min()) >= 0
    assert int(t.shares.min()) >= 0
    assert bool((t.cash <= deposit[None, None, :]).all())
    # and they did trade: the manipulator spent nearly all of its 500 cash in its target
    spent = deposit[None, None, :] - t.cash
    assert int(spent.max()) > 0.9 * int(deposit.max())


def test_the_fast_engine_never_overdraws_either(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    tiny["engine"] = "fast"
    t = _trade(monkeypatch, _stressed(tiny), "futarchy")
    assert t.cash.dtype == np.float64
    assert float(t.cash.min()) >= 0.0
    assert float(t.shares.min()) >= 0.0


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_maker_never_loses_more_than_its_bound(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any], mechanism: str
) -> None:
    # thin liquidity (F = 5) and binned markets, with a manipulator: the bound is b ln n,
    # or b ln n / d_min under ipw, and never more than F
    data = _stressed(tiny)
    data["market"].update(subsidy=5.0, asset="bins", bins=6)
    t = _trade(monkeypatch, data, mechanism)
    ratio = t.run.maker_loss_micros / t.run.loss_bound_micros
    assert float(ratio.max()) <= 1.0
    assert t.run.loss_bound_micros <= 5_000_000
    assert float(t.run.maker_loss_micros.max()) <= 5_000_000


# --- the decision ---------------------------------------------------------------------------


def test_without_exploration_the_decision_is_the_services_greedy_rule(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    t = _trade(monkeypatch, tiny, "futarchy")
    averaged = t.run.averaged
    assert averaged.shape == (20, 3)
    assert bool(((averaged >= 0.0) & (averaged <= 100.0)).all())
    np.testing.assert_array_equal(t.run.decisions.executed, greedy_choice(averaged, 0, 0.5))
    assert not bool(t.run.decisions.explored.any())
    assert bool(t.run.decisions.settles.all())


def test_a_randomised_only_run_whose_coin_says_greedy_unwinds(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    # ε = 0.5: about half the runs explore (and settle), the rest unwind: everyone gets its
    # deposit back, so every P&L and the maker's result are exactly 0
    t = _trade(monkeypatch, _stressed(tiny), "futarchy_randomised")
    d = t.run.decisions
    unwound = ~d.settles
    np.testing.assert_array_equal(d.settles, d.explored)
    assert 0 < int(unwound.sum()) < 20
    assert bool((t.run.pnl_micros[unwound] == 0).all())
    assert bool((t.run.maker_loss_micros[unwound] == 0).all())
    # the unwound runs did trade: what they undo is real
    spent = t.agents.budget_micros[None, :] - t.cash[:, unwound].min(axis=0)
    assert int(spent.max()) > 0
    # the explored runs settle for real
    assert bool((t.run.pnl_micros[d.settles] != 0).any())


def test_under_ipw_every_buy_keeps_the_margin_and_settlement_never_falls_short(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    # ε = 0.5 over 3 branches: d_min = 1/6, M = 1/d_min − 1 = 5: in every branch an agent
    # keeps cash ≥ 5 × what it spent, so a loss scaled by 1/d ≤ 6 is covered
    t = _trade(monkeypatch, _stressed(tiny), "futarchy_ipw")
    margin = margin_multiple(t.scenario.decision_rule("ipw"), 3)
    assert margin == pytest.approx(5.0)
    spent = t.agents.budget_micros[None, None, :] - t.cash
    assert bool((t.cash >= 5.0 * spent).all())
    # the manipulator is held to a sixth of its budget in every branch
    manipulator = t.agents.count - 1
    assert int(spent[..., manipulator].max()) <= 500_000_000 // 6
    assert int(spent[..., manipulator].max()) > 0.9 * 500_000_000 // 6
    assert bool(t.run.decisions.explored.any())


def test_under_ipw_the_net_profit_is_scaled_by_one_over_the_draw_probability(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    t = _trade(monkeypatch, _stressed(tiny), "futarchy_ipw")
    asset = asset_of_scenario(t.scenario)
    d = t.run.decisions
    assert set(np.round(d.probability, 12).tolist()) <= {round(1 / 6, 12), round(2 / 3, 12)}
    for r in range(t.world.runs):
        e = int(d.executed[r])
        per_share = asset.payout_micros(float(t.run.welfare[r]))
        probability = Fraction(float(d.probability[r]))
        for i in range(t.agents.count):
            deposit = int(t.agents.budget_micros[i])
            state = TraderState(
                i, deposit, int(t.cash[e, r, i]), tuple(int(s) for s in t.shares[e, r, i])
            )
            value = value_in_branch(state, per_share)
            paid = ipw_paid(deposit, value, probability)
            assert t.run.pnl_micros[r, i] == paid - deposit


# --- the two engines ------------------------------------------------------------------------


def test_the_exact_and_the_fast_engine_agree(tiny: dict[str, Any]) -> None:
    # 40 runs, 15 rounds, F = 1000: the exact engine rounds every buy to whole micro-shares
    # and charges ⌈c⌉, the fast one does neither; the decisions agree in at least 90% of
    # runs (here all), each branch's averaged welfare to 1e-5 points of a 100-point range
    # without exploration, and to 1e-3 under ipw, whose b is d_min = 1/30 as deep
    tiny.update(runs=40)
    tiny["market"].update(rounds=15, subsidy=1000.0)
    exact = from_dict(tiny)
    fast = exact.with_changes(engine="fast")
    agents = agents_of(exact)
    world = draw_world(exact, agents, 0)
    tolerance = {"futarchy": 1e-5, "futarchy_randomised": 1e-5, "futarchy_ipw": 1e-3}
    for mechanism in MECHANISMS:
        a = run_futarchy(exact, agents, world, mechanism)
        b = run_futarchy(fast, agents, world, mechanism)
        same = a.decisions.executed == b.decisions.executed
        assert float(same.mean()) >= 0.9, mechanism
        np.testing.assert_allclose(a.averaged, b.averaged, rtol=0, atol=tolerance[mechanism])
        np.testing.assert_allclose(a.path, b.path, rtol=0, atol=10 * tolerance[mechanism])


def test_the_price_path_starts_at_the_uniform_price_and_ends_at_the_decision(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]
) -> None:
    t = _trade(monkeypatch, tiny, "futarchy")
    path = t.run.path
    assert path.shape == (51, 3, 20)
    np.testing.assert_allclose(path[0], 50.0, rtol=0, atol=1e-9)
    assert t.run.path_times[0] == 0.0
    assert t.run.path_times[-1] == 1.0
    # the good policy's live welfare ends above where it opened in most runs
    assert float((path[-1, 1] > 50.0).mean()) >= 0.8
    assert t.run.actions == 20 * 8 * 12
