"""A sweep on a Dask cluster gives what the local process pool and `run_one` give.

The cluster is a `distributed.LocalCluster` of two worker processes bound to loopback
(127.0.0.1, no dashboard); the executor is ``Client.get_executor()``, passed to
`sim.backtest.sweep` as any `concurrent.futures.Executor` would be.
"""

from __future__ import annotations

import json

import distributed
import pytest

from sim.backtest import run_one, sweep
from sim.scenario import from_dict

SMALL = {
    "name": "dask sweep",
    "runs": 6,
    "block": 3,
    "seed": 42,
    "branches": [
        {"name": "status quo", "effect": 0.0},
        {"name": "A", "effect": 4.0},
        {"name": "B", "effect": -2.0},
    ],
    "market": {"rounds": 3, "trading_seconds": 86_400},
    "rule": {"window_seconds": 21_600, "interval_seconds": 3_600},
    "population": {"informed": {"count": 4}, "noise": {"count": 1}},
    "mechanisms": ["futarchy", "futarchy_ipw", "majority", "oracle"],
}


@pytest.mark.slow
def test_a_sweep_on_a_loopback_dask_cluster_matches_run_one(tmp_path):
    specs = [from_dict(SMALL), from_dict({**SMALL, "seed": 43, "name": "other seed"})]
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        seen = []
        results = sweep(
            specs,
            client.get_executor(),
            cache=tmp_path,
            progress=lambda s, block, cached: seen.append((s.id, block, cached)),
        )
    assert sorted(seen) == sorted((s.id, b, False) for s in specs for b in (0, 1))
    for spec, result in zip(specs, results, strict=True):
        assert result["scenario_id"] == spec.id
        assert json.dumps(result, sort_keys=True) == json.dumps(run_one(spec), sort_keys=True)
    # every block landed in the cache, keyed by scenario id
    assert sorted(p.name for p in (tmp_path / specs[0].id).iterdir()) == [
        "runs-0-3.json",
        "runs-3-3.json",
    ]
