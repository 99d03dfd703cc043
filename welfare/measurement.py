"""Measuring welfare: one metric version, one period, one cut-off date (pure).

Steps, in order:

1. Vintage: from the observations, keep per ``(indicator, entity, period)`` the release the
   definition's vintage policy settles on, among those released on or before the cut-off
   (`welfare.vintage`).
2. Per component, the value of its indicator for the definition's entity and the period.
   If there is none, the missing-data policy decides: ``fail`` (refuse),
   ``carry_forward`` (the latest earlier period of the same form — year, quarter or month
   — known at the cut-off) or ``drop_and_reweight`` (leave the component out and divide
   the remaining weights by their sum, so they again sum to 1).
3. Transform, normalise and aggregate (`welfare.aggregation` states the formulas). The
   reference set of ``minmax``/``zscore`` is every entity's value of the indicator for the
   period the component used.
4. Optionally, Monte Carlo uncertainty: each used value with a standard error ``σ > 0`` is
   drawn ``n`` times from ``N(x, σ²)`` (under a log transform ``ln x`` is drawn from
   ``N(ln x, (σ/x)²)``, the delta method, so draws stay positive); reference sets are held
   fixed; ``W`` is recomputed per draw. Draws come from ``numpy.random.default_rng(seed)``
   in component-key order, so a seed reproduces the result exactly.

The point value ``W`` always uses the central values, never the Monte Carlo mean.

Finiteness: observations are any finite numbers, so a score (a z-score or a min-max score
over a range beyond the float range), a contribution (a ``money_sum`` weight times a huge
amount), ``W`` (a sum of huge contributions), a Monte Carlo draw (a huge standard error) or
a Monte Carlo summary can overflow. Each is checked where it is computed, and the first
that is not a finite number raises `MeasurementNotFinite` naming the component (or the
figure) that overflowed: a measurement is a finite number or none at all.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from welfare.aggregation import FloatArray, aggregate, contributions, normalise, transform
from welfare.errors import InvalidWelfareInput, MeasurementNotFinite, MeasurementUnavailable
from welfare.metric import Component, MetricDefinition, MissingPolicy, NormKind, VintagePolicy
from welfare.vintage import Obs, SeriesKey, as_known_on, check_period, first_releases, period_form

MAX_DRAWS = 100_000
"""Upper limit on Monte Carlo draws per measurement."""

PERCENTILES = (5.0, 50.0, 95.0)

_FLOAT_MAX = sys.float_info.max


@dataclass(frozen=True, slots=True)
class ComponentResult:
    """One component's part in a measurement.

    A dropped component has ``status = "dropped"`` and None in every value field.

    Attributes:
        key, indicator: the component and its indicator.
        status: ``"observed"``, ``"carried_forward"`` or ``"dropped"``.
        period: the period whose value was used (earlier than measured if carried forward).
        raw: the value used, in the indicator's unit; ``std_error`` its standard error.
        release_date, source, observation_seq: which observation it was.
        transformed: ``ln raw`` under a log transform, else ``raw``.
        normalised: the score ``s``.
        weight: the weight applied (re-normalised after a drop).
        contribution: ``w s`` (arithmetic, money) or ``s^w`` (geometric).
    """

    key: str
    indicator: str
    status: str
    period: str | None
    raw: float | None
    std_error: float | None
    release_date: date | None
    source: str | None
    observation_seq: int | None
    transformed: float | None
    normalised: float | None
    weight: float | None
    contribution: float | None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (dates as ISO strings)."""
        return {
            "key": self.key,
            "indicator": self.indicator,
            "status": self.status,
            "period": self.period,
            "raw": self.raw,
            "std_error": self.std_error,
            "release_date": self.release_date.isoformat() if self.release_date else None,
            "source": self.source,
            "observation_id": self.observation_seq,
            "transformed": self.transformed,
            "normalised": self.normalised,
            "weight": self.weight,
            "contribution": self.contribution,
        }


@dataclass(frozen=True, slots=True)
class MissingReport:
    """The missing-data handling applied.

    Attributes:
        policy: the definition's policy.
        carried_forward: component key → the earlier period whose value was used.
        dropped: keys of components left out.
        reweighted: whether weights were re-normalised (a component was dropped).
    """

    policy: MissingPolicy
    carried_forward: dict[str, str]
    dropped: tuple[str, ...]

    @property
    def reweighted(self) -> bool:
        """True iff a component was dropped and the rest re-weighted."""
        return bool(self.dropped)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "policy": self.policy.value,
            "carried_forward": dict(sorted(self.carried_forward.items())),
            "dropped": list(self.dropped),
            "reweighted": self.reweighted,
        }


@dataclass(frozen=True, slots=True)
class Uncertainty:
    """Monte Carlo summary of ``W`` (sample sd with ``ddof = 1``; numpy's linear
    percentiles)."""

    draws: int
    seed: int
    mean: float
    sd: float
    p5: float
    p50: float
    p95: float

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "draws": self.draws,
            "seed": self.seed,
            "mean": self.mean,
            "sd": self.sd,
            "p5": self.p5,
            "p50": self.p50,
            "p95": self.p95,
        }


@dataclass(frozen=True, slots=True)
class MeasurementResult:
    """A computed welfare value with everything needed to check it."""

    value: float
    entity: str
    period: str
    cutoff: date
    components: tuple[ComponentResult, ...]
    missing: MissingReport
    uncertainty: Uncertainty | None

    def breakdown_json(self) -> list[dict[str, Any]]:
        """The per-component breakdown as plain JSON data."""
        return [c.to_json() for c in self.components]


@dataclass(frozen=True, slots=True)
class _Used:
    component: Component
    obs: Obs
    status: str
    reference: FloatArray | None


def _settled(
    definition: MetricDefinition, observations: Iterable[Obs], cutoff: date
) -> dict[SeriesKey, Obs]:
    wanted = set(definition.indicators)
    relevant = [o for o in observations if o.indicator in wanted]
    if definition.vintage_policy is VintagePolicy.FIRST_RELEASE:
        return first_releases(relevant, by=cutoff)
    return as_known_on(relevant, cutoff)


def _carry_forward(
    known: dict[SeriesKey, Obs], indicator: str, entity: str, period: str
) -> Obs | None:
    form = period_form(period)
    earlier = [
        o
        for (ind, ent, per), o in known.items()
        if ind == indicator and ent == entity and period_form(per) == form and per < period
    ]
    return max(earlier, key=lambda o: o.period, default=None)


def _reference(known: dict[SeriesKey, Obs], component: Component, period: str) -> FloatArray | None:
    if component.normalisation.kind not in (NormKind.MINMAX, NormKind.ZSCORE):
        return None
    values = np.array(
        [
            o.value
            for (ind, _, per), o in known.items()
            if ind == component.indicator and per == period
        ],
        dtype=np.float64,
    )
    return transform(values, component.log)


def measure(
    definition: MetricDefinition,
    observations: Iterable[Obs],
    period: str | int,
    cutoff: date,
    *,
    monte_carlo: int = 0,
    seed: int = 0,
) -> MeasurementResult:
    """Compute ``W`` for ``definition.entity`` in ``period`` with the data known at
    ``cutoff`` (steps in the module docstring).

    Args:
        definition: a validated metric definition.
        observations: every candidate observation (others are ignored); those released
            after ``cutoff`` are never used.
        period: ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM`` (an int is a year).
        cutoff: the settlement cut-off date.
        monte_carlo: number of draws (0: no uncertainty), at most `MAX_DRAWS`.
        seed: seed of the random generator.

    Raises:
        InvalidWelfareInput: a bad period or draw count.
        MeasurementUnavailable: the data cannot produce a value under the policies.
        MeasurementNotFinite: a score, a contribution, ``W``, a Monte Carlo draw or summary
            is not a finite number (the message names the component or the figure).
    """
    period = check_period(period)
    if isinstance(monte_carlo, bool) or not 0 <= monte_carlo <= MAX_DRAWS:
        raise InvalidWelfareInput(f"monte_carlo must be between 0 and {MAX_DRAWS} draws")
    known = _settled(definition, observations, cutoff)
    policy = definition.missing_policy
    used: list[_Used] = []
    dropped: list[str] = []
    carried: dict[str, str] = {}
    for component in definition.components:
        obs = known.get((component.indicator, definition.entity, period))
        status = "observed"
        if obs is None:
            what = (
                f"component {component.key!r} ({component.indicator} for "
                f"{definition.entity}, {period}) has no value released by {cutoff.isoformat()}"
            )
            if policy is MissingPolicy.FAIL:
                raise MeasurementUnavailable(f"{what}, and the missing-data policy is fail")
            if policy is MissingPolicy.DROP_AND_REWEIGHT:
                dropped.append(component.key)
                continue
            obs = _carry_forward(known, component.indicator, definition.entity, period)
            if obs is None:
                raise MeasurementUnavailable(f"{what}, nor for any earlier period to carry forward")
            status = "carried_forward"
            carried[component.key] = obs.period
        if component.log and obs.value <= 0:
            raise MeasurementUnavailable(
                f"component {component.key!r}: the value {obs.value!r} is ≤ 0, so its log is "
                "undefined"
            )
        used.append(_Used(component, obs, status, _reference(known, component, obs.period)))
    total_weight = sum(u.component.weight for u in used)
    if not used or total_weight <= 0:
        raise MeasurementUnavailable(
            f"no component with a positive weight has data for {definition.entity}, {period} "
            f"released by {cutoff.isoformat()}"
        )
    reweight = bool(dropped)
    weights = [u.component.weight / total_weight if reweight else u.component.weight for u in used]

    def scores(raw: list[FloatArray]) -> list[FloatArray]:
        with _overflow_checked_later():
            return [
                normalise(transform(x, u.component.log), u.component, u.reference)
                for x, u in zip(raw, used, strict=True)
            ]

    central = scores([np.array([u.obs.value], dtype=np.float64) for u in used])
    for u, score in zip(used, central, strict=True):
        if not math.isfinite(score[0]):
            raise MeasurementNotFinite(
                f"component {u.component.key!r}: the score of {u.component.indicator} = "
                f"{u.obs.value!r} under {u.component.normalisation.kind.value} normalisation "
                f"is {float(score[0])!r}, not a finite number: the value (or the period's "
                "reference values) is too large for the metric's arithmetic"
            )
    with _overflow_checked_later():
        parts = contributions(definition.aggregation, central, weights)
        total = aggregate(definition.aggregation, central, weights)
    for u, part, score, w in zip(used, parts, central, weights, strict=True):
        if not math.isfinite(part[0]):
            raise MeasurementNotFinite(
                f"component {u.component.key!r}: its contribution, weight {w!r} × score "
                f"{float(score[0])!r}, is beyond the largest finite number"
            )
    value = float(total[0])
    if not math.isfinite(value):
        listed = ", ".join(
            f"{u.component.key!r} {float(part[0]):.3g}" for u, part in zip(used, parts, strict=True)
        )
        raise MeasurementNotFinite(
            f"W is not a finite number: the contributions ({listed}) add up beyond the "
            f"largest finite number (about {_FLOAT_MAX:.3g}); the observations are too large "
            "for this metric"
        )

    results: dict[str, ComponentResult] = {}
    for u, s, part, w in zip(used, central, parts, weights, strict=True):
        t = transform(np.array([u.obs.value], dtype=np.float64), u.component.log)
        results[u.component.key] = ComponentResult(
            key=u.component.key,
            indicator=u.component.indicator,
            status=u.status,
            period=u.obs.period,
            raw=u.obs.value,
            std_error=u.obs.std_error,
            release_date=u.obs.release_date,
            source=u.obs.source,
            observation_seq=u.obs.seq,
            transformed=float(t[0]),
            normalised=float(s[0]),
            weight=w,
            contribution=float(part[0]),
        )
    for key in dropped:
        component = next(c for c in definition.components if c.key == key)
        results[key] = ComponentResult(
            key=key,
            indicator=component.indicator,
            status="dropped",
            period=None,
            raw=None,
            std_error=None,
            release_date=None,
            source=None,
            observation_seq=None,
            transformed=None,
            normalised=None,
            weight=None,
            contribution=None,
        )

    uncertainty = None
    if monte_carlo > 0:
        uncertainty = _monte_carlo(definition, used, weights, monte_carlo, seed, scores)
    return MeasurementResult(
        value=value,
        entity=definition.entity,
        period=period,
        cutoff=cutoff,
        components=tuple(results[c.key] for c in definition.components),
        missing=MissingReport(policy, carried, tuple(dropped)),
        uncertainty=uncertainty,
    )


def _monte_carlo(
    definition: MetricDefinition,
    used: list[_Used],
    weights: list[float],
    n: int,
    seed: int,
    scores: Callable[[list[FloatArray]], list[FloatArray]],
) -> Uncertainty:
    rng = np.random.default_rng(seed)
    draws: list[FloatArray] = []
    with _overflow_checked_later():
        for u in used:
            x, se = u.obs.value, u.obs.std_error
            if se is None or se == 0:
                draws.append(np.full(n, x, dtype=np.float64))
            elif u.component.log:
                draws.append(np.exp(rng.normal(np.log(x), se / x, size=n)))
            else:
                draws.append(rng.normal(x, se, size=n))
    for u, drawn in zip(used, draws, strict=True):
        # under a log transform a draw of exactly 0 is e^(−huge) underflowing, not data
        if not np.all(np.isfinite(drawn)) or (u.component.log and np.any(drawn <= 0)):
            raise MeasurementNotFinite(
                f"component {u.component.key!r}: Monte Carlo draws of {u.component.indicator} "
                f"around {u.obs.value!r} with standard error {u.obs.std_error!r} go beyond the "
                "float range; measure without Monte Carlo draws, or correct the standard error"
            )
    drawn_scores = scores(draws)
    for u, score in zip(used, drawn_scores, strict=True):
        if not np.all(np.isfinite(score)):
            raise MeasurementNotFinite(
                f"component {u.component.key!r}: the score of a Monte Carlo draw of "
                f"{u.component.indicator} is not a finite number; the draws are too large for "
                "the metric's arithmetic"
            )
    with _overflow_checked_later():
        w = aggregate(definition.aggregation, drawn_scores, weights)
    if not np.all(np.isfinite(w)):
        raise MeasurementNotFinite(
            "W of a Monte Carlo draw is not a finite number: the drawn contributions add up "
            f"beyond the largest finite number (about {_FLOAT_MAX:.3g})"
        )
    with _overflow_checked_later():
        p5, p50, p95 = (float(v) for v in np.percentile(w, PERCENTILES))
        summary = {
            "mean": float(np.mean(w)),
            "sd": float(np.std(w, ddof=1)) if n > 1 else 0.0,
            "p5": p5,
            "p50": p50,
            "p95": p95,
        }
    for name, figure in summary.items():
        if not math.isfinite(figure):
            raise MeasurementNotFinite(
                f"the Monte Carlo {name} of W is not a finite number: the draws of W span "
                "beyond the float range"
            )
    return Uncertainty(draws=n, seed=seed, **summary)


def _overflow_checked_later() -> Any:
    """Let numpy overflow to ±inf or NaN without a warning: every figure it yields is
    checked for finiteness before it is used or stored (`MeasurementNotFinite`)."""
    return np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore")
