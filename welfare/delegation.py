"""Delegation: whose ballot carries each member's weight (transitive, "liquid" delegation).

A member may delegate to one other member. For one motion, each member's weight is carried
as follows:

1. A member who cast a ballot is represented by that ballot. A direct vote overrides the
   member's own delegation (their weight is never passed on).
2. A member who did not vote but delegated follows the chain ``a → b → c → …`` to the first
   member who voted; that ballot carries the delegator's weight too. Delegations are
   transitive: if ``b`` did not vote but delegated to ``c``, ``a``'s weight reaches ``c``.
3. The weight is *lost* (counted nowhere, not even as participating) if the chain ends at a
   member who neither voted nor delegated, or runs into a cycle (``a → b → a``). A cycle is
   never counted, so no weight is ever counted twice.

Every member is therefore counted at most once, by at most one ballot. The resolution is
O(n) over all members (each chain is walked once and memoised).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from welfare.errors import InvalidWelfareInput

M = TypeVar("M", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Resolution(Generic[M]):
    """Who carries whom.

    Attributes:
        representative: member → the voter whose ballot carries its weight (a voter maps to
            itself). Members absent here are lost.
        dangling: members whose chain ended at someone who neither voted nor delegated.
        cyclic: members whose chain ran into a delegation cycle.
    """

    representative: dict[M, M]
    dangling: frozenset[M]
    cyclic: frozenset[M]


class _Lost(enum.Enum):
    """Why a member's weight reaches no ballot (a marker no member value can equal)."""

    DANGLING = "dangling"
    CYCLE = "cycle"


def resolve(
    members: Collection[M], voters: Collection[M], delegations: Mapping[M, M]
) -> Resolution[M]:
    """Resolve every member's representative for one motion.

    Args:
        members: every member whose weight could count.
        voters: the members who cast a ballot (a subset of ``members``).
        delegations: member → the member it delegates to (no self-delegation).

    Raises:
        InvalidWelfareInput: a voter or delegation endpoint who is not a member, or a member
            delegating to itself.
    """
    member_set = set(members)
    voter_set = set(voters)
    for voter in voter_set:
        if voter not in member_set:
            raise InvalidWelfareInput(f"{voter!r} voted but is not a member")
    for source, target in delegations.items():
        if source not in member_set or target not in member_set:
            raise InvalidWelfareInput(
                f"the delegation {source!r} → {target!r} is not between members"
            )
        if source == target:
            raise InvalidWelfareInput(f"{source!r} cannot delegate to itself")

    # outcome[m]: a voter (the representative) or a loss marker
    outcome: dict[M, M | _Lost] = {v: v for v in voter_set}
    for start in member_set:
        if start in outcome:
            continue
        path: list[M] = []
        on_path: set[M] = set()
        current: M = start
        result: M | _Lost
        while True:
            if current in outcome:
                result = outcome[current]
                break
            if current in on_path:
                # the chain closed a loop: everyone on the path is lost to the cycle (members
                # leading into the loop as well: their weight can reach no ballot)
                result = _Lost.CYCLE
                break
            path.append(current)
            on_path.add(current)
            delegate = delegations.get(current)
            if delegate is None:
                result = _Lost.DANGLING
                break
            current = delegate
        for m in path:
            outcome[m] = result

    representative: dict[M, M] = {}
    dangling: set[M] = set()
    cyclic: set[M] = set()
    for m, result in outcome.items():
        if result is _Lost.DANGLING:
            dangling.add(m)
        elif result is _Lost.CYCLE:
            cyclic.add(m)
        else:
            representative[m] = result
    return Resolution(representative, frozenset(dangling), frozenset(cyclic))
