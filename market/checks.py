"""Input checks for the market core: whole micro-unit amounts, outcome indices, finite numbers.

One home for the checks every pure market module needs at its boundary (`market.book`,
`market.lmsr`, `market.batch`, `market.liquidity_sensitive`, `market.trade_step`), so a
bad input gets the same sentence wherever it enters. Each check returns the value in its
canonical type (a Python ``int`` or ``float``) or raises `InvalidMarketInput` (or the
error class a caller passes) with a sentence a trader can act on.

- a *whole number* is a Python ``int`` (or, where numpy arrays are accepted, a numpy
  integer), never a ``bool``;
- an *amount* is a positive whole number of micro-units (``1e-6`` of a unit of cash or of
  a share), at most a stated bound;
- an *outcome* is a whole number in ``0 … n − 1``;
- a *real* is an ``int`` or ``float`` (numpy's too) that is finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from market.errors import InvalidMarketInput

MICROS = 1_000_000
"""Micro-units per unit: of cash (micros) and of shares (micro-shares)."""

ErrorFactory = Callable[[str], Exception]
"""Builds the exception to raise from its message (an error class fits)."""


def is_int(x: object) -> TypeGuard[int]:
    """A Python ``int`` that is not a ``bool`` (numpy integers are not accepted here)."""
    return type(x) is int or (isinstance(x, int) and not isinstance(x, bool))


def is_whole(x: object) -> bool:
    """A Python or numpy integer that is not a ``bool``."""
    return is_int(x) or isinstance(x, np.integer)


def is_real(x: object) -> bool:
    """A Python or numpy number (integer or float) that is not a ``bool``."""
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def format_micros(micros: int) -> str:
    """Micro-units as the shortest exact decimal string, as the API writes amounts:
    ``5_124_948 → "5.124948"``, ``12_500_000 → "12.5"``, ``50_000_000 → "50"``."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def check_amount(
    amount: object,
    what: str,
    *,
    bound: int | None = None,
    per: str = "trade",
    error: ErrorFactory = InvalidMarketInput,
) -> int:
    """A positive whole number of micro-units, at most ``bound`` (if given).

    Args:
        amount: the value to check.
        what: how the message names it ("number of shares to buy", "spend", "credit").
        bound: the largest amount accepted, micro-units.
        per: what the bound is per, in the message ("trade", "operation").
        error: the exception to raise (default `InvalidMarketInput`).

    Returns:
        The amount as a Python ``int``.

    Raises:
        error: "The {what} must be a whole number of micro-units, got …", "… must be
            positive, got …" or "… exceeds the bound of … per {per}."
    """
    if not is_int(amount):
        raise error(f"The {what} must be a whole number of micro-units, got {amount!r}.")
    if amount <= 0:
        raise error(f"The {what} must be positive, got {format_micros(amount)}.")
    if bound is not None and amount > bound:
        raise error(
            f"The {what} {format_micros(amount)} exceeds the bound of "
            f"{format_micros(bound)} per {per}."
        )
    return int(amount)


def check_outcome(outcome: object, n: int, *, error: ErrorFactory = InvalidMarketInput) -> int:
    """An outcome index of a market with ``n`` outcomes: a whole number in ``0 … n − 1``.

    Raises:
        error: "The outcome must be an integer index, got …" or "Outcome k does not exist:
            this market has outcomes 0 to n − 1."
    """
    if type(outcome) is int and 0 <= outcome < n:
        return outcome
    if not is_whole(outcome):
        raise error(f"The outcome must be an integer index, got {outcome!r}.")
    k: int = int(outcome)  # type: ignore[call-overload]  # is_whole checked it is an integer
    if not 0 <= k < n:
        raise error(f"Outcome {k} does not exist: this market has outcomes 0 to {n - 1}.")
    return k


def check_outcome_count(n: object, *, error: ErrorFactory = InvalidMarketInput) -> int:
    """The number of outcomes of a market: a whole number, at least 2."""
    if not is_whole(n):
        raise error(f"The number of outcomes must be an integer, got {n!r}.")
    count: int = int(n)  # type: ignore[call-overload]  # is_whole checked it is an integer
    if count < 2:
        raise error(f"A market needs at least two outcomes, got {count}.")
    return count


def check_real(
    x: object,
    name: str,
    *,
    positive: bool = False,
    limit: float | None = None,
    error: ErrorFactory = InvalidMarketInput,
) -> float:
    """A finite real number (optionally ``> 0``, optionally within ``±limit``).

    Args:
        x: the value.
        name: how the message names it, capitalised ("The liquidity b").
        positive: refuse ``x ≤ 0``.
        limit: refuse ``|x| > limit``.
        error: the exception to raise.

    Returns:
        ``float(x)``.

    Raises:
        error: "{name} must be a number, got …", "{name} must be a finite number, got …",
            "{name} must be positive, got …" or "{name} must be within ±limit, got …".
    """
    if not is_real(x):
        raise error(f"{name} must be a number, got {x!r}.")
    value = float(x)  # type: ignore[arg-type]  # is_real checked it is a number
    if not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {value}.")
    if positive and value <= 0.0:
        raise error(f"{name} must be positive, got {value}.")
    if limit is not None and abs(value) > limit:
        raise error(f"{name} must be within ±{limit:g}, got {value}.")
    return value


def check_vector(
    x: object, name: str, n: int | None = None, *, error: ErrorFactory = InvalidMarketInput
) -> npt.NDArray[np.float64]:
    """A flat vector of finite numbers, one per outcome, as a float64 array.

    Args:
        x: a sequence of numbers or a 1-d numpy array.
        name: how the message names it ("q", "The trade vector").
        n: the length required (None: at least two entries, a market's outcomes).
        error: the exception to raise.

    Raises:
        error: not a flat sequence of numbers, the wrong length, or a NaN or infinity.
    """
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise error(f"{name} must be a flat vector, got shape {x.shape}.")
        arr: npt.NDArray[Any] = x
    else:
        if isinstance(x, str | bytes) or not isinstance(x, Sequence):
            raise error(f"{name} must be a sequence of numbers, got {x!r}.")
        for v in x:
            if not is_real(v):
                raise error(f"{name} must contain only numbers, got {v!r}.")
        arr = np.asarray(x, dtype=np.float64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise error(f"{name} must contain only numbers, got an array of {arr.dtype}.")
    values = arr.astype(np.float64, copy=False)
    size = int(values.shape[0])
    if n is None and size < 2:
        raise error(f"A market needs at least two outcomes; {name} has {size} entries.")
    if n is not None and size != n:
        raise error(f"{name} has {size} entries but the market has {n} outcomes.")
    if not bool(np.isfinite(values).all()):
        raise error(f"{name} must contain only finite numbers (no NaN or inf).")
    return values
