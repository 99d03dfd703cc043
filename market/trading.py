"""Trading: quote and execute buys and sells against a branch market's LMSR maker.

A trade in branch ``j`` pays with, and is paid in, branch ``j``'s conditional cash:

- buy ``s`` micro-shares of outcome ``k``: the trader pays ``c = ⌈C(q + s·e_k) − C(q)⌉``
  (`market.book.quote_buy`: the exact cost rounded up, in the maker's favour), gets ``s``
  shares;
- buy by spend ``x``: the most shares whose charge is at most ``x`` (`quote_spend`);
- sell ``s``: the trader gives back ``s`` shares held and is paid
  ``⌊C(q) − C(q − s·e_k)⌋`` (rounded down).

Pricing is the pure trade step `market.trade_step.step` (book + order → quote, next book,
ledger legs); this module locks, checks balances with conditional UPDATEs and persists.

`execute` runs, inside the caller's transaction, in this order (a handful of round trips,
none of which reads past trades, so a trade costs the same after a million trades)::

    1. SELECT market.…, its audit head, proposal's terms FROM market JOIN proposal
           WHERE id = :m FOR NO KEY UPDATE OF market        lock the market row first
    2. buy:  UPDATE branch_cash SET cash = cash − c, spent = spent + c
                 WHERE … AND cash >= c [AND cash − c >= M · (spent + c)] RETURNING cash
       sell: UPDATE position SET shares = shares − s WHERE … AND shares >= s RETURNING shares
    3. buy:  INSERT … ON CONFLICT DO UPDATE position (+s) RETURNING shares
       sell: INSERT … ON CONFLICT DO UPDATE branch_cash (cash + p, spent − p) RETURNING cash
    4. INSERT trade (with the prices after it: the price history) RETURNING id
    5. UPDATE market SET q = :q_after, maker_cash = maker_cash + c, trade_count + 1,
           twap_* = the averaging state advanced to now,
           audit_seq, audit_hash = the head after the trade's event
    6. INSERT audit_event (the ``trade`` event, sealed from the head read in step 1)
    7. INSERT ledger entries (branch j: account −c, maker +c)

Step 1 reads the proposal's immutable terms (asset, decision rule, ``decides_at``, the
number of branches) by a join, without locking the proposal row. Step 5 advances the
branch's capped time-weighted average in the same UPDATE (`market.branch.after_trade`):
the state from step 1 moved to the trade's time with the expected welfare after the trade,
computed in Python in O(1). Steps 1, 5 and 6 keep the market's audit stream
(`market.audit_trail`, docs/audit.md): the ``trade`` event carries the order and
everything the trade stored (``q``, prices, maker cash and trade count after, the trader's
branch cash and position after, the averaging state), so a verifier requotes it.

With ipw exploration (``ε > 0``) step 2 also holds the margin
``cash_after ≥ M · spent_after``, ``M = (K + 1)/ε − 1`` (`market.decision.margin_multiple`),
else the buy is refused with `market.errors.InsufficientMargin`.

A trade never locks or references the proposal row (see the comment in `execute`), and its
market lock is ``NO KEY`` (see `market.repository.lock_market_for_trade`), so splits,
merges and closes, which lock the proposal first and check foreign keys to the market with
``FOR KEY SHARE``, cannot deadlock with it.

Step 2 is a conditional update: when the trader lacks the cash or the shares it changes no
row and the trade is refused (`InsufficientFunds` / `InsufficientShares`) before anything
was written. On PostgreSQL the market row lock serialises trades on one market; on SQLite
the whole write transaction is serialised (``BEGIN IMMEDIATE``). Locking order everywhere:
proposal, market, then account rows.

Invariants kept (checked by `market.conservation`): ``q`` equals the sum of the market's
trades' share deltas and of all positions; each account's ``spent`` in a branch equals the
sum of its trades' cash there; ``maker cash = F + Σ trade cash ≥ F − b ln n``;
no balance is ever negative; every TRADE ledger operation sums to zero. Step 7 is one
INSERT (`market.ledger.post`; none for a sale that pays nothing), so a trade is seven
statements in all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from db.audit import insert_events
from db.types import utcnow
from market import audit_trail
from market import repository as repo
from market.book import Book, Quote, format_micros
from market.branch import after_trade, state_of, twap_list
from market.deciding import MarketTerms, terms_of_row
from market.decision import TwapState
from market.errors import (
    InsufficientFunds,
    InsufficientMargin,
    InsufficientShares,
    InvalidMarketInput,
    MarketClosed,
)
from market.ledger import Holder, Leg, OperationKind, post
from market.models import Market, MarketStatus, as_int_list
from market.trade_step import Order as Order  # re-exported: callers import it from here
from market.trade_step import Side as Side
from market.trade_step import Step, check_order, step


@dataclass(frozen=True)
class TradeQuote:
    """A priced order against the market's current state (nothing changed).

    Attributes:
        market_id, proposal_id, branch_index: where.
        outcome, outcome_name: what.
        side: buy or sell.
        shares_micros: micro-shares traded (> 0).
        cash_micros: micro-units the trader pays (buy, > 0) or receives (sell, ≥ 0).
        average_price_micros: ``cash · 1e6 / shares``, micro-units per whole share,
            rounded up for buys and down for sells (against the trader, like the cash).
        prices_before, prices_after: the market's prices (probabilities) around the trade.
    """

    market_id: int
    proposal_id: int
    branch_index: int
    outcome: int
    outcome_name: str
    side: Side
    shares_micros: int
    cash_micros: int
    average_price_micros: int
    prices_before: tuple[float, ...]
    prices_after: tuple[float, ...]


@dataclass(frozen=True)
class TradeResult(TradeQuote):
    """An executed trade: its quote plus what it left behind.

    Attributes:
        trade_id: the stored trade's id.
        branch_cash_after_micros: the trader's conditional cash in this branch afterwards.
        position_after_micros: the trader's shares of this outcome afterwards.
        created_at: when the trade was stored (UTC).
    """

    trade_id: int
    branch_cash_after_micros: int
    position_after_micros: int
    created_at: datetime


@dataclass(frozen=True)
class PricePoint:
    """The market's prices right after one trade (probabilities, one per outcome)."""

    trade_id: int
    at: datetime
    prices: tuple[float, ...]


def _check_open(row: Any, now: datetime) -> None:
    """Refuse unless the market is open and ``opens_at ≤ now < closes_at``."""
    if row.status != MarketStatus.OPEN:
        raise MarketClosed(f"market {row.id} is {row.status}; it no longer trades")
    if now < row.opens_at:
        raise MarketClosed(
            f"market {row.id} does not trade yet: its trading window opens at "
            f"{row.opens_at.isoformat()}"
        )
    if now >= row.closes_at:
        raise MarketClosed(
            f"market {row.id} no longer trades: its trading window closed at "
            f"{row.closes_at.isoformat()}"
        )


def _price(row: Any, order: Order, now: datetime) -> tuple[TradeQuote, Step]:
    """Price an order against a market row (locked or not); raises before any change."""
    check_order(order)
    _check_open(row, now)
    done = step(Book(tuple(as_int_list(row.q_micros)), int(row.b_micros)), order)
    q = done.quote
    tq = TradeQuote(
        market_id=int(row.id),
        proposal_id=int(row.proposal_id),
        branch_index=int(row.branch_index),
        outcome=done.outcome,
        outcome_name=str(list(row.outcomes)[done.outcome]),
        side=done.side,
        shares_micros=done.shares_micros,
        cash_micros=done.cash_micros,
        average_price_micros=done.average_price_micros,
        prices_before=q.prices_before,
        prices_after=q.prices_after,
    )
    return tq, done


def quote(
    session: Session, market_id: int, order: Order, *, now: datetime | None = None
) -> TradeQuote:
    """Price an order without changing anything (no lock, no write).

    Args:
        market_id: the branch market.
        order: what to trade.
        now: the instant to check the trading window against (default: now, UTC).

    Raises:
        UnknownMarket: no such market.
        MarketClosed: the market is closed or settled, or ``now`` is outside its window.
        InvalidMarketInput: a bad outcome, amount, side or spend on a sale.
        PriceLimitExceeded: the quote breaks the order's limit.
    """
    row = repo.read_market_for_quote(session, market_id)
    tq, _ = _price(row, order, utcnow() if now is None else now)
    return tq


def execute(
    session: Session,
    account_id: int,
    market_id: int,
    order: Order,
    *,
    now: datetime | None = None,
) -> TradeResult:
    """Execute an order for an account: lock the market row, then the account's rows.

    Writes the market's ``q``, maker cash and trade count, the trader's branch cash and
    position, one `Trade` row (with the prices after it) and one TRADE ledger operation
    (``branch j: account −c, maker +c``; ``c < 0`` for a sale). Flushes only; a refusal
    raises before any row changed.

    Raises:
        UnknownMarket, MarketClosed, InvalidMarketInput, PriceLimitExceeded: as `quote`.
        InsufficientFunds: a buy costs more than the trader's conditional cash in this
            branch.
        InsufficientMargin: with ipw exploration, a buy that would leave less conditional
            cash in the branch than ``M`` times the net spend there.
        InsufficientShares: a sale of more shares than the trader holds.
    """
    row = repo.lock_market_for_trade(session, market_id)
    # the clock is read under the market lock, so trades of one market are stamped in the
    # order they commit: id order is time order
    at = utcnow() if now is None else now
    tq, done = _price(row, order, at)
    q = done.quote
    terms = terms_of_row(row)
    k, proposal_id = tq.outcome, tq.proposal_id
    where = f"in branch {tq.branch_index} of proposal {proposal_id}"
    if tq.side is Side.BUY:
        branch_cash = repo.take_branch_cash(
            session, account_id, market_id, tq.cash_micros, margin=terms.margin
        )
        if branch_cash is None:
            _refuse_buy(session, account_id, tq, terms, where)
        position = repo.add_shares(session, account_id, market_id, k, tq.shares_micros)
    else:
        taken = repo.take_shares(session, account_id, market_id, k, tq.shares_micros)
        if taken is None:
            held = repo.shares_in(session, account_id, market_id, k)
            raise InsufficientShares(
                f"cannot sell {format_micros(tq.shares_micros)} shares of {tq.outcome_name} "
                f"{where}: you hold only {format_micros(held)}"
            )
        position = taken
        branch_cash = repo.add_branch_cash(
            session, account_id, market_id, proposal_id, tq.cash_micros
        )
    twap = _averaged(row, terms, tq, at)
    trade_id = repo.insert_trade(
        session,
        {
            "market_id": market_id,
            "account_id": account_id,
            "outcome": k,
            "shares_micros": q.delta_micros[k],
            "cash_micros": q.cash_micros,
            "prices_after": list(q.prices_after),
            "created_at": at,
        },
    )
    event = audit_trail.seal_trade(
        row,
        trade_event(
            trade_id=trade_id,
            account_id=account_id,
            order=order,
            quote=q,
            branch_cash_after=branch_cash,
            position_after=position,
            maker_cash_after=int(row.maker_cash_micros) + q.cash_micros,
            trade_count_after=int(row.trade_count) + 1,
            twap=twap,
        ),
        at,
    )
    repo.record_trade_on_market(
        session, market_id, q.q_after_micros, q.cash_micros, twap, event.head
    )
    insert_events(session, [event])
    # a Market object this session loaded earlier now shows old values: expire it (no I/O)
    loaded = session.identity_map.get(identity_key(Market, market_id))
    if loaded is not None:
        session.expire(loaded)
    # The legs name the market, not the proposal: a ledger row naming the proposal makes
    # PostgreSQL check that foreign key with FOR KEY SHARE on the proposal row, which a
    # concurrent split, merge or close holds FOR UPDATE while it waits for this trade's
    # rows: a deadlock. So a trade never touches the proposal row.
    post(
        session,
        OperationKind.TRADE,
        [
            Leg(
                Holder(leg.holder),
                leg.amount_micros,
                market_id,
                account_id=account_id if leg.holder == "account" else None,
            )
            for leg in done.legs
        ],
    )
    return TradeResult(
        **{f.name: getattr(tq, f.name) for f in fields(TradeQuote)},
        trade_id=trade_id,
        branch_cash_after_micros=branch_cash,
        position_after_micros=position,
        created_at=at,
    )


def trade_event(
    *,
    trade_id: int,
    account_id: int,
    order: Order,
    quote: Quote,
    branch_cash_after: int,
    position_after: int,
    maker_cash_after: int,
    trade_count_after: int,
    twap: TwapState | None,
) -> dict[str, Any]:
    """The ``data`` of a ``trade`` event (docs/audit.md, "Market streams"): the order as
    given (outcome, side, shares or spend) and everything the trade stored, so a verifier
    requotes it from the book and compares."""
    k = order.outcome
    return {
        "trade_id": trade_id,
        "account": account_id,
        "outcome": k,
        "side": Side(order.side).value,
        "spend_micros": order.spend_micros,
        "shares_micros": quote.delta_micros[k],
        "cash_micros": quote.cash_micros,
        "q_micros": list(quote.q_after_micros),
        "prices": list(quote.prices_after),
        "maker_cash_micros": maker_cash_after,
        "trade_count": trade_count_after,
        "branch_cash_micros": branch_cash_after,
        "position_micros": position_after,
        "twap": twap_list(twap),
    }


def _refuse_buy(
    session: Session, account_id: int, tq: TradeQuote, terms: MarketTerms, where: str
) -> NoReturn:
    """Raise why a buy's conditional UPDATE changed nothing (a read on the refusal path)."""
    held, spent = repo.branch_cash_and_spent(session, account_id, tq.market_id)
    if held < tq.cash_micros or terms.margin is None or terms.rule is None:
        raise InsufficientFunds(
            f"buying {format_micros(tq.shares_micros)} shares of {tq.outcome_name} costs "
            f"{format_micros(tq.cash_micros)} but you hold only {format_micros(held)} of "
            f"conditional cash {where}; split more cash into the proposal first"
        )
    spent_after = spent + tq.cash_micros
    needed = math.ceil(terms.margin * spent_after)
    raise InsufficientMargin(
        f"insufficient margin: with ipw exploration (ε = {terms.rule.epsilon:g}) losses in "
        f"the executed branch are scaled by up to {terms.margin + 1:g}, so the conditional "
        f"cash you keep {where} must cover {terms.margin:g} × your net spend there; after "
        f"this buy of {format_micros(tq.cash_micros)} you would have spent "
        f"{format_micros(spent_after)} and kept {format_micros(held - tq.cash_micros)} where "
        f"{format_micros(needed)} is needed; split more cash into the proposal or buy less"
    )


def _averaged(row: Any, terms: MarketTerms, tq: TradeQuote, at: datetime) -> TwapState | None:
    """The market's averaging state after the trade (None: the proposal has no rule)."""
    if terms.rule is None or terms.decides_at is None:
        return None
    return after_trade(
        terms.rule,
        terms.decides_at,
        terms.asset,
        state_of(row),
        at.timestamp(),
        tq.prices_before,
        tq.prices_after,
    )


def price_history(
    session: Session, market_id: int, *, after_id: int = 0, limit: int = 100
) -> list[PricePoint]:
    """The market's prices after each trade, oldest first, for trades with ``id > after_id``.

    Pages through the ``(market_id, id)`` index; at most ``limit`` points (capped at
    `market.repository.MAX_PAGE`). The prices before the first trade are uniform.

    Raises:
        UnknownMarket: no such market.
        InvalidMarketInput: a non-positive limit or a negative ``after_id``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise InvalidMarketInput(f"the page size must be a positive whole number, got {limit!r}")
    if isinstance(after_id, bool) or not isinstance(after_id, int) or after_id < 0:
        raise InvalidMarketInput(f"after_id must be a non-negative whole number, got {after_id!r}")
    repo.get_market(session, market_id)
    rows = repo.trades_of_market(session, market_id, after_id=after_id, limit=limit)
    return [
        PricePoint(
            trade_id=int(r.id), at=r.created_at, prices=tuple(float(p) for p in r.prices_after)
        )
        for r in rows
    ]
