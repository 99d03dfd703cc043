"""The logarithmic market scoring rule (Hanson's LMSR), pure float64 math.

An LMSR market maker over ``n`` outcomes holds the vector ``q`` of shares outstanding
(``q_i`` shares of outcome ``i``, each paying one unit of cash if ``i`` happens) and
charges for a trade ``δ`` the cost difference ``C(q + δ) − C(q)`` of::

    C(q)   = b · ln Σ_i exp(q_i / b)                 (cost function)
    p_i(q) = exp(q_i / b) / Σ_j exp(q_j / b)          (prices: in (0, 1), sum to 1)

``b > 0`` is the liquidity. Cash, shares and ``b`` share one unit: whole units, or
micro-units with integer micro-shares converted to float (the formulas are homogeneous of
degree one in ``(q, δ, b)``). Invariants, tested property by
property:

- translation: ``C(q + k·1) = C(q) + k``; so only differences ``q_i − max q`` matter, and
  every function here evaluates ``r_i = (q_i − max q) / b ≤ 0`` (log-sum-exp), which keeps
  ``C`` finite and accurate for ``|q / b|`` up to 1e6 and beyond;
- path independence: the cost of a trade does not depend on how it is split;
- bounded loss: starting from ``q = 0`` the maker loses at most ``b · ln n`` (`max_loss`),
  hence ``b = F / ln n`` for a subsidy ``F`` (`b_for_subsidy`).

Trade costs are computed from the prices, ``C(q + δ) − C(q) = b · ln Σ_i p_i e^{δ_i/b}``,
as ``b · log1p(Σ_i p_i expm1(δ_i / b))`` when that is well conditioned and as a difference
of two log-sum-exps on the shared shift ``max q`` otherwise; neither subtracts two large
costs, so no precision is lost however large ``q`` is. Small markets use `math` on Python
floats; markets with many outcomes use numpy.

This module is the float API (whole units or micro-units, no rounding). Integer books with
correctly rounded cash are `market.book` (over `market.rounding`); many markets at once are
`market.batch`; the liquidity-sensitive variant is `market.liquidity_sensitive`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from market.checks import check_outcome, check_outcome_count, check_real, check_vector
from market.errors import InvalidMarketInput

FloatArray = npt.NDArray[np.float64]
Vector = Sequence[float] | npt.NDArray[Any]
"""A vector of quantities, one per outcome: a sequence of numbers or a 1-d numpy array."""

NUMPY_FROM_OUTCOMES = 100
"""From this many outcomes on, the math runs in numpy; below it, `math` on Python floats is
faster because numpy's per-call overhead dominates (measured: about equal at 100)."""

_EXPM1_SAFE = 700.0
"""``expm1(t)`` overflows just above t = 709.78; larger exponents take the log-sum-exp path."""


# --- validation --------------------------------------------------------------------------


def _check_b(b: object) -> float:
    return check_real(b, "The liquidity b", positive=True)


def _vector(x: Vector, name: str, n: int | None = None) -> list[float] | FloatArray:
    """Validate a vector and return it as a list (few outcomes) or a float64 array (many)."""
    arr = check_vector(x, name, n)
    if arr.shape[0] >= NUMPY_FROM_OUTCOMES:
        return arr
    return arr.tolist()  # type: ignore[no-any-return]


def _finite_result(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise InvalidMarketInput(f"The {what} is not a finite number; the trade is too large.")
    return value


# --- log-sum-exp state -------------------------------------------------------------------


def _logaddexp(a: float, b: float) -> float:
    """ln(e^a + e^b) without overflow; either argument may be −inf."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def lse_state(q: Sequence[float], b: float) -> tuple[float, list[float], list[float], float]:
    """The log-sum-exp state of a small market, in plain Python floats.

    Args:
        q: shares outstanding per outcome (validated, finite).
        b: liquidity (validated, > 0), same unit as ``q``.

    Returns:
        ``(shift, r, w, S)``: ``shift = max q``, ``r_i = (q_i − shift) / b ≤ 0``,
        ``w_i = exp(r_i) ∈ [0, 1]`` and ``S = Σ w_i ∈ [1, n]``; so ``C(q) = shift + b ln S``
        and ``p_i = w_i / S``.
    """
    shift = max(q)
    r = [(x - shift) / b for x in q]
    w = [math.exp(x) for x in r]
    return shift, r, w, sum(w)


def single_cost_from_state(
    r: Sequence[float], w: Sequence[float], total: float, k: int, shares: float, b: float
) -> float:
    """Cost of adding ``shares`` (negative: a sale) of outcome ``k``, from a cached state.

    ``C(q + s·e_k) − C(q) = b · ln(1 + p_k (e^{s/b} − 1))`` with ``p_k = w_k / S``, evaluated
    as ``b · log1p(p_k · expm1(s/b))`` (relative accuracy ~ n ulps for buys and moderate
    sales), else as ``b · (ln(Σ_{i≠k} w_i + e^{r_k + s/b}) − ln S)`` (absolute accuracy
    ~ ulps of ``|s| + b·ln n``): the second form handles buys beyond ``s/b = 700`` (where
    ``expm1`` overflows) and sales of most of a dominant outcome (``1 + y`` near 0).
    """
    t = shares / b
    if t <= _EXPM1_SAFE:
        y = w[k] / total * math.expm1(t)
        if y >= -0.5:
            return b * math.log1p(y)
    rest = math.fsum(wi for i, wi in enumerate(w) if i != k)
    log_rest = math.log(rest) if rest > 0.0 else -math.inf
    return b * (_logaddexp(log_rest, r[k] + t) - math.log(total))


def vector_cost_from_state(
    r: Sequence[float], w: Sequence[float], total: float, delta: Sequence[float], b: float
) -> float:
    """Cost ``C(q + δ) − C(q)`` of any trade vector, from a cached small-market state.

    ``b · log1p(Σ_i w_i expm1(δ_i/b) / S)`` when every ``δ_i/b ≤ 700`` and the sum is at
    least −½ (then the absolute error is a few ulps of ``n·b``), else the difference of
    log-sum-exps ``b · (ln Σ_i e^{r_i + δ_i/b} − ln S)`` on the common shift.
    """
    ts = [d / b for d in delta]
    if max(ts) <= _EXPM1_SAFE:
        y = math.fsum(wi * math.expm1(ti) for wi, ti in zip(w, ts, strict=True)) / total
        if y >= -0.5:
            return b * math.log1p(y)
    xs = [ri + ti for ri, ti in zip(r, ts, strict=True)]
    top = max(xs)
    new = top + math.log(math.fsum(math.exp(x - top) for x in xs))
    return b * (new - math.log(total))


def _np_state(q: FloatArray, b: float) -> tuple[float, FloatArray, FloatArray, float]:
    shift = float(q.max())
    r = (q - shift) / b
    w = np.exp(r)
    return shift, r, w, float(w.sum())


def _np_vector_cost(
    r: FloatArray, w: FloatArray, total: float, delta: FloatArray, b: float
) -> float:
    ts = delta / b
    if float(ts.max()) <= _EXPM1_SAFE:
        y = float(np.dot(w, np.expm1(ts))) / total
        if y >= -0.5:
            return b * math.log1p(y)
    xs = r + ts
    top = float(xs.max())
    new = top + math.log(float(np.exp(xs - top).sum()))
    return b * (new - math.log(total))


# --- the public float API ----------------------------------------------------------------


def cost(q: Vector, b: float) -> float:
    """The LMSR cost function ``C(q) = b · ln Σ_i exp(q_i / b)``.

    Computed as ``max q + b · ln Σ_i exp((q_i − max q) / b)``, finite for any finite ``q``.

    Args:
        q: shares outstanding per outcome (at least two outcomes).
        b: liquidity, > 0, same unit as ``q``.

    Returns:
        ``C(q)`` in the unit of ``q``; ``max q ≤ C(q) ≤ max q + b ln n``.

    Raises:
        InvalidMarketInput: NaN/inf entries, fewer than two outcomes, or ``b ≤ 0``.
    """
    bf = _check_b(b)
    qv = _vector(q, "q")
    if isinstance(qv, np.ndarray):
        shift, _, _, total = _np_state(qv, bf)
    else:
        shift, _, _, total = lse_state(qv, bf)
    return shift + bf * math.log(total)


def prices(q: Vector, b: float) -> FloatArray:
    """Instantaneous prices ``p_i = exp(q_i / b) / Σ_j exp(q_j / b)`` (probabilities).

    Returns:
        A float64 array of probabilities summing to 1 up to rounding; each strictly inside
        ``(0, 1)`` as long as float64 can show it: once the other prices sum below 2⁻⁵³
        (``q_i − q_j > ~37·b``) the leading price rounds to 1.0, and a price whose
        ``q_i − max q < −745·b`` underflows to 0.0.

    Raises:
        InvalidMarketInput: NaN/inf entries, fewer than two outcomes, or ``b ≤ 0``.
    """
    bf = _check_b(b)
    qv = _vector(q, "q")
    if isinstance(qv, np.ndarray):
        _, _, w, total = _np_state(qv, bf)
        result: FloatArray = w / total
        return result
    _, _, wl, total = lse_state(qv, bf)
    return np.array([x / total for x in wl], dtype=np.float64)


def trade_cost(q: Vector, delta: Vector, b: float) -> float:
    """Cost of any trade vector: ``C(q + δ) − C(q)`` (buys ``δ_i > 0`` and sells together).

    Evaluated from the prices (see the module docstring), never as a difference of two
    large costs, so it stays accurate for ``|q / b|`` up to 1e6 and beyond.

    Args:
        q: shares outstanding per outcome before the trade.
        delta: shares bought (+) or sold (−) per outcome; same length as ``q``.
        b: liquidity, > 0.

    Returns:
        The cash the trader pays (negative: the cash the trader receives), unit of ``q``;
        it lies between ``min δ`` and ``max δ``.

    Raises:
        InvalidMarketInput: bad numbers, mismatched lengths, or a non-finite result.
    """
    bf = _check_b(b)
    qv = _vector(q, "q")
    dv = _vector(delta, "The trade vector", n=len(qv))
    if isinstance(qv, np.ndarray):
        _, r, w, total = _np_state(qv, bf)
        value = _np_vector_cost(r, w, total, np.asarray(dv, dtype=np.float64), bf)
    else:
        _, rl, wl, total = lse_state(qv, bf)
        value = vector_cost_from_state(rl, wl, total, list(dv), bf)
    return _finite_result(value, "trade cost")


def buy_cost(q: Vector, outcome: int, shares: float, b: float) -> float:
    """Cost of buying ``shares > 0`` of one outcome: ``b · ln(1 + p_k (e^{s/b} − 1))``.

    Returns:
        Cash the trader pays, unit of ``q``; between ``p_k · s`` and ``s``.

    Raises:
        InvalidMarketInput: bad numbers, a bad outcome index or ``shares ≤ 0``.
    """
    s = check_real(shares, "The number of shares")
    if s <= 0.0:
        raise InvalidMarketInput(f"The number of shares to buy must be positive, got {s}.")
    return _single(q, outcome, s, b, "purchase cost")


def sell_proceeds(q: Vector, outcome: int, shares: float, b: float) -> float:
    """Proceeds of selling ``shares > 0`` of one outcome: ``C(q) − C(q − s·e_k)``.

    Returns:
        Cash the trader receives (positive), unit of ``q``; between ``0`` and ``p_k · s``.

    Raises:
        InvalidMarketInput: bad numbers, a bad outcome index or ``shares ≤ 0``.
    """
    s = check_real(shares, "The number of shares")
    if s <= 0.0:
        raise InvalidMarketInput(f"The number of shares to sell must be positive, got {s}.")
    return -_single(q, outcome, -s, b, "sale proceeds")


def _single(q: Vector, outcome: int, signed_shares: float, b: float, what: str) -> float:
    bf = _check_b(b)
    qv = _vector(q, "q")
    k = check_outcome(outcome, len(qv))
    if isinstance(qv, np.ndarray):
        _, r, w, total = _np_state(qv, bf)
        value = single_cost_from_state(r.tolist(), w.tolist(), total, k, signed_shares, bf)
    else:
        _, rl, wl, total = lse_state(qv, bf)
        value = single_cost_from_state(rl, wl, total, k, signed_shares, bf)
    return _finite_result(value, what)


def _log_expm1(t: float) -> float:
    """ln(e^t − 1) for t > 0, without overflow for large t."""
    if t > 30.0:
        return t + math.log1p(-math.exp(-t))
    return math.log(math.expm1(t))


def _softplus(z: float) -> float:
    """ln(1 + e^z) without overflow."""
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


def shares_for_spend(q: Vector, outcome: int, spend: float, b: float) -> float:
    """Shares of one outcome that a spend buys exactly: the inverse of `buy_cost`.

    Solving ``b · ln(1 + p_k (e^{x/b} − 1)) = F`` for ``x`` gives the closed form::

        x = b · ln(1 + (e^{F/b} − 1) / p_k) = b · softplus(ln expm1(F/b) − ln p_k)

    evaluated in log space (``ln p_k = r_k − ln S``), so it neither overflows for large
    spends nor breaks down for tiny prices.

    Args:
        q: shares outstanding per outcome.
        outcome: index of the outcome bought.
        spend: cash to spend, > 0, unit of ``q``.
        b: liquidity, > 0.

    Returns:
        Shares bought (unit of ``q``); at least ``spend`` since every price is below 1.

    Raises:
        InvalidMarketInput: bad numbers, a bad outcome index or ``spend ≤ 0``.
    """
    bf = _check_b(b)
    qv = _vector(q, "q")
    k = check_outcome(outcome, len(qv))
    f = check_real(spend, "The spend")
    if f <= 0.0:
        raise InvalidMarketInput(f"The spend must be positive, got {f}.")
    if isinstance(qv, np.ndarray):
        _, r, _, total = _np_state(qv, bf)
        log_p = float(r[k]) - math.log(total)
    else:
        _, rl, _, total = lse_state(qv, bf)
        log_p = rl[k] - math.log(total)
    return _finite_result(spend_inverse(log_p, f, bf), "number of shares")


def spend_inverse(log_p: float, spend: float, b: float) -> float:
    """Shares of an outcome with log-price ``ln p`` that cost exactly ``spend > 0``.

    ``x = b · softplus(ln expm1(spend/b) − ln p)``; see `shares_for_spend` (which validates
    its inputs and calls this); `market.book.spend_shares` calls it for its first guess.
    """
    return b * _softplus(_log_expm1(spend / b) - log_p)


def max_loss(b: float, n: int) -> float:
    """The market maker's worst-case loss from ``q = 0``: ``b · ln n`` (unit of ``b``)."""
    return _check_b(b) * math.log(check_outcome_count(n))


def b_for_subsidy(subsidy: float, n: int) -> float:
    """Liquidity whose worst-case loss equals the subsidy: ``b = F / ln n``.

    Args:
        subsidy: the sponsor's subsidy ``F`` > 0 (cash unit).
        n: number of outcomes, at least 2.

    Returns:
        ``b`` in the cash unit; ``max_loss(b, n) == F`` up to float rounding (the
        micro-unit `market.book.Book.from_subsidy` rounds ``b`` down so it never exceeds F).
    """
    f = check_real(subsidy, "The subsidy")
    if f <= 0.0:
        raise InvalidMarketInput(f"The subsidy must be positive, got {f}.")
    return f / math.log(check_outcome_count(n))
