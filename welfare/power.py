"""Voting power in a weighted council: exact Banzhaf and Shapley–Shubik indices.

The council votes as the *weighted game* ``[q; w_1, …, w_n]``: a coalition ``T`` of members
wins iff ``w(T) = Σ_{i∈T} w_i ≥ q`` (integer seats ``w_i ≥ 0``, integer quota
``1 ≤ q ≤ W = Σ w_i``). Member ``i`` is a *swing* in a losing coalition ``T ∌ i`` of the
others if ``T ∪ {i}`` wins, i.e. ``q − w_i ≤ w(T) ≤ q − 1``.

- Banzhaf: ``η_i`` = the number of such coalitions; the normalised index is
  ``β_i = η_i / Σ_j η_j`` (shares of all swings, summing to 1); the absolute index is
  ``β'_i = η_i / 2^(n−1)`` (the chance ``i`` decides a random coalition of the others).
- Shapley–Shubik: ``φ_i = Σ_{T swing for i} |T|! (n − 1 − |T|)! / n!``, the share of the
  ``n!`` orderings in which ``i`` is pivotal; the ``φ_i`` sum to 1.

Both come from ``c_{−i}[k][s]``, the number of coalitions of the others with ``k`` members
and weight ``s``, by the standard generating-function dynamic programme: build ``c`` over all
members (multiply by ``1 + x·y^{w_j}`` per member), then divide one member back out
(``c_{−i}[k][s] = c[k][s] − c_{−i}[k−1][s − w_i]``), once per *distinct* weight. Only sums
below a cut ``C`` are ever needed, so the tables are cut there:

- ``C = q`` counts the swing coalitions directly, ``w(T) ∈ [q − w_i, q − 1]``;
- the complement ``T' = others ∖ T`` has ``w(T') = W − w_i − w(T) ∈ [W − q − w_i + 1, W − q]``
  and ``|T'| = n − 1 − |T|``, with the same factor ``|T|! (n − 1 − |T|)!``; so the same
  count over ``C = W − q + 1`` gives the same swings and Shapley–Shubik sums.

Both windows are ``[max(0, C − w_i), C − 1]``, and the programme takes the smaller cut,
``C = min(q, W − q + 1) ≤ (W + 1)/2``: a two-thirds quota costs half of what it would
directly, a 99 % quota a fiftieth.

Exact and fast: counts are Python ints (no overflow at any size). Each row ``k`` of the
table is packed into one integer with a fixed-width digit per weight ``s`` (Kronecker
substitution), so multiplying a row by ``y^w`` is a shift and adding rows is one big-int
addition; a digit has ``n + bitlength(C) + 1`` bits, so no count (``< 2^n``) and no sum of
a window of counts overflows it, and a window's digits are summed by folding the integer
onto itself (``log₂`` of the window's width big-int additions). Work is about ``n²/2``
big-int operations on ``C·n``-bit numbers for the build, i.e. ``~n³·C/2`` bit operations,
plus ``n·log₂ C`` per distinct weight: 142 members in 800 seats take milliseconds; the
service bounds the council (`welfare.seats.MAX_TOTAL_SEATS`, `MAX_SEATED_MEMBERS`) so that
the worst case stays under a second. The results are `fractions.Fraction` values, exact.

The Jagiellonian quota (Słomczyński & Życzkowski): with weights ``∝ √N_i``, the threshold
``t_J = ½ (1 + √(Σ N_i) / Σ √N_i)`` makes each member's Banzhaf power approximately
proportional to its weight, so each citizen's indirect power is about equal.

Quota convention shared with `welfare.tally`: a motion with everyone voting yes or no passes
iff ``yes > t·W`` (strictly more than the threshold share), so the game's integer quota for
a threshold ``t`` is ``q = ⌊t·W⌋ + 1`` (`quota_weight`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from welfare.errors import InvalidWelfareInput

POWER_CACHE_SIZE = 32
"""Power tables `cached_power_table` keeps (the most recently used); each holds one
fraction pair per member, a few hundred kilobytes at most for the largest council."""

EEC_1958 = (12, (4, 4, 4, 2, 2, 1))
"""The EEC Council of Ministers, 1958: quota 12 of 17 (France, Germany, Italy, Belgium,
the Netherlands, Luxembourg). Luxembourg's vote never mattered."""


@dataclass(frozen=True, slots=True)
class PowerIndices:
    """Exact power indices of one weighted game, one entry per member (input order).

    Attributes:
        quota: the integer quota ``q``.
        weights: ``w_i`` (seats).
        swings: Banzhaf swing counts ``η_i``.
        banzhaf: normalised Banzhaf ``β_i = η_i / Σ η`` (sums to 1).
        shapley_shubik: ``φ_i`` (sums to 1).
    """

    quota: int
    weights: tuple[int, ...]
    swings: tuple[int, ...]
    banzhaf: tuple[Fraction, ...]
    shapley_shubik: tuple[Fraction, ...]

    @property
    def banzhaf_absolute(self) -> tuple[Fraction, ...]:
        """Absolute Banzhaf ``β'_i = η_i / 2^(n−1)``."""
        half = 2 ** (len(self.weights) - 1)
        return tuple(Fraction(eta, half) for eta in self.swings)


@dataclass(frozen=True, slots=True)
class PowerRow:
    """One member's line in the power table: weight beside power.

    Attributes:
        index: the member's position in the input.
        weight: seats ``w_i``.
        weight_share: ``w_i / W``.
        banzhaf: normalised Banzhaf index.
        shapley_shubik: Shapley–Shubik index.
        swings: Banzhaf swing count.
    """

    index: int
    weight: int
    weight_share: Fraction
    banzhaf: Fraction
    shapley_shubik: Fraction
    swings: int


@dataclass(frozen=True, slots=True)
class PowerTable:
    """The power table of a council at one quota."""

    quota: int
    total_weight: int
    rows: tuple[PowerRow, ...]


def _validate(weights: Sequence[int], quota: int) -> int:
    if not weights:
        raise InvalidWelfareInput("a weighted game needs at least one member")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int):
            raise InvalidWelfareInput(f"weights must be whole numbers, not {w!r}")
        if w < 0:
            raise InvalidWelfareInput(f"weights cannot be negative ({w})")
    total = sum(weights)
    if isinstance(quota, bool) or not isinstance(quota, int):
        raise InvalidWelfareInput(f"the quota must be a whole number, not {quota!r}")
    if not 1 <= quota <= total:
        raise InvalidWelfareInput(
            f"the quota must lie between 1 and the total weight {total}, not {quota}"
        )
    return total


def power_indices(weights: Sequence[int], quota: int) -> PowerIndices:
    """Exact Banzhaf and Shapley–Shubik indices of ``[quota; weights]``.

    Raises:
        InvalidWelfareInput: no members, a negative or non-integer weight, or a quota
            outside ``[1, W]``.
    """
    total = _validate(weights, quota)
    n = len(weights)
    cut = min(quota, total - quota + 1)  # see the module docstring: direct or complement
    digit_bits = n + cut.bit_length() + 1  # a count is < 2^n, a window's sum < C·2^n
    mask = (1 << (cut * digit_bits)) - 1

    # rows[k]: packed c[k][s] for s < cut, digit s at bit s·digit_bits.
    # The table does not depend on the order of the members; taking the lightest first
    # keeps the rows short (row k holds sums up to the k heaviest seen so far) for longest.
    rows = [1] + [0] * n
    for j, w in enumerate(sorted(weights)):
        if w >= cut:
            # this member's term y^w lies beyond the cut: nothing below it moves (nor for
            # the heavier members after it)
            break
        shift = w * digit_bits
        for k in range(j + 1, 0, -1):
            if rows[k - 1]:
                rows[k] += (rows[k - 1] << shift) & mask

    factorial = [math.factorial(k) for k in range(n + 1)]
    by_weight: dict[int, tuple[int, int]] = {}  # weight -> (swings, SS numerator over n!)
    for w in set(weights):
        by_weight[w] = _swings_for_weight(rows, n, w, cut, digit_bits, mask, factorial)

    swings = tuple(by_weight[w][0] for w in weights)
    total_swings = sum(swings)
    n_factorial = factorial[n]
    return PowerIndices(
        quota=quota,
        weights=tuple(weights),
        swings=swings,
        banzhaf=tuple(Fraction(eta, total_swings) for eta in swings),
        shapley_shubik=tuple(Fraction(by_weight[w][1], n_factorial) for w in weights),
    )


def _digit_sum(packed: int, width: int, digit_bits: int) -> int:
    """The sum of the ``width`` digits of ``packed``, by folding the top half onto the
    bottom until one digit is left (digits are wide enough that no sum carries)."""
    while width > 1:
        half = (width + 1) // 2
        bits = half * digit_bits
        packed = (packed & ((1 << bits) - 1)) + (packed >> bits)
        width = half
    return packed


def _swings_for_weight(
    rows: list[int],
    n: int,
    w: int,
    cut: int,
    digit_bits: int,
    mask: int,
    factorial: list[int],
) -> tuple[int, int]:
    """(η, Σ_k a_k·k!(n−1−k)!) for a member of weight ``w``, ``a_k`` = coalitions of size
    ``k`` of the others with weight in the window ``[max(0, C − w), C − 1]``: the swing
    coalitions themselves, or their complements (module docstring)."""
    if w == 0:
        return 0, 0
    lo = max(0, cut - w)
    width = cut - lo
    shift = w * digit_bits
    swings = 0
    shapley = 0
    others: int = rows[0]  # c_{-i}[0]: the empty coalition
    for k in range(n):
        if k > 0:
            others = rows[k] if w >= cut else rows[k] - ((others << shift) & mask)
        if not others:
            continue
        a_k = _digit_sum(others >> (lo * digit_bits), width, digit_bits)
        if a_k:
            swings += a_k
            shapley += a_k * factorial[k] * factorial[n - 1 - k]
    return swings, shapley


def quota_weight(total_weight: int, threshold: Fraction | float) -> int:
    """The integer quota ``q = ⌊t·W⌋ + 1`` for a threshold share ``t ∈ [0, 1)``.

    A float threshold is taken at its exact binary value.

    Raises:
        InvalidWelfareInput: ``t`` outside ``[0, 1)`` or a total weight below 1.
    """
    t = Fraction(threshold)
    if not 0 <= t < 1:
        raise InvalidWelfareInput(f"a threshold share must lie in [0, 1), not {float(t)}")
    if total_weight < 1:
        raise InvalidWelfareInput("the council has no weight to take a share of")
    return math.floor(t * total_weight) + 1


def jagiellonian_quota(populations: Sequence[int]) -> float:
    """The Jagiellonian threshold share ``t_J = ½ (1 + √(Σ N_i) / Σ √N_i)`` (a probability).

    Args:
        populations: ``N_i ≥ 0`` (persons), at least one positive.

    Raises:
        InvalidWelfareInput: no populations, a negative one, or all zero.
    """
    if not populations:
        raise InvalidWelfareInput("the Jagiellonian quota needs at least one population")
    for p in populations:
        if p < 0:
            raise InvalidWelfareInput(f"a population cannot be negative ({p})")
    root_sum = sum(math.sqrt(p) for p in populations)
    if root_sum == 0:
        raise InvalidWelfareInput("the Jagiellonian quota needs a positive population")
    return 0.5 * (1.0 + math.sqrt(sum(populations)) / root_sum)


def power_table(weights: Sequence[int], quota: int) -> PowerTable:
    """Each member's weight, weight share, Banzhaf and Shapley–Shubik power at ``quota``."""
    indices = power_indices(weights, quota)
    total = sum(weights)
    rows = tuple(
        PowerRow(
            index=i,
            weight=w,
            weight_share=Fraction(w, total),
            banzhaf=indices.banzhaf[i],
            shapley_shubik=indices.shapley_shubik[i],
            swings=indices.swings[i],
        )
        for i, w in enumerate(weights)
    )
    return PowerTable(quota=quota, total_weight=total, rows=rows)


@functools.lru_cache(maxsize=POWER_CACHE_SIZE)
def cached_power_table(weights: tuple[int, ...], quota: int) -> PowerTable:
    """`power_table`, remembered for the `POWER_CACHE_SIZE` most recent games.

    The table is a pure function of the seat vector and the quota, so they are the whole key:
    a council whose seats or threshold change is another game and gets its own table, and
    an unchanged council is served without recomputing (thread-safe; two threads missing at
    once may both compute the same table, which is harmless).
    """
    return power_table(weights, quota)
