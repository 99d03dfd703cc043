"""Every query the policy-decision report runs, as ``select()`` functions.

None of them loads a whole trade history into memory. The per-branch totals (trades,
volume, distinct traders, the largest trader's volume, net cash) are SQL aggregates over
the ``(market_id, id)`` index; the price path is read a page at a time (`trade_pages`), so
the report holds one page (at most `db.paging.MAX_PAGE` rows) plus what it keeps of it
(the downsampled series), whatever the length of the history.

``market.repository.trades_of_market`` reads ``(id, created_at, prices_after)`` as Python
objects; the report also needs each trade's cash (its volume) and reads a hundred thousand
trades within its time budget, so it pages the same index itself and decodes each page
in bulk into numpy arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Double, String, Text, cast, extract, func, select, type_coerce
from sqlalchemy.orm import Session

from db.paging import MAX_PAGE
from market import repository as repo

TRADE = repo.TRADE
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PAGE: int = MAX_PAGE
"""Rows per page of `trade_pages` (`db.paging.MAX_PAGE`)."""


@dataclass(frozen=True)
class MarketTotals:
    """Totals of one market's trades (micro-units; counts).

    Attributes:
        trades: trades executed.
        volume_micros: ``Σ |cash|``: cash that changed hands with the maker, buys and sales.
        net_cash_micros: ``Σ cash``: what traders paid the maker net (sales negative).
        traders: distinct accounts that traded.
        top_trader_id: the account with the largest ``Σ |cash|`` (ties: the lowest id), or
            None without trades.
        top_trader_volume_micros: its ``Σ |cash|``.
    """

    trades: int
    volume_micros: int
    net_cash_micros: int
    traders: int
    top_trader_id: int | None
    top_trader_volume_micros: int


EMPTY = MarketTotals(0, 0, 0, 0, None, 0)


def market_totals(session: Session, market_ids: Sequence[int]) -> dict[int, MarketTotals]:
    """`MarketTotals` of each market (markets without trades get `EMPTY`).

    Two aggregate statements per market at most: one ``GROUP BY market_id`` for all of
    them, and one ``GROUP BY account_id … ORDER BY volume DESC LIMIT 1`` per traded market.
    """
    t = TRADE.c
    totals: dict[int, MarketTotals] = dict.fromkeys(market_ids, EMPTY)
    if not market_ids:
        return totals
    rows = session.execute(
        select(
            t.market_id,
            func.count(),
            func.coalesce(func.sum(func.abs(t.cash_micros)), 0),
            func.coalesce(func.sum(t.cash_micros), 0),
            func.count(func.distinct(t.account_id)),
        )
        .where(t.market_id.in_(list(market_ids)))
        .group_by(t.market_id)
    ).all()
    for market_id, count, volume, net, traders in rows:
        volume_by_account = func.sum(func.abs(t.cash_micros))
        top = session.execute(
            select(t.account_id, volume_by_account)
            .where(t.market_id == market_id)
            .group_by(t.account_id)
            .order_by(volume_by_account.desc(), t.account_id)
            .limit(1)
        ).one()
        totals[int(market_id)] = MarketTotals(
            trades=int(count),
            volume_micros=int(volume),
            net_cash_micros=int(net),
            traders=int(traders),
            top_trader_id=int(top[0]),
            top_trader_volume_micros=int(top[1] or 0),
        )
    return totals


@dataclass(frozen=True)
class TradePage:
    """One page of a market's trades, oldest first, as arrays (one entry per trade).

    Attributes:
        times: when each trade executed, seconds since the Unix epoch (float64).
        cash_micros: what each trade paid the maker (int64; sales negative).
        prices: the prices after each trade, one row per trade (float64, trades × outcomes).
    """

    times: FloatArray
    cash_micros: IntArray
    prices: FloatArray


def _epoch_seconds(session: Session) -> Any:
    """``trade.created_at`` as the database hands it over fastest: PostgreSQL computes the
    Unix time itself; SQLite hands over its stored text (naive UTC, ISO 8601), which
    `_seconds` parses in one vectorised step (no datetime object per row)."""
    t = TRADE.c
    if session.get_bind().dialect.name == "postgresql":
        return cast(extract("epoch", t.created_at), Double)
    return type_coerce(t.created_at, String)


def _seconds(values: Sequence[Any]) -> FloatArray:
    if values and isinstance(values[0], str):
        instants = np.array(values, dtype="datetime64[us]")  # naive UTC text, as stored
        seconds: FloatArray = instants.astype(np.int64) / 1e6
        return seconds
    return np.asarray(values, dtype=np.float64)


def trade_pages(
    session: Session, market_id: int, n_outcomes: int, *, page_size: int | None = None
) -> Iterator[TradePage]:
    """A market's trades, oldest first, a `TradePage` at a time.

    Keyset paging on the ``(market_id, id)`` index (``id > last id seen``), so each page is
    one range scan of at most ``page_size`` rows (default `PAGE`, capped at `MAX_PAGE`) and
    only one page is held at once. Each page is decoded in bulk: the prices' JSON texts in
    one ``json.loads``, the times in one numpy conversion, never a Python object per value.
    """
    t = TRADE.c
    size = max(1, min(PAGE if page_size is None else page_size, MAX_PAGE))
    when = _epoch_seconds(session)
    after = 0
    while True:
        rows = session.execute(
            select(t.id, when, t.cash_micros, cast(t.prices_after, Text))
            .where(t.market_id == market_id, t.id > after)
            .order_by(t.id)
            .limit(size)
        ).all()
        if not rows:
            return
        ids, times, cash, prices = zip(*rows, strict=True)
        yield TradePage(
            times=_seconds(times),
            cash_micros=np.asarray(cash, dtype=np.int64),
            prices=np.asarray(json.loads("[" + ",".join(prices) + "]"), dtype=np.float64).reshape(
                len(rows), n_outcomes
            ),
        )
        if len(rows) < size:
            return
        after = int(ids[-1])
