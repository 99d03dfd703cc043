"""Settlement arithmetic (`market.settlement`): who is paid what, to the micro-unit.

The worked example: F = 50 and two traders who each deposited 100. In the executed branch
alice holds 80 of conditional cash and 30 LONG shares, bob 100 of cash and 10 SHORT; the
measured W gives LONG 0.75 and SHORT 0.25 per share.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.errors import SettlementShortfall
from market.settlement import Outcome, TraderState, ipw_paid, settle, unwind

UNIT = 1_000_000
ALICE = TraderState(1, 100 * UNIT, 80 * UNIT, (30 * UNIT, 0))
BOB = TraderState(2, 100 * UNIT, 100 * UNIT, (0, 10 * UNIT))
PER_SHARE = (750_000, 250_000)
COLLATERAL = 250 * UNIT  # F = 50 plus two deposits of 100


def test_the_executed_branch_pays_cash_one_to_one_and_shares_by_the_measurement() -> None:
    plan = settle([ALICE, BOB], PER_SHARE, COLLATERAL)
    assert plan.outcome is Outcome.SETTLED
    paid = {p.account_id: p.paid_micros for p in plan.payouts}
    assert paid == {1: 102_500_000, 2: 102_500_000}  # 80 + 30·0.75; 100 + 10·0.25
    assert plan.sponsor_micros == 45 * UNIT
    assert plan.traders_micros + plan.sponsor_micros == COLLATERAL


def test_unwinding_returns_every_deposit_and_the_subsidy() -> None:
    plan = unwind([ALICE, BOB], COLLATERAL)
    assert plan.outcome is Outcome.UNWOUND
    assert [p.paid_micros for p in plan.payouts] == [100 * UNIT, 100 * UNIT]
    assert plan.sponsor_micros == 50 * UNIT


def test_ipw_scales_net_profit_and_loss_by_one_over_d() -> None:
    """d = 1/2: alice's +2.5 becomes +5, a trader who lost 4 loses 8."""
    half = Fraction(1, 2)
    assert ipw_paid(100 * UNIT, 102_500_000, half) == 105 * UNIT
    assert ipw_paid(100 * UNIT, 96 * UNIT, half) == 92 * UNIT
    assert ipw_paid(10 * UNIT, 0, half) == 0  # never below zero


def test_ipw_rounds_in_the_makers_favour() -> None:
    """A profit of 1 micro-unit at d = 2/3 is 1.5, paid as 1; a loss of 1 is −1.5 → −2."""
    two_thirds = Fraction(2, 3)
    assert ipw_paid(10, 11, two_thirds) == 11
    assert ipw_paid(10, 9, two_thirds) == 8


def test_payouts_beyond_the_collateral_pay_nothing() -> None:
    with pytest.raises(SettlementShortfall, match="exceed the proposal's collateral"):
        settle([ALICE, BOB], PER_SHARE, 200 * UNIT)


@st.composite
def books(draw: st.DrawFn) -> tuple[list[TraderState], tuple[int, int], int]:
    """Traders whose cash in the branch plus a maker holding enough for every payoff sum to
    the collateral, as the ledger guarantees."""
    n = draw(st.integers(1, 6))
    x = draw(st.integers(0, UNIT))
    per_share = (x, UNIT - x)
    traders = []
    for i in range(n):
        deposit = draw(st.integers(0, 10**9))
        cash = draw(st.integers(0, 2 * deposit + 1))
        shares = (draw(st.integers(0, 10**9)), draw(st.integers(0, 10**9)))
        traders.append(TraderState(i + 1, deposit, cash, shares))
    liability = sum(
        s[0] * x // UNIT + s[1] * (UNIT - x) // UNIT for s in (t.shares_micros for t in traders)
    )
    maker = liability + draw(st.integers(0, 10**9))
    collateral = sum(t.branch_cash_micros for t in traders) + maker
    return traders, per_share, collateral


@given(books())
def test_nothing_is_created_or_lost(book: tuple[list[TraderState], tuple[int, int], int]) -> None:
    traders, per_share, collateral = book
    plan = settle(traders, per_share, collateral)
    exact = [
        Fraction(t.branch_cash_micros)
        + sum(Fraction(s * p, UNIT) for s, p in zip(t.shares_micros, per_share, strict=True))
        for t in traders
    ]
    for payout, value in zip(plan.payouts, exact, strict=True):
        assert value - len(per_share) < payout.paid_micros <= value  # floors, never above
    assert plan.traders_micros + plan.sponsor_micros == collateral
    assert plan.sponsor_micros >= 0


def test_an_unwind_never_pays_a_negative_deposit() -> None:
    """Carol won cash in every branch and merged out 5 more than she split in (D = −5):
    the unwind pays her nothing more, and the sponsor's F shrinks by those 5."""
    carol = TraderState(3, -5 * UNIT, 0, (0, 0))
    plan = unwind([ALICE, carol], 145 * UNIT)  # F = 50, deposits 100 and −5
    assert [p.paid_micros for p in plan.payouts] == [100 * UNIT, 0]
    assert plan.sponsor_micros == 45 * UNIT
