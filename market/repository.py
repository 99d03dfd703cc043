"""Every query of the trading service, as ``select()`` / ``update()`` / upsert functions.

The hot path (a trade) uses Core statements on the tables: each call below is one round
trip, with ``RETURNING`` instead of a read-then-write, and conditional updates
(``… WHERE cash_micros >= :amount``) so a balance can never be driven below zero even
before the CHECK constraints would refuse it. None of them scans past trades.

Locking order, everywhere: proposal row, then market row, then account rows (cash, then
branch cash in market-id order, then positions, then the account's stake in the proposal,
which only a holder of the proposal's row lock writes). Trades lock only their market row
(``SELECT … FOR NO KEY UPDATE``, see `lock_market_for_trade`; on SQLite the whole write is
serialised by ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.paging import MAX_PAGE
from db.prepared import prepared
from market.errors import UnknownMarket, UnknownProposal
from market.models import BranchCash, CashBalance, Market, Position, Proposal, Trade
from market.settlement_models import Stake

CASH = cast(Table, CashBalance.__table__)
BRANCH_CASH = cast(Table, BranchCash.__table__)
POSITION = cast(Table, Position.__table__)
MARKET = cast(Table, Market.__table__)
PROPOSAL = cast(Table, Proposal.__table__)
TRADE = cast(Table, Trade.__table__)
STAKE = cast(Table, Stake.__table__)


# --- generic helpers -----------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session, table: Table) -> Any:
    """The dialect's ``INSERT`` construct (both have ``on_conflict_do_update``)."""
    if _dialect(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _upsert_add(
    session: Session,
    table: Table,
    keys: dict[str, Any],
    column: str,
    amount: int,
    extra: dict[str, Any] | None = None,
) -> int:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET column = column + amount RETURNING column``.

    One round trip on SQLite and PostgreSQL; returns the new value.
    """
    values = {**keys, **(extra or {}), column: amount}

    def build() -> Any:
        stmt = _insert(session, table).values({name: bindparam(f"p_{name}") for name in values})
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={column: table.c[column] + stmt.excluded[column]}
        ).returning(table.c[column])

    stmt = prepared(("upsert_add", _dialect(session), table.name, tuple(values), column), build)
    params = {f"p_{name}": value for name, value in values.items()}
    return int(session.execute(stmt, params).scalar_one())


def _take(
    session: Session, table: Table, keys: dict[str, Any], column: str, amount: int
) -> int | None:
    """``UPDATE … SET column = column − amount WHERE keys AND column ≥ amount RETURNING column``.

    Returns the new value, or None when the row is missing or holds less than ``amount``
    (nothing changed then).
    """

    def build() -> Any:
        return (
            update(table)
            .where(
                *(table.c[k] == bindparam(f"w_{k}") for k in keys),
                table.c[column] >= bindparam("w_amount"),
            )
            .values({column: table.c[column] - bindparam("w_amount")})
            .returning(table.c[column])
        )

    stmt = prepared(("take", table.name, tuple(keys), column), build)
    params = {f"w_{k}": v for k, v in keys.items()} | {"w_amount": amount}
    value = session.execute(stmt, params).scalar_one_or_none()
    return None if value is None else int(value)


# --- cash ----------------------------------------------------------------------------------


def cash_of(session: Session, account_id: int) -> int:
    """Unconditional cash of an account, micro-units (0 when it never held any)."""
    value = session.scalar(select(CASH.c.cash_micros).where(CASH.c.account_id == account_id))
    return 0 if value is None else int(value)


def add_cash(session: Session, account_id: int, amount_micros: int) -> int:
    """Add (``amount ≥ 0``) to an account's cash; returns the new balance."""
    return _upsert_add(session, CASH, {"account_id": account_id}, "cash_micros", amount_micros)


def take_cash(session: Session, account_id: int, amount_micros: int) -> int | None:
    """Take ``amount`` from an account's cash if it holds that much; new balance or None."""
    return _take(session, CASH, {"account_id": account_id}, "cash_micros", amount_micros)


# --- proposals and markets -----------------------------------------------------------------


def get_proposal(session: Session, proposal_id: int, *, for_update: bool = False) -> Proposal:
    """The proposal, optionally locked; `UnknownProposal` if there is none."""
    stmt = select(Proposal).where(Proposal.id == proposal_id)
    if for_update:
        stmt = stmt.with_for_update()
    proposal = session.scalar(stmt)
    if proposal is None:
        raise UnknownProposal(f"no proposal with id {proposal_id}")
    return proposal


def list_proposals(
    session: Session, *, status: str | None = None, after_id: int = 0, limit: int = 100
) -> Sequence[Proposal]:
    """Proposals by id, ``id > after_id``, at most ``limit`` (capped at `MAX_PAGE`)."""
    stmt = select(Proposal).where(Proposal.id > after_id)
    if status is not None:
        stmt = stmt.where(Proposal.status == status)
    stmt = stmt.order_by(Proposal.id).limit(min(limit, MAX_PAGE))
    return session.scalars(stmt).all()


def markets_of(session: Session, proposal_ids: Sequence[int]) -> Sequence[Market]:
    """The markets of these proposals, by proposal then branch."""
    if not proposal_ids:
        return []
    stmt = (
        select(Market)
        .where(Market.proposal_id.in_(proposal_ids))
        .order_by(Market.proposal_id, Market.branch_index)
    )
    return session.scalars(stmt).all()


def get_market(session: Session, market_id: int) -> Market:
    """The market; `UnknownMarket` if there is none."""
    market = session.get(Market, market_id)
    if market is None:
        raise UnknownMarket(f"no market with id {market_id}")
    return market


def list_markets(
    session: Session, *, proposal_id: int | None = None, after_id: int = 0, limit: int = 100
) -> Sequence[Market]:
    """Markets by id, optionally of one proposal."""
    stmt = select(Market).where(Market.id > after_id)
    if proposal_id is not None:
        stmt = stmt.where(Market.proposal_id == proposal_id)
    return session.scalars(stmt.order_by(Market.id).limit(min(limit, MAX_PAGE))).all()


def _market_for_trade() -> Any:
    return select(
        MARKET.c.id,
        MARKET.c.proposal_id,
        MARKET.c.branch_index,
        MARKET.c.outcomes,
        MARKET.c.q_micros,
        MARKET.c.b_micros,
        MARKET.c.status,
        MARKET.c.opens_at,
        MARKET.c.closes_at,
    ).where(MARKET.c.id == bindparam("market_id"))


def lock_market_for_trade(session: Session, market_id: int) -> Any:
    """The columns a trade needs, with the market row locked (``FOR NO KEY UPDATE``).

    ``NO KEY``: trades still exclude each other, but rows of other tables that merely
    reference the market (a split's or merge's ledger entries and branch cash) check their
    foreign key with ``FOR KEY SHARE``, which a plain ``FOR UPDATE`` would block. A merge
    holding the account's branch-cash rows would then wait for the trade while the trade
    waits for those rows: a deadlock (seen under concurrent trades and merges on PG).

    Raises:
        UnknownMarket: no such market.
    """
    stmt = prepared(
        ("lock_market_for_trade",), lambda: _market_for_trade().with_for_update(key_share=True)
    )
    row = session.execute(stmt, {"market_id": market_id}).one_or_none()
    if row is None:
        raise UnknownMarket(f"no market with id {market_id}")
    return row


def read_market_for_quote(session: Session, market_id: int) -> Any:
    """The same columns as `lock_market_for_trade`, without a lock (quotes change nothing)."""
    stmt = prepared(("read_market_for_quote",), _market_for_trade)
    row = session.execute(stmt, {"market_id": market_id}).one_or_none()
    if row is None:
        raise UnknownMarket(f"no market with id {market_id}")
    return row


def record_trade_on_market(
    session: Session, market_id: int, q_after: Sequence[int], cash_micros: int
) -> None:
    """Set the market's ``q``, add the trade's cash to the maker, count the trade."""
    stmt = prepared(
        ("record_trade_on_market",),
        lambda: (
            update(MARKET)
            .where(MARKET.c.id == bindparam("m_id"))
            .values(
                q_micros=bindparam("m_q", type_=MARKET.c.q_micros.type),
                maker_cash_micros=MARKET.c.maker_cash_micros + bindparam("m_cash"),
                trade_count=MARKET.c.trade_count + 1,
            )
        ),
    )
    session.execute(stmt, {"m_id": market_id, "m_q": list(q_after), "m_cash": cash_micros})


# --- branch cash and positions -------------------------------------------------------------


def add_branch_cash(
    session: Session, account_id: int, market_id: int, proposal_id: int, amount_micros: int
) -> int:
    """Pay a sale's proceeds (``amount ≥ 0``) into an account's conditional cash in one
    branch: ``cash += amount`` and ``spent −= amount`` (one upsert); returns the new cash."""

    def build() -> Any:
        stmt = _insert(session, BRANCH_CASH).values(
            account_id=bindparam("b_account"),
            market_id=bindparam("b_market"),
            proposal_id=bindparam("b_proposal"),
            cash_micros=bindparam("b_amount"),
            spent_micros=bindparam("b_spent"),
        )
        return stmt.on_conflict_do_update(
            index_elements=["account_id", "market_id"],
            set_={
                "cash_micros": BRANCH_CASH.c.cash_micros + stmt.excluded.cash_micros,
                "spent_micros": BRANCH_CASH.c.spent_micros + stmt.excluded.spent_micros,
            },
        ).returning(BRANCH_CASH.c.cash_micros)

    stmt = prepared(("add_branch_cash", _dialect(session)), build)
    params = {
        "b_account": account_id,
        "b_market": market_id,
        "b_proposal": proposal_id,
        "b_amount": amount_micros,
        "b_spent": -amount_micros,
    }
    return int(session.execute(stmt, params).scalar_one())


def add_branch_cash_everywhere(
    session: Session, account_id: int, proposal_id: int, market_ids: Sequence[int], amount: int
) -> None:
    """Add ``amount`` to the account's conditional cash in every listed branch (one upsert)."""
    stmt = _insert(session, BRANCH_CASH).values(
        [
            {
                "account_id": account_id,
                "market_id": m,
                "proposal_id": proposal_id,
                "cash_micros": amount,
            }
            for m in market_ids
        ]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "market_id"],
        set_={"cash_micros": BRANCH_CASH.c.cash_micros + stmt.excluded.cash_micros},
    )
    session.execute(stmt)


def take_branch_cash(
    session: Session, account_id: int, market_id: int, amount_micros: int
) -> int | None:
    """Charge a buy (``amount > 0``) to one branch's conditional cash if it holds enough:
    ``cash −= amount`` and ``spent += amount`` in one conditional UPDATE; returns the new
    cash, or None when the row is missing or holds less (nothing changed then)."""
    stmt = prepared(
        ("take_branch_cash",),
        lambda: (
            update(BRANCH_CASH)
            .where(
                BRANCH_CASH.c.account_id == bindparam("w_account"),
                BRANCH_CASH.c.market_id == bindparam("w_market"),
                BRANCH_CASH.c.cash_micros >= bindparam("w_amount"),
            )
            .values(
                cash_micros=BRANCH_CASH.c.cash_micros - bindparam("w_amount"),
                spent_micros=BRANCH_CASH.c.spent_micros + bindparam("w_amount"),
            )
            .returning(BRANCH_CASH.c.cash_micros)
        ),
    )
    params = {"w_account": account_id, "w_market": market_id, "w_amount": amount_micros}
    value = session.execute(stmt, params).scalar_one_or_none()
    return None if value is None else int(value)


def take_branch_cash_everywhere(
    session: Session, account_id: int, proposal_id: int, amount_micros: int
) -> int:
    """Take ``amount`` from every branch of the proposal that holds at least that much.

    Returns the number of branches debited; the caller refuses (and rolls back) unless it
    is every branch.
    """
    result = session.execute(
        update(BRANCH_CASH)
        .where(
            BRANCH_CASH.c.account_id == account_id,
            BRANCH_CASH.c.proposal_id == proposal_id,
            BRANCH_CASH.c.cash_micros >= amount_micros,
        )
        .values(cash_micros=BRANCH_CASH.c.cash_micros - amount_micros)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def add_stake(session: Session, account_id: int, proposal_id: int, amount_micros: int) -> int:
    """Add a split (``amount > 0``) or a merge (``amount < 0``) to the account's stake in
    the proposal (one upsert); returns the new ``deposit_micros``. Call it under the
    proposal's row lock (splits and merges hold it), like every write to a stake."""
    return _upsert_add(
        session,
        STAKE,
        {"account_id": account_id, "proposal_id": proposal_id},
        "deposit_micros",
        amount_micros,
    )


def stake_of(session: Session, account_id: int, proposal_id: int) -> int:
    """The account's net deposit into the proposal, micro-units (0 when it never split)."""
    value = session.scalar(
        select(STAKE.c.deposit_micros).where(
            STAKE.c.account_id == account_id, STAKE.c.proposal_id == proposal_id
        )
    )
    return 0 if value is None else int(value)


def branch_cash_of(
    session: Session, account_id: int, proposal_id: int | None = None
) -> Sequence[Any]:
    """``(market_id, proposal_id, branch_index, branch_name, cash_micros)`` of an account."""
    stmt = (
        select(
            BRANCH_CASH.c.market_id,
            BRANCH_CASH.c.proposal_id,
            MARKET.c.branch_index,
            MARKET.c.branch_name,
            BRANCH_CASH.c.cash_micros,
        )
        .join(MARKET, MARKET.c.id == BRANCH_CASH.c.market_id)
        .where(BRANCH_CASH.c.account_id == account_id)
    )
    if proposal_id is not None:
        stmt = stmt.where(BRANCH_CASH.c.proposal_id == proposal_id)
    return session.execute(stmt.order_by(MARKET.c.proposal_id, MARKET.c.branch_index)).all()


def branch_cash_in(session: Session, account_id: int, market_id: int) -> int:
    """An account's conditional cash in one branch (0 when none)."""
    value = session.scalar(
        select(BRANCH_CASH.c.cash_micros).where(
            BRANCH_CASH.c.account_id == account_id, BRANCH_CASH.c.market_id == market_id
        )
    )
    return 0 if value is None else int(value)


def add_shares(
    session: Session, account_id: int, market_id: int, outcome: int, shares_micros: int
) -> int:
    """Add bought shares to a position; returns the new holding."""
    return _upsert_add(
        session,
        POSITION,
        {"account_id": account_id, "market_id": market_id, "outcome": outcome},
        "shares_micros",
        shares_micros,
    )


def take_shares(
    session: Session, account_id: int, market_id: int, outcome: int, shares_micros: int
) -> int | None:
    """Take sold shares from a position if it holds enough; new holding or None."""
    return _take(
        session,
        POSITION,
        {"account_id": account_id, "market_id": market_id, "outcome": outcome},
        "shares_micros",
        shares_micros,
    )


def shares_in(session: Session, account_id: int, market_id: int, outcome: int) -> int:
    """Shares an account holds of one outcome (0 when none)."""
    value = session.scalar(
        select(POSITION.c.shares_micros).where(
            POSITION.c.account_id == account_id,
            POSITION.c.market_id == market_id,
            POSITION.c.outcome == outcome,
        )
    )
    return 0 if value is None else int(value)


def positions_of(
    session: Session,
    account_id: int,
    *,
    proposal_id: int | None = None,
    market_id: int | None = None,
    after_market_id: int = 0,
    limit_markets: int = MAX_PAGE,
) -> Sequence[Any]:
    """An account's non-empty positions with their market, a page of markets at a time:
    ``(market_id, proposal_id, branch_index, branch_name, outcome, outcomes, shares_micros)``
    of the first ``limit_markets`` markets (at most `MAX_PAGE`) with ``id > after_market_id``
    in which it holds shares, by market id, then outcome. A page holds whole markets, so no
    market's outcomes are split across pages."""
    held = select(POSITION.c.market_id).where(
        POSITION.c.account_id == account_id,
        POSITION.c.shares_micros > 0,
        POSITION.c.market_id > after_market_id,
    )
    if proposal_id is not None:
        held = held.join(MARKET, MARKET.c.id == POSITION.c.market_id).where(
            MARKET.c.proposal_id == proposal_id
        )
    if market_id is not None:
        held = held.where(POSITION.c.market_id == market_id)
    page = (
        held.group_by(POSITION.c.market_id)
        .order_by(POSITION.c.market_id)
        .limit(min(limit_markets, MAX_PAGE))
    )
    markets = list(session.scalars(page))
    if not markets:
        return []
    stmt = (
        select(
            POSITION.c.market_id,
            MARKET.c.proposal_id,
            MARKET.c.branch_index,
            MARKET.c.branch_name,
            POSITION.c.outcome,
            MARKET.c.outcomes,
            POSITION.c.shares_micros,
        )
        .join(MARKET, MARKET.c.id == POSITION.c.market_id)
        .where(
            POSITION.c.account_id == account_id,
            POSITION.c.shares_micros > 0,
            POSITION.c.market_id.in_(markets),
        )
    )
    return session.execute(stmt.order_by(POSITION.c.market_id, POSITION.c.outcome)).all()


# --- trades --------------------------------------------------------------------------------


def insert_trade(session: Session, values: dict[str, Any]) -> int:
    """Insert one trade; returns its id."""
    stmt = prepared(
        ("insert_trade", tuple(values)),
        lambda: (
            TRADE.insert()
            .values({name: bindparam(f"t_{name}", type_=TRADE.c[name].type) for name in values})
            .returning(TRADE.c.id)
        ),
    )
    params = {f"t_{name}": value for name, value in values.items()}
    return int(session.execute(stmt, params).scalar_one())


def trades_of_account(
    session: Session,
    account_id: int,
    *,
    market_id: int | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[Trade]:
    """An account's trades by id (uses the ``(account_id, id)`` index)."""
    stmt = select(Trade).where(Trade.account_id == account_id, Trade.id > after_id)
    if market_id is not None:
        stmt = stmt.where(Trade.market_id == market_id)
    return session.scalars(stmt.order_by(Trade.id).limit(min(limit, MAX_PAGE))).all()


def trades_of_market(
    session: Session, market_id: int, *, after_id: int = 0, limit: int = 100
) -> Sequence[Any]:
    """``(id, created_at, prices_after)`` of a market's trades by id (the price history)."""
    stmt = (
        select(TRADE.c.id, TRADE.c.created_at, TRADE.c.prices_after)
        .where(TRADE.c.market_id == market_id, TRADE.c.id > after_id)
        .order_by(TRADE.c.id)
        .limit(min(limit, MAX_PAGE))
    )
    return session.execute(stmt).all()
