"""`quote_spend`'s bound check: a float lower bound skips the exact check only when the
whole rest of the bound cannot fit, so a spend is refused exactly when it could buy
``cap`` further micro-shares (the exact ``⌈c(cap)⌉ ≤ spend``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from market.book import MAX_SHARES_MICROS, Book, quote_spend
from market.errors import InvalidMarketInput
from market.rounding import single_cash


def _refused(book: Book, k: int, spend: int) -> bool:
    try:
        quote_spend(book, k, spend)
    except InvalidMarketInput as exc:
        message = str(exc)
    else:
        return False
    assert "would buy more than" in message
    return True


def test_a_spend_as_large_as_the_bound_is_refused_and_a_normal_one_is_not():
    book = Book((0, 0), 1_000_000)
    assert _refused(book, 0, MAX_SHARES_MICROS)
    assert not _refused(book, 0, 1_000_000)


def test_ten_micro_shares_from_the_bound_a_large_spend_is_refused():
    book = Book((MAX_SHARES_MICROS - 10, 0), 1_000_000)
    assert _refused(book, 0, 1_000)


@given(
    q0=st.integers(-(10**14), MAX_SHARES_MICROS - 1),
    q1=st.integers(-(10**14), 10**14),
    b=st.integers(1, 10**12),
    spend=st.integers(1, MAX_SHARES_MICROS),
)
def test_refusal_matches_the_exact_charge_of_the_whole_room(q0, q1, b, spend):
    book = Book((q0, q1), b)
    cap = min(MAX_SHARES_MICROS - q0, MAX_SHARES_MICROS)
    fits = single_cash(book._q, book._b, book.state(), 0, cap)[0] <= spend
    assert _refused(book, 0, spend) == fits
