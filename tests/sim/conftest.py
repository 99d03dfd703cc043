"""A small world for the simulator's specification tests.

``tiny``: three branches on ``[0, 100]`` around a base of 50 — the status quo (effect 0), a
good policy (+4) and a bad one (−3) — with 8 informed traders (signal noise 3, budget 100),
one insider (signal noise 0.5) and 3 noise traders, 8 rounds of trading and a subsidy of
100 cash. Small enough that a block of 20 runs of every mechanism takes a fraction of a
second on the exact engine.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = Path(__file__).resolve().parents[2] / "sim" / "scenarios"
"""The example scenarios shipped with the simulator."""

TINY: dict[str, Any] = {
    "name": "tiny",
    "runs": 20,
    "seed": 20260101,
    "branches": [
        {"name": "status quo", "effect": 0.0},
        {"name": "good policy", "effect": 4.0},
        {"name": "bad policy", "effect": -3.0},
    ],
    "welfare": {"lo": 0.0, "hi": 100.0, "base": 50.0, "noise": 4.0, "prior_sd": 5.0},
    "market": {"subsidy": 100.0, "rounds": 8},
    "rule": {"cap": 2.0, "threshold": 0.5, "epsilon": 0.1},
    "population": {
        "informed": {"count": 8, "signal_noise": 3.0, "budget": 100.0},
        "insiders": {"count": 1, "signal_noise": 0.5, "budget": 100.0},
        "noise": {"count": 3, "budget": 50.0},
    },
}


@pytest.fixture
def tiny() -> dict[str, Any]:
    """A fresh copy of `TINY`, free to change."""
    return copy.deepcopy(TINY)
