"""Backtests: the same spec gives the same result, the result says what the mechanisms did,
futarchy finds what its traders know (and is fooled where the issue says it must be),
the manipulator's cost to flip is found, and sweeps cache and run on any executor.

Worlds are `tests.sim.conftest.TINY` (status quo 0, good policy +4, bad policy −3, on a
base of 50) or the shipped examples cut to a few dozen runs and a few rounds.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.backtest import (
    manipulation_specs,
    manipulation_summary,
    merge,
    run_block,
    run_one,
    sweep,
)
from sim.scenario import Scenario, from_dict, load
from sim.world import block_runs
from tests.sim.conftest import SCENARIOS


def _dump(result: Mapping[str, Any]) -> str:
    return json.dumps(result, sort_keys=True, allow_nan=False)


def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON data, floats to 1e-9 relative (the order of a sum may differ)."""
    if isinstance(a, dict):
        assert isinstance(b, dict), where
        assert set(a) == set(b), where
        for key in a:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list), where
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}.{i}")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, where


# --- the result -----------------------------------------------------------------------------


def test_the_same_spec_gives_the_same_result_json(tiny: dict[str, Any]) -> None:
    first = run_one(tiny)
    assert _dump(run_one(tiny)) == _dump(first)
    assert _dump(run_one(from_dict(tiny))) == _dump(first)


def test_the_result_reports_every_mechanism_against_the_truth(tiny: dict[str, Any]) -> None:
    result = run_one(tiny)
    scenario = from_dict(tiny)
    assert result["schema"] == "backtest-result/1"
    assert result["scenario_id"] == scenario.id
    assert result["scenario"] == scenario.identity()
    assert "block" not in result["scenario"]
    assert result["runs"] == 20
    assert result["branches"] == ["status quo", "good policy", "bad policy"]
    assert result["true_welfare"] == [50.0, 54.0, 47.0]
    assert result["best_branch"] == 1
    assert result["seeds"] == {
        "entropy": 20260101,
        "per_run": "SeedSequence(entropy, spawn_key=(run, stream)): stream 0 the world, "
        "1 + i the trading of the i-th futarchy mechanism",
        "blocks": [{"block": 0, "first_run": 0, "runs": 20}],
    }
    # three futarchy mechanisms × 20 runs × 8 rounds × 12 agents
    assert result["actions"] == 3 * 20 * 8 * 12
    mechanisms = result["mechanisms"]
    assert list(mechanisms) == list(scenario.mechanisms)

    oracle = mechanisms["oracle"]
    assert oracle["p_best"]["mean"] == 1.0
    assert oracle["regret"] == {"mean": 0.0, "lo": 0.0, "hi": 0.0}
    assert oracle["chosen_share"] == [0.0, 1.0, 0.0]
    # always the status quo: regret 54 − 50 = 4 points in every run
    status_quo = mechanisms["status_quo"]
    assert status_quo["p_best"]["mean"] == 0.0
    assert status_quo["regret"] == {"mean": 4.0, "lo": 4.0, "hi": 4.0}
    assert status_quo["chosen_share"] == [1.0, 0.0, 0.0]

    for name, summary in mechanisms.items():
        assert sum(summary["chosen_share"]) == pytest.approx(1.0), name
        assert summary["regret"]["lo"] >= 0.0, name
        assert summary["kind"] == ("futarchy" if name.startswith("futarchy") else "baseline")
    for name in ("futarchy", "futarchy_ipw", "futarchy_randomised"):
        summary = mechanisms[name]
        assert len(summary["estimate_error"]) == 3
        assert len(summary["convergence"]) == 3
        assert summary["maker_loss_ratio"]["hi"] <= 1.0
        assert set(summary["pnl_by_type"]) == {"informed", "insider", "noise"}
        assert summary["effect_estimate"] is None  # no confounding here
        paths = result["price_paths"][name]
        assert len(paths["times"]) == 51
        assert np.asarray(paths["mean"]).shape == (51, 3)
    assert len(mechanisms["poll"]["estimate_error"]) == 3
    assert mechanisms["majority"]["estimate_error"] is None
    assert mechanisms["majority"]["maker_loss_ratio"] is None
    assert result["manipulation"] is None


def test_the_better_informed_take_the_money_of_noise_traders(tiny: dict[str, Any]) -> None:
    # three insiders, and noise traders who spend up to half their branch cash at once
    tiny["mechanisms"] = ["futarchy"]
    tiny["population"]["insiders"]["count"] = 3
    tiny["population"]["noise"]["max_fraction"] = 0.5
    pnl = run_one(tiny)["mechanisms"]["futarchy"]["pnl_by_type"]
    assert pnl["noise"]["hi"] < 0.0
    assert pnl["insider"]["lo"] > 0.0
    assert pnl["insider"]["mean"] > pnl["informed"]["mean"] > pnl["noise"]["mean"]


def test_a_runs_numbers_do_not_depend_on_the_block_size(tiny: dict[str, Any]) -> None:
    # every run draws from its own seed: the block size is a speed setting, not in the id
    tiny.update(runs=6, block=6)
    whole = from_dict(tiny)
    split = whole.with_changes(block=2)
    assert split.id == whole.id
    one = [run_block(whole, 0)]
    three = [run_block(split, i) for i in range(3)]
    for name in whole.mechanisms:
        chosen = [c for b in three for c in b["mechanisms"][name]["chosen"]]
        assert one[0]["mechanisms"][name]["chosen"] == chosen, name
    a, b = merge(whole, one), merge(split, three)
    for key in ("mechanisms", "price_paths", "true_welfare", "actions", "runs"):
        _close(a[key], b[key], key)


def test_blocks_merge_in_any_order_but_all_of_them_exactly_once(tiny: dict[str, Any]) -> None:
    tiny.update(runs=5, block=2)
    scenario = from_dict(tiny)
    parts = [run_block(scenario, i) for i in range(3)]
    assert [p["runs"] for p in parts] == [2, 2, 1]
    assert [p["first_run"] for p in parts] == [0, 2, 4]
    assert _dump(merge(scenario, parts[::-1])) == _dump(merge(scenario, parts))
    assert _dump(merge(scenario, parts)) == _dump(run_one(scenario))
    with pytest.raises(ValueError, match="covering every run once"):
        merge(scenario, parts[:2])
    with pytest.raises(ValueError, match="covering every run once"):
        merge(scenario, [*parts, parts[0]])
    with pytest.raises(ValueError, match="block 3 is not one of the scenario's 3"):
        run_block(scenario, 3)


# --- what futarchy can and cannot tell ------------------------------------------------------


def test_with_only_noise_traders_futarchy_is_no_better_than_chance(tiny: dict[str, Any]) -> None:
    # nobody knows anything: futarchy finds the good policy no more often than a random
    # choice would (a third of the time); its Wilson interval does not rise above 1/3
    tiny.update(runs=60, mechanisms=["futarchy", "random", "oracle"])
    tiny["population"] = {"informed": {"count": 0}, "noise": {"count": 12}}
    futarchy = run_one(tiny)["mechanisms"]["futarchy"]["p_best"]
    assert futarchy["mean"] <= 0.5
    assert futarchy["lo"] <= 1.0 / 3.0


def test_with_precise_insiders_futarchy_picks_the_best_branch(tiny: dict[str, Any]) -> None:
    # five insiders see every effect with noise 0.1 points (plus three noise traders)
    tiny.update(runs=60, mechanisms=["futarchy", "random", "oracle"])
    tiny["population"] = {
        "informed": {"count": 0},
        "insiders": {"count": 5, "signal_noise": 0.1},
        "noise": {"count": 3},
    }
    mechanisms = run_one(tiny)["mechanisms"]
    assert mechanisms["futarchy"]["p_best"]["mean"] >= 0.9
    assert mechanisms["random"]["p_best"]["mean"] < 0.6


def _confounded(runs: int = 30) -> dict[str, Any]:
    data = load(SCENARIOS / "confounded.toml").to_dict()
    data["runs"] = runs
    data["market"]["rounds"] = 10
    data["mechanisms"] = ["futarchy", "futarchy_randomised", "oracle"]
    return data


def test_in_a_confounded_world_only_randomised_bets_see_the_harm() -> None:
    # The stimulus truly costs 2 points, but it is adopted in good times (1.5 sd of a world
    # state worth 3 points each): bets that settle on adoption price +4.5 − 2 = +2.5.
    result = run_one(_confounded())
    plain = result["mechanisms"]["futarchy"]
    randomised = result["mechanisms"]["futarchy_randomised"]
    assert plain["chosen_share"][1] > randomised["chosen_share"][1]
    assert randomised["chosen_share"][1] < 0.5

    (plain_effect,) = plain["effect_estimate"]
    assert plain_effect["branch"] == 1
    assert plain_effect["true"] == -2.0
    assert plain_effect["estimate"]["mean"] > 0.0  # the wrong sign
    assert plain_effect["sign_agreement"]["mean"] <= 0.2

    (causal_effect,) = randomised["effect_estimate"]
    assert causal_effect["true"] == -2.0
    assert causal_effect["estimate"]["mean"] < 0.0  # the right sign
    assert causal_effect["sign_agreement"]["mean"] >= 0.8


# --- the manipulator's cost to flip ---------------------------------------------------------


def _manipulated(budgets: list[float]) -> dict[str, Any]:
    data = load(SCENARIOS / "manipulator.toml").to_dict()
    data.update(runs=4, mechanisms=["futarchy"])
    data["market"]["rounds"] = 6
    data["population"]["manipulator"].update(search_budgets=budgets, search_runs=16)
    return data


def test_the_budget_search_runs_plain_futarchy_at_each_multiple_of_the_subsidy() -> None:
    scenario = from_dict(_manipulated([0.0, 0.5, 2.0]))
    specs = manipulation_specs(scenario)
    assert [s.runs for s in specs] == [16, 16, 16]
    assert all(s.mechanisms == ("futarchy",) for s in specs)
    assert specs[0].population.manipulator is None
    budgets = [s.population.manipulator.budget_multiple for s in specs[1:]]  # type: ignore[union-attr]
    assert budgets == [0.5, 2.0]
    assert all(s.population.manipulator.search_budgets == () for s in specs[1:])  # type: ignore[union-attr]
    assert manipulation_specs(scenario.with_changes(population={})) == []


def test_the_flip_rate_rises_with_the_budget_and_the_cost_lies_between_budgets() -> None:
    budgets = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
    found = run_one(_manipulated(budgets))["manipulation"]
    assert found["target"] == 2
    assert found["budgets"] == budgets
    assert found["runs"] == 16
    assert found["subsidy"] == 1000.0
    assert found["budget_in_scenario"] == 1.0
    rates = found["flip_rate"]
    assert rates[0] <= 0.1  # without a manipulator the harmful policy is rarely chosen
    assert rates[-1] >= 0.5
    for lower, higher in itertools.pairwise(rates):
        assert higher >= lower - 0.1  # non-decreasing, up to the noise of 16 runs
    j = next(i for i, r in enumerate(rates) if r >= 0.5)
    cost = found["cost_to_flip"]
    assert budgets[j - 1] <= cost <= budgets[j]
    x0, y0, x1, y1 = budgets[j - 1], rates[j - 1], budgets[j], rates[j]
    assert cost == pytest.approx(x0 + (0.5 - y0) * (x1 - x0) / (y1 - y0))


def test_a_manipulator_too_poor_to_flip_has_no_cost_to_flip() -> None:
    found = run_one(_manipulated([0.0, 0.001, 0.002]))["manipulation"]
    assert max(found["flip_rate"]) < 0.5
    assert found["cost_to_flip"] is None


def _searched(rates: list[float]) -> list[dict[str, Any]]:
    return [{"mechanisms": {"futarchy": {"chosen_share": [1.0 - r, 0.0, r]}}} for r in rates]


def test_the_cost_to_flip_interpolates_where_the_flip_rate_crosses_one_half() -> None:
    scenario = from_dict(_manipulated([2.0, 0.0, 1.0]))  # searched in any order
    # sorted by budget: 0 → 0.2, 1 → 0.4, 2 → 0.8: half is crossed a quarter of the way
    # from 1 to 2, at 1 + (0.5 − 0.4) · (2 − 1) / (0.8 − 0.4) = 1.25 subsidies
    summary = manipulation_summary(scenario, _searched([0.8, 0.2, 0.4]))
    assert summary is not None
    assert summary["budgets"] == [0.0, 1.0, 2.0]
    assert summary["flip_rate"] == [0.2, 0.4, 0.8]
    assert summary["cost_to_flip"] == pytest.approx(1.25)
    assert summary["unit"] == "multiple of the subsidy"
    # half reached at the smallest budget: that budget; never reached: None
    assert manipulation_summary(scenario, _searched([0.9, 0.6, 0.7]))["cost_to_flip"] == 0.0  # type: ignore[index]
    assert manipulation_summary(scenario, _searched([0.4, 0.0, 0.1]))["cost_to_flip"] is None  # type: ignore[index]


# --- sweeps ---------------------------------------------------------------------------------


Seen = list[tuple[str, int, bool]]


def _recorder(seen: Seen) -> Any:
    def progress(scenario: Scenario, block: int, from_cache: bool) -> None:
        seen.append((scenario.id, block, from_cache))

    return progress


def _specs(tiny: dict[str, Any]) -> list[Scenario]:
    """Three scenarios of 3, 1 and 2 blocks (6, 2 and 3 runs in blocks of 2); the first is
    the largest, so with threads it tends to finish last."""
    tiny.update(block=2, mechanisms=["futarchy", "majority", "oracle"])
    tiny["market"]["rounds"] = 4
    base = from_dict(tiny)
    return [
        base.with_changes(runs=6, name="first"),
        base.with_changes(runs=2, name="second", seed=2),
        base.with_changes(runs=3, name="third", seed=3),
    ]


def _cache_name(scenario: Scenario, block: int) -> str:
    first, runs = block_runs(scenario, block)
    return f"runs-{first}-{runs}.json"


def test_a_second_sweep_reads_every_block_from_the_cache(
    tiny: dict[str, Any], tmp_path: Path
) -> None:
    specs = _specs(tiny)
    seen: Seen = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = sweep(specs, pool, cache=tmp_path, progress=_recorder(seen))
    blocks = {(s.id, i) for s, n in zip(specs, (3, 1, 2), strict=True) for i in range(n)}
    assert len(seen) == 6
    assert {(i, b) for i, b, _ in seen} == blocks
    assert not any(cached for _, _, cached in seen)
    by_id = {s.id: s for s in specs}
    for scenario_id, block in blocks:
        assert (tmp_path / scenario_id / _cache_name(by_id[scenario_id], block)).is_file()

    seen.clear()
    with ThreadPoolExecutor(max_workers=2) as pool:
        second = sweep(specs, pool, cache=tmp_path, progress=_recorder(seen))
    assert len(seen) == 6
    assert all(cached for _, _, cached in seen)
    assert [_dump(r) for r in second] == [_dump(r) for r in first]


def test_a_corrupt_or_foreign_cache_file_is_computed_again(
    tiny: dict[str, Any], tmp_path: Path
) -> None:
    specs = _specs(tiny)[:1]
    scenario_id = specs[0].id
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = sweep(specs, pool, cache=tmp_path)
    folder = tmp_path / scenario_id
    one, two = _cache_name(specs[0], 1), _cache_name(specs[0], 2)
    (folder / one).write_text('{"scenario_id": "', encoding="utf-8")
    # runs 0–1's data filed as runs 4–5: the wrong runs, so not used
    (folder / two).write_text(
        (folder / _cache_name(specs[0], 0)).read_text(encoding="utf-8"), encoding="utf-8"
    )
    seen: Seen = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        again = sweep(specs, pool, cache=tmp_path, progress=_recorder(seen))
    assert sorted(seen) == sorted(
        [(scenario_id, 0, True), (scenario_id, 1, False), (scenario_id, 2, False)]
    )
    assert _dump(again[0]) == _dump(first[0])
    assert json.loads((folder / one).read_text(encoding="utf-8"))["first_run"] == 2
    assert json.loads((folder / two).read_text(encoding="utf-8"))["first_run"] == 4


def test_threads_the_process_pool_and_run_one_give_the_same_results_in_input_order(
    tiny: dict[str, Any],
) -> None:
    specs = _specs(tiny)
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = sweep(specs, pool)
    pooled = sweep([s.to_dict() for s in specs])  # the default: a local process pool
    alone = [run_one(s) for s in specs]
    assert [r["name"] for r in threaded] == ["first", "second", "third"]
    assert [r["scenario_id"] for r in threaded] == [s.id for s in specs]
    assert [_dump(r) for r in threaded] == [_dump(r) for r in alone]
    assert [_dump(r) for r in pooled] == [_dump(r) for r in alone]


def test_a_sweep_runs_the_budget_search_too(tmp_path: Path) -> None:
    data = _manipulated([0.0, 1.0])
    data["population"]["manipulator"]["search_runs"] = 4
    seen: Seen = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        (result,) = sweep([data], pool, cache=tmp_path, progress=_recorder(seen))
    # the scenario's block and one block for each of the two budgets searched
    assert len(seen) == 3
    assert result["manipulation"] is not None
    assert _dump(result) == _dump(run_one(data))
