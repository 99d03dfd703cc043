"""Backtest sweep speed: agent-trades per second, wall time and peak memory.

The standard sweep of issue 14: 1,000 runs × 100 agents × 2,000 trades each over 3
branches (80 informed traders, 5 insiders, 15 noise traders; LONG/SHORT; futarchy with
ε = 0 beside the majority vote, the poll and the oracle), on the local process pool (one
worker per core), in the batch engine's float fast mode. Target: ≤ 30 s wall
(≥ 6.7 M agent-trades/s) and ≤ 2 GB peak memory.

In the same run, for the ratio: the exact engine (every purchase priced to the micro-unit
by `market.batch.batch_spend`) on fewer trades, and the one-market-at-a-time path
(`sim.reference`: `market.trade_step.step` per purchase, `market.decision.advance` per
trade) on two runs, all in this process. An agent-trade is one agent's action in one run
(a purchase in each branch, or nothing when it has no edge).

    python -m bench.backtest [--runs 1000 --rounds 2000 --no-write]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from typing import Any

from bench.report import machine, markdown_table, verdict, write_json, write_section

TARGET_SECONDS = 30.0
TARGET_RATE = 6.7e6
TARGET_MEMORY_MB = 2048.0


def scenario_data(runs: int, rounds: int, engine: str, block: int) -> dict[str, Any]:
    """The standard sweep's scenario at a given size."""
    return {
        "name": "standard sweep",
        "runs": runs,
        "block": block,
        "seed": 20261203,
        "engine": engine,
        "branches": [
            {"name": "status quo", "effect": 0.0},
            {"name": "A", "effect": 3.0},
            {"name": "B", "effect": -2.0},
        ],
        "market": {"rounds": rounds, "trading_seconds": 7 * 86_400},
        "rule": {"window_seconds": 86_400, "interval_seconds": 3_600, "cap": 2.0},
        "population": {
            "informed": {"count": 80, "signal_noise": 6.0},
            "insiders": {"count": 5, "signal_noise": 1.0},
            "noise": {"count": 15},
        },
        "mechanisms": ["futarchy", "majority", "poll", "oracle"],
    }


def _max_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kilobytes on Linux


def _one_core(data: dict[str, Any], reference: bool = False) -> dict[str, float]:
    """One block of a scenario's plain futarchy in this process: the vectorised path, or
    the one-market-at-a-time reference."""
    from sim.reference import run_futarchy_reference
    from sim.scenario import from_dict
    from sim.trading import run_futarchy
    from sim.world import agents_of, draw_world

    scenario = from_dict(data)
    agents = agents_of(scenario)
    world = draw_world(scenario, agents, 0)
    run = run_futarchy_reference if reference else run_futarchy
    start = time.perf_counter()
    result = run(scenario, agents, world, "futarchy")
    seconds = time.perf_counter() - start
    return {"actions": result.actions, "seconds": seconds, "rate": result.actions / seconds}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from sim.backtest import sweep
    from sim.scenario import from_dict

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--block", type=int, default=0, help="runs per block (0: runs/cores)")
    parser.add_argument("--exact-rounds", type=int, default=40)
    parser.add_argument("--reference-runs", type=int, default=2)
    parser.add_argument("--reference-rounds", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only (smoke runs)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    block = args.block or -(-args.runs // cores)

    spec = from_dict(scenario_data(args.runs, args.rounds, "fast", block))
    start = time.perf_counter()
    (result,) = sweep([spec])
    wall = time.perf_counter() - start
    actions = int(result["actions"])
    worker_mb = _max_rss_mb(resource.RUSAGE_CHILDREN)
    parent_mb = _max_rss_mb(resource.RUSAGE_SELF)
    workers = min(cores, -(-args.runs // block))
    peak_mb = parent_mb + workers * worker_mb
    sweep_rate = actions / wall
    print(f"standard sweep: {actions:,} agent-trades in {wall:.1f} s = {sweep_rate:,.0f}/s")
    print(f"memory: parent {parent_mb:.0f} MB, largest worker {worker_mb:.0f} MB × {workers}")

    exact = _one_core(scenario_data(args.reference_runs * 50, args.exact_rounds, "exact", 100))
    fast = _one_core(scenario_data(args.reference_runs * 50, args.exact_rounds, "fast", 100))
    reference = _one_core(
        scenario_data(args.reference_runs, args.reference_rounds, "exact", args.reference_runs),
        reference=True,
    )
    for name, row in (("exact, 1 core", exact), ("fast, 1 core", fast), ("reference", reference)):
        print(f"{name:>14}: {row['rate']:>12,.0f} agent-trades/s ({row['seconds']:.2f} s)")
    out = {
        "machine": machine(),
        "runs": args.runs,
        "rounds": args.rounds,
        "agents": 100,
        "branches": 3,
        "block": block,
        "workers": workers,
        "sweep": {
            "agent_trades": actions,
            "seconds": wall,
            "agent_trades_per_second": sweep_rate,
            "peak_memory_mb": peak_mb,
            "parent_memory_mb": parent_mb,
            "worker_memory_mb": worker_mb,
        },
        "one_core": {"exact": exact, "fast": fast, "reference": reference},
        "met": {
            "seconds": wall <= TARGET_SECONDS,
            "rate": sweep_rate >= TARGET_RATE,
            "memory": peak_mb <= TARGET_MEMORY_MB,
        },
    }
    if not args.no_write:
        write_json("backtest", out)
        write_section("backtest", _markdown(out, argv))
    return out


def _markdown(out: dict[str, Any], argv: list[str] | None) -> str:
    s = out["sweep"]
    one = out["one_core"]
    ref = one["reference"]["rate"]
    table = markdown_table(
        ["path", "agent-trades/s", "seconds", "× one-market-at-a-time"],
        [
            [
                f"standard sweep, fast, {out['workers']} workers",
                f"{s['agent_trades_per_second']:,.0f}",
                f"{s['seconds']:.1f}",
                f"{s['agent_trades_per_second'] / ref:,.0f}",
            ],
            *[
                [name, f"{row['rate']:,.0f}", f"{row['seconds']:.2f}", f"{row['rate'] / ref:,.1f}"]
                for name, row in (
                    ("vectorised, fast, 1 core (100 runs)", one["fast"]),
                    ("vectorised, exact, 1 core (100 runs)", one["exact"]),
                    ("one market at a time, exact, 1 core", one["reference"]),
                )
            ],
        ],
    )
    command = " ".join(["python -m bench.backtest", *(argv or [])])
    met = out["met"]
    return (
        "## Backtest sweep (sim: vectorised across runs)\n\n"
        f"`{command}` at commit {out['machine']['commit']}, {out['machine']['measured_at']}: "
        f"{out['runs']:,} runs × {out['agents']} agents × {out['rounds']:,} trades each over "
        f"{out['branches']} branches ({s['agent_trades']:,} agent-trades), blocks of "
        f"{out['block']} runs on a local process pool of {out['workers']} workers.\n\n"
        f"{table}\n\n"
        f"Targets: ≤ {TARGET_SECONDS:.0f} s wall: {s['seconds']:.1f} s, "
        f"**{verdict(met['seconds'])}**; ≥ {TARGET_RATE / 1e6:.1f} M agent-trades/s: "
        f"{s['agent_trades_per_second'] / 1e6:.2f} M/s, **{verdict(met['rate'])}**; "
        f"≤ {TARGET_MEMORY_MB:,.0f} MB peak: {s['peak_memory_mb']:,.0f} MB (parent "
        f"{s['parent_memory_mb']:,.0f} MB + {out['workers']} × the largest worker's "
        f"{s['worker_memory_mb']:,.0f} MB), **{verdict(met['memory'])}**. The one-core rows "
        "are measured in the same run on the same scenario at fewer runs and trades; the "
        "ratio column divides by the one-market-at-a-time path's rate. Both vectorised "
        "engines run the same agents, averaging and decision; the exact one prices every "
        "purchase to the micro-unit (`market.batch.batch_spend`), the fast one in the batch "
        "engine's float mode (`market.batch.FloatBooks`)."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
