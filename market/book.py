"""The micro-unit boundary of the LMSR: integer books, correctly rounded quotes, price limits.

A `Book` is the state of one LMSR market maker in integers: shares outstanding per outcome
in micro-shares (1e-6 of a share) and the liquidity ``b`` in micro-units of cash. A quote
prices a trade ``δ`` at the exact cost ``c = C(q + δ) − C(q)`` rounded to an integer in
the maker's favour (`market.rounding`)::

    cash_micros = ⌈c⌉     (> 0: a charge the trader pays, rounded up;
                           ≤ 0: proceeds the maker pays, −cash = ⌊−c⌋, rounded down)

exactly, at every ``b`` and state the bounds below admit: a float64 evaluation with a
rigorous error bound decides almost every quote, and an exact `decimal` evaluation the few
whose bound straddles a micro-unit. So a quote's cash is a pure function of the book and
the order, which anyone can recompute. Consequences, each tested:

- maker's loss: over any sequence of trades from ``q⁰ = 0`` the cash collected is at
  least ``C(q^T) − C(0) = C(q^T) − b ln n`` and resolution pays at most
  ``max_i q^T_i ≤ C(q^T)`` (payouts round down too), so the realised loss is an integer
  ``≤ b ln n``; `Book.from_subsidy` rounds ``b`` down so that ``b ln n ≤ F``;
- round trips: buying shares and selling them back pays ``⌈c⌉`` and receives ``⌊c⌋``:
  never a profit, and a loss of exactly one micro-unit unless ``c`` is an integer;
- splitting: the pieces of a trade cost ``Σ ⌈cᵢ⌉ ≥ ⌈Σ cᵢ⌉``, at least the whole trade's
  cash, and less than that plus the number of pieces;
- spending: `quote_spend` buys exactly the largest number of micro-shares whose charge is
  at most the spend; any spend of one micro-unit or more buys at least one micro-share
  (its exact cost is below one micro-unit, as every price is below 1).

Speed: a book carries a float state (`market.rounding.State`); a single-outcome quote
reads it in O(1) and hands the state after the trade to the book `Book.apply` returns, so
a quote-and-apply costs a few float operations whatever ``n`` (a book built from ``(q, b)``
computes its state in O(n) at its first quote). A quote's prices, and ``delta_micros``,
are computed when read, afresh from ``(q, b)``: deterministic too (on one platform: the
last bit of a float price may differ between C libraries, a charge never does).

Hard bounds: every ``|q_i|`` and ``|δ_i|`` stays within `MAX_SHARES_MICROS` (1e15
micro-shares, a billion shares) and ``1 ≤ b ≤`` `MAX_B_MICROS`, so every integer converts
to float64 exactly (below 2⁵³) and every cost is finite. Anything else raises
`InvalidMarketInput` before a quote exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal
from math import ceil, exp, expm1, log1p
from typing import Any

from market.checks import MICROS, check_amount, check_outcome, format_micros, is_int
from market.errors import InvalidMarketInput, PriceLimitExceeded, StaleQuote
from market.lmsr import spend_inverse
from market.rounding import (
    D0_WINDOW,
    HALF_WINDOW,
    K_RHO,
    K_WINDOW,
    RHO_LIMIT,
    S_HIGH,
    S_LOW,
    TWO_U,
    Y_LOW,
    Y_TINY,
    State,
    prices_of,
    single_cash,
    state_of,
    vector_cash,
)

__all__ = [
    "MAX_B_MICROS",
    "MAX_SHARES_MICROS",
    "MICROS",
    "Book",
    "Limit",
    "Quote",
    "format_micros",
    "quote_buy",
    "quote_sell",
    "quote_spend",
    "quote_trade",
    "spend_shares",
]

MAX_SHARES_MICROS = 10**15
"""Hard bound on ``|q_i|`` and on ``|δ_i|`` of one trade, micro-shares (1e9 shares)."""

MAX_B_MICROS = 10**15
"""Hard bound on the liquidity ``b``, micro-units of cash."""

_DEC = Context(prec=60)


def _check_shares_bound(q_after: Sequence[int]) -> None:
    for i, x in enumerate(q_after):
        if not -MAX_SHARES_MICROS <= x <= MAX_SHARES_MICROS:
            raise InvalidMarketInput(
                f"This trade would take outcome {i} to {format_micros(x)} shares outstanding, "
                f"beyond the market's bound of {format_micros(MAX_SHARES_MICROS)}."
            )


class Book:
    """The state of one LMSR market maker, in integers; immutable.

    ``Book(q_micros, b_micros)``:

    Attributes:
        q_micros: shares outstanding per outcome, micro-shares (at least two outcomes;
            each ``|q_i| ≤ MAX_SHARES_MICROS``; negative values are allowed, only
            differences matter to the LMSR).
        b_micros: liquidity ``b``, micro-units of cash, ``1 ≤ b ≤ MAX_B_MICROS``.

    Two books are equal when their ``q_micros`` and ``b_micros`` are. The attributes are
    read-only; the slots behind them (``_q``, ``_b`` and ``_state``, the float state a
    quote handed on) are written only when a book is made.
    """

    __slots__ = ("_b", "_q", "_state")

    _q: tuple[int, ...]
    _b: int
    _state: State | None

    def __init__(self, q_micros: Sequence[int], b_micros: int) -> None:
        q = q_micros
        if isinstance(q, str | bytes) or not isinstance(q, Sequence):
            raise InvalidMarketInput(f"q_micros must be a sequence of integers, got {q!r}.")
        q = tuple(q)
        if len(q) < 2:
            raise InvalidMarketInput(f"A market needs at least two outcomes, got {len(q)}.")
        for x in q:
            if not is_int(x):
                raise InvalidMarketInput(
                    f"Shares outstanding must be whole micro-shares (integers), got {x!r}."
                )
        _check_shares_bound(q)
        b = b_micros
        if not is_int(b):
            raise InvalidMarketInput(f"The liquidity b must be integer micro-units, got {b!r}.")
        if not 1 <= b <= MAX_B_MICROS:
            raise InvalidMarketInput(
                f"The liquidity b must be between 0.000001 and {format_micros(MAX_B_MICROS)}, "
                f"got {format_micros(b)}."
            )
        self._q = q
        self._b = b
        self._state = None

    @classmethod
    def from_subsidy(cls, n: int, subsidy_micros: int) -> Book:
        """A fresh market (``q = 0``) whose worst-case loss is at most the subsidy.

        ``b = ⌊F / ln n⌋`` micro-units, computed with 60-digit decimals so that
        ``b · ln n ≤ F`` holds exactly (float division could round up past an integer).

        Args:
            n: number of outcomes, at least 2.
            subsidy_micros: the sponsor's subsidy ``F``, micro-units, > 0.

        Raises:
            InvalidMarketInput: ``n < 2``, a non-positive subsidy, or one too small to give
                ``b ≥ 1`` micro-unit (or so large that ``b`` exceeds `MAX_B_MICROS`).
        """
        if not is_int(n) or n < 2:
            raise InvalidMarketInput(f"A market needs at least two outcomes, got {n!r}.")
        if not is_int(subsidy_micros) or subsidy_micros <= 0:
            raise InvalidMarketInput(
                f"The subsidy must be a positive number of micro-units, got {subsidy_micros!r}."
            )
        b = int(
            _DEC.divide(Decimal(subsidy_micros), _DEC.ln(Decimal(n))).to_integral_value(
                rounding=ROUND_FLOOR
            )
        )
        if b < 1:
            raise InvalidMarketInput(
                f"A subsidy of {format_micros(subsidy_micros)} is too small for {n} outcomes."
            )
        return cls((0,) * n, b)

    # --- value semantics ---

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Book):
            return self._q == other._q and self._b == other._b
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Book, self._q, self._b))

    def __repr__(self) -> str:
        return f"Book(q_micros={self._q!r}, b_micros={self._b!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return Book, (self._q, self._b)

    # --- reading ---

    @property
    def q_micros(self) -> tuple[int, ...]:
        """Shares outstanding per outcome, micro-shares."""
        return self._q

    @property
    def b_micros(self) -> int:
        """Liquidity ``b``, micro-units of cash."""
        return self._b

    @property
    def n(self) -> int:
        """Number of outcomes."""
        return len(self._q)

    @property
    def max_loss_micros(self) -> int:
        """``⌊b · ln n⌋``: the most the maker can lose from ``q = 0``, in micro-units.

        Realised losses are integers ``≤ b ln n``, hence ``≤`` this value.
        """
        exact = _DEC.multiply(Decimal(self._b), _DEC.ln(Decimal(len(self._q))))
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))

    def state(self) -> State:
        """The float state ``(M, S̃, ρ, k₀)`` quotes start from (`market.rounding`): the one
        a quote handed on, else computed afresh."""
        state = self._state
        return state_of(self._q, self._b) if state is None else state

    def prices(self) -> tuple[float, ...]:
        """Instantaneous prices ``p_i = e^{q_i/b} / Σ_j e^{q_j/b}`` (probabilities, sum 1).

        A deterministic function of ``(q, b)`` (`market.rounding.prices_of`).
        """
        return prices_of(self._q, self._b)

    def apply(self, quote: Quote) -> Book:
        """The book after the quoted trade.

        Raises:
            StaleQuote: the quote was priced for a different state (another trade came
                first, or another market); ask for a fresh quote.
        """
        if quote._book is self:  # priced on this very book: q_after is q + delta already
            after = _make_book(Book)
            after._q = quote._q_after
            after._b = self._b
            after._state = quote._state_after
            return after
        q = self._q
        before = quote._q_before
        if (before is not q and before != q) or (quote._b is not None and quote._b != self._b):
            raise StaleQuote(
                "This quote was priced for a different state of the market; "
                "the market has moved, ask for a fresh quote."
            )
        if quote._book is None:  # hand-built: check that q_after is q + delta
            delta = quote.delta_micros
            expected = tuple(a + d for a, d in zip(q, delta, strict=False))
            if len(delta) != len(q) or expected != quote._q_after:
                raise StaleQuote("This quote is inconsistent: q_after is not q_before + delta.")
            return Book(quote._q_after, self._b)
        after = _make_book(Book)
        after._q = quote._q_after
        after._b = self._b
        after._state = quote._state_after
        return after


@dataclass(frozen=True)
class Limit:
    """Price protection for one trade; any limit that the quote breaks refuses the trade.

    All amounts are integer micro-units; ``None`` means no limit. Average prices are cash
    per whole share, i.e. ``cash_micros · 1e6 / shares_micros`` micro-units per share.

    Attributes:
        max_average_price_micros: buys: the highest average price accepted.
        min_average_price_micros: sells: the lowest average price accepted.
        max_cost_micros: buys (and vector trades): the largest charge accepted.
        min_proceeds_micros: sells (and vector trades): the smallest proceeds accepted.
    """

    max_average_price_micros: int | None = None
    min_average_price_micros: int | None = None
    max_cost_micros: int | None = None
    min_proceeds_micros: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_average_price_micros",
            "min_average_price_micros",
            "max_cost_micros",
            "min_proceeds_micros",
        ):
            value = getattr(self, name)
            if value is not None and (not is_int(value) or value < 0):
                raise InvalidMarketInput(
                    f"The limit {name} must be a non-negative integer of micro-units, "
                    f"got {value!r}."
                )


class Quote:
    """A priced trade against one `Book` state; `Book.apply` turns it into the next book.

    Immutable. Made by `quote_buy`, `quote_sell`, `quote_spend` and `quote_trade` (or, for
    tests, ``Quote(outcome, delta_micros, cash_micros, q_before_micros, q_after_micros,
    prices_before, prices_after, b_micros)``).

    Attributes:
        outcome: the outcome traded, or None for a vector trade over several outcomes.
        delta_micros: shares bought (+) / sold (−) per outcome, micro-shares.
        cash_micros: ``⌈C(q_after) − C(q_before)⌉``: > 0: the trader pays the maker (a
            charge, rounded up); ≤ 0: the maker pays the trader (proceeds, rounded down).
        q_before_micros: the book's shares outstanding the quote was priced for.
        q_after_micros: ``q_before + delta``.
        prices_before: prices before the trade (probabilities), computed when read.
        prices_after: prices after the trade, computed when read.
        b_micros: the liquidity the quote was priced at (None only for hand-built quotes).

    Two quotes are equal when all of these are.
    """

    # _shares: signed micro-shares of the outcome (None: a vector or hand-built quote);
    # _book: the book it was priced on (None: hand-built); _state_after: the float state
    # after the trade (None: compute afresh); _given: None, or (delta, prices_before,
    # prices_after) as given (a price None: computed when read)
    __slots__ = (
        "_b",
        "_book",
        "_cash",
        "_given",
        "_outcome",
        "_q_after",
        "_q_before",
        "_shares",
        "_state_after",
    )

    _outcome: int | None
    _shares: int | None
    _cash: int
    _q_before: tuple[int, ...]
    _q_after: tuple[int, ...]
    _b: int | None
    _state_after: State | None
    _book: Book | None
    _given: tuple[tuple[int, ...], tuple[float, ...] | None, tuple[float, ...] | None] | None

    def __init__(
        self,
        outcome: int | None,
        delta_micros: Sequence[int],
        cash_micros: int,
        q_before_micros: Sequence[int],
        q_after_micros: Sequence[int],
        prices_before: Sequence[float] | None = None,
        prices_after: Sequence[float] | None = None,
        b_micros: int | None = None,
    ) -> None:
        if b_micros is None and (prices_before is None or prices_after is None):
            raise InvalidMarketInput("A quote without b_micros needs its prices.")
        self._outcome = outcome
        self._shares = None
        self._cash = cash_micros
        self._q_before = tuple(q_before_micros)
        self._q_after = tuple(q_after_micros)
        self._b = b_micros
        self._state_after = None
        self._book = None
        self._given = (
            tuple(delta_micros),
            None if prices_before is None else tuple(prices_before),
            None if prices_after is None else tuple(prices_after),
        )

    @property
    def outcome(self) -> int | None:
        """The outcome traded (None: a vector trade)."""
        return self._outcome

    @property
    def delta_micros(self) -> tuple[int, ...]:
        """Shares bought (+) / sold (−) per outcome, micro-shares."""
        given = self._given
        if given is not None:
            return given[0]
        k, shares = self._outcome, self._shares
        assert k is not None  # without _given, a quote made here: a single-outcome one
        assert shares is not None
        delta = [0] * len(self._q_before)
        delta[k] = shares
        return tuple(delta)

    @property
    def cash_micros(self) -> int:
        """``⌈C(q_after) − C(q_before)⌉`` micro-units (> 0: a charge; ≤ 0: proceeds)."""
        return self._cash

    @property
    def q_before_micros(self) -> tuple[int, ...]:
        """Shares outstanding the quote was priced for, micro-shares."""
        return self._q_before

    @property
    def q_after_micros(self) -> tuple[int, ...]:
        """Shares outstanding after the trade, micro-shares."""
        return self._q_after

    @property
    def b_micros(self) -> int | None:
        """The liquidity the quote was priced at, micro-units (None: hand-built)."""
        return self._b

    @property
    def prices_before(self) -> tuple[float, ...]:
        """Prices before the trade (probabilities), a deterministic function of the book."""
        given = self._given
        if given is not None and given[1] is not None:
            return given[1]
        return prices_of(self._q_before, self._b)  # type: ignore[arg-type]

    @property
    def prices_after(self) -> tuple[float, ...]:
        """Prices after the trade (probabilities), a deterministic function of ``q_after``."""
        given = self._given
        if given is not None and given[2] is not None:
            return given[2]
        return prices_of(self._q_after, self._b)  # type: ignore[arg-type]

    def _values(self) -> tuple[Any, ...]:
        return (
            self._outcome,
            self.delta_micros,
            self._cash,
            self._q_before,
            self._q_after,
            self.prices_before,
            self.prices_after,
            self._b,
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quote):
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(
            (Quote, self._outcome, self.delta_micros, self._cash, self._q_before, self._q_after)
        )

    def __repr__(self) -> str:
        return (
            f"Quote(outcome={self._outcome!r}, delta_micros={self.delta_micros!r}, "
            f"cash_micros={self._cash!r}, q_before_micros={self._q_before!r}, "
            f"q_after_micros={self._q_after!r}, b_micros={self._b!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return Quote, self._values()


_make_book = object.__new__
_make_quote = object.__new__


def _priced(
    book: Book,
    outcome: int | None,
    shares: int | None,
    cash: int,
    q_after: tuple[int, ...],
    state_after: State | None,
    delta: tuple[int, ...] | None,
) -> Quote:
    """A quote made here (its fields already checked)."""
    quote = _make_quote(Quote)
    quote._outcome = outcome
    quote._shares = shares
    quote._cash = cash
    quote._q_before = book._q
    quote._q_after = q_after
    quote._b = book._b
    quote._state_after = state_after
    quote._book = book
    quote._given = None if delta is None else (delta, None, None)
    return quote


# --- quoting -----------------------------------------------------------------------------


def _check_book(book: object) -> Book:
    if not isinstance(book, Book):
        raise InvalidMarketInput(f"Expected a Book, got {type(book).__name__}.")
    return book


def _average(cash: int, shares: int) -> str:
    return str((Decimal(cash) / Decimal(shares)).quantize(Decimal("0.000001")))


def _check_limit(limit: Limit, outcome: int | None, shares: int, cash: int) -> None:
    """Refuse a quote that breaks a limit.

    ``shares`` is the signed number of micro-shares of ``outcome`` for a single-outcome
    trade (positive: a buy) and 0 for a vector trade.
    """
    if shares > 0:
        what = f"Buying {format_micros(shares)} shares of outcome {outcome}"
        if limit.min_average_price_micros is not None or limit.min_proceeds_micros is not None:
            raise InvalidMarketInput(
                "A minimum average price or minimum proceeds limits a sale; this is a buy."
            )
    elif shares < 0:
        what = f"Selling {format_micros(-shares)} shares of outcome {outcome}"
        if limit.max_average_price_micros is not None or limit.max_cost_micros is not None:
            raise InvalidMarketInput(
                "A maximum average price or maximum cost limits a buy; this is a sale."
            )
    else:
        what = "This trade"
        if limit.max_average_price_micros is not None or limit.min_average_price_micros is not None:
            raise InvalidMarketInput(
                "Average-price limits apply to buying or selling one outcome; "
                "for a trade over several outcomes use a maximum cost or minimum proceeds."
            )
    cap = limit.max_average_price_micros
    if cap is not None and cash * MICROS > cap * shares:
        raise PriceLimitExceeded(
            f"{what} would cost {format_micros(cash)} at an average price of "
            f"{_average(cash, shares)} per share, above your limit of {format_micros(cap)}."
        )
    floor_ = limit.min_average_price_micros
    if floor_ is not None and -cash * MICROS < floor_ * -shares:
        raise PriceLimitExceeded(
            f"{what} would pay {format_micros(-cash)} at an average price of "
            f"{_average(-cash, -shares)} per share, below your limit of {format_micros(floor_)}."
        )
    if limit.max_cost_micros is not None and cash > limit.max_cost_micros:
        raise PriceLimitExceeded(
            f"{what} would cost {format_micros(cash)}, "
            f"above your limit of {format_micros(limit.max_cost_micros)}."
        )
    if limit.min_proceeds_micros is not None and -cash < limit.min_proceeds_micros:
        paid = f"pay {format_micros(-cash)}" if cash <= 0 else f"cost {format_micros(cash)}"
        raise PriceLimitExceeded(
            f"{what} would {paid}, "
            f"below your minimum proceeds of {format_micros(limit.min_proceeds_micros)}."
        )


def _single_quote(book: Book, k: int, s: int, limit: Limit | None) -> Quote:
    """Quote ``s`` micro-shares (signed) of outcome ``k``, inputs already checked."""
    q, b, state = book._q, book._b, book._state
    after_k = q[k] + s
    if not -MAX_SHARES_MICROS <= after_k <= MAX_SHARES_MICROS:
        _check_shares_bound((*q[:k], after_k))
    q_after: tuple[int, ...]
    if len(q) == 2:
        q_after = (after_k, q[1]) if k == 0 else (q[0], after_k)
    else:
        q_list = list(q)
        q_list[k] = after_k
        q_after = tuple(q_list)
    cash, state_after = single_cash(q, b, state_of(q, b) if state is None else state, k, s)
    if limit is not None:
        _check_limit(limit, k, s, cash)
    return _priced(book, k, s, cash, q_after, state_after, None)


def quote_buy(book: Book, outcome: int, shares_micros: int, limit: Limit | None = None) -> Quote:
    """Price buying ``shares_micros`` micro-shares of one outcome.

    ``cash_micros = ⌈b · ln(1 + p_k (e^{s/b} − 1))⌉ ≥ 1``: the exact cost, rounded up.

    Raises:
        InvalidMarketInput: a bad outcome, a non-positive or too large amount, or a trade
            taking the outcome beyond `MAX_SHARES_MICROS`.
        PriceLimitExceeded: the charge breaks ``limit``.
    """
    # The hot path of every trade, written out (no call into `market.rounding` unless the
    # trade leaves its common case): `market.rounding.single_cash`'s fast path, the same
    # formula and bound (`k_w`), then the quote. Anything else — a state to compute, a
    # long shot, a sale of most of an outcome, an interval holding an integer, a state to
    # refresh — goes to `single_cash`, which decides every case exactly.
    if type(book) is not Book:
        book = _check_book(book)
    q, b, state = book._q, book._b, book._state
    n = len(q)
    if type(outcome) is not int or not 0 <= outcome < n:
        outcome = check_outcome(outcome, n)
    s = shares_micros
    if type(s) is not int or not 0 < s <= MAX_SHARES_MICROS:
        s = check_amount(s, "number of shares to buy", bound=MAX_SHARES_MICROS)
    after_k = q[outcome] + s
    if after_k > MAX_SHARES_MICROS:
        _check_shares_bound((*q[:outcome], after_k))
    q_after: tuple[int, ...]
    if n == 2:
        q_after = (after_k, q[1]) if outcome == 0 else (q[0], after_k)
    else:
        q_list = list(q)
        q_list[outcome] = after_k
        q_after = tuple(q_list)
    cash = None
    if state is not None:
        shift, total, rho, k_window = state
        qk = q[outcome]
        t = s / b
        r = 0.0 if qk == shift else (qk - shift) / b
        if r >= -HALF_WINDOW and t <= HALF_WINDOW:
            y = (1.0 if qk == shift else exp(r)) / total * expm1(t)
            if y >= Y_LOW:
                abs_y = y if y > 0.0 else -y
                c = b * log1p(y)
                err = (c if c > 0.0 else -c) * k_window
                cash = ceil(c + err)
                if abs_y < Y_TINY or c - err <= cash - 1:
                    cash = None
                else:
                    grow = 1.0 + y
                    after = total * grow
                    rho_after = (rho + abs_y * D0_WINDOW) / grow * 1.000001 + TWO_U
                    state_after: State | None = (
                        None
                        if rho_after > RHO_LIMIT or after > S_HIGH or after < S_LOW
                        else (shift, after, rho_after, K_WINDOW + K_RHO * rho_after)
                    )
    if cash is None:
        cash, state_after = single_cash(
            q, b, state_of(q, b) if state is None else state, outcome, s
        )
    if limit is not None:
        _check_limit(limit, outcome, s, cash)
    quote = _make_quote(Quote)
    quote._outcome = outcome
    quote._shares = s
    quote._cash = cash
    quote._q_before = q
    quote._q_after = q_after
    quote._b = b
    quote._state_after = state_after
    quote._book = book
    quote._given = None
    return quote


def quote_sell(book: Book, outcome: int, shares_micros: int, limit: Limit | None = None) -> Quote:
    """Price selling ``shares_micros`` micro-shares of one outcome back to the maker.

    ``cash_micros = ⌈C(q − s·e_k) − C(q)⌉ ≤ 0``: the proceeds ``⌊C(q) − C(q − s·e_k)⌋``,
    rounded down. Whether the trader holds the shares is checked by
    `market.conditional.Holdings` (or the trading service).

    Raises:
        InvalidMarketInput: a bad outcome, a non-positive or too large amount, or a trade
            taking the outcome beyond `MAX_SHARES_MICROS`.
        PriceLimitExceeded: the proceeds break ``limit``.
    """
    # The hot path of every trade, written out (no call into `market.rounding` unless the
    # trade leaves its common case): `market.rounding.single_cash`'s fast path, the same
    # formula and bound (`k_w`), then the quote. Anything else — a state to compute, a
    # long shot, a sale of most of an outcome, an interval holding an integer, a state to
    # refresh — goes to `single_cash`, which decides every case exactly.
    if type(book) is not Book:
        book = _check_book(book)
    q, b, state = book._q, book._b, book._state
    n = len(q)
    if type(outcome) is not int or not 0 <= outcome < n:
        outcome = check_outcome(outcome, n)
    s = shares_micros
    if type(s) is not int or not 0 < s <= MAX_SHARES_MICROS:
        s = check_amount(s, "number of shares to sell", bound=MAX_SHARES_MICROS)
    s = -s
    after_k = q[outcome] + s
    if after_k < -MAX_SHARES_MICROS:
        _check_shares_bound((*q[:outcome], after_k))
    q_after: tuple[int, ...]
    if n == 2:
        q_after = (after_k, q[1]) if outcome == 0 else (q[0], after_k)
    else:
        q_list = list(q)
        q_list[outcome] = after_k
        q_after = tuple(q_list)
    cash = None
    if state is not None:
        shift, total, rho, k_window = state
        qk = q[outcome]
        t = s / b
        r = 0.0 if qk == shift else (qk - shift) / b
        if r >= -HALF_WINDOW and t <= HALF_WINDOW:
            y = (1.0 if qk == shift else exp(r)) / total * expm1(t)
            if y >= Y_LOW:
                abs_y = y if y > 0.0 else -y
                c = b * log1p(y)
                err = (c if c > 0.0 else -c) * k_window
                cash = ceil(c + err)
                if abs_y < Y_TINY or c - err <= cash - 1:
                    cash = None
                else:
                    grow = 1.0 + y
                    after = total * grow
                    rho_after = (rho + abs_y * D0_WINDOW) / grow * 1.000001 + TWO_U
                    state_after: State | None = (
                        None
                        if rho_after > RHO_LIMIT or after > S_HIGH or after < S_LOW
                        else (shift, after, rho_after, K_WINDOW + K_RHO * rho_after)
                    )
    if cash is None:
        cash, state_after = single_cash(
            q, b, state_of(q, b) if state is None else state, outcome, s
        )
    if limit is not None:
        _check_limit(limit, outcome, s, cash)
    quote = _make_quote(Quote)
    quote._outcome = outcome
    quote._shares = s
    quote._cash = cash
    quote._q_before = q
    quote._q_after = q_after
    quote._b = b
    quote._state_after = state_after
    quote._book = book
    quote._given = None
    return quote


def spend_shares(book: Book, state: State, k: int, spend: int, cap: int) -> int:
    """The largest ``x ≤ cap`` micro-shares of outcome ``k`` with ``⌈c(x)⌉ ≤ spend``.

    ``⌈c(x)⌉`` is exact and non-decreasing in ``x``, so "fits" is a monotone predicate:
    the closed-form inverse (`market.lmsr.spend_inverse`) guesses, two exact charges
    usually confirm, and a doubling bracket plus bisection settles the rest. Requires
    ``spend ≥ 1`` (so ``x = 1`` fits: its exact cost is below one micro-unit) and that
    ``cap`` does not fit.
    """
    q, b = book._q, book._b
    shift, total = state[0], state[1]

    def fits(x: int) -> bool:
        return single_cash(q, b, state, k, x)[0] <= spend

    log_p = (q[k] - shift) / b - math.log(total)
    guess_f = spend_inverse(log_p, float(spend), float(b))
    guess = min(max(int(guess_f), 1), cap - 1) if math.isfinite(guess_f) else cap - 1
    if fits(guess):
        lo, step = guess, 1
        hi = min(guess + step, cap)
        while fits(hi):
            lo, step = hi, step * 2
            hi = min(hi + step, cap)
    else:
        hi, step = guess, 1
        lo = max(guess - step, 1)
        while not fits(lo):
            hi, step = lo, step * 2
            lo = max(lo - step, 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def quote_spend(book: Book, outcome: int, spend_micros: int, limit: Limit | None = None) -> Quote:
    """Price buying as many micro-shares of one outcome as ``spend_micros`` pays for.

    Returns the quote for the largest ``x`` whose exact charge ``⌈c(x)⌉`` is at most the
    spend (equivalently ``c(x) ≤ spend``); its ``cash_micros ≤ spend_micros``. Any spend
    of one micro-unit or more buys at least one micro-share.

    Raises:
        InvalidMarketInput: a bad outcome, a non-positive spend, or one that would buy past
            `MAX_SHARES_MICROS`.
        PriceLimitExceeded: the resulting buy breaks ``limit``.
    """
    b = _check_book(book)
    k = check_outcome(outcome, b.n)
    spend = check_amount(spend_micros, "spend", bound=MAX_SHARES_MICROS)
    room = MAX_SHARES_MICROS - b._q[k]
    if room <= 0:
        raise InvalidMarketInput(
            f"Outcome {k} is at the market's bound of {format_micros(MAX_SHARES_MICROS)} "
            "shares outstanding; no more can be bought."
        )
    cap = min(room, MAX_SHARES_MICROS)
    state = b.state()
    # c(cap) ≥ cap + b·ln p_k (the e^{x/b} term alone): when that float bound clears the
    # spend by a wide slack, cap cannot fit and the exact check (a decimal evaluation at
    # this size, ~100 µs) is not needed.
    log_p = (b._q[k] - state[0]) / b._b - math.log(state[1])
    lower = cap + b._b * log_p
    slack = 1e-9 * (abs(cap) + abs(b._b * log_p)) + 2.0
    if lower - slack <= spend and single_cash(b._q, b._b, state, k, cap)[0] <= spend:
        raise InvalidMarketInput(
            f"A spend of {format_micros(spend)} would buy more than the market's bound of "
            f"{format_micros(cap)} further shares of outcome {k}."
        )
    return _single_quote(b, k, spend_shares(b, state, k, spend, cap), limit)


def quote_trade(book: Book, delta_micros: Sequence[int], limit: Limit | None = None) -> Quote:
    """Price any vector of buys (+) and sells (−), micro-shares per outcome, in one trade.

    ``cash_micros = ⌈C(q + δ) − C(q)⌉``. A vector with a single non-zero entry is priced
    exactly as `quote_buy` / `quote_sell` would (and its quote names the outcome);
    otherwise ``outcome`` is None and only the ``max_cost_micros`` /
    ``min_proceeds_micros`` limits apply.

    Raises:
        InvalidMarketInput: wrong length, non-integers, an all-zero vector, or entries or
            results beyond `MAX_SHARES_MICROS`.
        PriceLimitExceeded: the cash breaks ``limit``.
    """
    b = _check_book(book)
    if isinstance(delta_micros, str | bytes) or not isinstance(delta_micros, Sequence):
        raise InvalidMarketInput(f"The trade must be a sequence of integers, got {delta_micros!r}.")
    delta = tuple(delta_micros)
    if len(delta) != b.n:
        raise InvalidMarketInput(
            f"The trade has {len(delta)} entries but the market has {b.n} outcomes."
        )
    for d in delta:
        if not is_int(d):
            raise InvalidMarketInput(f"Trades are whole micro-shares (integers), got {d!r}.")
        if abs(d) > MAX_SHARES_MICROS:
            raise InvalidMarketInput(
                f"A trade of {format_micros(d)} shares exceeds the bound of "
                f"{format_micros(MAX_SHARES_MICROS)} per trade."
            )
    nonzero = [i for i, d in enumerate(delta) if d != 0]
    if not nonzero:
        raise InvalidMarketInput(
            "The trade buys and sells nothing; give at least one non-zero entry."
        )
    if len(nonzero) == 1:
        return _single_quote(b, nonzero[0], delta[nonzero[0]], limit)
    q_after = tuple(a + d for a, d in zip(b._q, delta, strict=True))
    _check_shares_bound(q_after)
    cash = vector_cash(b._q, b._b, delta)
    if limit is not None:
        _check_limit(limit, None, 0, cash)
    return _priced(b, None, None, cash, q_after, None, delta)
