"""The market streams of the audit log in the database: appending, heads, and the check of
the stored state against a replay.

Each branch market has its own stream ``market-<id>`` (`db.audit_chain`), whose head lives
on the market row (``market.audit_seq``, ``market.audit_hash``). Appending, always inside
the transaction of the change it records and after the change was validated:

1. hold the market row(s) locked, in id order (a split, merge or close takes every branch
   of the proposal, `lock_heads`; a trade, crank, decision or settlement already holds its
   rows, read with their heads);
2. seal each event from the head on its row (`db.audit_chain.seal`);
3. insert the events (`db.audit.insert_events`, one statement);
4. move each row's head to its event, in the UPDATE the change already does where there is
   one (a trade: `market.repository.record_trade_on_market`; ORM rows: the attributes set
   here, flushed with the change), else one UPDATE for the heads (`append`).

Lock order: proposal row, market rows in id order, account rows, and the governance head
last (`db.audit`). A split or merge locks its proposal's markets right after the proposal,
before any account row, so it never holds an account row a trade on one of those markets
is waiting for.

Reading: `market_heads` pages through the markets' heads, `stream_heads` lists every non-empty
stream's head (governance first, then markets by id), and `compare_with_database` checks the stored
balances, positions and market states against a replay of the log
(`market.audit_replay.ReplayedState`), naming the first that differs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, literal, select, tuple_, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from db import audit
from db.audit_chain import (
    GOVERNANCE,
    AuditMismatch,
    Disagreement,
    Event,
    Head,
    market_of_stream,
    market_stream,
    seal,
)
from db.paging import MAX_PAGE
from db.prepared import prepared
from market import repository as repo
from market.audit_replay import ReplayedState
from market.audit_verify import stream_order
from market.book import format_micros
from market.models import Market, as_int_list

MARKET = repo.MARKET

Entry = tuple[str, Mapping[str, Any]]
"""One event to append: ``(kind, data)``."""


# --- appending -----------------------------------------------------------------------------


def head_of(market: Any) -> Head:
    """The head of a market's stream as read with its row (ORM object or Core row with
    ``id``, ``audit_seq`` and ``audit_hash``)."""
    return Head(market_stream(int(market.id)), int(market.audit_seq), str(market.audit_hash))


def lock_heads(session: Session, proposal_id: int) -> list[Head]:
    """Lock the proposal's market rows in id order (``FOR NO KEY UPDATE``; SQLite's write
    transaction is already serial) and return their streams' heads, by market id.

    Take it right after the proposal's row lock and before any account row (see the module
    docstring). ``NO KEY``: a concurrent split's or merge's ledger rows only check their
    foreign key to the market (``FOR KEY SHARE``), which this does not block.
    """
    stmt = prepared(
        ("audit_lock_heads",),
        lambda: (
            select(MARKET.c.id, MARKET.c.audit_seq, MARKET.c.audit_hash)
            .where(MARKET.c.proposal_id == bindparam("proposal_id"))
            .order_by(MARKET.c.id)
            .with_for_update(key_share=True)
        ),
    )
    return [head_of(r) for r in session.execute(stmt, {"proposal_id": proposal_id})]


def append(session: Session, heads: Sequence[Head], entry: Entry, at: datetime) -> list[Event]:
    """Append the same ``(kind, data)`` to each stream of ``heads`` (locked by the caller
    with `lock_heads`), in their order: seal, insert, and move every head in one UPDATE.

    Returns the events, one per stream.
    """
    kind, data = entry
    events = [seal(head, kind, data, at) for head in heads]
    if not events:
        return []
    audit.insert_events(session, events)
    stmt = prepared(
        ("audit_move_market_heads",),
        lambda: (
            update(MARKET)
            .where(MARKET.c.id == bindparam("m_id"))
            .values(audit_seq=bindparam("m_seq"), audit_hash=bindparam("m_hash"))
        ),
    )
    rows = [{"m_id": market_of_stream(e.stream), "m_seq": e.seq, "m_hash": e.hash} for e in events]
    session.execute(stmt, rows)
    # a Market object this session loaded earlier now shows an old head: expire it (no I/O)
    for row in rows:
        loaded = session.identity_map.get(identity_key(Market, row["m_id"]))
        if loaded is not None:
            session.expire(loaded, ["audit_seq", "audit_hash"])
    return events


def append_to_markets(
    session: Session, markets: Sequence[Market], entries: Sequence[Entry], at: datetime
) -> list[Event]:
    """Append ``entries[i]`` to the stream of ``markets[i]`` (ORM rows the caller holds
    locked, freshly read): seal each from the head on its row, insert the events and set the
    new heads on the objects, which the caller's flush writes with its own changes.

    Returns the events, in the order given.
    """
    if len(markets) != len(entries):
        raise ValueError(f"{len(markets)} markets but {len(entries)} events to append")
    events = []
    for market, (kind, data) in zip(markets, entries, strict=True):
        event = seal(head_of(market), kind, data, at)
        market.audit_seq = event.seq
        market.audit_hash = event.hash
        events.append(event)
    audit.insert_events(session, events)
    return events


def seal_trade(row: Any, data: Mapping[str, Any], at: datetime) -> Event:
    """The ``trade`` event of a trade on the market of ``row`` (`market.repository.
    lock_market_for_trade`), sealed from the head read with the lock. The caller inserts it
    and moves the head in the trade's own market UPDATE."""
    return seal(head_of(row), "trade", data, at)


# --- reading -------------------------------------------------------------------------------


def market_heads(session: Session, after_id: int = 0, limit: int = MAX_PAGE) -> list[Head]:
    """The heads of the market streams of markets with ``id > after_id``, by id, at most
    ``limit`` (capped at `db.paging.MAX_PAGE`). A market with no event yet has head
    ``(0, GENESIS)``."""
    stmt = (
        select(MARKET.c.id, MARKET.c.audit_seq, MARKET.c.audit_hash)
        .where(MARKET.c.id > after_id)
        .order_by(MARKET.c.id)
        .limit(max(1, min(limit, MAX_PAGE)))
    )
    return [head_of(r) for r in session.execute(stmt)]


def stream_heads(session: Session) -> list[Head]:
    """Every non-empty stream's head, governance first then markets by id (one statement)."""
    heads = cast(Table, audit.AuditHead.__table__)
    market = cast(Table, Market.__table__)
    stmt = union_all(
        select(heads.c.stream, literal(0).label("market_id"), heads.c.seq, heads.c.hash).where(
            heads.c.seq > 0
        ),
        select(
            literal("").label("stream"),
            market.c.id.label("market_id"),
            market.c.audit_seq.label("seq"),
            market.c.audit_hash.label("hash"),
        ).where(market.c.audit_seq > 0),
    )
    found = [
        Head(row.stream or market_stream(row.market_id), int(row.seq), str(row.hash))
        for row in session.execute(stmt)
    ]
    return stream_order(found)


# --- checking the stored state against a replay --------------------------------------------


def _fail(stream: str, message: str) -> AuditMismatch:
    return AuditMismatch(Disagreement(stream, 0, message))


def _pages(
    session: Session, table: Table, keys: Sequence[str], columns: Sequence[str]
) -> Iterator[Any]:
    """Every row of ``table`` in key order, `MAX_PAGE` rows per query (keyset paging)."""
    key_columns = [table.c[k] for k in keys]
    stmt = select(*key_columns, *(table.c[c] for c in columns)).order_by(*key_columns)
    after: tuple[Any, ...] | None = None
    while True:
        page_stmt = stmt
        if after is not None:
            page_stmt = stmt.where(tuple_(*key_columns) > tuple_(*after))
        rows = session.execute(page_stmt.limit(MAX_PAGE)).all()
        yield from rows
        if len(rows) < MAX_PAGE:
            return
        after = tuple(getattr(rows[-1], k) for k in keys)


def _compare_amounts(
    what: str,
    stored: Iterator[tuple[Any, int]],
    replayed: Mapping[Any, int],
    stream_of: Any,
    describe: Any,
) -> None:
    """Compare stored non-zero amounts by key with the replayed ones, both ways."""
    seen = set()
    for key, value in stored:
        if value == 0:
            continue
        seen.add(key)
        expected = replayed.get(key, 0)
        if value != expected:
            raise _fail(
                stream_of(key),
                f"{describe(key)} is stored as {format_micros(value)} {what}, the replayed log "
                f"gives {format_micros(expected)}",
            )
    for key, expected in sorted(replayed.items()):
        if expected != 0 and key not in seen:
            raise _fail(
                stream_of(key),
                f"{describe(key)} is stored as 0 {what}, the replayed log gives "
                f"{format_micros(expected)}",
            )


def compare_with_database(session: Session, state: ReplayedState) -> None:
    """Check every stored market state, position, branch cash, stake, collateral and cash
    balance against the replay of the log; raise at the first that differs.

    Compared, in this order: each market's ``q``, maker cash, trade count, status and
    averaging state; each position; each account's conditional cash per branch; each stake
    (``Σ splits − Σ merges`` per account and proposal); each proposal's collateral; each
    account's cash. A market, position or balance the log does not derive (stored before
    the log began, or written around the services) differs from the replay and is named.

    Raises:
        AuditMismatch: naming the market's stream (``market-<id>``) or, for an account's
            cash, the governance stream, with the stored and the replayed values.
    """
    seen_markets = set()
    for row in _pages(
        session,
        MARKET,
        ["id"],
        [
            "proposal_id",
            "q_micros",
            "maker_cash_micros",
            "trade_count",
            "status",
            "twap_observation",
            "twap_observed_at",
            "twap_cum_weighted",
            "twap_window_start",
            "twap_last_live",
        ],
    ):
        market_id = int(row.id)
        stream = market_stream(market_id)
        seen_markets.add(market_id)
        snapshot = state.markets.get(market_id)
        if snapshot is None:
            raise _fail(stream, f"market {market_id} is stored but its stream never opened it")
        stored_twap = (
            row.twap_observation,
            row.twap_observed_at,
            row.twap_cum_weighted,
            row.twap_window_start,
            row.twap_last_live,
        )
        checks: list[tuple[str, Any, Any]] = [
            ("q (micro-shares per outcome)", tuple(as_int_list(row.q_micros)), snapshot.q_micros),
            ("maker cash (micro-units)", int(row.maker_cash_micros), snapshot.maker_cash_micros),
            ("trade count", int(row.trade_count), snapshot.trade_count),
            ("status", str(row.status), snapshot.status),
            (
                "averaging state",
                None
                if any(v is None for v in stored_twap)
                else tuple(float(v) for v in stored_twap),
                snapshot.twap,
            ),
        ]
        for what, stored, replayed in checks:
            if stored != replayed:
                raise _fail(
                    stream,
                    f"market {market_id}'s {what} is stored as {stored!r}, the replayed log "
                    f"gives {replayed!r}",
                )
    missing = sorted(set(state.markets) - seen_markets)
    if missing:
        raise _fail(
            market_stream(missing[0]),
            f"the log opens market {missing[0]}, which is not stored",
        )

    def market_of(key: tuple[int, ...]) -> str:
        return market_stream(key[1])

    _compare_amounts(
        "micro-shares",
        (
            ((int(r.account_id), int(r.market_id), int(r.outcome)), int(r.shares_micros))
            for r in _pages(
                session, repo.POSITION, ["account_id", "market_id", "outcome"], ["shares_micros"]
            )
        ),
        state.positions,
        market_of,
        lambda k: f"account {k[0]}'s position in outcome {k[2]} of market {k[1]}",
    )
    _compare_amounts(
        "of conditional cash",
        (
            ((int(r.account_id), int(r.market_id)), int(r.cash_micros))
            for r in _pages(session, repo.BRANCH_CASH, ["account_id", "market_id"], ["cash_micros"])
        ),
        state.branch_cash,
        market_of,
        lambda k: f"account {k[0]}'s conditional cash in market {k[1]}",
    )
    first_market = _first_markets(state)
    _compare_amounts(
        "of deposit",
        (
            ((int(r.account_id), int(r.proposal_id)), int(r.deposit_micros))
            for r in _pages(session, repo.STAKE, ["account_id", "proposal_id"], ["deposit_micros"])
        ),
        state.stakes,
        lambda k: _proposal_stream(first_market, k[1]),
        lambda k: f"account {k[0]}'s stake in proposal {k[1]}",
    )
    _compare_amounts(
        "of collateral",
        (
            (int(r.id), int(r.collateral_micros))
            for r in _pages(session, repo.PROPOSAL, ["id"], ["collateral_micros"])
        ),
        state.collateral,
        lambda k: _proposal_stream(first_market, k),
        lambda k: f"proposal {k}'s collateral",
    )
    _compare_amounts(
        "of cash",
        (
            (int(r.account_id), int(r.cash_micros))
            for r in _pages(session, repo.CASH, ["account_id"], ["cash_micros"])
        ),
        state.cash,
        lambda _k: GOVERNANCE,
        lambda k: f"account {k}'s cash",
    )


def _first_markets(state: ReplayedState) -> dict[int, int]:
    first: dict[int, int] = {}
    for market_id, snapshot in state.markets.items():
        current = first.get(snapshot.proposal_id)
        if current is None or market_id < current:
            first[snapshot.proposal_id] = market_id
    return first


def _proposal_stream(first_market: Mapping[int, int], proposal_id: int) -> str:
    """The stream that carries a proposal's splits and merges first (its first market's),
    or the governance stream (which created it) when it has no market in the replay."""
    market_id = first_market.get(proposal_id)
    return GOVERNANCE if market_id is None else market_stream(market_id)
