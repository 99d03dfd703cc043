"""Seat methods: how many seats (voting weight) each council member holds.

A member's seats are its voting weight in every tally. Four methods:

- ``equal``: one seat each (the assembly size is the number of members; one member, one
  vote). The configured assembly size is ignored.
- ``penrose``: the assembly size ``S`` apportioned in proportion to ``√N_i`` (Penrose's
  square-root rule, ``N_i`` the constituency's population), by Webster with ≥ 1 seat each.
- ``two_factor``: half of the seats by ``√N_i`` and half by ``√C_i`` (``C_i`` the
  constituency's contribution, e.g. to the common budget, in whole currency units). The
  population half is ``S − ⌊S/2⌋`` seats with ≥ 1 each, the contribution half ``⌊S/2⌋``
  seats with no minimum (a member contributing nothing gets none of that half); the member's
  seats are the sum, so ``Σ seats = S`` and each member has ≥ 1.
- ``explicit``: the weights the council has written down, whole numbers ≥ 1; the assembly
  size is their sum.

All arithmetic is exact (see `welfare.apportion`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from welfare.apportion import DEFAULT_ASSEMBLY_SIZE, apportion_sqrt
from welfare.errors import InvalidWelfareInput


class SeatMethod(enum.StrEnum):
    """How seats are assigned."""

    EQUAL = "equal"
    PENROSE = "penrose"
    TWO_FACTOR = "two_factor"
    EXPLICIT = "explicit"


def _whole_non_negative(values: Sequence[int], what: str) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidWelfareInput(f"each {what} must be a whole number, not {v!r}")
        if v < 0:
            raise InvalidWelfareInput(f"a {what} cannot be negative ({v})")


def allocate_seats(
    method: SeatMethod | str,
    *,
    populations: Sequence[int],
    contributions: Sequence[int] | None = None,
    explicit_weights: Sequence[int | None] | None = None,
    assembly_size: int = DEFAULT_ASSEMBLY_SIZE,
) -> list[int]:
    """The seats of each member under ``method``, in input order.

    Args:
        method: a `SeatMethod` (or its value).
        populations: ``N_i`` (persons), one per member; used by penrose and two_factor.
        contributions: ``C_i`` (whole currency units); needed by two_factor.
        explicit_weights: the written-down weights; needed (all set, each ≥ 1) by explicit.
        assembly_size: ``S`` for penrose and two_factor.

    Raises:
        InvalidWelfareInput: an unknown method, a missing or malformed factor, or an
            assembly too small to give every member a seat.
    """
    try:
        checked = SeatMethod(method)
    except ValueError:
        known = ", ".join(m.value for m in SeatMethod)
        raise InvalidWelfareInput(
            f"the seat method must be one of {known}, not {method!r}"
        ) from None
    n = len(populations)
    if n == 0:
        raise InvalidWelfareInput("there are no members to give seats to")
    _whole_non_negative(populations, "population")
    if checked is SeatMethod.EQUAL:
        return [1] * n
    if checked is SeatMethod.EXPLICIT:
        if explicit_weights is None or len(explicit_weights) != n:
            raise InvalidWelfareInput("the explicit method needs a weight for every member")
        weights: list[int] = []
        for w in explicit_weights:
            if w is None:
                raise InvalidWelfareInput(
                    "the explicit method needs a weight for every member; at least one has none"
                )
            weights.append(w)
        _whole_non_negative(weights, "explicit weight")
        if min(weights) < 1:
            raise InvalidWelfareInput("every explicit weight must be at least 1")
        return weights
    if checked is SeatMethod.PENROSE:
        return apportion_sqrt(list(populations), assembly_size)
    if contributions is None or len(contributions) != n:
        raise InvalidWelfareInput("the two-factor method needs a contribution for every member")
    _whole_non_negative(contributions, "contribution")
    contribution_half = assembly_size // 2
    population_half = assembly_size - contribution_half
    by_population = apportion_sqrt(list(populations), population_half)
    if contribution_half == 0:
        return by_population
    if all(c == 0 for c in contributions):
        raise InvalidWelfareInput(
            "the two-factor method needs at least one member with a positive contribution"
        )
    by_contribution = apportion_sqrt(list(contributions), contribution_half, minimum=0)
    return [a + b for a, b in zip(by_population, by_contribution, strict=True)]
