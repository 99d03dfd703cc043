"""Engine benchmark: the LMSR core in process, no database, against float floors in one run.

Every figure is measured beside a floor doing the same job in plain float arithmetic, in
alternating repetitions of the same run, so a busy machine moves both:

- **the floor**: a closed-form binary LMSR trade in plain Python floats: the cost
  ``C(q') − C(q)`` with ``C(q) = max q + b · log1p(e^{−|q₀ − q₁|/b})`` and the new state
  tuple; no validation, no rounding, no objects.
- **binary quote-and-apply**: `market.book.quote_buy` / `quote_sell` of one outcome on a
  two-outcome `Book`, then `Book.apply`: integer micro-units in, the exact cost rounded
  in the maker's favour (`market.rounding`), a new immutable book out. Buys and sells
  alternate, so ``q`` wanders but stays bounded. Target: at most 3 times the floor.
- **the same, reading the prices after** (`Quote.prices_after`, computed on demand): for
  reference; the service reads them, a simulator usually does not.
- **100- and 1,000-outcome quote-and-apply**: a single-outcome trade on a wide book; the
  float state travels from quote to book, so after the first quote a trade is O(1) in
  ``n``. Target (100 outcomes): at most 5 µs.
- **batched trades over 10,000 markets**: `market.batch.batch_trade` (integer micro-units
  in and out, every cash exactly the `Book` quote's) against a plain float numpy kernel
  (prices, the cost ``b · log1p(p · expm1(s/b))``, ``q[k] += s``) on the same trades.
  Target: at least half the float kernel's throughput. Also `batch_spend` for reference.
- **the exact fallback rate**: the share of quotes `market.rounding.exact_cash` decided.

Each time figure is the median over repetitions of the mean time per operation within a
repetition (``time.perf_counter_ns``); a ratio is the median of the per-repetition ratios.

Run: ``.venv/bin/python -m bench.engine`` (also ``make bench``). Writes
``bench/results/engine.json`` and the ``engine`` section of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.report import machine, markdown_table, median, verdict, write_json, write_section
from market import rounding
from market.batch import batch_spend, batch_trade
from market.book import MICROS, Book, quote_buy, quote_sell

BINARY_RATIO_TARGET = 3.0
WIDE_TARGET_US = 5.0
BATCH_RATIO_TARGET = 0.5

Run = Callable[[int], None]

NOTES = """\
- Every cash above is the exact cost rounded in the maker's favour (`market.rounding`):
  the float fast path decides, with a proven error bound, all but the fraction of quotes
  in the last row, which the exact `decimal` path settles.
- A single-outcome trade is O(1) in the number of outcomes after a book's first quote (the
  float state travels from quote to book); what still grows with ``n`` is copying the
  ``q`` tuple for the next book, about 2 µs per 1,000 outcomes.
- Before issue 13 (commit `2ae5e5e`, margin rounding) the binary quote-and-apply measured
  16× this floor and the 100-outcome one 38.9 µs (59×), in one run with the new engine
  and the same floor on 2026-12-03 (the old tree extracted with `git archive`).
"""


# --- the floors ----------------------------------------------------------------------------


def _closed_form_cost(q0: float, q1: float, b: float) -> float:
    top = q0 if q0 > q1 else q1
    return top + b * math.log1p(math.exp(-abs(q0 - q1) / b))


def closed_form_trade(
    q: tuple[float, float], b: float, k: int, s: float
) -> tuple[float, tuple[float, float]]:
    """The floor: a binary LMSR trade of ``s`` shares of outcome ``k`` in plain floats."""
    after = (q[0] + s, q[1]) if k == 0 else (q[0], q[1] + s)
    return _closed_form_cost(after[0], after[1], b) - _closed_form_cost(q[0], q[1], b), after


def float_kernel(
    q: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    k: npt.NDArray[np.int64],
    s: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The batch floor: one trade per market in plain float numpy; updates ``q`` in place."""
    rows = np.arange(q.shape[0])
    w = np.exp((q - q.max(axis=1, keepdims=True)) / b[:, None])
    p = w[rows, k] / w.sum(axis=1)
    cost: npt.NDArray[np.float64] = b * np.log1p(p * np.expm1(s / b))
    q[rows, k] += s
    return cost


# --- measuring -----------------------------------------------------------------------------


def _time_us(run: Run, ops: int) -> float:
    start = time.perf_counter_ns()
    run(ops)
    return (time.perf_counter_ns() - start) / ops / 1000.0


def _interleaved(runs: dict[str, Run], ops: int, repeats: int) -> dict[str, list[float]]:
    """µs per operation of each run, over ``repeats`` rounds that run each once in turn."""
    for run in runs.values():
        run(min(ops, 2000))  # warm up caches and the interpreter's specialisations
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            samples[name].append(_time_us(run, ops))
    return samples


def _ratios(samples: dict[str, list[float]], name: str, floor: str) -> list[float]:
    return [x / f for x, f in zip(samples[name], samples[floor], strict=True)]


def _trades(n: int, count: int, seed: int, b_micros: int) -> list[tuple[int, int]]:
    """``count`` trades ``(outcome, micro-shares)`` of up to ``b/70`` shares (about 20
    shares at F = 1,000 units), buys and sells alternating."""
    rng = np.random.default_rng(seed)
    outcomes = rng.integers(0, n, size=count).tolist()
    sizes = rng.integers(1, max(2, b_micros // 70), size=count).tolist()
    return list(zip(outcomes, sizes, strict=True))


def single_market_runs(n: int, ops: int, seed: int, read_prices: bool = False) -> Run:
    """A run of ``ops`` quote-and-apply steps on an ``n``-outcome book, F = 1,000 units."""
    start = Book.from_subsidy(n, 1_000 * MICROS)
    trades = _trades(n, ops, seed, start.b_micros)
    state = {"book": start}

    def run(count: int) -> None:
        book = state["book"]
        for i in range(count):
            k, s = trades[i]
            # buy on even steps, sell the same back on odd ones: q stays bounded
            quote = quote_buy(book, k, s) if i % 2 == 0 else quote_sell(book, k, s)
            if read_prices:
                quote.prices_after  # noqa: B018  # read on purpose: computed on demand
            book = book.apply(quote)
        state["book"] = book

    return run


def floor_run(ops: int, seed: int) -> Run:
    """The floor on the same trades as `single_market_runs` (n = 2), in whole units."""
    b_micros = Book.from_subsidy(2, 1_000 * MICROS).b_micros
    trades = [(k, s / MICROS) for k, s in _trades(2, ops, seed, b_micros)]
    b = b_micros / MICROS
    state = {"q": (0.0, 0.0)}

    def run(count: int) -> None:
        q = state["q"]
        for i in range(count):
            k, s = trades[i]
            _, q = closed_form_trade(q, b, k, s if i % 2 == 0 else -s)
        state["q"] = q

    return run


def batch_runs(markets: int, n: int, seed: int) -> dict[str, Run]:
    """The exact batch engine and the float kernel on the same trades, one step per op."""
    rng = np.random.default_rng(seed)
    b_int = np.full(markets, Book.from_subsidy(n, 1_000 * MICROS).b_micros, dtype=np.int64)
    steps = 64
    outcome = rng.integers(0, n, size=(steps, markets))
    shares = rng.integers(1, int(b_int[0]) // 70, size=(steps, markets))
    shares[1::2] = -shares[0::2]  # sell back what the step before bought
    outcome[1::2] = outcome[0::2]
    spends = rng.integers(1, int(b_int[0]) // 140, size=(steps, markets))
    state: dict[str, Any] = {
        "q": np.zeros((markets, n), dtype=np.int64),
        "qf": np.zeros((markets, n)),
        "i": 0,
        "j": 0,
        "qs": np.zeros((markets, n), dtype=np.int64),
    }
    bf = b_int.astype(np.float64) / MICROS

    def exact(count: int) -> None:
        for _ in range(count):
            i = state["i"] % steps
            state["q"] = batch_trade(state["q"], b_int, outcome[i], shares[i]).q_after_micros
            state["i"] += 1

    def floor(count: int) -> None:
        for _ in range(count):
            i = state["j"] % steps
            float_kernel(state["qf"], bf, outcome[i], shares[i] / MICROS)
            state["j"] += 1

    def spend(count: int) -> None:
        for c in range(count):
            i = c % steps
            state["qs"] = batch_spend(state["qs"], b_int, outcome[i], spends[i]).q_after_micros

    return {"floor": floor, "exact": exact, "spend": spend}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every measurement, write the JSON and the BENCHMARKS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000, help="trades per repetition")
    parser.add_argument("--repeats", type=int, default=15, help="repetitions per figure")
    parser.add_argument("--markets", type=int, default=10_000, help="markets in the batch")
    parser.add_argument("--steps", type=int, default=20, help="batch steps per repetition")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    exact_before = rounding.exact_evaluations
    single = _interleaved(
        {
            "floor": floor_run(args.ops, args.seed),
            "binary": single_market_runs(2, args.ops, args.seed),
            "binary_prices": single_market_runs(2, args.ops, args.seed, read_prices=True),
            "outcomes100": single_market_runs(100, args.ops, args.seed),
            "outcomes1000": single_market_runs(1000, args.ops, args.seed),
        },
        args.ops,
        args.repeats,
    )
    quotes = 4 * (args.repeats * args.ops + min(args.ops, 2000))
    fallback_rate = (rounding.exact_evaluations - exact_before) / quotes
    binary_ratio = median(_ratios(single, "binary", "floor"))
    prices_ratio = median(_ratios(single, "binary_prices", "floor"))
    per_s = {}
    batch_ratio = {}
    for n in (2, 10):
        runs = batch_runs(args.markets, n, args.seed)
        timed = _interleaved(runs, args.steps, args.repeats)
        per_s[n] = {name: args.markets / (median(values) / 1e6) for name, values in timed.items()}
        batch_ratio[n] = median(_ratios(timed, "floor", "exact"))  # throughput ratio

    figures = {name: median(values) for name, values in single.items()}
    result: dict[str, Any] = {
        "machine": machine(),
        "args": vars(args),
        "us_per_op": figures,
        "samples_us": single,
        "binary_ratio_to_floor": binary_ratio,
        "binary_with_prices_ratio_to_floor": prices_ratio,
        "exact_fallback_rate": fallback_rate,
        "batch_evals_per_s": {str(n): v for n, v in per_s.items()},
        "batch_exact_throughput_ratio": {str(n): v for n, v in batch_ratio.items()},
        "targets": {
            "binary_ratio_to_floor": BINARY_RATIO_TARGET,
            "outcomes100_us": WIDE_TARGET_US,
            "batch_throughput_ratio": BATCH_RATIO_TARGET,
        },
    }
    print(
        f"floor {figures['floor']:.3f} µs; binary {figures['binary']:.3f} µs "
        f"({binary_ratio:.2f}×); with prices {prices_ratio:.2f}×; 100 outcomes "
        f"{figures['outcomes100']:.2f} µs; 1000 outcomes {figures['outcomes1000']:.2f} µs; "
        f"fallbacks {fallback_rate:.2e}; batch exact/float throughput "
        f"{batch_ratio[2]:.2f} (n=2), {batch_ratio[10]:.2f} (n=10)"
    )
    if args.no_write:
        return result
    path = write_json("engine", result)
    m = result["machine"]

    def us(x: float) -> str:
        return f"{x:.2f} µs"

    def mps(x: float) -> str:
        return f"{x / 1e6:.2f} M/s"

    table = markdown_table(
        ["measurement", "median", "floor (same run)", "ratio", "target", "verdict"],
        [
            [
                "binary quote-and-apply (`quote_buy`/`quote_sell` + `Book.apply`, exact rounding)",
                us(figures["binary"]),
                us(figures["floor"]),
                f"{binary_ratio:.2f}×",
                f"≤ {BINARY_RATIO_TARGET:.0f}×",
                verdict(binary_ratio <= BINARY_RATIO_TARGET),
            ],
            [
                "the same, reading `prices_after`",
                us(figures["binary_prices"]),
                us(figures["floor"]),
                f"{prices_ratio:.2f}×",
                "—",
                "",
            ],
            [
                "100-outcome quote-and-apply",
                us(figures["outcomes100"]),
                "",
                "",
                f"≤ {WIDE_TARGET_US:.0f} µs",
                verdict(figures["outcomes100"] <= WIDE_TARGET_US),
            ],
            ["1,000-outcome quote-and-apply", us(figures["outcomes1000"]), "", "", "—", ""],
            *[
                [
                    f"batch, {args.markets:,} markets × {n} outcomes: `batch_trade` vs float",
                    mps(per_s[n]["exact"]),
                    mps(per_s[n]["floor"]),
                    f"{batch_ratio[n]:.2f}",
                    f"≥ {BATCH_RATIO_TARGET}",
                    verdict(batch_ratio[n] >= BATCH_RATIO_TARGET),
                ]
                for n in (2, 10)
            ],
            *[
                [
                    f"batch, {args.markets:,} markets × {n} outcomes: `batch_spend`",
                    mps(per_s[n]["spend"]),
                    "",
                    "",
                    "—",
                    "",
                ]
                for n in (2, 10)
            ],
            [
                "quotes decided by the exact (decimal) fallback",
                f"{fallback_rate:.1e}",
                "",
                "",
                "—",
                "",
            ],
        ],
    )
    write_section(
        "engine",
        "## Engine (LMSR core, in process)\n\n"
        f"Command: `.venv/bin/python -m bench.engine` (also `make bench`), "
        f"{m['measured_at']}, commit `{m['commit']}`, Python {m['python']}, "
        f"{m['cpu_count']} cores. Raw figures: `bench/results/{path.name}`. Each floor is "
        "measured in alternating repetitions of the same run: a closed-form binary trade "
        "in plain Python floats (no validation, rounding or objects) and a plain float "
        "numpy kernel (costs and `q[k] += s`, no validation, no rounding). Ratios are "
        "medians of per-repetition ratios; batch figures are trade evaluations per second. "
        "A quote's prices are computed when read (`prices_after`), hence the second row."
        f"\n\n{table}\n\n{NOTES}",
    )
    return result


if __name__ == "__main__":
    main()
