"""A 60-digit decimal LMSR: the reference the float code is checked against."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal

CTX = Context(prec=60, Emin=-(10**9), Emax=10**9)


def _cost(qs: list[Decimal], bd: Decimal) -> Decimal:
    m = max(qs)
    total = sum((CTX.exp(CTX.divide(x - m, bd)) for x in qs), Decimal(0))
    return CTX.add(m, CTX.multiply(bd, CTX.ln(total)))


def exact_cost(q: Sequence[float], b: float) -> Decimal:
    """``C(q) = m + b · ln Σ exp((q_i − m) / b)`` with 60 significant digits."""
    return _cost([Decimal(x) for x in q], Decimal(b))


def exact_trade_cost(q: Sequence[float], delta: Sequence[float], b: float) -> Decimal:
    """``C(q + δ) − C(q)`` with 60 significant digits (``q + δ`` formed exactly)."""
    before = [Decimal(x) for x in q]
    after = [x + Decimal(d) for x, d in zip(before, delta, strict=True)]
    return CTX.subtract(_cost(after, Decimal(b)), _cost(before, Decimal(b)))
