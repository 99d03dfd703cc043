"""The micro-unit boundary of the LMSR: integer books, quotes and price limits.

A `Book` is the state of one LMSR market maker in integers: shares outstanding per outcome
in micro-shares (1e-6 of a share) and the liquidity ``b`` in micro-units of cash. A quote
prices a trade with the float64 math of `market.lmsr` (in micro-units, since the LMSR is
homogeneous in ``(q, δ, b)``) and converts the float cost ``c̃`` to an integer::

    cash_micros = ⌈c̃ + m⌉,   m = 1 + 2⁻⁴⁰ · ((n + 64) · b + Σ_i |δ_i|)

positive: the trader pays (a charge, rounded UP); negative: the maker pays (proceeds,
rounded DOWN in magnitude); a pure sale never charges (its cash is capped at 0).

Why the margin ``m``: rounding up the float ``c̃`` is not enough, because ``c̃`` may sit an
ulp or so below the exact cost ``c``. The evaluation in `market.lmsr` never subtracts two
large costs; its error is below ``(n + 750) · b · 2⁻⁵²`` plus a few ulps of ``Σ|δ|`` (the
``n`` from summing exponentials, the 750 from ``exp`` of arguments down to −745, beyond
which terms vanish). The relative part of ``m`` exceeds that bound by more than two orders
of magnitude, and the extra whole micro-unit keeps the inequality safe even where the
analysis were off by many ulps. Hence, for every quote::

    c ≤ cash_micros < c + 2m + 1                        (c: the exact real cost)

which the tests check against a 60-digit `decimal` evaluation. Consequences:

- maker's loss: summing over any sequence of trades from ``q⁰ = 0``, the cash collected
  is at least ``C(q^T) − C(0) = C(q^T) − b ln n``, while resolution pays at most
  ``max_i q^T_i ≤ C(q^T)`` (payouts also round down); so the realised loss is an integer
  ``≤ b ln n`` after any number of trades, and `Book.from_subsidy` rounds ``b`` down so
  that ``b ln n ≤ F``;
- round trips: buying and then selling the same shares costs the trader at least 1 micro;
- splitting: pieces cost at least the exact cost of the whole, hence at least
  ``cash(whole) − 2m − 1``; and at most ``cash(whole) + Σ (2mᵢ + 1)``.

Hard bounds: every ``|q_i|`` and ``|δ_i|`` stays within `MAX_SHARES_MICROS` (1e15
micro-shares, a billion shares) and ``1 ≤ b ≤`` `MAX_B_MICROS`, so every integer converts
to float64 exactly (below 2⁵³) and every cost is finite. Anything else raises
`InvalidMarketInput` before a quote exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal
from typing import TypeGuard

import numpy as np

from market.errors import InvalidMarketInput, PriceLimitExceeded, StaleQuote
from market.lmsr import (
    NUMPY_FROM_OUTCOMES,
    lse_state,
    single_cost_from_state,
    spend_inverse,
    vector_cost_from_state,
)

MICROS = 1_000_000
"""Micro-units per unit: of cash (micros) and of shares (micro-shares)."""

MAX_SHARES_MICROS = 10**15
"""Hard bound on ``|q_i|`` and on ``|δ_i|`` of one trade, micro-shares (1e9 shares)."""

MAX_B_MICROS = 10**15
"""Hard bound on the liquidity ``b``, micro-units of cash."""

_MARGIN_REL = 2.0**-40
_DEC = Context(prec=60)

_State = tuple[list[float], list[float], float]
"""``(r, w, S)`` of `market.lmsr.lse_state` for a book: r_i = (q_i − max q)/b, w = e^r."""


def _state_of(q: Sequence[int], b: int) -> _State:
    if len(q) >= NUMPY_FROM_OUTCOMES:
        arr = np.array(q, dtype=np.float64)
        r = (arr - arr.max()) / b
        w = np.exp(r)
        return r.tolist(), w.tolist(), float(w.sum())
    _, rl, wl, total = lse_state([float(x) for x in q], float(b))
    return rl, wl, total


def format_micros(micros: int) -> str:
    """Micro-units as the shortest exact decimal string, as the API writes amounts:
    ``5_124_949 → "5.124949"``, ``12_500_000 → "12.5"``, ``50_000_000 → "50"``."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def rounding_margin_micros(b_micros: int, n: int, traded_micros: int) -> float:
    """The safety margin ``m = 1 + 2⁻⁴⁰ · ((n + 64) · b + Σ|δ|)`` added before rounding.

    Args:
        b_micros: liquidity, micro-units.
        n: number of outcomes.
        traded_micros: ``Σ_i |δ_i|`` of the trade, micro-shares.

    Returns:
        The margin in micro-units (a float slightly above 1 for ordinary markets); see the
        module docstring for why it bounds the float error.
    """
    return 1.0 + _MARGIN_REL * ((n + 64) * b_micros + traded_micros)


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_shares_bound(q_after: Sequence[int]) -> None:
    for i, x in enumerate(q_after):
        if not -MAX_SHARES_MICROS <= x <= MAX_SHARES_MICROS:
            raise InvalidMarketInput(
                f"This trade would take outcome {i} to {format_micros(x)} shares outstanding, "
                f"beyond the market's bound of {format_micros(MAX_SHARES_MICROS)}."
            )


@dataclass(frozen=True)
class Book:
    """The state of one LMSR market maker, in integers.

    Attributes:
        q_micros: shares outstanding per outcome, micro-shares (at least two outcomes;
            each ``|q_i| ≤ MAX_SHARES_MICROS``; negative values are allowed, only
            differences matter to the LMSR).
        b_micros: liquidity ``b``, micro-units of cash, ``1 ≤ b ≤ MAX_B_MICROS``.

    The log-sum-exp state ``(r, e^r, Σ e^r)`` is computed once per book and handed from a
    quote to the book it creates, so a binary quote-and-apply costs a few exponentials.
    """

    q_micros: tuple[int, ...]
    b_micros: int
    _lse: _State | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        q = self.q_micros
        if isinstance(q, str | bytes) or not isinstance(q, Sequence):
            raise InvalidMarketInput(f"q_micros must be a sequence of integers, got {q!r}.")
        if not isinstance(q, tuple):
            object.__setattr__(self, "q_micros", tuple(q))
        if len(self.q_micros) < 2:
            raise InvalidMarketInput(
                f"A market needs at least two outcomes, got {len(self.q_micros)}."
            )
        for x in self.q_micros:
            if not _is_int(x):
                raise InvalidMarketInput(
                    f"Shares outstanding must be whole micro-shares (integers), got {x!r}."
                )
        _check_shares_bound(self.q_micros)
        b = self.b_micros
        if not _is_int(b):
            raise InvalidMarketInput(f"The liquidity b must be integer micro-units, got {b!r}.")
        if not 1 <= b <= MAX_B_MICROS:
            raise InvalidMarketInput(
                f"The liquidity b must be between 0.000001 and {format_micros(MAX_B_MICROS)}, "
                f"got {format_micros(b)}."
            )

    @classmethod
    def _trusted(cls, q: tuple[int, ...], b: int, lse: _State | None) -> Book:
        """A book from values already validated by a quote (skips the O(n) checks)."""
        book = object.__new__(cls)
        object.__setattr__(book, "q_micros", q)
        object.__setattr__(book, "b_micros", b)
        object.__setattr__(book, "_lse", lse)
        return book

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
        if not _is_int(n) or n < 2:
            raise InvalidMarketInput(f"A market needs at least two outcomes, got {n!r}.")
        if not _is_int(subsidy_micros) or subsidy_micros <= 0:
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
        return cls(q_micros=(0,) * n, b_micros=b)

    @property
    def n(self) -> int:
        """Number of outcomes."""
        return len(self.q_micros)

    @property
    def max_loss_micros(self) -> int:
        """``⌊b · ln n⌋``: the most the maker can lose from ``q = 0``, in micro-units.

        Realised losses are integers ``≤ b ln n``, hence ``≤`` this value.
        """
        exact = _DEC.multiply(Decimal(self.b_micros), _DEC.ln(Decimal(self.n)))
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))

    def state(self) -> _State:
        """The cached log-sum-exp state ``(r, w, S)`` (see `market.lmsr.lse_state`)."""
        lse = self._lse
        if lse is None:
            lse = _state_of(self.q_micros, self.b_micros)
            object.__setattr__(self, "_lse", lse)
        return lse

    def prices(self) -> tuple[float, ...]:
        """Instantaneous prices ``p_i = e^{q_i/b} / Σ_j e^{q_j/b}`` (probabilities, sum 1)."""
        _, w, total = self.state()
        return tuple([x / total for x in w])

    def apply(self, quote: Quote) -> Book:
        """The book after the quoted trade.

        Raises:
            StaleQuote: the quote was priced for a different state (another trade came
                first, or another market); ask for a fresh quote.
        """
        if quote.q_before_micros != self.q_micros or (
            quote.b_micros is not None and quote.b_micros != self.b_micros
        ):
            raise StaleQuote(
                "This quote was priced for a different state of the market; "
                "the market has moved, ask for a fresh quote."
            )
        if quote._lse_after is not None:
            return Book._trusted(quote.q_after_micros, self.b_micros, quote._lse_after)
        expected = tuple(a + d for a, d in zip(self.q_micros, quote.delta_micros, strict=False))
        if len(quote.delta_micros) != self.n or expected != quote.q_after_micros:
            raise StaleQuote("This quote is inconsistent: q_after is not q_before + delta.")
        return Book(quote.q_after_micros, self.b_micros)


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
            if value is not None and (not _is_int(value) or value < 0):
                raise InvalidMarketInput(
                    f"The limit {name} must be a non-negative integer of micro-units, "
                    f"got {value!r}."
                )


@dataclass(frozen=True)
class Quote:
    """A priced trade against one `Book` state; `Book.apply` turns it into the next book.

    Attributes:
        outcome: the outcome traded, or None for a vector trade over several outcomes.
        delta_micros: shares bought (+) / sold (−) per outcome, micro-shares.
        cash_micros: > 0: the trader pays the maker (a charge, rounded up); < 0: the maker
            pays the trader (proceeds, rounded down in magnitude).
        q_before_micros: the book's shares outstanding the quote was priced for.
        q_after_micros: ``q_before + delta``.
        prices_before: prices before the trade (probabilities).
        prices_after: prices after the trade.
        b_micros: the liquidity the quote was priced at (None only for hand-built quotes).
    """

    outcome: int | None
    delta_micros: tuple[int, ...]
    cash_micros: int
    q_before_micros: tuple[int, ...]
    q_after_micros: tuple[int, ...]
    prices_before: tuple[float, ...]
    prices_after: tuple[float, ...]
    b_micros: int | None = None
    _lse_after: _State | None = field(default=None, repr=False, compare=False)


# --- quoting -----------------------------------------------------------------------------


def _check_book(book: object) -> Book:
    if not isinstance(book, Book):
        raise InvalidMarketInput(f"Expected a Book, got {type(book).__name__}.")
    return book


def _check_outcome(outcome: object, n: int) -> int:
    if not _is_int(outcome):
        raise InvalidMarketInput(f"The outcome must be an integer index, got {outcome!r}.")
    if not 0 <= outcome < n:
        raise InvalidMarketInput(
            f"Outcome {outcome} does not exist: this market has outcomes 0 to {n - 1}."
        )
    return outcome


def _check_amount(amount: object, what: str) -> int:
    if not _is_int(amount):
        raise InvalidMarketInput(
            f"The {what} must be a whole number of micro-units, got {amount!r}."
        )
    if amount <= 0:
        raise InvalidMarketInput(f"The {what} must be positive, got {format_micros(amount)}.")
    if amount > MAX_SHARES_MICROS:
        raise InvalidMarketInput(
            f"The {what} {format_micros(amount)} exceeds the bound of "
            f"{format_micros(MAX_SHARES_MICROS)} per trade."
        )
    return amount


def _average(cash: int, shares: int) -> str:
    return str((Decimal(cash) / Decimal(shares)).quantize(Decimal("0.000001")))


def _check_limit(limit: Limit | None, outcome: int | None, shares: int, cash: int) -> None:
    """Refuse a quote that breaks a limit.

    ``shares`` is the signed number of micro-shares of ``outcome`` for a single-outcome
    trade (positive: a buy) and 0 for a vector trade.
    """
    if limit is None:
        return
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


def _single_cash(book: Book, k: int, shares: int) -> int:
    """Integer cash for adding ``shares`` (signed) of outcome ``k``; see the module docstring."""
    r, w, total = book.state()
    b = book.b_micros
    c = single_cost_from_state(r, w, total, k, float(shares), float(b))
    if not math.isfinite(c):
        raise InvalidMarketInput("The cost of this trade is not a finite number; it is too large.")
    cash = math.ceil(c + rounding_margin_micros(b, len(w), abs(shares)))
    return min(cash, 0) if shares < 0 else cash


def _single_quote(book: Book, k: int, shares: int, limit: Limit | None) -> Quote:
    q = book.q_micros
    q_after_list = list(q)
    q_after_list[k] += shares
    q_after = tuple(q_after_list)
    if not -MAX_SHARES_MICROS <= q_after[k] <= MAX_SHARES_MICROS:
        _check_shares_bound(q_after)
    cash = _single_cash(book, k, shares)
    _check_limit(limit, k, shares, cash)
    delta_list = [0] * len(q)
    delta_list[k] = shares
    return _finish(book, k, tuple(delta_list), cash, q_after)


def _finish(
    book: Book, outcome: int | None, delta: tuple[int, ...], cash: int, q_after: tuple[int, ...]
) -> Quote:
    _, w, total = book.state()
    after = _state_of(q_after, book.b_micros)
    _, w_after, total_after = after
    return Quote(
        outcome=outcome,
        delta_micros=delta,
        cash_micros=cash,
        q_before_micros=book.q_micros,
        q_after_micros=q_after,
        prices_before=tuple([x / total for x in w]),
        prices_after=tuple([x / total_after for x in w_after]),
        b_micros=book.b_micros,
        _lse_after=after,
    )


def quote_buy(book: Book, outcome: int, shares_micros: int, limit: Limit | None = None) -> Quote:
    """Price buying ``shares_micros`` micro-shares of one outcome.

    ``cash_micros = ⌈b·ln(1 + p_k (e^{s/b} − 1)) + m⌉ ≥ 1`` (see the module docstring).

    Raises:
        InvalidMarketInput: a bad outcome, a non-positive or too large amount, or a trade
            taking the outcome beyond `MAX_SHARES_MICROS`.
        PriceLimitExceeded: the charge breaks ``limit``.
    """
    b = _check_book(book)
    k = _check_outcome(outcome, b.n)
    s = _check_amount(shares_micros, "number of shares to buy")
    return _single_quote(b, k, s, limit)


def quote_sell(book: Book, outcome: int, shares_micros: int, limit: Limit | None = None) -> Quote:
    """Price selling ``shares_micros`` micro-shares of one outcome back to the maker.

    ``cash_micros = min(0, ⌈−(C(q) − C(q − s·e_k)) + m⌉) ≤ 0``: proceeds rounded down.
    Whether the trader holds the shares is checked by `market.conditional.Holdings`.

    Raises:
        InvalidMarketInput: a bad outcome, a non-positive or too large amount, or a trade
            taking the outcome beyond `MAX_SHARES_MICROS`.
        PriceLimitExceeded: the proceeds break ``limit``.
    """
    b = _check_book(book)
    k = _check_outcome(outcome, b.n)
    s = _check_amount(shares_micros, "number of shares to sell")
    return _single_quote(b, k, -s, limit)


def quote_spend(book: Book, outcome: int, spend_micros: int, limit: Limit | None = None) -> Quote:
    """Price buying as many micro-shares of one outcome as ``spend_micros`` pays for.

    Returns the quote for the largest ``x`` whose charge (rounded up, with the margin) is
    at most the spend; its ``cash_micros ≤ spend_micros``. The closed form of
    `market.lmsr.shares_for_spend` gives the start; a short integer search settles the
    rounding.

    Raises:
        InvalidMarketInput: a bad outcome, a non-positive spend, a spend too small to buy
            one micro-share, or one that would buy past `MAX_SHARES_MICROS`.
        PriceLimitExceeded: the resulting buy breaks ``limit``.
    """
    b = _check_book(book)
    k = _check_outcome(outcome, b.n)
    spend = _check_amount(spend_micros, "spend")
    room = MAX_SHARES_MICROS - b.q_micros[k]
    if room <= 0:
        raise InvalidMarketInput(
            f"Outcome {k} is at the market's bound of {format_micros(MAX_SHARES_MICROS)} "
            "shares outstanding; no more can be bought."
        )
    cap = min(room, MAX_SHARES_MICROS)

    def fits(x: int) -> bool:
        return _single_cash(b, k, x) <= spend

    if fits(cap):
        raise InvalidMarketInput(
            f"A spend of {format_micros(spend)} would buy more than the market's bound of "
            f"{format_micros(cap)} further shares of outcome {k}."
        )
    if not fits(1):
        raise InvalidMarketInput(
            f"A spend of {format_micros(spend)} buys no shares of outcome {k}: the smallest "
            f"buy (0.000001 shares) costs {format_micros(_single_cash(b, k, 1))}."
        )
    r, _, total = b.state()
    margin = rounding_margin_micros(b.b_micros, b.n, spend)
    # the exact inverse at the spend less the margin: usually feasible and a few short of best
    target = max(spend - margin - 1.0, 0.5)
    guess_f = spend_inverse(r[k] - math.log(total), target, float(b.b_micros))
    guess = min(max(int(guess_f), 1), cap - 1)
    # bracket [lo feasible, hi infeasible] by doubling steps, then bisect
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
    return _single_quote(b, k, lo, limit)


def quote_trade(book: Book, delta_micros: Sequence[int], limit: Limit | None = None) -> Quote:
    """Price any vector of buys (+) and sells (−), micro-shares per outcome, in one trade.

    ``cash_micros = ⌈C(q + δ) − C(q) + m⌉`` (capped at 0 when every ``δ_i ≤ 0``). A vector
    with a single non-zero entry is priced exactly as `quote_buy` / `quote_sell` would
    (and its quote names the outcome); otherwise ``outcome`` is None and only the
    ``max_cost_micros`` / ``min_proceeds_micros`` limits apply.

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
        if not _is_int(d):
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
    q_after = tuple(a + d for a, d in zip(b.q_micros, delta, strict=True))
    _check_shares_bound(q_after)
    r, w, total = b.state()
    c = vector_cost_from_state(r, w, total, [float(d) for d in delta], float(b.b_micros))
    if not math.isfinite(c):
        raise InvalidMarketInput("The cost of this trade is not a finite number; it is too large.")
    cash = math.ceil(c + rounding_margin_micros(b.b_micros, b.n, sum(abs(d) for d in delta)))
    if all(d <= 0 for d in delta):
        cash = min(cash, 0)
    _check_limit(limit, None, 0, cash)
    return _finish(b, None, delta, cash, q_after)
