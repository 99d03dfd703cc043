"""The liquidity-sensitive LMSR of Othman, Pennock, Reeves and Sandholm (2013), float math.

The LMSR with a liquidity that grows with volume::

    b(q)   = α · Σ_i q_i
    C(q)   = b(q) · ln Σ_i e^{q_i / b(q)}
    p_i(q) = α · ln Σ_j e^{q_j/b} + s_i − (Σ_j q_j s_j) / Σ_j q_j,    s = softmax(q / b)

``C`` is homogeneous, ``C(λ q) = λ C(q)``, and the prices sum to between 1 and
``1 + α · n · ln n``: the excess is the maker's spread (`ls_alpha_for_spread`). A market
starts from a small positive ``q⁰`` (say one share of each outcome); the maker's
worst-case loss is then ``C(q⁰)`` minus the smallest payout, which tends to 0 as
``q⁰ → 0``. Quantities must stay non-negative with a positive total.

Each function evaluates the LMSR of `market.lmsr` at ``b = b(q)``, so it inherits its
log-sum-exp accuracy. Units: whatever unit ``q`` is in (shares, or micro-shares), cash in
the same unit. Not used by the service, which trades the plain LMSR; offered for
simulations that compare market makers.
"""

from __future__ import annotations

import math

import numpy as np

from market import lmsr
from market.checks import check_outcome_count, check_real, check_vector
from market.errors import InvalidMarketInput
from market.lmsr import FloatArray, Vector


def _ls_state(q: Vector, alpha: float) -> tuple[FloatArray, float, float]:
    """``(q, α, b(q))`` validated: q non-negative with a positive total, α > 0."""
    a = check_real(alpha, "The liquidity sensitivity alpha", positive=True)
    qv = check_vector(q, "q")
    if bool((qv < 0.0).any()) or float(qv.sum()) <= 0.0:
        raise InvalidMarketInput(
            "The liquidity-sensitive LMSR needs non-negative quantities with a positive "
            "total (start it from a small positive q, e.g. 1 share of each outcome)."
        )
    return qv, a, a * float(qv.sum())


def ls_b(q: Vector, alpha: float) -> float:
    """The liquidity of LS-LMSR at state ``q``: ``b(q) = α · Σ_i q_i``."""
    return _ls_state(q, alpha)[2]


def ls_cost(q: Vector, alpha: float) -> float:
    """LS-LMSR cost ``C(q) = b(q) · ln Σ_i exp(q_i / b(q))`` with ``b(q) = α Σ_i q_i``.

    Raises:
        InvalidMarketInput: bad numbers, a negative entry, ``Σ q = 0`` or ``α ≤ 0``.
    """
    qv, _, bq = _ls_state(q, alpha)
    return lmsr.cost(qv, bq)


def ls_prices(q: Vector, alpha: float) -> FloatArray:
    """LS-LMSR prices, the gradient of `ls_cost` (see the module docstring).

    Each price is positive and the prices sum to between 1 and ``1 + α · n · ln n``.
    """
    qv, a, bq = _ls_state(q, alpha)
    s = lmsr.prices(qv, bq)
    lse = lmsr.cost(qv, bq) / bq
    result: FloatArray = a * lse + s - float(np.dot(qv, s)) / float(qv.sum())
    return result


def ls_trade_cost(q: Vector, delta: Vector, alpha: float) -> float:
    """LS-LMSR cost of a trade: ``C(q + δ) − C(q)``; the state after must stay ``≥ 0``."""
    qv, a, _ = _ls_state(q, alpha)
    dv = check_vector(delta, "The trade vector", n=int(qv.shape[0]))
    value = ls_cost(qv + dv, a) - ls_cost(qv, a)
    if not math.isfinite(value):
        raise InvalidMarketInput("The trade cost is not a finite number; the trade is too large.")
    return value


def ls_alpha_for_spread(spread: float, n: int) -> float:
    """The α whose largest possible price sum is ``1 + spread``: ``α = spread / (n ln n)``."""
    v = check_real(spread, "The spread", positive=True)
    nn = check_outcome_count(n)
    return v / (nn * math.log(nn))
