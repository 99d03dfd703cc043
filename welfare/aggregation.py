"""Normalisation and aggregation of metric components (pure, vectorised with numpy).

Every function takes numpy arrays so the same code computes the point value (arrays of one
element) and Monte Carlo draws (arrays of many).

Transform. With ``log`` the value is replaced by ``t = ln x`` (``x > 0``), and so are the
goalposts and the target; otherwise ``t = x``.

Normalisation of ``t`` into a score ``s`` (``d`` is the direction, ±1):

- ``goalposts`` ``[a, b]`` (fixed, normative): ``u = clip((t − a)/(b − a), 0, 1)``;
  ``s = u`` if ``d = +1`` else ``1 − u``. Values beyond a goalpost are capped, as UNDP
  caps the HDI dimension indices. Scores lie in [0, 1].
- ``minmax``: as goalposts with ``a, b`` the minimum and maximum of the *reference set*
  (the transformed values of the same indicator and period for every entity known at the
  cut-off, the measured entity included). Needs ``b > a``.
- ``zscore``: ``s = d·(t − μ)/σ`` with ``μ``, ``σ`` the mean and population standard
  deviation (``ddof = 0``) of the reference set. Needs ``σ > 0``. Scores are signed.
- ``target`` ``τ`` with ``scale`` ``c > 0`` (in transformed units):
  ``s = max(0, 1 − |t − τ|/c)``: 1 on target, 0 at a distance of ``c`` or more.
- ``none``: ``s = d·x`` (a signed raw amount, for ``money_sum``).

Aggregation of scores ``s_i`` with weights ``w_i`` (which sum to 1 except under
``money_sum``; after ``drop_and_reweight`` the caller passes the re-normalised weights):

- ``weighted_arithmetic``: ``W = Σ w_i s_i``; contribution ``w_i s_i`` (they add up to W);
- ``weighted_geometric``: ``W = Π s_i^{w_i}`` (``0^w = 0`` for ``w > 0``, ``s^0 = 1``);
  contribution ``s_i^{w_i}`` (they multiply to W);
- ``money_sum``: ``W = Σ w_i s_i = Σ w_i d_i x_i`` in the metric's money unit;
  contribution ``w_i s_i`` (they add up to W).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from welfare.errors import MeasurementNotFinite, MeasurementUnavailable
from welfare.metric import Aggregation, Component, Direction, NormKind

FloatArray = npt.NDArray[np.float64]


def transform(x: FloatArray, log: bool) -> FloatArray:
    """``ln x`` under a log transform (every ``x`` must be > 0), else ``x`` unchanged."""
    if not log:
        return x
    if np.any(x <= 0):
        raise MeasurementUnavailable("a value ≤ 0 cannot be log-transformed")
    return np.log(x)


def _param(value: float | None, log: bool) -> float:
    assert value is not None, "validated definitions carry every parameter"
    return math.log(value) if log else value


def normalise(
    t: FloatArray, component: Component, reference: FloatArray | None = None
) -> FloatArray:
    """Scores of transformed values ``t`` for ``component`` (formulas in the module doc).

    Args:
        t: transformed values (see `transform`).
        component: whose normalisation and direction apply.
        reference: transformed reference values, needed by ``minmax`` and ``zscore``.

    Numbers may overflow on the way (a value of 1e308 far beyond a goalpost divides to
    ±inf and is then capped at the goalpost, as it should be); callers check the scores for
    finiteness (`welfare.measurement`).

    Raises:
        MeasurementUnavailable: a degenerate reference set (fewer than two values, or all
            equal).
        MeasurementNotFinite: a reference set whose mean, standard deviation or range is
            beyond the float range (the z-score or min-max score would silently be wrong).
    """
    norm = component.normalisation
    flip = component.direction is Direction.LOWER_IS_BETTER
    if norm.kind is NormKind.NONE:
        return float(component.direction) * t
    if norm.kind is NormKind.TARGET:
        tau = _param(norm.target, component.log)
        assert norm.scale is not None
        return np.maximum(0.0, 1.0 - np.abs(t - tau) / norm.scale)
    if norm.kind is NormKind.GOALPOSTS:
        a, b = _param(norm.lo, component.log), _param(norm.hi, component.log)
    else:
        if reference is None or reference.size < 2:
            raise MeasurementUnavailable(
                f"component {component.key!r}: {norm.kind.value} needs the values of at least "
                "two entities for the period"
            )
        if norm.kind is NormKind.ZSCORE:
            mu, sigma = float(np.mean(reference)), float(np.std(reference))
            if not (math.isfinite(mu) and math.isfinite(sigma)):
                raise MeasurementNotFinite(
                    f"component {component.key!r}: the mean or standard deviation of the "
                    "period's reference values is beyond the largest finite number, so the "
                    "z-score is undefined"
                )
            if sigma == 0:
                raise MeasurementUnavailable(
                    f"component {component.key!r}: every reference value is equal, so the "
                    "z-score is undefined"
                )
            z = (t - mu) / sigma
            return -z if flip else z
        a, b = float(np.min(reference)), float(np.max(reference))
        if not math.isfinite(b - a):
            raise MeasurementNotFinite(
                f"component {component.key!r}: the range of the period's reference values, "
                f"{b!r} − {a!r}, is beyond the largest finite number, so min-max "
                "normalisation is undefined"
            )
        if b == a:
            raise MeasurementUnavailable(
                f"component {component.key!r}: every reference value is equal, so min-max "
                "normalisation is undefined"
            )
    u = np.clip((t - a) / (b - a), 0.0, 1.0)
    return 1.0 - u if flip else u


def contributions(
    kind: Aggregation, scores: Sequence[FloatArray], weights: Sequence[float]
) -> list[FloatArray]:
    """Each component's weighted contribution (module doc): ``w s`` or ``s^w``."""
    if kind is Aggregation.WEIGHTED_GEOMETRIC:
        return [np.power(s, w) for s, w in zip(scores, weights, strict=True)]
    return [w * s for s, w in zip(scores, weights, strict=True)]


def aggregate(
    kind: Aggregation, scores: Sequence[FloatArray], weights: Sequence[float]
) -> FloatArray:
    """``W`` from the scores: the sum (arithmetic, money) or the product (geometric) of the
    contributions."""
    parts = contributions(kind, scores, weights)
    if not parts:
        raise MeasurementUnavailable("no component is left to aggregate")
    stacked = np.stack(parts)
    combined: FloatArray = (
        np.prod(stacked, axis=0)
        if kind is Aggregation.WEIGHTED_GEOMETRIC
        else np.sum(stacked, axis=0)
    )
    return combined
