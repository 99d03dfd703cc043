"""The weighted tally: quorum on participating weight, strict threshold on yes/(yes+no)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.errors import InvalidWelfareInput
from welfare.tally import (
    Choice,
    check_quorum,
    check_threshold,
    parse_share,
    share_text,
    tally,
)

YES, NO, ABSTAIN = Choice.YES, Choice.NO, Choice.ABSTAIN
SEATS = {"fr": 4, "de": 4, "it": 4, "be": 2, "nl": 2, "lu": 1}  # W = 17


def test_weighted_majority_passes() -> None:
    result = tally(SEATS, {"fr": YES, "de": YES, "it": NO, "be": ABSTAIN}, {})
    assert (result.yes, result.no, result.abstain, result.lost) == (8, 4, 2, 3)
    assert result.participating == 14
    assert result.quorum_met  # 14 ≥ 8.5
    assert result.passed  # 8 / 12 > 1/2


def test_abstentions_count_for_quorum_but_not_for_the_threshold() -> None:
    result = tally(SEATS, {"fr": YES, "it": NO, "de": ABSTAIN}, {})
    assert result.quorum_met  # 12 ≥ 8.5
    assert not result.passed  # 4 / 8 is not more than 1/2: ties fail


def test_quorum_boundary_is_inclusive() -> None:
    # quorum 12/17: exactly 12 participating is enough, 11 is not
    rules = {"quorum": Fraction(12, 17)}
    enough = tally(SEATS, {"fr": YES, "de": YES, "it": YES}, {}, **rules)
    assert enough.quorum_met
    assert enough.passed
    short = tally(SEATS, {"fr": YES, "de": YES, "be": YES, "lu": YES}, {}, **rules)
    assert short.participating == 11
    assert not short.quorum_met
    assert not short.passed


def test_threshold_is_strict() -> None:
    two_thirds = Fraction(2, 3)
    # 8 yes / 12 yes-or-no is exactly two thirds: not enough
    exact = tally(SEATS, {"fr": YES, "de": YES, "it": NO}, {}, threshold=two_thirds)
    assert not exact.passed
    more = tally(SEATS, {"fr": YES, "de": YES, "be": YES, "it": NO}, {}, threshold=two_thirds)
    assert more.passed  # 10 / 14


def test_delegated_weight_follows_the_ballot_and_cycles_are_lost() -> None:
    delegations = {"be": "fr", "nl": "be", "lu": "it", "it": "lu"}
    result = tally(SEATS, {"fr": NO, "de": YES}, delegations)
    assert (result.yes, result.no, result.lost) == (4, 8, 5)  # it ↔ lu cycle: 5 seats lost
    assert result.carried_by == {"fr": "fr", "be": "fr", "nl": "fr", "de": "de"}
    assert result.cyclic == {"it", "lu"}
    assert not result.passed


def test_only_abstentions_never_pass() -> None:
    result = tally(SEATS, dict.fromkeys(SEATS, ABSTAIN), {}, quorum=Fraction(1))
    assert result.quorum_met
    assert not result.passed


def test_zero_quorum_lets_a_single_vote_decide() -> None:
    assert tally(SEATS, {"lu": YES}, {}, quorum=Fraction(0)).passed


def test_parse_share() -> None:
    assert parse_share("0.5", "quorum") == Fraction(1, 2)
    assert parse_share("2/3", "threshold") == Fraction(2, 3)
    for bad in ("half", "nan", "1/0", ""):
        with pytest.raises(InvalidWelfareInput, match=r"decimal like '0\.5'"):
            parse_share(bad, "quorum")


def test_rule_ranges() -> None:
    assert check_quorum(Fraction(0)) == 0
    assert check_threshold(Fraction(1, 2)) == Fraction(1, 2)
    with pytest.raises(InvalidWelfareInput, match="quorum must lie between 0 and 1"):
        check_quorum(Fraction(11, 10))
    with pytest.raises(InvalidWelfareInput, match=r"at least 0\.5 and below 1"):
        check_threshold(Fraction(1, 3))
    with pytest.raises(InvalidWelfareInput, match=r"at least 0\.5 and below 1"):
        check_threshold(Fraction(1))


def test_negative_weight_is_refused() -> None:
    with pytest.raises(InvalidWelfareInput, match="negative weight"):
        tally({"a": -1}, {}, {})


def test_share_text_writes_finite_decimals_and_ratios() -> None:
    assert share_text(Fraction(1, 2)) == "0.5"
    assert share_text(Fraction(3, 20)) == "0.15"
    assert share_text(Fraction(1, 1000)) == "0.001"
    assert share_text(Fraction(0)) == "0"
    assert share_text(Fraction(1)) == "1"
    assert share_text(Fraction(2, 3)) == "2/3"
    assert share_text(Fraction(5, 21)) == "5/21"


@given(st.fractions(min_value=0, max_value=1, max_denominator=10**9))
def test_share_text_round_trips_exactly(share: Fraction) -> None:
    assert parse_share(share_text(share), "share") == share
