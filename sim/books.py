"""The branch markets of a block of runs, on the service's batch engine.

``M = B · R`` markets (branch-major: market ``j · R + r`` is branch ``j`` of run ``r``),
each an LMSR with ``n`` outcomes and the service's liquidity. Two engines, one interface:

- `ExactBooks`: integer micro-shares and micro-units, every purchase priced by
  `market.batch.batch_spend`: exactly the shares and the charge ``⌈c⌉`` the service's
  `market.book.quote_spend` gives for the same book and spend (so P&L and the maker's
  loss are exact to the micro-unit);
- `FastBooks`: `market.batch.FloatBooks`, the batch engine's float fast mode (spends are
  paid in full, shares are the float inverse of the cost; about 15 digits).

Both take spends in micro-units (floats) and return what was bought and paid.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from market.batch import FloatBooks, batch_prices, batch_spend
from sim.world import FloatArray, IntArray


class Books(Protocol):
    """Many branch markets stepped together."""

    b_micros: int

    def prices(self) -> FloatArray:
        """Prices, outcomes first, ``(n, M)``."""
        ...

    def buy(self, outcome: IntArray, spend_micros: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Spend up to ``spend_micros[m]`` on ``outcome[m]`` in every market.

        Returns:
            ``(shares, paid)`` per market, micro-shares and micro-units; 0 where nothing
            was bought. ``paid ≤ spend`` always.
        """
        ...

    def holdings_dtype(self) -> type[np.generic]:
        """The dtype holdings are kept in (int64 exact, float64 fast)."""
        ...


class ExactBooks:
    """Integer books priced exactly by `batch_spend` (see the module docstring)."""

    def __init__(self, n: int, markets: int, b_micros: int) -> None:
        self.b_micros = b_micros
        self.q = np.zeros((markets, n), dtype=np.int64)
        self.b = np.full(markets, b_micros, dtype=np.int64)

    def prices(self) -> FloatArray:
        result: FloatArray = batch_prices(self.q, self.b).T
        return result

    def buy(self, outcome: IntArray, spend_micros: FloatArray) -> tuple[FloatArray, FloatArray]:
        spend = np.floor(spend_micros).astype(np.int64)
        rows = np.flatnonzero(spend >= 1)
        shares = np.zeros(spend.shape[0], dtype=np.float64)
        paid = np.zeros(spend.shape[0], dtype=np.float64)
        if rows.size:
            quote = batch_spend(self.q[rows], self.b[rows], outcome[rows], spend[rows])
            self.q[rows] = quote.q_after_micros
            shares[rows] = quote.shares_micros
            paid[rows] = quote.cash_micros
        return shares, paid

    def holdings_dtype(self) -> type[np.generic]:
        return np.int64


class FastBooks:
    """Float books of the batch engine's fast mode (see the module docstring)."""

    def __init__(self, n: int, markets: int, b_micros: int) -> None:
        self.b_micros = b_micros
        self.books = FloatBooks(n, np.full(markets, float(b_micros)))

    def prices(self) -> FloatArray:
        return self.books.prices()

    def buy(self, outcome: IntArray, spend_micros: FloatArray) -> tuple[FloatArray, FloatArray]:
        spend = np.where(spend_micros >= 1.0, spend_micros, 0.0)
        shares = self.books.buy_with(outcome, spend)
        return shares, spend

    def holdings_dtype(self) -> type[np.generic]:
        return np.float64


def books_for(engine: str, n: int, markets: int, b_micros: int) -> Books:
    """The books of an engine (``"exact"`` or ``"fast"``)."""
    if engine == "exact":
        return ExactBooks(n, markets, b_micros)
    return FastBooks(n, markets, b_micros)


def worst_case_micros(b_micros: int, n: int) -> float:
    """The LMSR's bound on the maker's loss, ``b ln n`` micro-units."""
    return b_micros * math.log(n)
