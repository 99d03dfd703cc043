"""Many independent LMSR markets at once: vectorised quotes in integer micro-units.

The simulator's engine. Row ``m`` of a batch is one market: shares outstanding
``q[m]`` (micro-shares), liquidity ``b[m]`` (micro-units) and one trade, of one outcome
``k[m]``: a buy (``s[m] > 0`` micro-shares), a sale (``s[m] < 0``) or a spend (the most
micro-shares ``spend[m]`` micro-units pay for). Every figure equals what `market.book`
quotes for the same book and order, exactly (``tests/unit/market/test_batch.py`` checks
random batches row by row):

- `batch_trade`: ``cash[m] = ⌈C(q[m] + s[m]·e_k) − C(q[m])⌉`` = `quote_buy` /
  `quote_sell`'s ``cash_micros``;
- `batch_spend`: the largest ``x[m]`` with ``⌈c(x)⌉ ≤ spend[m]`` = `quote_spend`.

How: the float64 fast path of `market.rounding` on whole arrays (a fresh state per row,
``ρ = ρ_fresh``), with the same rigorous error bound; the rows whose interval straddles
a micro-unit, or that leave the fast path's domain, go one by one through the scalar
exact path. So a batch costs a few numpy passes plus, rarely, a decimal evaluation.

Float fast mode: `batch_prices` and `batch_buy_cost` are plain float64 kernels (no
validation of integers, no rounding), for simulations that only need prices and costs to
about 15 digits. They do not round like the service; use them knowing that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from market.book import MAX_B_MICROS, MAX_SHARES_MICROS, Book, quote_spend
from market.errors import InvalidMarketInput
from market.rounding import (
    D0_BASE,
    ETA,
    MAX_EXPONENT,
    MIN_LOG_WEIGHT,
    Y_LOW,
    Y_TINY,
    U,
    single_cash,
    state_of,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_FRESH_PER_TERM = (1.0 + math.exp(-1.0)) * U


@dataclass(frozen=True)
class BatchQuote:
    """One single-outcome trade in each market of a batch, priced exactly.

    Attributes:
        outcome: the outcome traded per market, shape ``(markets,)``.
        shares_micros: micro-shares of that outcome per market: ``> 0`` bought, ``< 0``
            sold, shape ``(markets,)``.
        cash_micros: ``⌈c⌉`` per market: ``> 0`` a charge the trader pays, ``≤ 0``
            proceeds the maker pays, shape ``(markets,)``.
        q_after_micros: shares outstanding after the trades, shape ``(markets, n)``.
    """

    outcome: IntArray
    shares_micros: IntArray
    cash_micros: IntArray
    q_after_micros: IntArray


# --- validation ---------------------------------------------------------------------------


def _first(bad: npt.ArrayLike) -> int:
    return int(np.flatnonzero(bad)[0])


def _integers(x: npt.ArrayLike, name: str, shape: tuple[int, ...] | None) -> IntArray:
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidMarketInput(f"{name} must be an array of integers, got {arr.dtype}.")
    if shape is not None and arr.shape != shape:
        raise InvalidMarketInput(f"{name} must have shape {shape}, got {arr.shape}.")
    return arr.astype(np.int64, copy=False)


def _books(q_micros: npt.ArrayLike, b_micros: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    q = _integers(q_micros, "q_micros", None)
    if q.ndim != 2 or q.shape[1] < 2:
        raise InvalidMarketInput(
            f"q_micros must be a (markets, outcomes) array with at least two outcomes, "
            f"got shape {q.shape}."
        )
    b = _integers(b_micros, "b_micros", (q.shape[0],))
    bad = (np.abs(q) > MAX_SHARES_MICROS).any(axis=1)
    if bad.any():
        raise InvalidMarketInput(
            f"market {_first(bad)}: shares outstanding beyond the bound of "
            f"{MAX_SHARES_MICROS} micro-shares."
        )
    bad = (b < 1) | (b > MAX_B_MICROS)
    if bad.any():
        raise InvalidMarketInput(
            f"market {_first(bad)}: the liquidity b must be between 1 and {MAX_B_MICROS} "
            f"micro-units, got {int(b[_first(bad)])}."
        )
    return q, b


def _orders(
    q: IntArray, outcome: npt.ArrayLike, amount: npt.ArrayLike, name: str
) -> tuple[IntArray, IntArray]:
    markets, n = q.shape
    k = _integers(outcome, "outcome", (markets,))
    a = _integers(amount, name, (markets,))
    bad = (k < 0) | (k >= n)
    if bad.any():
        raise InvalidMarketInput(
            f"market {_first(bad)}: outcome {int(k[_first(bad)])} does not exist; "
            f"the markets have outcomes 0 to {n - 1}."
        )
    bad = (a == 0) | (np.abs(a) > MAX_SHARES_MICROS)
    if bad.any():
        raise InvalidMarketInput(
            f"market {_first(bad)}: {name} must be non-zero and within ±{MAX_SHARES_MICROS}, "
            f"got {int(a[_first(bad)])}."
        )
    return k, a


# --- the vectorised fast path -------------------------------------------------------------


@dataclass(frozen=True)
class _States:
    """Fresh float states of every row: ``r_k``, ``S``, ``ρ`` and ``b`` as floats."""

    log_weight: FloatArray  # r_k = (q_k − max q)/b for the traded outcome
    total: FloatArray  # S = Σ_i e^{r_i} ∈ [1, n]
    rho: float
    b: FloatArray


def _states(q: IntArray, b: IntArray, k: IntArray) -> _States:
    markets, n = q.shape
    qf = q.astype(np.float64)
    bf = b.astype(np.float64)
    r = (qf - qf.max(axis=1, keepdims=True)) / bf[:, None]
    total = np.exp(r).sum(axis=1)
    log_weight = r.ravel()[np.arange(markets) * n + k]
    rho = 1.001 * ((n - 1) * _FRESH_PER_TERM + ETA)
    return _States(log_weight, total, rho, bf)


def _estimate(st: _States, shares: IntArray) -> tuple[FloatArray, FloatArray, BoolArray]:
    """``(c̃, E, in_domain)`` per row for ``shares`` micro-shares (signed) of the traded
    outcome: the float cost, `market.rounding`'s bound ``E ≥ |c̃ − c|``, and whether the
    row is inside the fast path's domain (where the bound holds)."""
    r = st.log_weight
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        t = shares / st.b
        y = np.exp(r) / st.total * np.expm1(t)
        c = st.b * np.log1p(y)
        d0 = (np.abs(r) + np.maximum(t, 0.0)) * U + D0_BASE
        err = np.abs(c) * (2.9 * (d0 + 1.01 * st.rho) + 2.0 * ETA + 2.0 * U)
        in_domain = (
            (t <= MAX_EXPONENT)
            & (r >= MIN_LOG_WEIGHT)
            & (y >= Y_LOW)
            & (np.abs(y) >= Y_TINY)
            & np.isfinite(err)
        )
    return c, err, in_domain


def _fast_cash(st: _States, shares: IntArray) -> tuple[FloatArray, BoolArray]:
    """``(⌈c̃ + E⌉, decided)`` per row; where ``decided`` the first is exactly ``⌈c⌉``."""
    c, err, in_domain = _estimate(st, shares)
    with np.errstate(invalid="ignore"):
        high = np.ceil(c + err)
        decided = in_domain & (np.ceil(c - err) == high)
    return high, decided


def _q_after(q: IntArray, k: IntArray, shares: IntArray) -> IntArray:
    after = q.copy()
    rows = np.arange(q.shape[0])
    after[rows, k] += shares
    bad = np.abs(after[rows, k]) > MAX_SHARES_MICROS
    if bad.any():
        m = _first(bad)
        raise InvalidMarketInput(
            f"market {m}: this trade would take outcome {int(k[m])} to {int(after[m, k[m]])} "
            f"micro-shares outstanding, beyond the bound of {MAX_SHARES_MICROS}."
        )
    return after


def batch_trade(
    q_micros: npt.ArrayLike,
    b_micros: npt.ArrayLike,
    outcome: npt.ArrayLike,
    shares_micros: npt.ArrayLike,
) -> BatchQuote:
    """Price one buy or sale in each of many markets, exactly as `quote_buy`/`quote_sell`.

    Args:
        q_micros: shares outstanding, integers, shape ``(markets, n)``.
        b_micros: liquidity per market, integers ``1 … MAX_B_MICROS``, ``(markets,)``.
        outcome: the outcome traded per market, ``(markets,)``.
        shares_micros: micro-shares per market: ``> 0`` buys, ``< 0`` sells, ``(markets,)``.

    Returns:
        The `BatchQuote`: ``cash_micros[m] = ⌈C(q[m] + s[m]·e_k) − C(q[m])⌉``.

    Raises:
        InvalidMarketInput: a non-integer array, a wrong shape, a bad outcome, a zero or
            too large amount, or a trade beyond the bounds (naming the first such market).
    """
    q, b = _books(q_micros, b_micros)
    k, s = _orders(q, outcome, shares_micros, "shares_micros")
    q_after = _q_after(q, k, s)
    high, decided = _fast_cash(_states(q, b, k), s)
    cash = np.where(decided, high, 0.0).astype(np.int64)
    for m in np.flatnonzero(~decided).tolist():
        row = tuple(q[m].tolist())
        bm = int(b[m])
        cash[m] = single_cash(row, bm, state_of(row, bm), int(k[m]), int(s[m]))[0]
    return BatchQuote(k, s, cash, q_after)


def _spend_guess(st: _States, spend: FloatArray) -> FloatArray:
    """``x = b · softplus(ln expm1(F/b) − ln p)``: the float inverse of the buy cost.

    Branch-free, so each term is computed once per row: ``ln expm1(z) = z + ln(−expm1(−z))``
    (accurate for tiny ``z``, where ``−expm1(−z) ≈ z``, and for huge ``z``, where it is 1)
    and ``softplus(g) = logaddexp(0, g)``.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        z = spend / st.b
        log_expm1 = z + np.log(-np.expm1(-z))
        g = log_expm1 - (st.log_weight - np.log(st.total))
        guess: FloatArray = st.b * np.logaddexp(0.0, g)
    return guess


def batch_spend(
    q_micros: npt.ArrayLike,
    b_micros: npt.ArrayLike,
    outcome: npt.ArrayLike,
    spend_micros: npt.ArrayLike,
) -> BatchQuote:
    """Spend an amount on one outcome in each of many markets, exactly as `quote_spend`.

    Args:
        q_micros, b_micros, outcome: as `batch_trade`.
        spend_micros: micro-units to spend per market, ``> 0``, ``(markets,)``.

    Returns:
        The `BatchQuote`: ``shares_micros[m]`` is the largest ``x`` whose charge
        ``⌈c(x)⌉`` is at most ``spend[m]``, and ``cash_micros[m]`` that charge.

    Raises:
        InvalidMarketInput: as `batch_trade`, or a spend that would buy past the bound.
    """
    q, b = _books(q_micros, b_micros)
    k, spend = _orders(q, outcome, spend_micros, "spend_micros")
    bad = spend < 0
    if bad.any():
        raise InvalidMarketInput(
            f"market {_first(bad)}: spend_micros must be positive, got {int(spend[_first(bad)])}."
        )
    rows = np.arange(q.shape[0])
    st = _states(q, b, k)
    cap = np.minimum(MAX_SHARES_MICROS - q[rows, k], MAX_SHARES_MICROS)
    guess = np.floor(_spend_guess(st, spend.astype(np.float64)))
    usable = np.isfinite(guess) & (cap >= 2)
    x = np.clip(np.where(usable, guess, 1.0), 1.0, np.maximum(cap - 1, 1)).astype(np.int64)
    cash, decided = _fast_cash(st, x)
    cash_next, decided_next = _fast_cash(st, x + 1)
    found = usable & decided & decided_next & (cash <= spend) & (cash_next > spend)
    shares = np.where(found, x, 0)
    paid = np.where(found, cash, 0.0).astype(np.int64)
    for m in np.flatnonzero(~found).tolist():
        km = int(k[m])
        try:
            quote = quote_spend(Book(tuple(q[m].tolist()), int(b[m])), km, int(spend[m]))
        except InvalidMarketInput as exc:
            raise InvalidMarketInput(f"market {m}: {exc}") from exc
        shares[m] = quote.delta_micros[km]
        paid[m] = quote.cash_micros
    return BatchQuote(k, shares, paid, _q_after(q, k, shares))


# --- float fast mode ------------------------------------------------------------------------


def _batch_state(q: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    qa = np.asarray(q, dtype=np.float64)
    ba = np.asarray(b, dtype=np.float64)
    if qa.ndim != 2 or qa.shape[1] < 2:
        raise InvalidMarketInput(
            f"q must be a (markets, outcomes) array with at least two outcomes, got {qa.shape}."
        )
    if ba.shape != (qa.shape[0],):
        raise InvalidMarketInput(
            f"b must have one entry per market ({qa.shape[0]}), got {ba.shape}."
        )
    if not (bool(np.isfinite(qa).all()) and bool(np.isfinite(ba).all())):
        raise InvalidMarketInput("q and b must contain only finite numbers (no NaN or inf).")
    if bool((ba <= 0.0).any()):
        raise InvalidMarketInput("Every market's liquidity b must be positive.")
    return qa, ba


def batch_prices(q: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Float fast mode: prices of many markets, row ``m`` is ``softmax(q[m] / b[m])``.

    Args:
        q: shape ``(markets, outcomes)``, any unit.
        b: shape ``(markets,)``, each > 0, the unit of ``q``.

    Returns:
        Shape ``(markets, outcomes)``; each row sums to 1.
    """
    qa, ba = _batch_state(q, b)
    w = np.exp((qa - qa.max(axis=1, keepdims=True)) / ba[:, None])
    result: FloatArray = w / w.sum(axis=1, keepdims=True)
    return result


def batch_buy_cost(
    q: npt.ArrayLike, b: npt.ArrayLike, outcome: npt.ArrayLike, shares: npt.ArrayLike
) -> FloatArray:
    """Float fast mode: the cost of one buy in each of many markets, unrounded.

    For market ``m`` buying ``s_m`` shares of outcome ``k_m``::

        cost_m = b_m · ln(1 − p + p·e^{t}),   p = p_{k_m}(q[m]),  t = s_m / b_m

    as ``b · log1p(p · expm1(t))`` for ``t ≤ 30`` and ``b · logaddexp(ln(1 − p), ln p + t)``
    above (no overflow, with ``ln p = r_k − ln S`` so tiny prices do not underflow).
    Nothing is modified; the caller applies ``q[m, k_m] += s_m``. For integer micro-units
    rounded as the service rounds, use `batch_trade`.

    Args:
        q: shares outstanding, shape ``(markets, outcomes)``.
        b: liquidity per market, shape ``(markets,)``, each > 0.
        outcome: outcome index bought in each market, integers, shape ``(markets,)``.
        shares: shares bought in each market, ``≥ 0``, shape ``(markets,)``.

    Returns:
        Costs, shape ``(markets,)``, unit of ``q``.

    Raises:
        InvalidMarketInput: wrong shapes, NaN/inf, ``b ≤ 0``, bad outcomes, negative shares.
    """
    qa, ba = _batch_state(q, b)
    markets, n = qa.shape
    ka = np.asarray(outcome)
    sa = np.asarray(shares, dtype=np.float64)
    if ka.shape != (markets,) or sa.shape != (markets,):
        raise InvalidMarketInput(
            f"outcome and shares need one entry per market ({markets}), "
            f"got {ka.shape} and {sa.shape}."
        )
    if not np.issubdtype(ka.dtype, np.integer) or bool(((ka < 0) | (ka >= n)).any()):
        raise InvalidMarketInput(f"Every outcome must be an integer index from 0 to {n - 1}.")
    if not bool(np.isfinite(sa).all()) or bool((sa < 0.0).any()):
        raise InvalidMarketInput("Every number of shares must be finite and not negative.")
    rows = np.arange(markets)
    r = (qa - qa.max(axis=1, keepdims=True)) / ba[:, None]
    total = np.exp(r).sum(axis=1)
    log_p = r[rows, ka] - np.log(total)
    p = np.exp(log_p)
    t = sa / ba
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        small = np.log1p(p * np.expm1(np.minimum(t, 30.0)))
        large = np.logaddexp(np.log1p(-p), log_p + t)
    out: FloatArray = ba * np.where(t <= 30.0, small, large)
    return out


class FloatBooks:
    """Float fast mode, stepped in place: many LMSR books held as float64 arrays.

    For simulations that run hundreds of thousands of sequential steps over thousands of
    markets, where re-validating every array at every step would cost more than the
    arithmetic. The books are validated once here; the steps trust the arrays the
    simulator builds. Layout is outcomes first, ``q`` of shape ``(n, markets)``, so the
    reductions over outcomes are element-wise operations across markets.

    The formulas are `batch_prices`'s and `batch_spend`'s float estimate (`_spend_guess`):

    - price ``p_i = e^{(q_i − max q)/b} / Σ_j e^{(q_j − max q)/b}``;
    - a spend ``F > 0`` on outcome ``k`` buys ``x = b · ln(1 + expm1(F/b) / p_k)`` shares
      (``= b · softplus(ln expm1(F/b) − ln p_k)``, `_spend_guess`'s form, which it falls
      back to where this one overflows), the exact inverse of the cost
      ``b · ln(1 − p_k + p_k e^{x/b}) = F`` (to float rounding); a spend of 0 buys nothing.

    Units are the caller's (the simulator uses micro-units as floats, like `Book`). No
    rounding in the maker's favour happens here: use `batch_spend` for that.

    Attributes:
        q: shares outstanding, ``(n, markets)``, float64; modified by `buy_with`.
        b: liquidity per market, ``(markets,)``, each > 0.
    """

    def __init__(self, n: int, b: npt.ArrayLike) -> None:
        ba = np.array(b, dtype=np.float64)
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise InvalidMarketInput(f"A market needs at least two outcomes, got {n!r}.")
        if ba.ndim != 1 or not bool(np.isfinite(ba).all()) or bool((ba <= 0.0).any()):
            raise InvalidMarketInput("b must be a 1-d array of finite positive numbers.")
        self.b: FloatArray = ba
        self.q: FloatArray = np.zeros((n, ba.shape[0]), dtype=np.float64)
        self._columns = np.arange(ba.shape[0])
        self._cache: tuple[FloatArray, FloatArray, FloatArray] | None = None

    def _weights(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(e^{r}, S, max q)`` with ``r = (q − max q) / b`` per outcome and
        ``S = Σ e^{r}``, kept until the next purchase changes ``q``."""
        if self._cache is None:
            q = self.q
            top = np.maximum(q[0], q[1]) if q.shape[0] == 2 else q.max(axis=0)
            w = np.exp((q - top) / self.b)
            total = w[0] + w[1] if q.shape[0] == 2 else w.sum(axis=0)
            self._cache = (w, total, top)
        return self._cache

    def prices(self) -> FloatArray:
        """Prices, ``(n, markets)``; each column sums to 1."""
        w, total, _ = self._weights()
        result: FloatArray = w / total
        return result

    def buy_with(self, outcome: IntArray, spend: FloatArray) -> FloatArray:
        """Spend ``spend[m] ≥ 0`` on outcome ``outcome[m]`` in every market ``m`` at once.

        Returns:
            Shares bought per market, ``(markets,)`` (0 where the spend is 0); ``q`` is
            updated in place.
        """
        w, total, top = self._weights()
        flat = self.q.reshape(-1)
        at = outcome * self.b.shape[0] + self._columns  # flat indexing: faster than q[k, m]
        q_k = np.take(flat, at)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            # x = b · softplus(ln expm1(F/b) − ln p_k) = b · ln(1 + expm1(F/b) / p_k)
            shares = self.b * np.log1p(
                np.expm1(spend / self.b) * total / np.take(w.reshape(-1), at)
            )
            wild = ~np.isfinite(shares)
            if wild.any():  # a huge spend or a vanishing price: the overflow-safe form
                st = _States((q_k - top) / self.b, total, 0.0, self.b)
                shares = np.where(wild, _spend_guess(st, spend), shares)
            shares = np.where(spend > 0.0, shares, 0.0)
        flat[at] = q_k + shares
        self._cache = None
        result: FloatArray = shares
        return result
