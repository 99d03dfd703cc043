"""Correctly rounded LMSR cash: every charge ``⌈c⌉``, every proceeds ``⌊−c⌋``, exactly.

For a trade ``δ`` (micro-shares per outcome) on shares outstanding ``q`` (micro-shares) with
liquidity ``b`` (micro-units), the exact real cost is::

    c = C(q + δ) − C(q),      C(q) = b · ln Σ_i e^{q_i / b}        (micro-units)

and the trade's cash is the integer ``⌈c⌉``: a charge (``c > 0``) is rounded up, proceeds
(``−c > 0``) are rounded down, both in the market maker's favour and by less than one
micro-unit. ``⌈c⌉`` is a pure function of ``(q, δ, b)``: it does not depend on how it was
computed, on the order of earlier trades or on the machine, so anyone can recompute a
stored trade's cash from the book it was priced on.

How it is computed (`single_cash`, `vector_cash`):

1. **Fast path, float64.** ``c̃`` from the forms that keep a small error *relative to the
   result*: ``c = b · log1p(p_k · expm1(s/b))`` for ``s`` micro-shares of outcome ``k``
   at price ``p_k``, and ``b · log1p(Σ_i p_i expm1(δ_i/b))`` for a vector. With it comes a
   rigorous bound ``E ≥ |c̃ − c|`` (below). When ``⌈c̃ − E⌉ = ⌈c̃ + E⌉`` that integer is
   ``⌈c⌉``, whatever ``c`` is inside the interval. Two more float forms, each with its
   own bound, take the cases the first cannot: a long shot (price below ``e^{−650}``:
   ``y`` in log space, and a cost below ``e^{−1}`` is settled by its sign), and the
   *complement* ``c = s + b · log1p(q̄ · expm1(−s/b))``, ``q̄ = 1 − p_k``, for a sale of
   most of a dominant outcome and for buying a near-certain one, whose cost is a hair
   below the integer ``s`` (the error is then relative to ``c − s``, not to ``s``).
2. **Exact fallback** (`exact_cash`), only when no float form decides (the probability
   is about ``2E``: ``~10⁻¹³ · |c|`` for an ordinary single-outcome trade of ``|c|``
   micro-units, about one quote in a million at ten units) or outside their domain (a
   buy of more than ``700 b`` shares). First the integer case, settled exactly: by the
   Lindemann–Weierstrass theorem ``Σ_i e^{(q_i+δ_i)/b} = Σ_i e^{(q_i+N)/b}`` with rational
   exponents holds only if the two multisets of exponents are equal, so ``c`` is an
   integer ``N`` exactly when the sorted ``q + δ`` is the sorted ``q`` shifted by ``N``
   (a translation ``δ = N·1``, a swap of two outcomes, …). Otherwise ``c`` is not an
   integer, and `decimal` evaluates it with a proven error bound at 40 significant
   digits, then 80, 160, … until the interval excludes every integer; when a single
   integer ``N`` stays inside, the side of ``N`` that ``c`` is on is the sign of
   ``Σ_i e^{(q_i+δ_i)/b} − Σ_i e^{(q_i+N)/b}``, its common terms cancelled as integers and
   the rest (not zero, again by Lindemann–Weierstrass) evaluated relative to its largest.
   The loops end because ``c`` is not an integer.

**The float bound.** Let ``u = 2⁻⁵³`` (the unit roundoff): every ``+ − × /`` of floats and
every ``int / int`` division is correctly rounded, relative error ``≤ u``. Assume every
elementary function call (``exp``, ``expm1``, ``log``, ``log1p``, from the C library
through `math` or from numpy's SIMD loops) is within 4 ulp: relative error ``≤ η = 8u``.
(glibc documents at most 1 ulp for these on x86-64; NumPy's own accuracy tests hold its
float64 SIMD loops to 2 ulp; ``tests/unit/market/test_rounding.py`` samples them against
60 digits.) Integers ``|x| < 2⁵³`` convert to float exactly, and so do ``q_i − M``.

A book carries the *state* ``(M, S̃, ρ, k_w)``: a shift ``M`` (an integer, at first
``max q``), ``S̃ ≈ S = Σ_i e^{(q_i − M)/b}``, a bound ``ρ ≥ |S̃ − S| / S``, and the
precomputed ``k_w`` below. Computed afresh (`state_of`), ``r_i = (q_i − M)/b`` is correctly
rounded, so ``e^{r̃_i}`` is off by a factor ``e^{|r_i| u}``; as ``|r| e^{r} ≤ 1/e`` for
``r ≤ 0`` that is at most ``u/e`` absolute per term, and summing ``n`` terms adds
``(n − 1) u S``; with ``S ≥ 1``::

    ρ_fresh = 1.001 · ((n − 1)(1 + 1/e) u + η)

(terms below ``2⁻¹⁰²²``, which ``exp`` may flush, are off by less than ``2⁻¹⁰⁷⁴`` each,
absorbed by the factor 1.001). For a single-outcome trade of ``s`` micro-shares of ``k``
(``s < 0``: a sale) with ``r = (q_k − M)/b``, ``t = s/b``, ``p = e^{r̃}/S̃``, ``y = p · expm1(t)``:
``p̃`` is off by ``|r| u + η + ρ + u`` relatively, ``expm1(t̃)`` by ``(1 + max(t, 0)) u + η``
(the condition number of ``expm1`` is ``t / (1 − e^{−t}) ≤ 1 + max(t, 0)``), so ``ỹ`` by::

    δ_y ≤ δ₀ + 1.01 ρ,      δ₀ = (|r| + max(t, 0) + 4) u + 2η

``log1p`` multiplies a relative error by at most ``y / ((1 + y) log1p(y)) ≤ 1.45`` for
``y ≥ −0.49`` and adds ``η``; the product by ``b`` adds ``u``. Doubling, to cover the
second-order terms and the rounding of the bound's own evaluation::

    |c̃ − c| ≤ E = |c̃| · 2 (1.45 δ_y + η + u)                 (single outcome)

For every trade with ``|r| + max(t, 0) ≤ W = 128`` (prices above ``e^{−64}``, at most
``64 b`` shares) the state holds ``k_w = E / |c̃|`` at ``|r| + max(t, 0) = W``, about
``5·10⁻¹⁴``: a bound relative to the charge, so it holds at every ``b``. After the trade
the state moves in O(1): ``S' = S (1 + y)`` with the same ``M``, and to first order its
relative error becomes ``(ρ + |y| δ₀)/(1 + y) + 2u`` (times 1.000001 for the rest), so
``ρ`` grows by about ``|y| δ₀`` per trade; the state is recomputed (O(n)) once
``ρ > 2⁻⁴⁰`` or ``S̃`` leaves ``[2⁻⁶⁰, 2⁶⁰]``. The long-shot and complement forms bound the
error of a logarithm the same way, term by term (see `_long_shot`, `_complement`).

For a vector trade, from a fresh state with ``w_i = e^{r_i}``, ``e_i = expm1(δ_i/b)``,
``Y = Σ w_i e_i``, ``A = Σ |w̃_i ẽ_i|``::

    |Ỹ − Y| ≤ (u/e) Σ|ẽ_i| + A (2η + (n + 2 + max(t, 0)) u),   |ỹ − y| ≤ |Ỹ − Y| + |ỹ|(ρ + u)
    E = 2 (b (1.01 |ỹ − y| / (1 + ỹ − |ỹ − y|) + η |L̃|) + u |c̃|)      (vector)

(``1 + ỹ − |ỹ − y|`` is the smallest ``1 + y`` can be, so ``ln`` moves by at most the error
over it; the fast path requires it ``≥ 0.25``): an absolute bound of the order of
``u · Σ_i p_i |δ_i|``, the size of the trade, not ``b``.

**The decimal bound** (`exact_cash`). At ``P`` digits every `decimal` operation, ``exp``
and ``ln`` included, is correctly rounded: relative error ``≤ v = 5·10⁻ᴾ``; ``e^t − 1`` and
``ln(1 + y)`` are taken with enough extra digits that the subtraction or addition of 1
loses none (or, below ``10^{−P−2}``, as ``t`` and ``y``). ``S = Σ e^{r_i}`` drops the terms
below ``e^{−T}``, ``T = ⌈(P + 2) ln 10 + ln n⌉ + 1`` (together below ``10^{−P−2} ≤ 10^{−P−2} S``),
so ``S̃`` is off by ``ρ = 1.001 v (T + n + 1) + 10^{−P−2}`` relatively. For ``y ≥ −0.45``,
``Y = Σ_i w_i (e^{t_i} − 1)`` over the moved outcomes is off by
``v A (max_i(|r_i| + max(t_i, 0) + 5.1) + m)``, ``y = Y/S`` by that over ``S`` plus
``|y|(ρ + v)``, and ``ln(1 + y)`` by ``|ỹ − y| / (1 + ỹ − |ỹ − y|)`` plus its own
``1.03 v``; below, ``ln Z`` with ``Z = 1 + y = Σ_i e^{r_i + t_i} / S`` (positive terms, the
ones below ``e^{−T}`` of the largest dropped) is off by ``ζ`` (the module's
`_ceiling_bounds`). Then ``|c̃ − c| ≤ 2 (1.001 b |L̃ − L| + v |c̃|)``, every term of the bound
rounded up.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
)
from math import ceil, exp, expm1, log, log1p

import numpy as np

from market.lmsr import NUMPY_FROM_OUTCOMES

U = 2.0**-53
"""Unit roundoff of float64: the relative error of one correctly rounded operation."""

ETA = 8.0 * U
"""Assumed relative error of one elementary function call (4 ulp; see the module docstring)."""

MAX_EXPONENT = 700.0
"""Largest ``t = s/b`` the fast path takes: ``expm1`` overflows above 709.78."""

MIN_LOG_WEIGHT = -650.0
"""Smallest ``r = (q_k − M)/b`` the fast path takes: with ``S̃ ≤ 2⁶⁰`` the price
``e^r / S̃ > 10⁻³⁰⁰`` stays a normal float, so its relative error bound holds."""

RHO_LIMIT = 2.0**-40
"""A cached state whose relative error bound passes this is recomputed afresh."""

S_HIGH = 2.0**60
"""A carried state whose ``S̃`` leaves ``[S_LOW, S_HIGH]`` is recomputed (no overflow)."""

S_LOW = 2.0**-60
"""See `S_HIGH`."""

Y_LOW = -0.49
"""The fast path needs ``y ≥ −0.49``: there ``log1p`` magnifies relative errors at most 1.45×."""

Y_TINY = 2.0**-1000
"""``|y|`` below this may be subnormal (or 0), where relative error bounds fail."""

_E_INV = 1.0 / math.e
_FRESH_PER_TERM = (1.0 + _E_INV) * U

State = tuple[int, float, float, float]
"""``(M, S̃, ρ, k_w)``: shift (micro-shares), ``S̃ ≈ Σ e^{(q_i − M)/b}``, its relative error
bound, and ``k_w = 2.9 (δ₀(W) + 1.01 ρ) + 2η + 2u``: the relative cost bound ``E / |c̃|`` of
every trade with ``|r| + max(t, 0) ≤ W = 128`` (an ordinary trade: the price above
``e^{−64}``, at most ``64 b`` shares), read from the state instead of computed per trade."""

WINDOW = 128.0
"""Trades with ``|r| ≤ W/2`` and ``t ≤ W/2`` use the state's precomputed bound ``k_w``."""

# The fast path's constants (`single_cash`, and the same path written out in
# `market.book.quote_buy` / `quote_sell`): E / |c̃| = K_BASE + K_RHO ρ + K_SIZE (|r| + t⁺),
# δ₀ = D0_BASE + (|r| + t⁺) u; inside the window, K_WINDOW + K_RHO ρ and D0_WINDOW.
K_BASE = 2.9 * (4.0 * U + 2.0 * ETA) + 2.0 * ETA + 2.0 * U
K_RHO = 2.9 * 1.01
K_SIZE = 2.9 * U
K_WINDOW = K_BASE + K_SIZE * WINDOW
D0_BASE = 4.0 * U + 2.0 * ETA
D0_WINDOW = WINDOW * U + D0_BASE
TWO_U = 2.000002 * U  # 2u of the state update, times its 1.000001
HALF_WINDOW = WINDOW / 2.0


def _state(shift: int, total: float, rho: float) -> State:
    return shift, total, rho, K_WINDOW + K_RHO * rho


exact_evaluations = 0
"""How many times `exact_cash` ran since import (the benchmark reports the fallback rate)."""


# --- the float state ----------------------------------------------------------------------


def state_of(q: Sequence[int], b: int) -> State:
    """A fresh state ``(max q, Σ_i e^{(q_i − max q)/b}, ρ_fresh)`` of a book.

    Args:
        q: shares outstanding per outcome, micro-shares (validated, ``|q_i| < 2⁵³``).
        b: liquidity, micro-units (validated, ``1 ≤ b < 2⁵³``).

    Returns:
        The state; ``1 ≤ S̃ ≤ n``.
    """
    n = len(q)
    if n == 2:
        q0, q1 = q
        if q0 >= q1:
            return _state(q0, 1.0 + exp((q1 - q0) / b), 1.001 * (_FRESH_PER_TERM + ETA))
        return _state(q1, 1.0 + exp((q0 - q1) / b), 1.001 * (_FRESH_PER_TERM + ETA))
    shift = max(q)
    if n >= NUMPY_FROM_OUTCOMES:
        arr = np.array(q, dtype=np.float64)
        total = float(np.exp((arr - float(shift)) / float(b)).sum())
    else:
        total = sum([exp((x - shift) / b) for x in q])
    return _state(shift, total, 1.001 * ((n - 1) * _FRESH_PER_TERM + ETA))


def prices_of(q: Sequence[int], b: int) -> tuple[float, ...]:
    """Instantaneous prices ``p_i = e^{(q_i − max q)/b} / Σ_j e^{(q_j − max q)/b}``.

    A deterministic function of ``(q, b)`` (evaluated afresh, never from a cached state),
    so a stored trade's prices can be recomputed from its book. Probabilities summing to 1
    up to rounding; a price whose ``q_i − max q < −745 b`` underflows to 0.0.
    """
    shift = max(q)
    if len(q) >= NUMPY_FROM_OUTCOMES:
        arr = np.array(q, dtype=np.float64)
        w = np.exp((arr - float(shift)) / float(b))
        return tuple((w / w.sum()).tolist())
    w_list = [exp((x - shift) / b) for x in q]
    total = sum(w_list)
    return tuple([x / total for x in w_list])


# --- single-outcome trades ----------------------------------------------------------------


def single_cash(q: Sequence[int], b: int, state: State, k: int, s: int) -> tuple[int, State | None]:
    """``⌈C(q + s·e_k) − C(q)⌉``: the exact cash of ``s`` micro-shares of outcome ``k``.

    Args:
        q: shares outstanding, micro-shares; ``b``: liquidity, micro-units (validated).
        state: the book's state (`state_of`, or one handed on by an earlier trade).
        k: the outcome; s: micro-shares bought (``> 0``) or sold (``< 0``).

    Returns:
        ``(cash, state_after)``: ``cash ≥ 1`` for a buy, ``≤ 0`` for a sale (its proceeds
        are ``−cash``); ``state_after`` is the state of ``q + s·e_k`` moved in O(1), or
        None when it should be recomputed.
    """
    shift, total, rho, k_window = state
    qk = q[k]
    if qk == shift:
        r = 0.0
        w = 1.0
    else:
        r = (qk - shift) / b
        if r < MIN_LOG_WEIGHT:
            return _long_shot(q, b, state, k, s, r)
        w = exp(r)
    t = s / b
    if t > MAX_EXPONENT:
        return _exact_single(q, b, k, s), None
    p = w / total
    y = p * expm1(t)
    if y < Y_LOW:  # a sale of most of a dominant outcome
        cash_or_none = _complement(q, b, state, k, s, t)
        return (_exact_single(q, b, k, s) if cash_or_none is None else cash_or_none), None
    abs_y = y if y > 0.0 else -y
    if abs_y < Y_TINY:
        return _exact_single(q, b, k, s), None
    c = b * log1p(y)
    if r >= -HALF_WINDOW and t <= HALF_WINDOW:  # |r| + max(t, 0) ≤ W: E from the state
        err = (c if c > 0.0 else -c) * k_window
        d0 = D0_WINDOW
    else:
        size = (r if r > 0.0 else -r) + (t if t > 0.0 else 0.0)
        err = (c if c > 0.0 else -c) * (K_BASE + K_RHO * rho + K_SIZE * size)
        d0 = size * U + D0_BASE
    cash = ceil(c + err)
    if c - err <= cash - 1:  # ⌈c̃ − E⌉ < ⌈c̃ + E⌉: an integer inside the interval
        # a hair from an integer: typically the favourite, c = s − ε; take c = s + d
        cash_or_none = _complement(q, b, state, k, s, t) if p >= 0.5 else None
        if cash_or_none is None:
            return _exact_single(q, b, k, s), None
        cash = cash_or_none
    # the state after: S' = S (1 + y), ρ' = ((ρ + |y| δ₀) / (1 + y) + 2u) · 1.000001
    grow = 1.0 + y
    after = total * grow
    rho_after = (rho + abs_y * d0) / grow * 1.000001 + TWO_U
    if rho_after > RHO_LIMIT or after > S_HIGH or after < S_LOW:
        return cash, None
    return cash, (shift, after, rho_after, K_WINDOW + K_RHO * rho_after)


def _exact_single(q: Sequence[int], b: int, k: int, s: int) -> int:
    delta = [0] * len(q)
    delta[k] = s
    return exact_cash(q, delta, b)


def _long_shot(
    q: Sequence[int], b: int, state: State, k: int, s: int, r: float
) -> tuple[int, State | None]:
    """A trade in an outcome priced below ``e^{−650}``: ``y`` in log space.

    ``ln |y| = r − ln S + ln |e^t − 1|``, each term off by its relative error times its
    size (``|r| u``, ``ρ + η |ln S|``, ``(1 + max(t, 0)) u + η |ln|e^t − 1||``), plus the two
    additions. When ``|y|`` is below the normal range the cost is too: ``|c| ≤ 2 b |y|``
    (``|log1p(y)| ≤ 2|y|`` for ``|y| ≤ ½``), and once that is below ``e^{−1}`` the cash
    is 1 for a buy and 0 for a sale. Otherwise ``y = ±e^{ln|y|}`` continues as the fast path.
    """
    shift, total, rho, _ = state
    t = s / b
    if t > MAX_EXPONENT:
        return _exact_single(q, b, k, s), None
    # ln |e^t − 1|, without overflow for large t
    log_e = log(-expm1(t)) if t < 0.0 else t + log1p(-exp(-t)) if t > 30.0 else log(expm1(t))
    log_s = log(total)
    log_y = r - log_s + log_e
    err_log_y = 1.01 * (
        (3.0 * -r + 10.0 * abs(log_s) + 10.0 * abs(log_e) + max(t, 0.0) + 2.0) * U
        + ETA
        + 1.01 * rho
    )
    if log_y + err_log_y < -MAX_EXPONENT:
        if log(2.0 * b) * 1.000001 + log_y + err_log_y < -1.0:  # |c| < e^{−1}
            return (1 if s > 0 else 0), _state(shift, total, rho * 1.000001)
        return _exact_single(q, b, k, s), None
    if log_y - err_log_y < -MAX_EXPONENT:
        return _exact_single(q, b, k, s), None
    y = exp(log_y) if s > 0 else -exp(log_y)
    d_y = 1.01 * err_log_y + ETA + U
    if y < Y_LOW:
        return _exact_single(q, b, k, s), None
    c = b * log1p(y)
    err = abs(c) * (2.9 * d_y + 2.0 * ETA + 2.0 * U)
    cash = ceil(c + err)
    if ceil(c - err) != cash:
        return _exact_single(q, b, k, s), None
    after = total * (1.0 + y)
    rho_after = ((rho + abs(y) * d_y) / (1.0 + y) + 2.0 * U) * 1.000001
    if rho_after > RHO_LIMIT or not S_LOW <= after <= S_HIGH:
        return cash, None
    return cash, _state(shift, after, rho_after)


def _complement(q: Sequence[int], b: int, state: State, k: int, s: int, t: float) -> int | None:
    """``⌈c⌉`` from ``c = s + d``, ``d = b · log1p(q̄ · expm1(−t))``, or None if undecided.

    With ``q̄ = 1 − p_k = Σ_{i≠k} e^{r_i} / S``: ``1 + p_k (e^t − 1) = e^t (1 + q̄ (e^{−t} − 1))``,
    so ``⌈c⌉ = s + ⌈d⌉`` exactly, and ``d`` carries an error relative to ``d``, not to ``s``:
    the form for a favourite (``c = s − ε``, buying a near-certain outcome) and for a sale of
    most of a dominant outcome. O(1) for two outcomes, O(n) otherwise. In log space:
    ``ln|z| = ln Σ_{i≠k} e^{r_i} − ln S + ln|e^{−t} − 1|`` with the error bound of its three
    terms (``ln Σ`` of ``n − 1`` terms shifted by their largest ``m₂``: ``|m₂| u`` plus
    ``1.01 ((2|m₂| + 2n) u + η)`` plus ``η`` of the log), plus the additions; then ``z`` and ``d``
    as in the fast path (``|d| ≤ 2b|z|`` when ``z`` is below the normal range).
    """
    shift, total, rho, _ = state
    n = len(q)
    if n == 2:
        log_rest = (q[1 - k] - shift) / b
        err_rest = abs(log_rest) * U
    else:
        others = [(x - shift) / b for i, x in enumerate(q) if i != k]
        top = max(others)
        inner = sum([exp(x - top) for x in others])
        log_rest = top + log(inner)
        err_rest = (
            abs(top) * U
            + 1.01 * ((2.0 * abs(top) + 2.0 * n) * U + ETA)
            + ETA * log(inner)
            + U * abs(log_rest)
        )
    minus_t = -t
    if minus_t > MAX_EXPONENT:
        return None
    e = expm1(minus_t)
    log_e = log(abs(e))
    log_s = log(total)
    log_z = log_rest - log_s + log_e
    err_log_z = 1.01 * (
        err_rest
        + 1.01 * rho
        + ETA * abs(log_s)
        + (1.0 + max(minus_t, 0.0)) * U
        + ETA * (1.0 + abs(log_e))
        + 2.0 * U * (abs(log_rest) + abs(log_s) + abs(log_e))
    )
    if log_z + err_log_z < -MAX_EXPONENT:  # |d| ≤ 2b|z| < e^{−1}: d's sign decides
        if log(2.0 * b) * 1.000001 + log_z + err_log_z < -1.0:
            return s if e < 0.0 else s + 1
        return None
    if log_z - err_log_z < -MAX_EXPONENT or log_z > MAX_EXPONENT:
        return None
    z = exp(log_z) if e > 0.0 else -exp(log_z)
    if z < Y_LOW:
        return None
    d = b * log1p(z)
    err = abs(d) * (2.9 * (1.01 * err_log_z + ETA + U) + 2.0 * ETA + 2.0 * U)
    cash = ceil(d + err)
    if ceil(d - err) != cash:
        return None
    return s + cash


# --- vector trades ------------------------------------------------------------------------


def vector_cash(q: Sequence[int], b: int, delta: Sequence[int]) -> int:
    """``⌈C(q + δ) − C(q)⌉`` for any trade vector (validated), from a fresh evaluation.

    O(n): the fast path of the module docstring with the vector bound, else `exact_cash`.
    """
    n = len(q)
    shift = max(q)
    tmax = max(delta) / b
    if tmax > MAX_EXPONENT:
        return exact_cash(q, delta, b)
    if n >= NUMPY_FROM_OUTCOMES:
        qa = np.array(q, dtype=np.float64)
        w = np.exp((qa - float(shift)) / float(b))
        e = np.expm1(np.array(delta, dtype=np.float64) / float(b))
        terms = w * e
        total = float(w.sum())
        big_y = float(terms.sum())
        size = float(np.abs(terms).sum())
        e_size = float(np.abs(e).sum())
    else:
        w_list = [exp((x - shift) / b) for x in q]
        e_list = [expm1(d / b) for d in delta]
        terms_list = [wi * ei for wi, ei in zip(w_list, e_list, strict=True)]
        total = sum(w_list)
        big_y = sum(terms_list)
        size = sum([abs(x) for x in terms_list])
        e_size = sum([abs(x) for x in e_list])
    y = big_y / total
    if y < Y_LOW:
        return exact_cash(q, delta, b)
    rho = 1.001 * ((n - 1) * _FRESH_PER_TERM + ETA)
    err_big_y = _E_INV * U * e_size + size * (2.0 * ETA + (n + 2.0 + max(tmax, 0.0)) * U)
    err_y = err_big_y + abs(y) * (rho + U)
    room = 1.0 + y - err_y  # the smallest 1 + y possible: ln's slope is at most 1/room
    if room < 0.25:
        return exact_cash(q, delta, b)
    log_term = log1p(y)
    c = b * log_term
    err = 2.0 * (b * (1.01 * err_y / room + ETA * abs(log_term)) + U * abs(c))
    cash = ceil(c + err)
    if ceil(c - err) != cash:
        return exact_cash(q, delta, b)
    return cash


# --- the exact fallback -------------------------------------------------------------------

_START_DIGITS = 40
_UP = Context(prec=12, rounding=ROUND_CEILING, Emin=MIN_EMIN, Emax=MAX_EMAX)
_ONE = Decimal(1)
_BRANCH = Decimal("-0.45")


def integer_cost(q: Sequence[int], q_after: Sequence[int]) -> int | None:
    """``N`` when ``C(q_after) − C(q)`` is exactly the integer ``N``, else None.

    By Lindemann–Weierstrass that happens exactly when the sorted ``q_after`` is the sorted
    ``q`` shifted by ``N`` (see the module docstring), whatever ``b``.
    """
    before, after = sorted(q), sorted(q_after)
    shift = after[0] - before[0]
    for x, y in zip(before, after, strict=True):
        if y - x != shift:
            return None
    return shift


def exact_cash(q: Sequence[int], delta: Sequence[int], b: int) -> int:
    """``⌈C(q + δ) − C(q)⌉`` by exact reasoning: the integer case, else `decimal` at
    40, 80, 160, … digits with a proven error bound until the ceiling is decided.

    Slow (about 0.1 ms for two outcomes, more with many); the fast paths call it rarely.
    """
    global exact_evaluations
    exact_evaluations += 1
    q_after = [x + d for x, d in zip(q, delta, strict=True)]
    integer = integer_cost(q, q_after)
    if integer is not None:
        return integer
    digits = _START_DIGITS
    while True:
        low, high = _ceiling_bounds(q, delta, b, digits)
        if low == high:
            return high
        if high == low + 1:  # c lies within a hair of the integer N = low: which side?
            return low if _side_of(q_after, q, low, b) < 0 else high
        digits *= 2


def _side_of(q_after: Sequence[int], q: Sequence[int], n_micros: int, b: int) -> int:
    """The sign of ``c − N``, for ``c = C(q_after) − C(q)`` not an integer.

    ``c > N ⇔ Σ_i e^{q'_i/b} > Σ_i e^{(q_i + N)/b}``. The terms the two sums share cancel
    exactly (as integers); what is left, ``D = Σ_j s_j e^{X_j/b}`` with distinct ``X_j``,
    is not zero (Lindemann–Weierstrass), and is evaluated relative to its largest term at
    40, 80, … digits until its sign is clear of the error bound.
    """
    left = Counter(q_after)
    left.subtract(x + n_micros for x in q)
    terms = [(x, count) for x, count in left.items() if count != 0]
    top = max(x for x, _ in terms)
    m = sum(abs(count) for _, count in terms)
    bd = Decimal(b)
    digits = _START_DIGITS
    while True:
        ctx = _context(digits)
        cutoff = math.ceil((digits + 2) * math.log(10.0) + math.log(m + 1)) + 1
        reach = cutoff * b
        total = Decimal(0)
        for x, count in terms:
            if top - x <= reach:
                term = ctx.multiply(Decimal(count), ctx.exp(ctx.divide(Decimal(x - top), bd)))
                total = ctx.add(total, term)
        # each kept term ≤ |count|, off by ≤ v (cutoff + 2) relatively; the dropped ones sum
        # below 10^{−P−2}; the running sum is off by ≤ v·m per addition
        up = _UP
        v = Decimal((0, (5,), -digits))
        err = up.multiply(
            Decimal(2),
            up.add(
                up.multiply(up.multiply(v, Decimal(m)), Decimal(cutoff + 2 + len(terms))),
                Decimal((0, (1,), -digits - 2)),
            ),
        )
        if total.copy_abs() > err:
            return 1 if total > 0 else -1
        digits *= 2


def _context(digits: int) -> Context:
    return Context(prec=digits, rounding=ROUND_HALF_EVEN, Emin=MIN_EMIN, Emax=MAX_EMAX)


def _directed(digits: int, rounding: str) -> Context:
    return Context(prec=digits, rounding=rounding, Emin=MIN_EMIN, Emax=MAX_EMAX)


def _expm1(t: Decimal, ctx: Context) -> Decimal:
    """``e^t − 1`` for ``t ≠ 0``, relative error ``≤ 2.1 v`` at the precision of ``ctx``:
    ``e^t`` is taken with enough extra digits that subtracting 1 loses none of them."""
    if t.adjusted() < -ctx.prec - 2:  # |t| < 10^{−P−2}: e^t − 1 = t (1 + t/2 + …)
        return ctx.plus(t)
    extra = max(0, -t.adjusted()) + 2 if t.copy_abs() < Decimal("0.5") else 2
    return ctx.subtract(_context(ctx.prec + extra).exp(t), _ONE)


def _log1p(y: Decimal, ctx: Context) -> Decimal:
    """``ln(1 + y)`` for ``y ≥ −0.45``, relative error ``≤ 1.03 v`` at the precision of
    ``ctx``: ``1 + y`` is formed with enough extra digits to keep all of ``y``."""
    if y.is_zero() or y.adjusted() < -ctx.prec - 2:  # ln(1 + y) = y (1 − y/2 + …)
        return ctx.plus(y)
    extra = max(0, -y.adjusted()) + 2 if y.copy_abs() < Decimal("0.5") else 2
    wide = _context(ctx.prec + extra)
    return ctx.plus(wide.ln(wide.add(_ONE, y)))


def _ceiling_bounds(q: Sequence[int], delta: Sequence[int], b: int, digits: int) -> tuple[int, int]:
    """``⌈lo⌉, ⌈hi⌉`` for an interval ``[lo, hi]`` proven to hold ``C(q + δ) − C(q)``.

    ``c = b · ln(1 + y)``, ``y = Σ_i p_i (e^{t_i} − 1)``, ``t_i = δ_i / b``, ``p_i = w_i / S``,
    ``w_i = e^{r_i}``, ``r_i = (q_i − M)/b``, ``M = max q``; relative error ``v = 5·10⁻ᴾ``
    per correctly rounded operation. For ``y ≥ −0.45`` through ``log1p``; below, through
    ``ln Z`` with ``Z = 1 + y = Σ_i e^{r_i + t_i} / S`` (positive terms, no cancellation).
    """
    ctx = _context(digits)
    up = _UP
    n = len(q)
    top = max(q)
    bd = Decimal(b)
    v = Decimal((0, (5,), -digits))
    cutoff = math.ceil((digits + 2) * math.log(10.0) + math.log(n)) + 1
    reach = cutoff * b
    # S = Σ e^{r_i} ≥ 1; terms below e^{−cutoff} dropped (together < 10^{−P−2})
    total = Decimal(0)
    logs: list[Decimal] = []
    for x in q:
        r = ctx.divide(Decimal(x - top), bd)
        logs.append(r)
        if top - x <= reach:
            total = ctx.add(total, ctx.exp(r))
    rho = up.add(
        up.multiply(up.multiply(v, Decimal(cutoff + n + 1)), Decimal("1.001")),
        Decimal((0, (1,), -digits - 2)),
    )
    steps = [ctx.divide(Decimal(d), bd) if d != 0 else Decimal(0) for d in delta]
    # branch 1: y from the moved outcomes' terms w_i (e^{t_i} − 1)
    big_y = Decimal(0)
    size = Decimal(0)
    worst = Decimal(0)
    moved = 0
    for r, t in zip(logs, steps, strict=True):
        if t.is_zero():
            continue
        moved += 1
        term = ctx.multiply(ctx.exp(r), _expm1(t, ctx))
        big_y = ctx.add(big_y, term)
        size = up.add(size, term.copy_abs())
        tau = up.add(up.add(r.copy_abs(), t if t > 0 else Decimal(0)), Decimal("5.1"))
        worst = max(worst, tau)
    y = ctx.divide(big_y, total)
    if y >= _BRANCH:
        err_big_y = up.multiply(
            up.multiply(v, size), up.multiply(up.add(worst, Decimal(moved)), Decimal("1.002"))
        )
        err_y = up.add(
            up.multiply(err_big_y, up.multiply(up.add(_ONE, rho), Decimal("1.001"))),
            up.multiply(y.copy_abs(), up.multiply(up.add(rho, v), Decimal("1.002"))),
        )
        # |ln(1 + ỹ) − ln(1 + y)| ≤ err_y / (1 + ỹ − err_y), the smallest 1 + y possible
        room = _directed(12, ROUND_FLOOR).subtract(
            _directed(digits + 2, ROUND_FLOOR).add(_ONE, y), err_y
        )
        if room < Decimal("0.25"):  # y is not known well enough yet: take more digits
            return 0, 1
        log_term = _log1p(y, ctx)
        err_log = up.add(
            up.multiply(up.divide(err_y, room), Decimal("1.001")),
            up.multiply(up.multiply(Decimal("1.03"), v), log_term.copy_abs()),
        )
    else:
        # Z = Σ_i e^{r_i + t_i} / S over every outcome; terms far below the largest dropped
        sums = [ctx.add(r, t) for r, t in zip(logs, steps, strict=True)]
        peak = max(sums)
        floor_ = ctx.subtract(peak, Decimal(cutoff))
        numerator = Decimal(0)
        spread = Decimal(0)
        for r, t, a in zip(logs, steps, sums, strict=True):
            if a < floor_:
                continue
            numerator = ctx.add(numerator, ctx.exp(a))
            spread = max(spread, up.add(up.add(r.copy_abs(), t.copy_abs()), a.copy_abs()))
        log_term = ctx.ln(ctx.divide(numerator, total))
        zeta = up.add(
            up.add(
                up.multiply(up.multiply(v, up.add(spread, _ONE)), Decimal("1.002")),
                up.multiply(up.multiply(v, Decimal(n + 2)), Decimal("1.001")),
            ),
            up.add(Decimal((0, (1,), -digits - 2)), rho),
        )
        err_log = up.add(up.multiply(Decimal("1.001"), zeta), up.multiply(v, log_term.copy_abs()))
    cost = ctx.multiply(bd, log_term)
    err = up.multiply(
        Decimal(2),
        up.add(
            up.multiply(up.multiply(bd, err_log), Decimal("1.001")),
            up.multiply(v, cost.copy_abs()),
        ),
    )
    wide = digits + 10
    lo = Context(prec=wide, rounding=ROUND_FLOOR, Emin=MIN_EMIN, Emax=MAX_EMAX).subtract(cost, err)
    hi = Context(prec=wide, rounding=ROUND_CEILING, Emin=MIN_EMIN, Emax=MAX_EMAX).add(cost, err)
    return (
        int(lo.to_integral_value(rounding=ROUND_CEILING)),
        int(hi.to_integral_value(rounding=ROUND_CEILING)),
    )
