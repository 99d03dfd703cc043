"""`bench.backtest` runs end to end at a toy size (the figures are not checked: a benchmark
is not a timed test; this only keeps it runnable)."""

from __future__ import annotations

from bench.backtest import main


def test_the_backtest_benchmark_runs_at_a_toy_size() -> None:
    out = main(
        [
            "--runs", "4", "--rounds", "2", "--exact-rounds", "2",
            "--reference-runs", "1", "--reference-rounds", "2", "--no-write",
        ]
    )  # fmt: skip
    assert out["sweep"]["agent_trades"] == 4 * 100 * 2
    assert out["one_core"]["reference"]["actions"] == 1 * 100 * 2
    assert out["one_core"]["exact"]["actions"] == 50 * 100 * 2
    assert set(out["met"]) == {"seconds", "rate", "memory"}
