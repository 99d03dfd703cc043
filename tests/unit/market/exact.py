"""A 60-digit decimal LMSR: the reference the float code and the rounding are checked against.

`exact_cost` and `exact_trade_cost` evaluate ``C(q) = m + b · ln Σ exp((q_i − m) / b)``
with 60 significant digits. `reference_cash` turns that into the correctly rounded cash
``⌈C(q + δ) − C(q)⌉`` the market must charge, written independently of `market.rounding`:
the 60-digit difference decides whenever it is farther than 10⁻³⁵ from an integer (its own
error is below 10⁻⁴⁰ for every state the bounds admit); closer than that, the difference
is taken again with 400 digits; and a cost within 10⁻³⁰⁰ of an integer ``N`` (a long
shot's price below ``e^{−690}``, say) is put on its side of ``N`` by the sign of
``Σ_i e^{(q_i + δ_i)/b} − Σ_i e^{(q_i + N)/b}``, its shared terms cancelled exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import MAX_EMAX, MIN_EMIN, ROUND_CEILING, Context, Decimal

CTX = Context(prec=60, Emin=-(10**9), Emax=10**9)
_EXACT = Context(prec=2000, Emin=MIN_EMIN, Emax=MAX_EMAX)  # q + δ of floats, exactly
_WIDE = Context(prec=400, Emin=MIN_EMIN, Emax=MAX_EMAX)


def _sum(xs: Iterable[Decimal], ctx: Context) -> Decimal:
    """Σ xs at the precision of ``ctx`` (``sum`` and ``+`` would use the thread's 28 digits)."""
    total = Decimal(0)
    for x in xs:
        total = ctx.add(total, x)
    return total


def _cost(qs: list[Decimal], bd: Decimal, ctx: Context = CTX) -> Decimal:
    m = max(qs)
    total = _sum((ctx.exp(ctx.divide(ctx.subtract(x, m), bd)) for x in qs), ctx)
    return ctx.add(m, ctx.multiply(bd, ctx.ln(total)))


def exact_cost(q: Sequence[float], b: float) -> Decimal:
    """``C(q) = m + b · ln Σ exp((q_i − m) / b)`` with 60 significant digits."""
    return _cost([Decimal(x) for x in q], Decimal(b))


def exact_trade_cost(q: Sequence[float], delta: Sequence[float], b: float) -> Decimal:
    """``C(q + δ) − C(q)`` with 60 significant digits (``q + δ`` formed exactly)."""
    before = [Decimal(x) for x in q]
    after = [_EXACT.add(x, Decimal(d)) for x, d in zip(before, delta, strict=True)]
    return CTX.subtract(_cost(after, Decimal(b)), _cost(before, Decimal(b)))


def _distance_to_integer(x: Decimal) -> Decimal:
    return _EXACT.subtract(x, x.to_integral_value()).copy_abs()


def _ceil(x: Decimal) -> int:
    return int(x.to_integral_value(rounding=ROUND_CEILING))


def _side_of(q: Sequence[int], delta: Sequence[int], b: int, n_micros: int) -> int:
    """The sign of ``c − N``: of ``Σ_i e^{(q_i + δ_i)/b} − Σ_i e^{(q_i + N)/b}``, with the
    terms both sums share cancelled as integers and the rest taken relative to the largest
    at 400 digits."""
    left: dict[int, int] = {}
    for x, d in zip(q, delta, strict=True):
        left[x + d] = left.get(x + d, 0) + 1
        left[x + n_micros] = left.get(x + n_micros, 0) - 1
    terms = [(x, count) for x, count in left.items() if count]
    top = max(x for x, _ in terms)
    ctx = _WIDE
    total = _sum(
        (
            ctx.multiply(Decimal(count), ctx.exp(ctx.divide(Decimal(x - top), Decimal(b))))
            for x, count in terms
        ),
        ctx,
    )
    if total.copy_abs() < Decimal("1e-350"):
        raise AssertionError(f"the reference cannot tell which side of {n_micros} the cost is")
    return 1 if total > 0 else -1


def reference_cash(q: Sequence[int], delta: Sequence[int], b: int) -> int:
    """``⌈C(q + δ) − C(q)⌉`` in micro-units: what a correctly rounded quote must charge.

    Raises:
        AssertionError: the reference cannot decide (never seen; it would need a look).

    (The cost is an integer ``N`` exactly when the sorted ``q + δ`` is the sorted ``q``
    shifted by ``N``: Lindemann–Weierstrass.)
    """
    before = [Decimal(x) for x in q]
    after = [Decimal(x + d) for x, d in zip(q, delta, strict=True)]
    sorted_before, sorted_after = sorted(before), sorted(after)
    shifts = {_EXACT.subtract(y, x) for x, y in zip(sorted_before, sorted_after, strict=True)}
    if len(shifts) == 1:  # a permutation of q + N·1: the cost is exactly N
        return int(shifts.pop())
    c60 = CTX.subtract(_cost(after, Decimal(b)), _cost(before, Decimal(b)))
    if _distance_to_integer(c60) > Decimal("1e-35"):
        return _ceil(c60)
    c400 = _WIDE.subtract(_cost(after, Decimal(b), _WIDE), _cost(before, Decimal(b), _WIDE))
    if _distance_to_integer(c400) > Decimal("1e-300"):
        return _ceil(c400)
    nearest = int(c400.to_integral_value())
    return nearest if _side_of(q, delta, b, nearest) < 0 else nearest + 1
