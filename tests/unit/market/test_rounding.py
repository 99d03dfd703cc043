"""Correct rounding: every cash is exactly ⌈C(q + δ) − C(q)⌉, at every scale the bounds admit.

Checked against the 60-digit reference of ``tests/unit/market/exact.py`` for equality,
never a tolerance: over ordinary, extreme and adversarial states (costs a hair from an
integer, b from 1 micro-unit to 1e15, prices near 0 and 1, many outcomes), through the
float fast path, the exact fallback, and the float state a book carries from trade to trade.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from market import rounding
from market.book import MAX_SHARES_MICROS, MICROS, Book, quote_buy, quote_sell
from market.lmsr import spend_inverse
from market.rounding import exact_cash, integer_cost, single_cash, state_of, vector_cash
from tests.strategies import books, int_trade_vectors, share_amounts
from tests.unit.market.exact import exact_trade_cost, reference_cash

_D = Context(prec=60)


def _single_delta(n: int, k: int, s: int) -> list[int]:
    delta = [0] * n
    delta[k] = s
    return delta


def _within(book: Book, delta: list[int]) -> bool:
    return all(abs(x + d) <= MAX_SHARES_MICROS for x, d in zip(book.q_micros, delta, strict=True))


# --- the cases, by hand -----------------------------------------------------------


def test_ten_shares_at_b_100_cost_the_exact_amount_rounded_up_and_sell_back_rounded_down() -> None:
    book = Book((0, 0), 100 * MICROS)
    # exact 5_124_947.9513625585… micro-units
    assert quote_buy(book, 0, 10 * MICROS).cash_micros == 5_124_948
    assert quote_sell(Book((10 * MICROS, 0), 100 * MICROS), 0, 10 * MICROS).cash_micros == (
        -5_124_947
    )


@pytest.mark.parametrize(
    ("subsidy_micros", "b_micros", "charge", "proceeds"),
    [
        # F = 1 micro-unit: b = 1, a share costs 999_999.3068… micro-units
        (1, 1, 1_000_000, 999_999),
        # F = 1,000,000 units: exact 500_000.0866…, once 87–88 micros too much
        (1_000_000 * MICROS, 1_442_695_040_888, 500_001, 500_000),
        # F = 600,000,000 units: exact 500_000.000144…, once 0.551962 for one share
        (600_000_000 * MICROS, 865_617_024_533_378, 500_001, 500_000),
    ],
)
def test_one_share_costs_its_exact_price_rounded_up_at_every_subsidy(
    subsidy_micros: int, b_micros: int, charge: int, proceeds: int
) -> None:
    book = Book.from_subsidy(2, subsidy_micros)
    assert book.b_micros == b_micros
    bought = quote_buy(book, 0, MICROS)
    assert bought.cash_micros == charge
    # the round trip loses one micro-unit: the two roundings, nothing more
    assert quote_sell(book.apply(bought), 0, MICROS).cash_micros == -proceeds


def test_a_spend_of_one_micro_unit_buys_shares_wherever_they_cost_less() -> None:
    # p(outcome 0) = e^-7 = 0.000911…: one micro-unit buys 1,097 micro-shares
    assert Book((0, 7 * MICROS), MICROS).prices()[0] == pytest.approx(0.000911051194)
    book = Book((0, 7 * MICROS), MICROS)
    bought = quote_buy(book, 0, 1_097)
    assert bought.cash_micros == 1
    assert quote_buy(book, 0, 1_098).cash_micros == 2


def test_costs_that_are_exactly_integers_are_charged_exactly() -> None:
    # one share of every outcome costs exactly one unit: C(q + k·1) = C(q) + k
    book = Book((3 * MICROS, 0, -2 * MICROS), 50 * MICROS)
    assert vector_cash(book.q_micros, book.b_micros, (MICROS, MICROS, MICROS)) == MICROS
    # q = (0, 5): buying 10 of outcome 0 gives (10, 5), a swap of (5, 10) = q + 5
    assert exact_cash((0, 5 * MICROS), [10 * MICROS, 0], 100 * MICROS) == 5 * MICROS
    assert quote_buy(Book((0, 5 * MICROS), 100 * MICROS), 0, 10 * MICROS).cash_micros == (
        5 * MICROS
    )
    assert integer_cost((0, 5), (10, 5)) == 5
    assert integer_cost((0, 5), (10, 6)) is None


def test_a_long_shot_far_beyond_float_range_still_costs_one_micro_unit() -> None:
    # q/b = 1e6 between the outcomes: p(outcome 1) = e^-1e6, far below any float
    book = Book((10**15, 0), 10**9)
    assert quote_buy(book, 1, 10**9).cash_micros == 1
    # selling 1e12 micro-shares of the sure thing pays 1e12 − ε, rounded down
    assert quote_sell(book, 0, 10**12).cash_micros == -999_999_999_999
    # and a buy whose exact cost is a hair above an integer: e^-999000 above it
    assert exact_cash((10**15, 0), [-(10**12), 0], 10**9) == -999_999_999_999


# --- equality with the reference, property by property ------------------------------------


@given(st.data())
def test_every_single_outcome_cash_is_the_exact_cost_rounded_up(data: st.DataObject) -> None:
    book = data.draw(books())
    k = data.draw(st.integers(0, book.n - 1))
    shares = data.draw(share_amounts(book)) * data.draw(st.sampled_from([1, -1]))
    delta = _single_delta(book.n, k, shares)
    if not _within(book, delta):
        return
    want = reference_cash(book.q_micros, delta, book.b_micros)
    cash, _ = single_cash(book.q_micros, book.b_micros, book.state(), k, shares)
    assert cash == want
    assert exact_cash(book.q_micros, delta, book.b_micros) == want


@given(st.data())
def test_every_vector_cash_is_the_exact_cost_rounded_up(data: st.DataObject) -> None:
    book = data.draw(books())
    delta = list(data.draw(int_trade_vectors(book)))
    if not _within(book, delta):
        return
    want = reference_cash(book.q_micros, delta, book.b_micros)
    assert vector_cash(book.q_micros, book.b_micros, delta) == want
    assert exact_cash(book.q_micros, delta, book.b_micros) == want


@st.composite
def near_integer_trades(draw: st.DrawFn) -> tuple[tuple[int, ...], list[int], int]:
    """Adversarial: trades whose exact cost lies a hair from an integer.

    - a translation ``N·1`` plus or minus one micro-share of a long shot (cost ``N ± ε``);
    - the inverse of a whole spend, rounded to micro-shares (cost just below an integer);
    - a swap-like trade that costs exactly an integer, and its neighbours one micro-share
      either side.
    """
    b = draw(st.sampled_from([1, 7, 1_000, MICROS, 144_269_504, 10**12, 10**15]))
    n = draw(st.integers(2, 5))
    kind = draw(st.sampled_from(["translation", "spend", "swap"]))
    if kind == "translation":
        far = draw(st.integers(20, 40)) * b  # prices around e^-20 … e^-40
        q = (0,) * (n - 1) + (-far,)
        big = draw(st.integers(1, 10**6))
        nudge = draw(st.sampled_from([-1, 1]))
        delta = [big] * (n - 1) + [big + nudge]
        return q, delta, b
    if kind == "spend":
        q = tuple(draw(st.lists(st.integers(-5 * b, 5 * b), min_size=n, max_size=n)))
        k = draw(st.integers(0, n - 1))
        spend = draw(st.integers(1, 10**9))
        state = state_of(q, b)
        log_p = (q[k] - state[0]) / b - math.log(state[1])
        x = int(spend_inverse(log_p, float(spend), float(b))) + draw(st.integers(-1, 1))
        return q, _single_delta(n, k, max(x, 1)), b
    gap = draw(st.integers(1, 10**6))
    q = (0, gap) + (0,) * (n - 2)
    return q, [2 * gap + draw(st.integers(-1, 1))] + [0] * (n - 1), b


@given(near_integer_trades())
def test_costs_a_hair_from_an_integer_round_exactly(
    case: tuple[tuple[int, ...], list[int], int],
) -> None:
    q, delta, b = case
    want = reference_cash(q, delta, b)
    assert vector_cash(q, b, delta) == want
    assert exact_cash(q, delta, b) == want
    moved = [i for i, d in enumerate(delta) if d != 0]
    if len(moved) == 1:
        k = moved[0]
        assert single_cash(q, b, state_of(q, b), k, delta[k])[0] == want


@given(st.data())
def test_many_outcomes_take_the_numpy_path_and_still_round_exactly(data: st.DataObject) -> None:
    n = data.draw(st.sampled_from([100, 150, 300]))
    b = data.draw(st.sampled_from([1_000, MICROS, 10**12]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q = tuple(int(x) for x in rng.integers(-30 * b, 30 * b, size=n).clip(-(10**15), 10**15))
    book = Book(q, b)
    k = data.draw(st.integers(0, n - 1))
    shares = data.draw(st.integers(1, 20 * b)) * data.draw(st.sampled_from([1, -1]))
    delta = _single_delta(n, k, shares)
    assert quote_buy(book, k, shares).cash_micros if shares > 0 else True
    cash = single_cash(q, b, book.state(), k, shares)[0]
    assert cash == reference_cash(q, delta, b)


# --- the float state a book hands on ------------------------------------------------------


def _exact_total(q: tuple[int, ...], b: int, shift: int) -> Decimal:
    total = Decimal(0)
    for x in q:
        total = _D.add(total, _D.exp(_D.divide(Decimal(x - shift), Decimal(b))))
    return total


@given(st.data())
def test_the_state_carried_from_trade_to_trade_stays_within_its_error_bound(
    data: st.DataObject,
) -> None:
    n = data.draw(st.integers(2, 6))
    book = Book.from_subsidy(n, data.draw(st.sampled_from([MICROS, 1_000 * MICROS, 6 * 10**14])))
    b = book.b_micros
    for _ in range(data.draw(st.integers(1, 60))):
        k = data.draw(st.integers(0, n - 1))
        shares = data.draw(st.integers(1, min(3 * b, 10**14)))
        held = book.q_micros[k]
        quote = (
            quote_sell(book, k, min(shares, held))
            if held > 0 and data.draw(st.booleans())
            else quote_buy(book, k, shares)
        )
        book = book.apply(quote)
        shift, total, rho, _ = book.state()
        exact = _exact_total(book.q_micros, b, shift)
        assert _D.subtract(Decimal(total), exact).copy_abs() <= _D.multiply(Decimal(rho), exact)
        assert rho <= rounding.RHO_LIMIT
        assert quote.cash_micros == reference_cash(
            quote.q_before_micros, list(quote.delta_micros), b
        )


# --- the float model the bound assumes ----------------------------------------------------


def _ulps(got: float, want: Decimal) -> float:
    return float(abs(Decimal(got) - want) / Decimal(math.ulp(float(want))))


def test_the_elementary_functions_are_as_accurate_as_the_bound_assumes() -> None:
    """η = 4 ulp is assumed for exp, expm1, log and log1p, in `math` and in numpy."""
    rng = np.random.default_rng(20261203)
    worst = 0.0
    args = np.concatenate(
        [rng.uniform(-700, 700, 400), rng.uniform(-1, 1, 400), rng.uniform(-1e-8, 1e-8, 200)]
    )
    for x in args.tolist():
        dx = Decimal(x)
        e = _D.exp(dx)
        worst = max(worst, _ulps(math.exp(x), e), _ulps(float(np.exp(x)), e))
        if x != 0.0:
            worst = max(worst, _ulps(math.expm1(x), e - 1), _ulps(float(np.expm1(x)), e - 1))
    for y in np.concatenate([rng.uniform(-0.49, 5, 500), rng.uniform(1e-300, 1e-10, 200)]):
        ly = _D.ln(1 + Decimal(float(y)))
        worst = max(worst, _ulps(math.log1p(y), ly), _ulps(float(np.log1p(y)), ly))
        lz = _D.ln(Decimal(float(y) + 1.0))
        worst = max(worst, _ulps(math.log(y + 1.0), lz), _ulps(float(np.log(y + 1.0)), lz))
    assert worst <= 4.0


def test_the_reference_agrees_with_itself_where_the_difference_is_plain() -> None:
    q, delta, b = (0, 0), [10 * MICROS, 0], 100 * MICROS
    assert reference_cash(q, delta, b) == math.ceil(exact_trade_cost(q, delta, b))
