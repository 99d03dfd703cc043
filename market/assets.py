"""What an outcome pays: scalar (LONG/SHORT) and binned welfare assets.

Both kinds trade the welfare value ``W`` (welfare units) clipped to a tradable range and
resolve a measured ``W`` into a payout vector: micro-units of cash per whole share of each
outcome, rounded DOWN so the maker never pays more than the exact value. A position pays
`payout_of_position` (also rounded down). Reading prices back into welfare:

- `ScalarAsset` (2 outcomes): ``E[W] = lo + (hi − lo) · p_LONG``;
- `BinnedAsset` (n outcomes): a piecewise-uniform distribution over the bins, giving the
  expected value, quantiles and ``P(W < x)``.

Prices are normalised by their sum before use, so the slightly super-unit price vectors of
the liquidity-sensitive LMSR read the same way.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from market.book import MICROS
from market.errors import InvalidMarketInput

FloatArray = npt.NDArray[np.float64]


def _finite(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise InvalidMarketInput(f"{name} must be a number, got {x!r}.")
    value = float(x)
    if not math.isfinite(value):
        raise InvalidMarketInput(f"{name} must be a finite number, got {value}.")
    return value


def _probabilities(prices: Sequence[float], n: int) -> list[float]:
    """Validate prices (non-negative, finite, one per outcome) and normalise them to sum 1."""
    if isinstance(prices, str | bytes) or not isinstance(prices, Sequence):
        raise InvalidMarketInput(f"Prices must be a sequence of numbers, got {prices!r}.")
    if len(prices) != n:
        raise InvalidMarketInput(f"Expected {n} prices, one per outcome, got {len(prices)}.")
    values = [_finite(p, "A price") for p in prices]
    if any(p < 0.0 for p in values):
        raise InvalidMarketInput("Prices cannot be negative.")
    total = math.fsum(values)
    if total <= 0.0:
        raise InvalidMarketInput("Prices must have a positive sum.")
    return [p / total for p in values]


def _check_probability(p: object) -> float:
    value = _finite(p, "The probability")
    if not 0.0 <= value <= 1.0:
        raise InvalidMarketInput(f"A probability must lie between 0 and 1, got {value}.")
    return value


def payout_of_position(shares_micros: int, per_share_micros: int) -> int:
    """Cash paid for a position: ``⌊shares · per_share / 1e6⌋`` micro-units (rounded down).

    Args:
        shares_micros: shares held, micro-shares, ``≥ 0``.
        per_share_micros: payout per whole share, micro-units, ``≥ 0``.

    Raises:
        InvalidMarketInput: a negative or non-integer amount.
    """
    for name, value in (("shares", shares_micros), ("payout per share", per_share_micros)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidMarketInput(
                f"The {name} must be a non-negative integer of micro-units, got {value!r}."
            )
    return shares_micros * per_share_micros // MICROS


@dataclass(frozen=True)
class ScalarAsset:
    """A LONG/SHORT pair on ``W`` over the tradable bounds ``[lo, hi]`` (welfare units).

    With ``x = clip((W − lo) / (hi − lo), 0, 1)``, LONG (outcome 0) pays ``x`` and SHORT
    (outcome 1) pays ``1 − x`` per share, so one LONG plus one SHORT always pays 1 (less
    at most one micro-unit of rounding).
    """

    lo: float
    hi: float

    def __post_init__(self) -> None:
        lo = _finite(self.lo, "The lower bound lo")
        hi = _finite(self.hi, "The upper bound hi")
        if not lo < hi:
            raise InvalidMarketInput(
                f"The bounds must satisfy lo < hi, got lo = {lo} and hi = {hi}."
            )

    @property
    def outcomes(self) -> tuple[str, str]:
        """Outcome names, in book order."""
        return ("LONG", "SHORT")

    @property
    def n(self) -> int:
        """Number of outcomes (2)."""
        return 2

    def expected_welfare(self, prices: Sequence[float]) -> float:
        """``E[W] = lo + (hi − lo) · p_LONG / (p_LONG + p_SHORT)``, welfare units."""
        p_long, _ = _probabilities(prices, 2)
        return self.lo + (self.hi - self.lo) * p_long

    def expected_welfare_many(self, prices: npt.ArrayLike) -> FloatArray:
        """`expected_welfare` over an array of price vectors, outcomes on the LAST axis.

        ``lo + (hi − lo) · p_LONG / (p_LONG + p_SHORT)`` per row (welfare units); the same
        formula as the scalar, for the simulator's many markets. Inputs are trusted (the
        float fast mode's prices): no validation beyond the shape.
        """
        p = np.asarray(prices, dtype=np.float64)
        if p.shape[-1:] != (2,):
            raise InvalidMarketInput(f"Expected 2 prices on the last axis, got shape {p.shape}.")
        long = p[..., 0]
        out: FloatArray = self.lo + (self.hi - self.lo) * (long / (long + p[..., 1]))
        return out

    def fraction(self, W: float) -> Fraction:
        """``x = clip((W − lo) / (hi − lo), 0, 1)`` as an exact rational (from the floats)."""
        w = _finite(W, "The measured welfare W")
        lo, hi = Fraction(self.lo), Fraction(self.hi)
        return min(max((Fraction(w) - lo) / (hi - lo), Fraction(0)), Fraction(1))

    def payout_micros(self, W: float) -> tuple[int, int]:
        """Resolution: ``(⌊x · 1e6⌋, ⌊(1 − x) · 1e6⌋)`` micro-units per whole share.

        Computed exactly on the rationals of the float inputs, so the pair sums to 1e6 when
        ``x · 1e6`` is an integer and to 1e6 − 1 otherwise, never more.

        Raises:
            InvalidMarketInput: ``W`` is NaN or infinite.
        """
        x = self.fraction(W)
        return (math.floor(x * MICROS), math.floor((1 - x) * MICROS))


@dataclass(frozen=True)
class BinnedAsset:
    """A distribution market: one outcome per bin of ``W`` (welfare units).

    ``edges`` are ``n + 1`` strictly increasing finite numbers, giving ``n ≥ 2`` bins:
    bin ``i`` is ``[e_i, e_{i+1})`` and the last bin is closed, ``[e_{n−1}, e_n]``.
    The asset trades ``clip(W, e_0, e_n)``, like the scalar asset: the outer bins are open
    at resolution (a ``W`` below ``e_0`` resolves to bin 0, above ``e_n`` to the last bin),
    while prices are read as a distribution uniform within each bin over ``[e_0, e_n]``.
    So ``prob_below(x)`` is ``P(clip(W) < x)``: 0 at ``e_0`` and 1 at ``e_n``.
    """

    edges: tuple[float, ...]

    def __post_init__(self) -> None:
        edges = self.edges
        if isinstance(edges, str | bytes) or not isinstance(edges, Sequence):
            raise InvalidMarketInput(f"The bin edges must be a sequence of numbers, got {edges!r}.")
        values = tuple(_finite(e, "A bin edge") for e in edges)
        if len(values) < 3:
            raise InvalidMarketInput(
                f"A binned asset needs at least two bins (three edges), got {len(values)} edges."
            )
        for a, c in itertools.pairwise(values):
            if not a < c:
                raise InvalidMarketInput(
                    f"Bin edges must be strictly increasing; {a} is followed by {c}."
                )
        object.__setattr__(self, "edges", values)

    @property
    def n(self) -> int:
        """Number of bins (outcomes)."""
        return len(self.edges) - 1

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Outcome names: the bins as intervals, e.g. ``"[0, 10)"`` and ``"[20, 30]"``."""
        e = self.edges
        names = [f"[{e[i]:g}, {e[i + 1]:g})" for i in range(self.n - 1)]
        names.append(f"[{e[-2]:g}, {e[-1]:g}]")
        return tuple(names)

    def bin_of(self, W: float) -> int:
        """Index of the bin that holds ``clip(W, e_0, e_n)``."""
        w = _finite(W, "The measured welfare W")
        return min(max(bisect.bisect_right(self.edges, w) - 1, 0), self.n - 1)

    def expected_welfare(self, prices: Sequence[float]) -> float:
        """``E[W] = Σ_i p_i · (e_i + e_{i+1}) / 2``, welfare units."""
        p = _probabilities(prices, self.n)
        e = self.edges
        return math.fsum(p[i] * (e[i] + e[i + 1]) / 2.0 for i in range(self.n))

    def midpoints(self) -> FloatArray:
        """``(e_i + e_{i+1}) / 2`` per bin, welfare units."""
        e = np.asarray(self.edges, dtype=np.float64)
        mids: FloatArray = (e[:-1] + e[1:]) / 2.0
        return mids

    def expected_welfare_many(self, prices: npt.ArrayLike) -> FloatArray:
        """`expected_welfare` over an array of price vectors, outcomes on the LAST axis:
        ``Σ_i p_i · mid_i / Σ_i p_i`` per row (welfare units; inputs trusted, as the scalar
        asset's twin)."""
        p = np.asarray(prices, dtype=np.float64)
        if p.shape[-1:] != (self.n,):
            raise InvalidMarketInput(
                f"Expected {self.n} prices on the last axis, got shape {p.shape}."
            )
        out: FloatArray = (p @ self.midpoints()) / p.sum(axis=-1)
        return out

    def prob_below(self, prices: Sequence[float], x: float) -> float:
        """``P(W < x) = Σ_{j<i} p_j + p_i · (x − e_i) / (e_{i+1} − e_i)`` for x in bin i.

        0 for ``x ≤ e_0``, 1 for ``x ≥ e_n`` (probability).
        """
        p = _probabilities(prices, self.n)
        xv = _finite(x, "x")
        e = self.edges
        if xv <= e[0]:
            return 0.0
        if xv >= e[-1]:
            return 1.0
        i = bisect.bisect_right(e, xv) - 1
        return min(math.fsum(p[:i]) + p[i] * (xv - e[i]) / (e[i + 1] - e[i]), 1.0)

    def quantile(self, prices: Sequence[float], q: float) -> float:
        """The ``q``-quantile: the smallest ``x`` with ``P(W < x) ≥ q`` (welfare units).

        Inverts the piecewise-linear distribution function: in the bin where the
        cumulative probability first reaches ``q``, ``x = e_i + (q − P_i) / p_i · width``.
        ``quantile(p, 0) = e_0`` and ``quantile(p, 1)`` is the top of the last bin with
        positive probability.
        """
        p = _probabilities(prices, self.n)
        level = _check_probability(q)
        e = self.edges
        if level == 0.0:
            return e[0]
        below = 0.0
        for i, pi in enumerate(p):
            if pi > 0.0 and below + pi >= level:
                share = min(max((level - below) / pi, 0.0), 1.0)
                return e[i] + share * (e[i + 1] - e[i])
            below += pi
        last = max(i for i, pi in enumerate(p) if pi > 0.0)
        return e[last + 1]

    def payout_micros(self, W: float) -> tuple[int, ...]:
        """Resolution: the bin holding ``clip(W)`` pays 1_000_000 micro-units a share, the rest 0.

        Raises:
            InvalidMarketInput: ``W`` is NaN or infinite.
        """
        k = self.bin_of(W)
        return tuple(MICROS if i == k else 0 for i in range(self.n))


Asset = ScalarAsset | BinnedAsset
"""Either kind of welfare asset."""
