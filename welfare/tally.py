"""The weighted tally of one motion: yes / no / abstain, quorum and threshold, exactly.

Definitions (all weights are seats, whole numbers; shares are exact fractions):

- ``W``: the total weight of the council (every member, voting or not).
- Each member's weight is carried by a ballot as `welfare.delegation.resolve` says: its own
  ballot, else its delegate's (transitively), else it is lost. ``Y``, ``N``, ``A`` are the
  weights carried by yes, no and abstain ballots; lost weight counts nowhere.
- Participation ``P = Y + N + A`` (abstentions participate; lost weight does not).
- Quorum (share ``r ∈ [0, 1]``): met iff ``P ≥ r·W``.
- Threshold (share ``t ∈ [½, 1)``): the motion passes iff the quorum is met, ``Y + N > 0``
  and ``Y / (Y + N) > t`` — *strictly* more than the threshold share of the yes-or-no weight.
  Abstentions count for the quorum but not for the threshold. A tie at the threshold fails:
  the status quo wins ties. With ``t = ½`` this is a simple majority of votes cast.

The power table (`welfare.power`) uses the same convention: with everyone voting yes or no,
a coalition wins iff its weight exceeds ``t·W``.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

from welfare.delegation import resolve
from welfare.errors import InvalidWelfareInput

M = TypeVar("M", bound=Hashable)

DEFAULT_QUORUM = Fraction(1, 2)
DEFAULT_THRESHOLD = Fraction(1, 2)


class Choice(enum.StrEnum):
    """A ballot's choice."""

    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


def parse_share(text: str | Fraction, what: str) -> Fraction:
    """An exact share from a decimal (``"0.5"``) or a ratio (``"2/3"``).

    Raises:
        InvalidWelfareInput: not a finite number.
    """
    if isinstance(text, Fraction):
        return text
    try:
        return Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InvalidWelfareInput(
            f"the {what} must be a decimal like '0.5' or a ratio like '2/3', not {text!r}"
        ) from None


def share_text(share: Fraction) -> str:
    """An exact share as text: a finite decimal where one exists ("0.5"), else "2/3"."""
    den = share.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den != 1:
        return f"{share.numerator}/{share.denominator}"
    digits = 0
    while (share * 10**digits).denominator != 1:
        digits += 1
    scaled = int(share * 10**digits)
    if digits == 0:
        return str(scaled)
    sign = "-" if scaled < 0 else ""
    body = str(abs(scaled)).rjust(digits + 1, "0")
    return f"{sign}{body[:-digits]}.{body[-digits:]}"


def check_quorum(quorum: Fraction) -> Fraction:
    """``quorum`` if it lies in ``[0, 1]``, else `InvalidWelfareInput`."""
    if not 0 <= quorum <= 1:
        raise InvalidWelfareInput(f"the quorum must lie between 0 and 1, not {float(quorum)}")
    return quorum


def check_threshold(threshold: Fraction) -> Fraction:
    """``threshold`` if it lies in ``[½, 1)``, else `InvalidWelfareInput`.

    Below ½ a motion and its opposite could both pass; at 1 nothing could (strict rule).
    """
    if not Fraction(1, 2) <= threshold < 1:
        raise InvalidWelfareInput(
            f"the threshold must be at least 0.5 and below 1, not {float(threshold)}"
        )
    return threshold


@dataclass(frozen=True, slots=True)
class Tally(Generic[M]):
    """The outcome of one motion's ballots.

    Attributes:
        total_weight: ``W``.
        yes, no, abstain: ``Y``, ``N``, ``A`` (seats, delegated weight included).
        lost: weight reaching no ballot (dangling chains, cycles, no ballot at all).
        quorum, threshold: the shares applied.
        quorum_met: ``Y + N + A ≥ quorum·W``.
        passed: quorum met and ``Y / (Y + N) > threshold``.
        carried_by: member → the voter whose ballot carried its weight (voters map to
            themselves); members whose weight was lost are absent.
        cyclic: members whose weight was lost to a delegation cycle.
    """

    total_weight: int
    yes: int
    no: int
    abstain: int
    lost: int
    quorum: Fraction
    threshold: Fraction
    quorum_met: bool
    passed: bool
    carried_by: dict[M, M]
    cyclic: frozenset[M]

    @property
    def participating(self) -> int:
        """``P = Y + N + A``."""
        return self.yes + self.no + self.abstain


def tally(
    weights: Mapping[M, int],
    ballots: Mapping[M, Choice],
    delegations: Mapping[M, M],
    *,
    quorum: Fraction = DEFAULT_QUORUM,
    threshold: Fraction = DEFAULT_THRESHOLD,
) -> Tally[M]:
    """Count one motion.

    Args:
        weights: member → seats (every member of the council).
        ballots: member → choice, for members who voted directly.
        delegations: member → delegate (standing delegations in force).
        quorum: participation share needed, in ``[0, 1]``.
        threshold: yes share of yes-or-no weight to exceed, in ``[½, 1)``.

    Raises:
        InvalidWelfareInput: a negative weight, a ballot or delegation naming a non-member,
            self-delegation, or a share out of range.
    """
    check_quorum(quorum)
    check_threshold(threshold)
    for member, w in weights.items():
        if w < 0:
            raise InvalidWelfareInput(f"member {member!r} has a negative weight ({w})")
    resolution = resolve(weights.keys(), ballots.keys(), delegations)
    sums = dict.fromkeys(Choice, 0)
    for member, voter in resolution.representative.items():
        sums[ballots[voter]] += weights[member]
    total = sum(weights.values())
    yes, no, abstain = sums[Choice.YES], sums[Choice.NO], sums[Choice.ABSTAIN]
    participating = yes + no + abstain
    quorum_met = participating >= quorum * total
    passed = quorum_met and yes + no > 0 and Fraction(yes, yes + no) > threshold
    return Tally(
        total_weight=total,
        yes=yes,
        no=no,
        abstain=abstain,
        lost=total - participating,
        quorum=quorum,
        threshold=threshold,
        quorum_met=quorum_met,
        passed=passed,
        carried_by=dict(resolution.representative),
        cyclic=resolution.cyclic,
    )
