"""Apportionment: share an exact number of seats by the Webster/Sainte-Laguë divisor method.

The Webster (Sainte-Laguë) method gives member ``i`` with weight ``v_i`` the seat count
``s_i = max(m, round(v_i / d))`` for a divisor ``d`` chosen so that ``Σ s_i = S``, where
``round`` rounds at the half (the divisors ``2s + 1``) and ``m`` is the minimum (default 1).
It is computed here by its equivalent *highest averages* form: every member first receives
its ``m`` seats, then each remaining seat goes, one at a time, to the member with the
largest priority ``v_i / (2 s_i + 1)``. For a divisor method started at the minimum this
sequential form yields exactly the divisor allocation.

Exactness: weights are often square roots (Penrose: ``v_i = √N_i``), which no float holds
exactly. So the weights are given by their *squares* ``q_i = v_i²`` as exact integers or
`fractions.Fraction`, and priorities are compared without any root:

    v_i / (2 s_i + 1) > v_j / (2 s_j + 1)  ⇔  q_i (2 s_j + 1)² > q_j (2 s_i + 1)²

`apportion` takes plain (linear) weights and squares them; `apportion_sqrt` takes the
``N_i`` whose square roots are the weights. Both are exact for any integer or rational input.

Ties: when two members have exactly equal priority for a seat, the member listed *first*
(lower index) wins it. Callers that want a stable result list members in a stable order
(the services sort by member id). The result is a pure function of the inputs and order.

Invariants (tested): ``Σ s_i = S`` exactly, every ``s_i ≥ m``, and a member with a larger
weight never gets fewer seats than one with a smaller weight (house monotone ordering).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from fractions import Fraction

from welfare.errors import InvalidWelfareInput

DEFAULT_ASSEMBLY_SIZE = 800
"""The default number of seats in the assembly."""

MAX_ASSEMBLY_SIZE = 100_000
"""The largest assembly this module apportions (seats are handed out one at a time)."""

Rational = int | Fraction


class _Claim:
    """A member's claim on the next seat; ``a < b`` means ``a`` has the *higher* priority.

    heapq is a min-heap, so "smaller" is "served first": higher priority, then lower index.
    """

    __slots__ = ("index", "q", "seats")

    def __init__(self, index: int, q: Rational, seats: int) -> None:
        self.index = index
        self.q = q
        self.seats = seats

    def __lt__(self, other: _Claim) -> bool:
        mine = self.q * (2 * other.seats + 1) ** 2
        theirs = other.q * (2 * self.seats + 1) ** 2
        if mine != theirs:
            return mine > theirs
        return self.index < other.index


def _check_size(count: int, seats: int, minimum: int) -> None:
    if isinstance(seats, bool) or not isinstance(seats, int):
        raise InvalidWelfareInput(f"the assembly size must be a whole number, not {seats!r}")
    if minimum < 0:
        raise InvalidWelfareInput(f"the minimum seats per member cannot be negative ({minimum})")
    if count == 0:
        raise InvalidWelfareInput("there are no members to give seats to")
    if seats > MAX_ASSEMBLY_SIZE:
        raise InvalidWelfareInput(
            f"an assembly of {seats} seats is larger than the limit of {MAX_ASSEMBLY_SIZE}"
        )
    if seats < count * minimum:
        raise InvalidWelfareInput(
            f"{seats} seats cannot give each of {count} members at least {minimum} seat(s); "
            f"the assembly needs at least {count * minimum} seats"
        )


def apportion_squares(
    squares: Sequence[Rational], seats: int = DEFAULT_ASSEMBLY_SIZE, *, minimum: int = 1
) -> list[int]:
    """Webster seats for weights ``v_i = √q_i`` given by their exact squares ``q_i``.

    Args:
        squares: ``q_i ≥ 0`` (ints or Fractions), one per member, in a stable order.
        seats: the assembly size ``S`` (the result sums to exactly this).
        minimum: seats every member receives first (``m``, default 1).

    Returns:
        The seats per member, in input order.

    Raises:
        InvalidWelfareInput: a negative or non-rational weight, no members, an assembly too
            small for the minimum, or seats left to share while every weight is zero.
    """
    _check_size(len(squares), seats, minimum)
    for q in squares:
        if isinstance(q, bool) or not isinstance(q, int | Fraction):
            raise InvalidWelfareInput(f"weights must be exact integers or fractions, not {q!r}")
        if q < 0:
            raise InvalidWelfareInput(f"weights cannot be negative ({q})")
    allocation = [minimum] * len(squares)
    remaining = seats - minimum * len(squares)
    if remaining == 0:
        return allocation
    if all(q == 0 for q in squares):
        raise InvalidWelfareInput(
            f"{remaining} seat(s) remain after the minimum but every member's weight is zero"
        )
    heap = [_Claim(i, q, minimum) for i, q in enumerate(squares)]
    heapq.heapify(heap)
    for _ in range(remaining):
        claim = heap[0]
        allocation[claim.index] += 1
        claim.seats += 1
        heapq.heapreplace(heap, claim)
    return allocation


def apportion(
    weights: Sequence[Rational], seats: int = DEFAULT_ASSEMBLY_SIZE, *, minimum: int = 1
) -> list[int]:
    """Webster seats for exact linear weights ``v_i`` (e.g. contributions, populations).

    Same contract as `apportion_squares` with ``q_i = v_i²``.
    """
    for v in weights:
        if isinstance(v, bool) or not isinstance(v, int | Fraction):
            raise InvalidWelfareInput(f"weights must be exact integers or fractions, not {v!r}")
        if v < 0:
            raise InvalidWelfareInput(f"weights cannot be negative ({v})")
    return apportion_squares([v * v for v in weights], seats, minimum=minimum)


def apportion_sqrt(
    values: Sequence[Rational], seats: int = DEFAULT_ASSEMBLY_SIZE, *, minimum: int = 1
) -> list[int]:
    """Webster seats for weights ``v_i = √N_i`` (Penrose's square-root rule), exactly.

    Same contract as `apportion_squares` with ``q_i = N_i``.
    """
    return apportion_squares(values, seats, minimum=minimum)
