"""Running backtests: one scenario (`run_one`), many (`sweep`), cached by scenario id.

A scenario's runs are cut into blocks of `Scenario.block` runs; a block is the unit of
work (`run_block`): its runs step together in numpy, every mechanism on the same world.
Every run draws from its own seed, so the block size changes no number (it is not part
of the scenario's id) and blocks can be merged in any grouping.
A block's result is plain JSON: per run, what each mechanism chose and what futarchy's
markets estimated, earned and lost. `merge` turns a scenario's blocks into its result
(the ``backtest-result/1`` contract that `reports.backtest` renders): for every mechanism,
with 95% intervals over runs (`sim.stats`):

- ``p_best``: the share of runs that chose the branch with the highest true effect;
- ``regret``: ``true(best) − true(chosen)``, welfare units, ``true(j) = base + effect_j``;
- ``chosen_share``: how often each branch was chosen;
- futarchy and the poll: ``estimate_error``: each branch's estimate (the decision's
  averaged price, or the mean belief) minus ``true(j)``, for every branch, executed or not;
- futarchy: ``convergence`` (the first fraction of the trading time from which a branch's
  live price stays within 5% of the range of what its bets settle on; 1 if never),
  ``maker_loss_ratio`` (loss over its bound), ``pnl_by_type`` (cash per agent), and in
  confounded worlds ``effect_estimate``: each alternative's estimated effect over the status
  quo against the true one, with the share of runs whose sign is right.

`sweep` takes any `concurrent.futures.Executor` (a local process pool by default; a Dask
``Client(...).get_executor()`` for a cluster) and skips blocks already in its cache
directory, ``CACHE/<scenario id>/runs-<first>-<count>.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from sim import baselines
from sim.scenario import FUTARCHY_MODES, Scenario, from_dict
from sim.stats import mean_ci, per_column, proportion_ci, rounded
from sim.trading import FutarchyRun, run_futarchy
from sim.world import (
    AGENT_TYPES,
    FloatArray,
    agents_of,
    block_runs,
    blocks,
    draw_world,
    manipulator_budget,
)

RESULT_SCHEMA = "backtest-result/1"
CONVERGENCE_TOLERANCE = 0.05
"""A price has converged once it stays within this share of ``hi − lo`` of its target."""

LABELS = {
    "futarchy": "Futarchy (ε = 0)",
    "futarchy_ipw": "Futarchy (ipw exploration)",
    "futarchy_randomised": "Futarchy (randomised only)",
    "majority": "Majority vote",
    "budget_vote": "Budget-weighted vote",
    "poll": "Poll of mean beliefs",
    "random": "Random choice",
    "status_quo": "Always the status quo",
    "oracle": "Full-information oracle",
}


def _convergence(run: FutarchyRun, tolerance: float) -> FloatArray:
    """Per run and branch, the first snapshot time from which the path stays within
    ``tolerance`` of its target (1.0 if it is not within it at the end), ``(R, B)``."""
    within = np.abs(run.path - run.target[None, :, None]) <= tolerance
    stays = np.flip(np.logical_and.accumulate(np.flip(within, 0), 0), 0)
    first = np.argmax(stays, axis=0)
    times = np.where(stays.any(axis=0), run.path_times[first], 1.0)
    result: FloatArray = times.T
    return result


def _futarchy_rows(scenario: Scenario, run: FutarchyRun, kinds: np.ndarray) -> dict[str, Any]:
    w = scenario.welfare
    pnl: dict[str, list[float]] = {}
    for code, name in enumerate(AGENT_TYPES):
        members = kinds == code
        if members.any():
            pnl[name] = (run.pnl_micros[:, members].mean(axis=1) / 1e6).tolist()
    return {
        "chosen": run.decisions.executed.tolist(),
        "estimates": run.averaged.tolist(),
        "convergence": _convergence(run, CONVERGENCE_TOLERANCE * (w.hi - w.lo)).tolist(),
        "maker_loss_ratio": (run.maker_loss_micros / run.loss_bound_micros).tolist(),
        "pnl_by_type": pnl,
        "path_times": run.path_times.tolist(),
        "path_sum": run.path.sum(axis=2).tolist(),
        "path_sumsq": (run.path**2).sum(axis=2).tolist(),
        "actions": run.actions,
    }


def run_block(spec: Scenario | Mapping[str, Any], block: int) -> dict[str, Any]:
    """Every mechanism of a scenario on one block of runs: a pure top-level function of
    its arguments (picklable, so any executor can run it). Returns plain JSON data."""
    scenario = spec if isinstance(spec, Scenario) else from_dict(spec)
    if not 0 <= block < blocks(scenario):
        raise ValueError(f"block {block} is not one of the scenario's {blocks(scenario)}")
    agents = agents_of(scenario)
    world = draw_world(scenario, agents, block)
    rows: dict[str, dict[str, Any]] = {}
    for mech in scenario.mechanisms:
        if mech in FUTARCHY_MODES:
            run = run_futarchy(scenario, agents, world, mech)
            rows[mech] = _futarchy_rows(scenario, run, agents.kind)
        elif mech == "poll":
            means = baselines.poll_means(agents, world)
            rows[mech] = {
                "chosen": baselines.poll(scenario, agents, world).tolist(),
                "estimates": None if means is None else means.tolist(),
            }
        else:
            chosen = {
                "majority": lambda: baselines.majority_vote(scenario, agents, world),
                "budget_vote": lambda: baselines.budget_vote(scenario, agents, world),
                "random": lambda: baselines.random_choice(world),
                "status_quo": lambda: baselines.status_quo(world),
                "oracle": lambda: baselines.oracle(world),
            }[mech]()
            rows[mech] = {"chosen": chosen.tolist()}
    return {
        "scenario_id": scenario.id,
        "block": block,
        "first_run": world.first_run,
        "runs": world.runs,
        "mechanisms": rows,
    }


def _maybe_column(blocks_: Sequence[Mapping[str, Any]], mech: str, key: str) -> FloatArray | None:
    parts = [b["mechanisms"][mech].get(key) for b in blocks_]
    if any(p is None for p in parts):
        return None
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])


def _column(blocks_: Sequence[Mapping[str, Any]], mech: str, key: str) -> FloatArray:
    column = _maybe_column(blocks_, mech, key)
    if column is None:
        raise ValueError(f"the blocks of {mech} lack {key}")
    return column


def _mechanism_summary(
    scenario: Scenario, blocks_: Sequence[Mapping[str, Any]], mech: str, truth: FloatArray
) -> dict[str, Any]:
    n_branches = truth.shape[0]
    best = int(np.argmax(truth))
    chosen = np.concatenate([np.asarray(b["mechanisms"][mech]["chosen"]) for b in blocks_])
    summary: dict[str, Any] = {
        "label": LABELS[mech],
        "kind": "futarchy" if mech in FUTARCHY_MODES else "baseline",
        "p_best": proportion_ci(chosen == best),
        "regret": mean_ci(truth[best] - truth[chosen], floor=0.0),
        "chosen_share": (np.bincount(chosen, minlength=n_branches) / chosen.shape[0]).tolist(),
        "estimate_error": None,
        "convergence": None,
        "maker_loss_ratio": None,
        "pnl_by_type": None,
        "effect_estimate": None,
    }
    estimates = _maybe_column(blocks_, mech, "estimates")
    if estimates is not None:
        summary["estimate_error"] = per_column(estimates - truth[None, :])
    if mech not in FUTARCHY_MODES:
        return summary
    summary["convergence"] = per_column(_column(blocks_, mech, "convergence"))
    summary["maker_loss_ratio"] = mean_ci(_column(blocks_, mech, "maker_loss_ratio"))
    pnl: dict[str, Any] = {}
    for name in AGENT_TYPES:
        parts = [b["mechanisms"][mech]["pnl_by_type"].get(name) for b in blocks_]
        if all(p is not None for p in parts):
            pnl[name] = mean_ci(np.concatenate([np.asarray(p) for p in parts]))
    summary["pnl_by_type"] = pnl
    c = scenario.confounding
    if c.strength * c.adoption != 0.0 and estimates is not None:
        effects = estimates[:, 1:] - estimates[:, :1]
        true_effects = truth[1:] - truth[0]
        summary["effect_estimate"] = [
            {
                "branch": j + 1,
                "estimate": mean_ci(effects[:, j]),
                "true": float(true_effects[j]),
                "sign_agreement": proportion_ci(np.sign(effects[:, j]) == np.sign(true_effects[j])),
            }
            for j in range(n_branches - 1)
        ]
    return summary


def _price_path(blocks_: Sequence[Mapping[str, Any]], mech: str, runs: int) -> dict[str, Any]:
    total = sum(np.asarray(b["mechanisms"][mech]["path_sum"]) for b in blocks_)
    total_sq = sum(np.asarray(b["mechanisms"][mech]["path_sumsq"]) for b in blocks_)
    mean = np.asarray(total) / runs
    var = np.maximum(np.asarray(total_sq) / runs - mean**2, 0.0) * runs / max(runs - 1, 1)
    half = 1.959964 * np.sqrt(var / runs)
    return {
        "times": blocks_[0]["mechanisms"][mech]["path_times"],
        "mean": mean.tolist(),
        "lo": (mean - half).tolist(),
        "hi": (mean + half).tolist(),
    }


def true_welfare(scenario: Scenario) -> FloatArray:
    """``base + effect_j`` per branch: each branch's causal expected welfare."""
    return np.array([scenario.welfare.base + b.effect for b in scenario.branches])


def merge(
    scenario: Scenario,
    blocks_: Sequence[Mapping[str, Any]],
    manipulation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A scenario's result from all its blocks (in any order): the ``backtest-result/1``
    contract (module docstring)."""
    ordered = sorted(blocks_, key=lambda b: int(b["first_run"]))
    covered = 0
    for b in ordered:
        if int(b["first_run"]) != covered or b["scenario_id"] != scenario.id:
            raise ValueError("merge needs blocks of this scenario covering every run once")
        covered += int(b["runs"])
    if covered != scenario.runs:
        raise ValueError("merge needs blocks of this scenario covering every run once")
    truth = true_welfare(scenario)
    runs = sum(int(b["runs"]) for b in ordered)
    result = {
        "schema": RESULT_SCHEMA,
        "scenario_id": scenario.id,
        "name": scenario.name,
        "scenario": scenario.identity(),
        "runs": runs,
        "engine": scenario.engine,
        "seeds": {
            "entropy": scenario.seed,
            "per_run": "SeedSequence(entropy, spawn_key=(run, stream)): stream 0 the world, "
            "1 + i the trading of the i-th futarchy mechanism",
            "blocks": [
                {"block": b["block"], "first_run": b["first_run"], "runs": b["runs"]}
                for b in ordered
            ],
        },
        "branches": [b.name for b in scenario.branches],
        "status_quo_index": 0,
        "true_welfare": truth.tolist(),
        "best_branch": int(np.argmax(truth)),
        "welfare_unit": scenario.welfare.unit,
        "actions": sum(
            int(b["mechanisms"][m].get("actions", 0)) for b in ordered for m in scenario.mechanisms
        ),
        "mechanisms": {
            m: _mechanism_summary(scenario, ordered, m, truth) for m in scenario.mechanisms
        },
        "price_paths": {
            m: _price_path(ordered, m, runs) for m in scenario.mechanisms if m in FUTARCHY_MODES
        },
        "manipulation": dict(manipulation) if manipulation is not None else None,
    }
    out: dict[str, Any] = rounded(result)
    return out


# --- the manipulator's cost to flip -------------------------------------------------------


def manipulation_specs(scenario: Scenario) -> list[Scenario]:
    """The scenarios of the budget search: plain futarchy, the manipulator at each
    ``search_budgets`` multiple of the subsidy (0 = no manipulator), ``search_runs`` runs."""
    m = scenario.population.manipulator
    if m is None or not m.search_budgets:
        return []
    specs = []
    for multiple in m.search_budgets:
        data = scenario.to_dict()
        data["runs"] = m.search_runs
        data["mechanisms"] = ["futarchy"]
        manip = dict(data["population"]["manipulator"])
        manip.update(budget=None, budget_multiple=None, search_budgets=[])
        if multiple > 0:
            manip["budget_multiple"] = multiple
            data["population"]["manipulator"] = manip
        else:
            data["population"]["manipulator"] = None
        specs.append(from_dict(data))
    return specs


def manipulation_summary(
    scenario: Scenario, results: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """Flip rate (the target's share of decisions) per budget and the cost to flip: the
    smallest budget at which the target is chosen in half the runs, interpolated linearly
    between the budgets searched (None if no budget searched reaches half)."""
    m = scenario.population.manipulator
    if m is None or not m.search_budgets:
        return None
    budgets = list(m.search_budgets)
    rates = [float(r["mechanisms"]["futarchy"]["chosen_share"][m.target]) for r in results]
    order = sorted(range(len(budgets)), key=lambda i: budgets[i])
    xs = [budgets[i] for i in order]
    ys = [rates[i] for i in order]
    cost: float | None = None
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if y >= 0.5:
            if i == 0 or ys[i - 1] >= 0.5:
                cost = x
            else:
                x0, y0 = xs[i - 1], ys[i - 1]
                cost = x0 + (0.5 - y0) * (x - x0) / (y - y0)
            break
    return {
        "target": m.target,
        "budgets": xs,
        "unit": "multiple of the subsidy",
        "subsidy": scenario.market.subsidy,
        "flip_rate": ys,
        "cost_to_flip": cost,
        "runs": m.search_runs,
        "budget_in_scenario": manipulator_budget(scenario) / scenario.market.subsidy,
    }


def run_one(spec: Scenario | Mapping[str, Any]) -> dict[str, Any]:
    """Run a whole scenario in this process (every block, then the budget search if the
    scenario asks for one): a pure top-level function. Returns the result contract."""
    scenario = spec if isinstance(spec, Scenario) else from_dict(spec)
    parts = [run_block(scenario, i) for i in range(blocks(scenario))]
    searched = [run_one(s) for s in manipulation_specs(scenario)]
    return merge(scenario, parts, manipulation_summary(scenario, searched))


# --- sweeps -------------------------------------------------------------------------------


def _cache_file(cache: Path, scenario: Scenario, block: int) -> Path:
    first, runs = block_runs(scenario, block)
    return cache / scenario.id / f"runs-{first}-{runs}.json"


def _read_cached(path: Path, scenario: Scenario, block: int) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    first, runs = block_runs(scenario, block)
    ok = isinstance(data, dict) and data.get("scenario_id") == scenario.id
    return data if ok and (data.get("first_run"), data.get("runs")) == (first, runs) else None


def _write_cached(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, allow_nan=False), encoding="utf-8")
    tmp.replace(path)


def _run_block_dict(spec: dict[str, Any], block: int) -> dict[str, Any]:
    return run_block(spec, block)


def default_executor() -> ProcessPoolExecutor:
    """A local process pool, one worker per core."""
    return ProcessPoolExecutor(max_workers=os.cpu_count() or 1)


Progress = Callable[[Scenario, int, bool], None]
"""Called once per block as it finishes: ``(scenario, block, from_cache)``."""


def sweep(
    specs: Iterable[Scenario | Mapping[str, Any]],
    executor: Executor | None = None,
    *,
    cache: str | Path | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run many scenarios, one task per block, on any executor; results in input order.

    Args:
        specs: scenarios (or their plain data).
        executor: a `concurrent.futures.Executor`; None starts a local process pool (and
            shuts it down at the end). A Dask ``Client.get_executor()`` works as is.
        cache: a directory; blocks already there (by scenario id) are read, not run, and
            every block run is written there.
        progress: called as each block finishes.

    Returns:
        One result per scenario (`merge`), the budget search included.
    """
    scenarios = [s if isinstance(s, Scenario) else from_dict(s) for s in specs]
    searches = {i: manipulation_specs(s) for i, s in enumerate(scenarios)}
    every = list(scenarios) + [t for i in range(len(scenarios)) for t in searches[i]]
    unique = {s.id: s for s in every}
    cache_dir = Path(cache) if cache is not None else None
    done: dict[tuple[str, int], dict[str, Any]] = {}
    todo: list[tuple[Scenario, int]] = []
    for s in unique.values():
        for i in range(blocks(s)):
            cached = _read_cached(_cache_file(cache_dir, s, i), s, i) if cache_dir else None
            if cached is not None:
                done[(s.id, i)] = cached
                if progress:
                    progress(s, i, True)
            else:
                todo.append((s, i))
    own = executor is None and bool(todo)
    pool: Executor | None = default_executor() if own else executor
    try:
        futures: dict[Future[dict[str, Any]], tuple[Scenario, int]] = {}
        for s, i in todo:
            assert pool is not None
            futures[pool.submit(_run_block_dict, s.to_dict(), i)] = (s, i)
        for fut in as_completed(futures):
            s, i = futures[fut]
            data = fut.result()
            done[(s.id, i)] = data
            if cache_dir is not None:
                _write_cached(_cache_file(cache_dir, s, i), data)
            if progress:
                progress(s, i, False)
    finally:
        if own and pool is not None:
            pool.shutdown(cancel_futures=True)

    def merged(s: Scenario, manipulation: Mapping[str, Any] | None) -> dict[str, Any]:
        return merge(s, [done[(s.id, i)] for i in range(blocks(s))], manipulation)

    results = []
    for idx, s in enumerate(scenarios):
        searched = [merged(t, None) for t in searches[idx]]
        results.append(merged(s, manipulation_summary(s, searched)))
    return results
