"""Confidence intervals over seeds (runs), as plain JSON objects ``{"mean", "lo", "hi"}``.

- a mean: ``x̄ ± z · s / √n`` with the sample standard deviation ``s`` and
  ``z = 1.959964`` (95%, normal approximation; ``lo = hi = x̄`` for one run);
- a proportion: the Wilson score interval (good near 0 and 1, where ``p̂ ± z·se``
  collapses): ``(p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)``.

Non-finite values are left out; no value at all gives None.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

Z95 = 1.959964

Interval = dict[str, float]


def mean_ci(values: npt.ArrayLike, floor: float | None = None) -> Interval | None:
    """The mean with its 95% interval (module docstring), or None for no finite value.

    ``floor``: a bound the quantity can never cross (0 for a regret); the interval is
    clipped to it rather than reaching values that cannot happen."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    n = x.shape[0]
    if n == 0:
        return None
    mean = float(x.mean())
    half = Z95 * float(x.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    lo = mean - half if floor is None else max(floor, mean - half)
    return {"mean": mean, "lo": lo, "hi": mean + half}


def proportion_ci(hits: npt.ArrayLike) -> Interval | None:
    """The share of true values with its 95% Wilson interval, or None for no value."""
    h = np.asarray(hits, dtype=np.bool_).ravel()
    n = h.shape[0]
    if n == 0:
        return None
    p = float(h.mean())
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return {"mean": p, "lo": max(0.0, centre - half), "hi": min(1.0, centre + half)}


def per_column(values: npt.ArrayLike) -> list[Interval | None]:
    """`mean_ci` of each column of a ``(runs, k)`` array."""
    x = np.asarray(values, dtype=np.float64)
    return [mean_ci(x[:, j]) for j in range(x.shape[1])]


def rounded(obj: Any, digits: int = 12) -> Any:
    """Floats in nested lists and dicts rounded to ``digits`` significant digits, so a
    result's JSON does not depend on the last bits of a sum's order."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [rounded(v, digits) for v in obj]
    return obj
