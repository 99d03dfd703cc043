"""What each agent believes the markets' outcomes are worth: probability vectors.

An agent trading branch ``j``'s market needs a probability for each of its outcomes.
From the agent's conditional welfare belief ``μ = m_ij + β_j`` (`sim.world`):

- LONG/SHORT on ``[lo, hi]``: ``π_LONG = clip((μ − lo) / (hi − lo), π_min, 1 − π_min)``,
  ``π_SHORT = 1 − π_LONG`` (LONG pays ``x = clip((W − lo)/(hi − lo))``; the clip of the
  mean stands in for the mean of the clip);
- bins ``e_0 < … < e_n``: the predictive normal ``W ~ N(μ, v_i + σ_W² + γ²)`` gives
  ``π_k = Φ((e_{k+1} − μ)/s) − Φ((e_k − μ)/s)`` with the outer bins open (the asset
  resolves a ``W`` outside the range to them), floored at ``π_min`` and renormalised.

The manipulator "believes" what it wants: its target's welfare at the top of the range
and every other branch's at the bottom, ``π = 1 − π_min`` on that outcome. Noise traders
hold no belief (their rows are unused).

Arrays are outcomes first, ``(n, B, R, A)``, the layout the engine steps in.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from market.assets import Asset, BinnedAsset, ScalarAsset
from sim.world import MANIPULATOR, Agents, FloatArray, World

PI_MIN = 0.01
"""No agent is ever certain: beliefs stay within ``[π_min, 1 − π_min]`` (LONG/SHORT) or
at least ``π_min / n`` per bin."""

_erf = np.vectorize(math.erf, otypes=[np.float64])


def normal_cdf(x: npt.ArrayLike) -> FloatArray:
    """``Φ(x) = (1 + erf(x / √2)) / 2``, element-wise (``±inf`` give 1 and 0)."""
    result: FloatArray = 0.5 * (1.0 + _erf(np.asarray(x, dtype=np.float64) / math.sqrt(2.0)))
    return result


def outcome_beliefs(
    asset: Asset,
    welfare_belief: FloatArray,
    predictive_sd: FloatArray,
) -> FloatArray:
    """Probability vectors over an asset's outcomes, outcomes FIRST.

    Args:
        asset: the branch markets' asset.
        welfare_belief: ``μ``, welfare units, any shape ``S``.
        predictive_sd: the predictive standard deviation of ``W``, broadcast to ``S``.

    Returns:
        ``(n, *S)``; each vector sums to 1, every entry ``> 0``.
    """
    mu = np.asarray(welfare_belief, dtype=np.float64)
    if isinstance(asset, ScalarAsset):
        x = np.clip((mu - asset.lo) / (asset.hi - asset.lo), PI_MIN, 1.0 - PI_MIN)
        return np.stack([x, 1.0 - x])
    assert isinstance(asset, BinnedAsset)
    n = asset.n
    edges = np.asarray(asset.edges, dtype=np.float64)
    inner = edges[1:-1].reshape((-1,) + (1,) * mu.ndim)
    cdf = normal_cdf((inner - mu) / np.broadcast_to(predictive_sd, mu.shape))
    ones = np.ones((1, *mu.shape))
    cum = np.concatenate([np.zeros((1, *mu.shape)), cdf, ones])
    probs = np.maximum(np.diff(cum, axis=0), PI_MIN / n)
    result: FloatArray = probs / probs.sum(axis=0)
    return result


def wanted_beliefs(asset: Asset, n_branches: int, target: int) -> FloatArray:
    """The manipulator's vectors, ``(n, B)``: the target's top outcome (LONG, or the top
    bin) and every other branch's bottom outcome (SHORT, or the bottom bin) at
    ``1 − π_min``, the rest of the mass spread evenly."""
    n = asset.n
    out = np.full((n, n_branches), PI_MIN / (n - 1))
    top, bottom = (0, 1) if isinstance(asset, ScalarAsset) else (n - 1, 0)
    out[bottom, :] = 1.0 - PI_MIN
    out[:, target] = PI_MIN / (n - 1)
    out[top, target] = 1.0 - PI_MIN
    return out


def trading_beliefs(
    asset: Asset,
    agents: Agents,
    world: World,
    bias: FloatArray,
    measurement_sd: float,
    confounding_sd: float,
    target: int | None,
) -> FloatArray:
    """Every agent's outcome beliefs in every branch and run, ``(n, B, R, A)``.

    Args:
        asset: the branch markets' asset.
        agents: the population.
        world: the block's draw (causal estimates and posterior variances).
        bias: ``β_j`` per branch (`sim.world.confounding_bias`), welfare units.
        measurement_sd: ``σ_W``; confounding_sd: ``|γ|`` (both welfare units).
        target: the manipulator's branch, or None.
    """
    mu = np.transpose(world.causal, (2, 0, 1)) + bias[:, None, None]  # (B, R, A)
    var = np.where(np.isfinite(agents.signal_sd), world.posterior_var, 0.0)
    sd = np.sqrt(var + measurement_sd**2 + confounding_sd**2 + 1e-12)
    beliefs = outcome_beliefs(asset, np.nan_to_num(mu, nan=0.0), sd[None, None, :])
    if target is not None:
        wanted = wanted_beliefs(asset, mu.shape[0], target)
        manip = agents.kind == MANIPULATOR
        beliefs[:, :, :, manip] = wanted[:, :, None, None]
    return beliefs
