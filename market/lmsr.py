"""The logarithmic market scoring rule (Hanson's LMSR), pure float64 math.

An LMSR market maker over ``n`` outcomes holds the vector ``q`` of shares outstanding
(``q_i`` shares of outcome ``i``, each paying one unit of cash if ``i`` happens) and
charges for a trade ``δ`` the cost difference ``C(q + δ) − C(q)`` of::

    C(q)   = b · ln Σ_i exp(q_i / b)                 (cost function)
    p_i(q) = exp(q_i / b) / Σ_j exp(q_j / b)          (prices: in (0, 1), sum to 1)

``b > 0`` is the liquidity. Cash, shares and ``b`` share one unit: whole units here, or
micro-units when `market.book` calls in with integer micro-shares converted to float (the
formulas are homogeneous of degree one in ``(q, δ, b)``). Invariants, tested property by
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

The liquidity-sensitive variant of Othman, Pennock, Reeves and Sandholm (2013),
``b(q) = α · Σ_i q_i``, is offered as `ls_cost`, `ls_prices` and `ls_trade_cost`.

`batch_buy_cost` and `batch_prices` evaluate many independent markets at once (one row
per market) for the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

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


def _check_real(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
        raise InvalidMarketInput(f"{name} must be a number, got {x!r}.")
    value = float(x)
    if not math.isfinite(value):
        raise InvalidMarketInput(f"{name} must be a finite number, got {value}.")
    return value


def _check_b(b: object) -> float:
    value = _check_real(b, "The liquidity b")
    if value <= 0.0:
        raise InvalidMarketInput(f"The liquidity b must be positive, got {value}.")
    return value


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise InvalidMarketInput(f"The number of outcomes must be an integer, got {n!r}.")
    if n < 2:
        raise InvalidMarketInput(f"A market needs at least two outcomes, got {int(n)}.")
    return int(n)


def _vector(x: Vector, name: str, n: int | None = None) -> list[float] | FloatArray:
    """Validate a vector and return it as a list (few outcomes) or a float64 array (many)."""
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise InvalidMarketInput(f"{name} must be a flat vector, got shape {x.shape}.")
        arr = x.astype(np.float64, copy=False)
    else:
        if isinstance(x, str | bytes) or not isinstance(x, Sequence):
            raise InvalidMarketInput(f"{name} must be a sequence of numbers, got {x!r}.")
        for v in x:
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
                raise InvalidMarketInput(f"{name} must contain only numbers, got {v!r}.")
        arr = np.asarray(x, dtype=np.float64)
    size = int(arr.shape[0])
    if n is None and size < 2:
        raise InvalidMarketInput(
            f"A market needs at least two outcomes; {name} has {size} entries."
        )
    if n is not None and size != n:
        raise InvalidMarketInput(f"{name} has {size} entries but the market has {n} outcomes.")
    if not bool(np.isfinite(arr).all()):
        raise InvalidMarketInput(f"{name} must contain only finite numbers (no NaN or inf).")
    if size >= NUMPY_FROM_OUTCOMES:
        return arr
    return [float(v) for v in arr]


def _check_outcome(outcome: object, n: int) -> int:
    if isinstance(outcome, bool) or not isinstance(outcome, int | np.integer):
        raise InvalidMarketInput(f"The outcome must be an integer index, got {outcome!r}.")
    if not 0 <= outcome < n:
        raise InvalidMarketInput(
            f"Outcome {int(outcome)} does not exist: this market has outcomes 0 to {n - 1}."
        )
    return int(outcome)


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
        and ``p_i = w_i / S``. `market.book` caches this per book.
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
    s = _check_real(shares, "The number of shares")
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
    s = _check_real(shares, "The number of shares")
    if s <= 0.0:
        raise InvalidMarketInput(f"The number of shares to sell must be positive, got {s}.")
    return -_single(q, outcome, -s, b, "sale proceeds")


def _single(q: Vector, outcome: int, signed_shares: float, b: float, what: str) -> float:
    bf = _check_b(b)
    qv = _vector(q, "q")
    k = _check_outcome(outcome, len(qv))
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
    k = _check_outcome(outcome, len(qv))
    f = _check_real(spend, "The spend")
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
    its inputs and calls this); `market.book` calls it with a cached ``ln p``.
    """
    return b * _softplus(_log_expm1(spend / b) - log_p)


def max_loss(b: float, n: int) -> float:
    """The market maker's worst-case loss from ``q = 0``: ``b · ln n`` (unit of ``b``)."""
    return _check_b(b) * math.log(_check_n(n))


def b_for_subsidy(subsidy: float, n: int) -> float:
    """Liquidity whose worst-case loss equals the subsidy: ``b = F / ln n``.

    Args:
        subsidy: the sponsor's subsidy ``F`` > 0 (cash unit).
        n: number of outcomes, at least 2.

    Returns:
        ``b`` in the cash unit; ``max_loss(b, n) == F`` up to float rounding (the
        micro-unit `market.book.Book.from_subsidy` rounds ``b`` down so it never exceeds F).
    """
    f = _check_real(subsidy, "The subsidy")
    if f <= 0.0:
        raise InvalidMarketInput(f"The subsidy must be positive, got {f}.")
    return f / math.log(_check_n(n))


# --- liquidity-sensitive LMSR (Othman, Pennock, Reeves, Sandholm 2013) -------------------


def _ls_vector(q: Vector, alpha: float) -> tuple[FloatArray, float]:
    a = _check_real(alpha, "The liquidity sensitivity alpha")
    if a <= 0.0:
        raise InvalidMarketInput(f"The liquidity sensitivity alpha must be positive, got {a}.")
    qv = np.asarray(_vector(q, "q"), dtype=np.float64)
    if bool((qv < 0.0).any()) or float(qv.sum()) <= 0.0:
        raise InvalidMarketInput(
            "The liquidity-sensitive LMSR needs non-negative quantities with a positive "
            "total (start it from a small positive q, e.g. 1 share of each outcome)."
        )
    return qv, a


def ls_b(q: Vector, alpha: float) -> float:
    """The liquidity of LS-LMSR at state ``q``: ``b(q) = α · Σ_i q_i``."""
    qv, a = _ls_vector(q, alpha)
    return a * float(qv.sum())


def ls_cost(q: Vector, alpha: float) -> float:
    """LS-LMSR cost ``C(q) = b(q) · ln Σ_i exp(q_i / b(q))`` with ``b(q) = α Σ_i q_i``.

    Unlike the LMSR, liquidity grows with volume and ``C`` is homogeneous:
    ``C(λ q) = λ C(q)``. Requires ``q_i ≥ 0`` and ``Σ q > 0`` (a market starts from a
    small positive ``q⁰``; the maker's worst-case loss is then ``C(q⁰)`` minus the
    smallest payout, which tends to 0 as ``q⁰ → 0``).

    Raises:
        InvalidMarketInput: bad numbers, a negative entry, ``Σ q = 0`` or ``α ≤ 0``.
    """
    qv, a = _ls_vector(q, alpha)
    bq = a * float(qv.sum())
    shift, _, _, total = _np_state(qv, bq)
    return shift + bq * math.log(total)


def ls_prices(q: Vector, alpha: float) -> FloatArray:
    """LS-LMSR prices, the gradient of `ls_cost`::

        p_i = α · ln Σ_j e^{q_j/b} + s_i − (Σ_j q_j s_j) / Σ_j q_j,   s = softmax(q / b)

    Each price is positive and the prices sum to between 1 and ``1 + α · n · ln n``: the
    excess over 1 is the maker's spread (see `ls_alpha_for_spread`).
    """
    qv, a = _ls_vector(q, alpha)
    total_q = float(qv.sum())
    bq = a * total_q
    shift, _, w, total = _np_state(qv, bq)
    s = w / total
    lse = shift / bq + math.log(total)
    result: FloatArray = a * lse + s - float(np.dot(qv, s)) / total_q
    return result


def ls_trade_cost(q: Vector, delta: Vector, alpha: float) -> float:
    """LS-LMSR cost of a trade: ``C(q + δ) − C(q)``; the state after must stay ``≥ 0``."""
    qv, a = _ls_vector(q, alpha)
    dv = np.asarray(_vector(delta, "The trade vector", n=int(qv.shape[0])), dtype=np.float64)
    return _finite_result(ls_cost(qv + dv, a) - ls_cost(qv, a), "trade cost")


def ls_alpha_for_spread(spread: float, n: int) -> float:
    """The α whose largest possible price sum is ``1 + spread``: ``α = spread / (n ln n)``."""
    v = _check_real(spread, "The spread")
    if v <= 0.0:
        raise InvalidMarketInput(f"The spread must be positive, got {v}.")
    nn = _check_n(n)
    return v / (nn * math.log(nn))


# --- many independent markets at once ----------------------------------------------------


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
    """Prices of many independent markets: row ``m`` is ``softmax(q[m] / b[m])``.

    Args:
        q: shape ``(markets, outcomes)``.
        b: shape ``(markets,)``, each > 0.

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
    """Cost of one buy in each of many independent markets, vectorised.

    For market ``m`` buying ``s_m`` shares of outcome ``k_m``::

        cost_m = b_m · ln(1 − p + p·e^{t}),   p = p_{k_m}(q[m]),  t = s_m / b_m

    as ``b · log1p(p · expm1(t))`` for ``t ≤ 30`` and ``b · logaddexp(ln(1 − p), ln p + t)``
    above (no overflow, with ``ln p = r_k − ln S`` so tiny prices do not underflow).
    Nothing is modified; the caller applies ``q[m, k_m] += s_m`` (the simulator does so).

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
