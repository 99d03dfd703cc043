"""Example metric definitions (JSON form) shared by the welfare metric tests."""

from __future__ import annotations

import copy
from typing import Any

HDI_LIKE: dict[str, Any] = {
    "name": "HDI-like demo",
    "description": "health from life expectancy, income from log GDP per head",
    "entity": "World",
    "unit": "index",
    "lo": 0.0,
    "hi": 1.0,
    "aggregation": "weighted_geometric",
    "missing_policy": "fail",
    "vintage_policy": "as_of_cutoff",
    "components": [
        {
            "key": "health",
            "indicator": "lifeExp",
            "unit": "years",
            "weight": 0.5,
            "direction": 1,
            "normalisation": {"kind": "goalposts", "lo": 20, "hi": 85},
        },
        {
            "key": "income",
            "indicator": "gdpPercap",
            "unit": "USD",
            "weight": 0.5,
            "log": True,
            "normalisation": {"kind": "goalposts", "lo": 100, "hi": 75000},
        },
    ],
}


def hdi_like(**changes: Any) -> dict[str, Any]:
    """A deep copy of `HDI_LIKE` with top-level fields replaced."""
    data = copy.deepcopy(HDI_LIKE)
    data.update(changes)
    return data
