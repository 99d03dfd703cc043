"""Conditional cash: split, merge, trades per branch, settlement; refusals change nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.assets import ScalarAsset
from market.book import MICROS, Book, quote_buy, quote_sell
from market.conditional import Holdings
from market.errors import InsufficientFunds, InsufficientShares, InvalidMarketInput

B100 = 100 * MICROS


def test_split_puts_the_amount_in_every_branch_and_merge_takes_it_back() -> None:
    start = Holdings.empty(branches=3, outcomes=2, cash_micros=100 * MICROS)
    split = start.split(40 * MICROS)
    assert split.cash_micros == 60 * MICROS
    assert split.branch_cash_micros == (40 * MICROS, 40 * MICROS, 40 * MICROS)
    assert split.merge(40 * MICROS) == start
    assert split.mergeable_micros() == 40 * MICROS


def test_splitting_more_than_the_cash_is_refused() -> None:
    start = Holdings.empty(branches=2, outcomes=2, cash_micros=5 * MICROS)
    with pytest.raises(InsufficientFunds) as refused:
        start.split(6 * MICROS)
    assert str(refused.value) == "Cannot split 6: only 5 of cash is available."


def test_merging_needs_the_amount_in_every_branch() -> None:
    held = Holdings(0, (10 * MICROS, 3 * MICROS), ((0, 0), (0, 0)))
    with pytest.raises(InsufficientFunds, match=r"branch 1 holds only 3"):
        held.merge(4 * MICROS)
    assert held.merge(3 * MICROS) == Holdings(3 * MICROS, (7 * MICROS, 0), ((0, 0), (0, 0)))


def test_a_trade_spends_only_the_branch_cash_and_adds_the_shares() -> None:
    held = Holdings.empty(branches=2, outcomes=2, cash_micros=20 * MICROS).split(10 * MICROS)
    quote = quote_buy(Book((0, 0), B100), 0, 10 * MICROS)  # costs ⌈5.1249479…⌉ = 5.124948
    after = held.apply_trade(0, quote)
    assert after.cash_micros == 10 * MICROS
    assert after.branch_cash_micros == (10 * MICROS - 5_124_948, 10 * MICROS)
    assert after.shares_micros == ((10 * MICROS, 0), (0, 0))


def test_a_trade_the_branch_cannot_pay_for_is_refused() -> None:
    held = Holdings.empty(branches=2, outcomes=2, cash_micros=5 * MICROS).split(5 * MICROS)
    quote = quote_buy(Book((0, 0), B100), 0, 10 * MICROS)
    with pytest.raises(InsufficientFunds, match=r"costs 5\.124948 but branch 1 holds only 5"):
        held.apply_trade(1, quote)


def test_selling_shares_not_held_is_refused() -> None:
    held = Holdings(0, (MICROS, MICROS), ((2 * MICROS, 0), (0, 0)))
    quote = quote_sell(Book((10 * MICROS, 0), B100), 0, 3 * MICROS)
    with pytest.raises(InsufficientShares) as refused:
        held.apply_trade(0, quote)
    assert str(refused.value) == ("Cannot sell 3 shares of outcome 0 in branch 0: only 2 are held.")
    with pytest.raises(InsufficientShares):
        held.apply_trade(1, quote)


def test_settlement_redeems_the_executed_branch_and_voids_the_others() -> None:
    held = Holdings(
        cash_micros=1 * MICROS,
        branch_cash_micros=(4 * MICROS, 9 * MICROS),
        shares_micros=((10 * MICROS, 2 * MICROS), (50 * MICROS, 0)),
    )
    long_pays, short_pays = ScalarAsset(0.0, 100.0).payout_micros(25.0)  # 0.25 / 0.75
    # branch 0: 4 + 10 · 0.25 + 2 · 0.75 = 8 units of conditional cash and payouts
    assert held.settlement_micros(0, (long_pays, short_pays)) == 8 * MICROS
    # branch 1: 9 + 50 · 0.25 = 21.5
    assert held.settlement_micros(1, (long_pays, short_pays)) == 21_500_000


def test_bad_holdings_and_bad_requests_are_refused() -> None:
    with pytest.raises(InvalidMarketInput, match="at least two branches"):
        Holdings(0, (0,), ((0, 0),))
    with pytest.raises(InvalidMarketInput, match="one row of shares per branch"):
        Holdings(0, (0, 0), ((0, 0),))
    with pytest.raises(InvalidMarketInput, match="non-negative"):
        Holdings(-1, (0, 0), ((0, 0), (0, 0)))
    with pytest.raises(InvalidMarketInput, match="non-negative"):
        Holdings(0, (0, 0), ((0, -1), (0, 0)))
    held = Holdings.empty(branches=2, outcomes=2, cash_micros=MICROS)
    with pytest.raises(InvalidMarketInput, match="Branch 2 does not exist"):
        held.apply_trade(2, quote_buy(Book((0, 0), B100), 0, 1))
    with pytest.raises(InvalidMarketInput, match="trades 3 outcomes but branch 0 has 2"):
        held.apply_trade(0, quote_buy(Book((0, 0, 0), B100), 0, 1))
    with pytest.raises(InvalidMarketInput, match="must be positive"):
        held.split(0)
    with pytest.raises(InvalidMarketInput, match="whole number"):
        held.merge(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidMarketInput, match="Expected 2 payouts"):
        held.settlement_micros(0, (MICROS,))


@given(st.data())
def test_random_operations_conserve_value_and_never_go_negative(data: st.DataObject) -> None:
    branches = data.draw(st.integers(2, 4))
    initial = data.draw(st.integers(0, 100 * MICROS))
    held = Holdings.empty(branches, 2, cash_micros=initial)
    books = [Book((0, 0), B100) for _ in range(branches)]
    spent = [0] * branches  # net cash each branch's market received
    for _ in range(data.draw(st.integers(1, 30))):
        op = data.draw(st.sampled_from(["split", "merge", "buy", "sell"]))
        amount = data.draw(st.integers(1, 30 * MICROS))
        j = data.draw(st.integers(0, branches - 1))
        k = data.draw(st.integers(0, 1))
        before = held
        try:
            if op == "split":
                held = held.split(amount)
            elif op == "merge":
                held = held.merge(amount)
            else:
                quote = (quote_buy if op == "buy" else quote_sell)(books[j], k, amount)
                held = held.apply_trade(j, quote)
                books[j] = books[j].apply(quote)
                spent[j] += quote.cash_micros
        except (InsufficientFunds, InsufficientShares):
            assert held == before  # a refusal changes nothing
            continue
        assert held.cash_micros >= 0
        assert min(held.branch_cash_micros) >= 0
        assert all(s >= 0 for row in held.shares_micros for s in row)
        if op in ("split", "merge"):
            assert held.cash_micros + held.mergeable_micros() == (
                before.cash_micros + before.mergeable_micros()
            )
    # in every branch: cash + conditional cash + what its market received = the deposit
    for j in range(branches):
        assert held.cash_micros + held.branch_cash_micros[j] + spent[j] == initial
        assert held.shares_micros[j] == books[j].q_micros  # the only trader holds all shares
