"""Engine benchmark: the LMSR core in process, no database.

Measures, on this machine, in one run:

- **binary quote-and-apply**: `market.book.quote_buy` / `quote_sell` of one outcome on a
  two-outcome `Book`, then `Book.apply`: integer micro-units in, rounding in the maker's
  favour, a new frozen book out. Target: median ≤ 10 µs per operation.
- **100-outcome quote-and-apply**: the same on a 100-outcome book (the log-sum-exp state is
  cached, so a single-outcome trade stays O(1) after the first quote).
- **batched trade step**: `market.lmsr.batch_buy_cost` over 10,000 independent markets at
  once plus the ``q`` update, as the simulator runs it. Target: ≥ 2,000,000 trade
  evaluations per second.
- for reference, the float core alone: `market.lmsr.buy_cost` on a binary market.

Each figure is the median over repetitions of the mean time per operation inside one
repetition (``time.perf_counter_ns``), so a noisy neighbour moves single repetitions, not
the median.

Run: ``make bench`` (or ``.venv/bin/python -m bench.engine``). Writes
``bench/results/engine.json`` and the ``engine`` section of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.report import machine, markdown_table, median, verdict, write_json, write_section
from market.book import MICROS, Book, quote_buy, quote_sell
from market.lmsr import batch_buy_cost, buy_cost

BINARY_TARGET_US = 10.0
BATCH_TARGET_PER_S = 2_000_000.0


def _per_op_us(run: Callable[[int], None], ops: int, repeats: int) -> tuple[float, list[float]]:
    """Median over ``repeats`` of the mean µs per operation of ``run(ops)``."""
    run(min(ops, 1000))  # warm up caches and the interpreter's specialisations
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        run(ops)
        samples.append((time.perf_counter_ns() - start) / ops / 1000.0)
    return median(samples), samples


def quote_and_apply(n: int, ops: int, repeats: int, seed: int) -> tuple[float, list[float]]:
    """µs per quote-and-apply on an ``n``-outcome book funded with F = 1,000 units."""
    rng = np.random.default_rng(seed)
    outcomes = [int(x) for x in rng.integers(0, n, size=ops)]
    shares = [int(x) for x in rng.integers(1, 20 * MICROS, size=ops)]
    state = {"book": Book.from_subsidy(n, 1_000 * MICROS)}

    def run(count: int) -> None:
        book = state["book"]
        for i in range(count):
            k, s = outcomes[i], shares[i]
            # buy on even steps, sell the same amount back on odd ones: q stays bounded
            quote = quote_buy(book, k, s) if i % 2 == 0 else quote_sell(book, k, s)
            book = book.apply(quote)
        state["book"] = book

    return _per_op_us(run, ops, repeats)


def float_core(ops: int, repeats: int) -> tuple[float, list[float]]:
    """µs per `buy_cost` call on a binary market (float units, no rounding, no state)."""
    q = [3.0, -1.0]

    def run(count: int) -> None:
        for _ in range(count):
            buy_cost(q, 0, 10.0, 100.0)

    return _per_op_us(run, ops, repeats)


def batched_step(markets: int, n: int, steps: int, seed: int) -> tuple[float, list[float]]:
    """Trade evaluations per second: one buy in each of ``markets`` markets per step."""
    rng = np.random.default_rng(seed)
    q = np.zeros((markets, n))
    b = np.full(markets, 100.0)
    rows = np.arange(markets)
    outcome = rng.integers(0, n, size=(steps + 1, markets))
    shares = rng.uniform(0.0, 10.0, size=(steps + 1, markets))
    batch_buy_cost(q, b, outcome[0], shares[0])  # warm-up
    rates = []
    for step in range(1, steps + 1):
        start = time.perf_counter_ns()
        cost = batch_buy_cost(q, b, outcome[step], shares[step])
        q[rows, outcome[step]] += shares[step]
        elapsed = time.perf_counter_ns() - start
        if not np.isfinite(cost).all():
            raise RuntimeError("the batched step produced a non-finite cost")
        rates.append(markets / (elapsed / 1e9))
    return median(rates), rates


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every measurement, write the JSON and the BENCHMARKS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000, help="operations per repetition")
    parser.add_argument("--repeats", type=int, default=15, help="repetitions per figure")
    parser.add_argument("--markets", type=int, default=10_000, help="markets in the batch")
    parser.add_argument("--steps", type=int, default=60, help="batched steps")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)

    binary, binary_samples = quote_and_apply(2, args.ops, args.repeats, args.seed)
    hundred, hundred_samples = quote_and_apply(100, args.ops // 4, args.repeats, args.seed)
    core, _ = float_core(args.ops, args.repeats)
    batch2, _ = batched_step(args.markets, 2, args.steps, args.seed)
    batch10, _ = batched_step(args.markets, 10, args.steps, args.seed)

    result: dict[str, Any] = {
        "machine": machine(),
        "args": vars(args),
        "binary_quote_apply_us": binary,
        "binary_quote_apply_samples_us": binary_samples,
        "outcomes100_quote_apply_us": hundred,
        "outcomes100_quote_apply_samples_us": hundred_samples,
        "float_buy_cost_us": core,
        "batched_binary_evals_per_s": batch2,
        "batched_10_outcome_evals_per_s": batch10,
        "targets": {"binary_quote_apply_us": BINARY_TARGET_US, "batched": BATCH_TARGET_PER_S},
    }
    path = write_json("engine", result)
    m = result["machine"]

    def us(x: float) -> str:
        return f"{x:.2f} µs"

    def mps(x: float) -> str:
        return f"{x / 1e6:.2f} M evals/s"

    table = markdown_table(
        ["measurement", "median", "target", "verdict"],
        [
            [
                "binary quote-and-apply (`quote_buy`/`quote_sell` + `Book.apply`, micro-units)",
                us(binary),
                f"≤ {BINARY_TARGET_US:.0f} µs",
                verdict(binary <= BINARY_TARGET_US),
            ],
            ["100-outcome quote-and-apply", us(hundred), "—", ""],
            ["float core `lmsr.buy_cost`, binary (reference)", us(core), "—", ""],
            [
                "batched step, 10,000 binary markets",
                mps(batch2),
                "≥ 2 M evals/s",
                verdict(batch2 >= BATCH_TARGET_PER_S),
            ],
            ["batched step, 10,000 ten-outcome markets", mps(batch10), "—", ""],
        ],
    )
    write_section(
        "engine",
        f"## Engine (LMSR core, in process)\n\n"
        f"Command: `make bench` (= `.venv/bin/python -m bench.engine`), {m['measured_at']}, "
        f"commit `{m['commit']}`, Python {m['python']}, {m['cpu_count']} cores. "
        f"Raw figures: `bench/results/{path.name}`.\n\n{table}\n",
    )
    print(
        f"binary quote-and-apply {binary:.2f} µs; 100 outcomes {hundred:.2f} µs; "
        f"float core {core:.2f} µs; batched {batch2 / 1e6:.2f} M/s (binary), "
        f"{batch10 / 1e6:.2f} M/s (10 outcomes) -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
