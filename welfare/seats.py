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

Bounds. The council's power table (`welfare.power`) is computed exactly, in about
``n³·C/2`` bit operations for ``n`` members and a cut ``C ≤ (W + 1)/2`` of the ``W`` seats,
plus ``n²·C`` per distinct seat count. So the council is bounded where seats are set: at
most `MAX_SEATED_MEMBERS` members and `MAX_TOTAL_SEATS` seats in all (the assembly size of
penrose and two_factor, the sum of the explicit weights). Measured on the project's 2-core
machine, the worst council inside both bounds (200 members, 4 000 seats, 87 distinct seat
counts, a threshold of ½) takes 0.7 s; 142 members in 800 seats (the demo) take 20 ms,
while 800 members of one seat each would take 3 s and 100 000 seats half a minute.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from welfare.apportion import DEFAULT_ASSEMBLY_SIZE, apportion_sqrt
from welfare.errors import InvalidWelfareInput

MAX_TOTAL_SEATS = 4_000
"""Most seats a council has in all: its assembly size, or the sum of its explicit weights
(see the module docstring for why)."""

MAX_SEATED_MEMBERS = 200
"""Most members a council seats (every member holds at least one seat)."""


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


def _check_assembly(method: SeatMethod, members: int, size: int) -> None:
    """The assembly is a whole number of seats, within `MAX_TOTAL_SEATS`, and large enough
    to give every member a seat: ``S ≥ n`` under penrose; under two_factor the population
    half ``S − ⌊S/2⌋ = ⌈S/2⌉`` must reach ``n``, so ``S ≥ 2n − 1``."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidWelfareInput(f"the assembly size must be a whole number, not {size!r}")
    if size > MAX_TOTAL_SEATS:
        raise InvalidWelfareInput(
            f"an assembly of {size} seats is larger than the {MAX_TOTAL_SEATS} seats a council "
            "may have"
        )
    needed = 2 * members - 1 if method is SeatMethod.TWO_FACTOR else members
    if size < needed:
        how = (
            f"the two-factor method shares ⌈S/2⌉ seats by population with at least one "
            f"each, so {members} members need S ≥ 2·{members} − 1 = {needed}"
            if method is SeatMethod.TWO_FACTOR
            else f"{members} members need at least {needed} seats"
        )
        raise InvalidWelfareInput(
            f"an assembly of {size} seats cannot seat every member: {how}; send an assembly "
            f"size of at least {needed}"
        )


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
        InvalidWelfareInput: an unknown method, a missing or malformed factor, more than
            `MAX_SEATED_MEMBERS` members or `MAX_TOTAL_SEATS` seats, or an assembly too
            small to give every member a seat (naming the smallest that would).
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
    if n > MAX_SEATED_MEMBERS:
        raise InvalidWelfareInput(
            f"a council seats at most {MAX_SEATED_MEMBERS} members (so that its exact power "
            f"table stays quick to compute), and this one would have {n}"
        )
    _whole_non_negative(populations, "population")
    if checked is SeatMethod.EQUAL:
        return [1] * n
    if checked is not SeatMethod.EXPLICIT:
        _check_assembly(checked, n, assembly_size)
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
        if sum(weights) > MAX_TOTAL_SEATS:
            raise InvalidWelfareInput(
                f"the explicit weights sum to {sum(weights)} seats, more than the "
                f"{MAX_TOTAL_SEATS} seats a council may have; send smaller weights"
            )
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
