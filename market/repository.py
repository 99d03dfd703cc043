"""Every query of the trading service, as ``select()`` / ``update()`` / upsert functions.

The hot path (a trade) uses Core statements on the tables: each call below is one round
trip, with ``RETURNING`` instead of a read-then-write, and conditional updates
(``… WHERE cash_micros >= :amount``) so a balance can never be driven below zero even
before the CHECK constraints would refuse it. None of them scans past trades.

Locking order, everywhere: proposal row, then market row, then account rows (cash, then
branch cash in market-id order, then positions, then the account's stake in the proposal,
which only a holder of the proposal's row lock writes). Trades lock only their market row
(``SELECT … FOR NO KEY UPDATE OF market``, see `lock_market_for_trade`; on SQLite the whole
write is serialised by ``BEGIN IMMEDIATE``). Deciding locks the proposal, then every market
of it in id order (`lock_markets_of`); a crank locks markets only, in id order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Double, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.audit_chain import Head
from db.paging import MAX_PAGE
from db.prepared import prepared
from market.decision import TwapState
from market.errors import UnknownMarket, UnknownProposal
from market.models import (
    BranchCash,
    CashBalance,
    Market,
    Position,
    Proposal,
    ProposalStatus,
    Trade,
)
from market.settlement_models import Decision, Stake

CASH = cast(Table, CashBalance.__table__)
BRANCH_CASH = cast(Table, BranchCash.__table__)
POSITION = cast(Table, Position.__table__)
MARKET = cast(Table, Market.__table__)
PROPOSAL = cast(Table, Proposal.__table__)
TRADE = cast(Table, Trade.__table__)
STAKE = cast(Table, Stake.__table__)

TWAP_COLUMNS = (
    "twap_observation",
    "twap_observed_at",
    "twap_cum_weighted",
    "twap_window_start",
    "twap_last_live",
)
"""The market row's averaging state, in the order of `market.decision.TwapState`'s fields."""


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
    # The proposal's immutable terms come with the market row in the same statement: a
    # plain join reads them (no lock, no extra round trip). The number of branches is one
    # probe of the (proposal_id, branch_index) index.
    branch = MARKET.alias("branch")
    n_branches = (
        select(func.count())
        .select_from(branch)
        .where(branch.c.proposal_id == MARKET.c.proposal_id)
        .scalar_subquery()
    )
    return (
        select(
            MARKET.c.id,
            MARKET.c.proposal_id,
            MARKET.c.branch_index,
            MARKET.c.outcomes,
            MARKET.c.q_micros,
            MARKET.c.b_micros,
            MARKET.c.maker_cash_micros,
            MARKET.c.trade_count,
            MARKET.c.status,
            MARKET.c.opens_at,
            MARKET.c.closes_at,
            *(MARKET.c[name] for name in TWAP_COLUMNS),
            MARKET.c.audit_seq,
            MARKET.c.audit_hash,
            PROPOSAL.c.asset_kind,
            PROPOSAL.c.lo,
            PROPOSAL.c.hi,
            PROPOSAL.c.bin_edges,
            PROPOSAL.c.decision_rule,
            PROPOSAL.c.decision_rule_hash,
            PROPOSAL.c.decides_at,
            n_branches.label("n_branches"),
        )
        .select_from(MARKET.join(PROPOSAL, PROPOSAL.c.id == MARKET.c.proposal_id))
        .where(MARKET.c.id == bindparam("market_id"))
    )


def lock_market_for_trade(session: Session, market_id: int) -> Any:
    """The columns a trade needs, with the market row locked (``FOR NO KEY UPDATE OF market``).

    Besides the market's own columns (with its maker cash and trade count before the trade),
    its averaging state (``twap_*``) and the head of its audit stream (``audit_seq``,
    ``audit_hash``: the trade's event is sealed from it, `market.audit_trail`), the row
    carries what the trade needs of its proposal, read by a join in the same statement: the asset
    (``asset_kind``, ``lo``, ``hi``, ``bin_edges``), the decision rule, its hash and
    ``decides_at``, and ``n_branches``. These never change after creation. The proposal row
    is read, never locked (``OF market``): a trade must not wait for, or block, a split,
    merge, close or decision holding the proposal's lock.

    ``NO KEY``: trades still exclude each other, but rows of other tables that merely
    reference the market (a split's or merge's ledger entries and branch cash) check their
    foreign key with ``FOR KEY SHARE``, which a plain ``FOR UPDATE`` would block. A merge
    holding the account's branch-cash rows would then wait for the trade while the trade
    waits for those rows: a deadlock (seen under concurrent trades and merges on PG).

    Raises:
        UnknownMarket: no such market.
    """
    stmt = prepared(
        ("lock_market_for_trade",),
        lambda: _market_for_trade().with_for_update(key_share=True, of=MARKET),
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


def _twap_params(twap: TwapState) -> dict[str, float]:
    return {
        "m_twap_observation": twap.observation,
        "m_twap_observed_at": twap.observed_at,
        "m_twap_cum_weighted": twap.cum_weighted,
        "m_twap_window_start": twap.window_start,
        "m_twap_last_live": twap.last_live,
    }


def record_trade_on_market(
    session: Session,
    market_id: int,
    q_after: Sequence[int],
    cash_micros: int,
    twap: TwapState | None,
    head: Head,
) -> None:
    """Set the market's ``q``, add the trade's cash to the maker, count the trade and, in
    the same UPDATE, store the advanced averaging state ``twap`` (None: leave it as is) and
    move the market's audit stream head to ``head`` (the trade's event, sealed from the
    head `lock_market_for_trade` read)."""

    def build() -> Any:
        values: dict[str, Any] = {
            "q_micros": bindparam("m_q", type_=MARKET.c.q_micros.type),
            "maker_cash_micros": MARKET.c.maker_cash_micros + bindparam("m_cash"),
            "trade_count": MARKET.c.trade_count + 1,
            "audit_seq": bindparam("m_audit_seq"),
            "audit_hash": bindparam("m_audit_hash"),
        }
        if twap is not None:
            values |= {name: bindparam(f"m_{name}", type_=Double()) for name in TWAP_COLUMNS}
        return update(MARKET).where(MARKET.c.id == bindparam("m_id")).values(values)

    stmt = prepared(("record_trade_on_market", twap is not None), build)
    params: dict[str, Any] = {
        "m_id": market_id,
        "m_q": list(q_after),
        "m_cash": cash_micros,
        "m_audit_seq": head.seq,
        "m_audit_hash": head.hash,
    }
    if twap is not None:
        params |= _twap_params(twap)
    session.execute(stmt, params)


def set_twap(session: Session, market_id: int, twap: TwapState) -> None:
    """Store a market's averaging state (a crank or a decision; the caller holds the lock)."""
    stmt = prepared(
        ("set_twap",),
        lambda: (
            update(MARKET)
            .where(MARKET.c.id == bindparam("m_id"))
            .values({name: bindparam(f"m_{name}", type_=Double()) for name in TWAP_COLUMNS})
        ),
    )
    session.execute(stmt, {"m_id": market_id, **_twap_params(twap)})


def lock_markets_of(
    session: Session, proposal_id: int, *, market_id: int | None = None
) -> Sequence[Market]:
    """The proposal's markets (or only ``market_id`` of them) locked in id order
    (``FOR NO KEY UPDATE``), freshly read.

    Deciding calls it holding the proposal's lock (proposal, then markets); a crank calls
    it alone. Either way the markets are taken in id order, so two lockers of the same
    markets queue instead of deadlocking, and a trade (which holds one market) never waits
    in a cycle.
    """
    stmt = select(Market).where(Market.proposal_id == proposal_id)
    if market_id is not None:
        stmt = stmt.where(Market.id == market_id)
    stmt = (
        stmt.order_by(Market.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).all()


def proposal_status(session: Session, proposal_id: int) -> str | None:
    """The proposal's status as committed now (a fresh read, no lock), or None."""
    return session.scalar(select(PROPOSAL.c.status).where(PROPOSAL.c.id == proposal_id))


def decision_of(session: Session, proposal_id: int) -> Decision | None:
    """The recorded decision of a proposal, or None."""
    return session.scalar(select(Decision).where(Decision.proposal_id == proposal_id))


def due_proposal_ids(
    session: Session, now: datetime, *, after_id: int = 0, limit: int = MAX_PAGE
) -> list[int]:
    """Ids of undecided proposals (open or closed) whose ``decides_at ≤ now``, by id, a page
    at a time (``id > after_id``, at most ``limit`` capped at `MAX_PAGE`)."""
    stmt = (
        select(PROPOSAL.c.id)
        .where(
            PROPOSAL.c.id > after_id,
            PROPOSAL.c.status.in_((ProposalStatus.OPEN.value, ProposalStatus.CLOSED.value)),
            PROPOSAL.c.decides_at <= now,
        )
        .order_by(PROPOSAL.c.id)
        .limit(min(limit, MAX_PAGE))
    )
    return [int(x) for x in session.scalars(stmt)]


def proposal_ids_by_status(
    session: Session, statuses: Sequence[str], *, after_id: int = 0, limit: int = MAX_PAGE
) -> list[int]:
    """Ids of proposals in one of ``statuses``, by id, a page at a time."""
    stmt = (
        select(PROPOSAL.c.id)
        .where(PROPOSAL.c.id > after_id, PROPOSAL.c.status.in_(list(statuses)))
        .order_by(PROPOSAL.c.id)
        .limit(min(limit, MAX_PAGE))
    )
    return [int(x) for x in session.scalars(stmt)]


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
    session: Session,
    account_id: int,
    market_id: int,
    amount_micros: int,
    *,
    margin: float | None = None,
) -> int | None:
    """Charge a buy (``amount > 0``) to one branch's conditional cash if it holds enough:
    ``cash −= amount`` and ``spent += amount`` in one conditional UPDATE; returns the new
    cash, or None when the row is missing or holds less (nothing changed then).

    With ``margin = M`` (the ipw margin multiple ``1/d_min − 1``, see
    `market.decision.margin_multiple`) the same UPDATE also requires
    ``cash − amount ≥ M · (spent + amount)``: the cash left must cover ``M`` times the net
    spend after the buy (compared in float64; a spend at or below 0 always passes)."""

    def build() -> Any:
        conditions = [
            BRANCH_CASH.c.account_id == bindparam("w_account"),
            BRANCH_CASH.c.market_id == bindparam("w_market"),
            BRANCH_CASH.c.cash_micros >= bindparam("w_amount"),
        ]
        if margin is not None:
            conditions.append(
                BRANCH_CASH.c.cash_micros - bindparam("w_amount")
                >= bindparam("w_margin", type_=Double())
                * (BRANCH_CASH.c.spent_micros + bindparam("w_amount"))
            )
        return (
            update(BRANCH_CASH)
            .where(*conditions)
            .values(
                cash_micros=BRANCH_CASH.c.cash_micros - bindparam("w_amount"),
                spent_micros=BRANCH_CASH.c.spent_micros + bindparam("w_amount"),
            )
            .returning(BRANCH_CASH.c.cash_micros)
        )

    stmt = prepared(("take_branch_cash", margin is not None), build)
    params: dict[str, Any] = {
        "w_account": account_id,
        "w_market": market_id,
        "w_amount": amount_micros,
    }
    if margin is not None:
        params["w_margin"] = margin
    value = session.execute(stmt, params).scalar_one_or_none()
    return None if value is None else int(value)


def branch_cash_and_spent(session: Session, account_id: int, market_id: int) -> tuple[int, int]:
    """``(cash_micros, spent_micros)`` of an account in one branch (``(0, 0)`` when none)."""
    row = session.execute(
        select(BRANCH_CASH.c.cash_micros, BRANCH_CASH.c.spent_micros).where(
            BRANCH_CASH.c.account_id == account_id, BRANCH_CASH.c.market_id == market_id
        )
    ).one_or_none()
    return (0, 0) if row is None else (int(row.cash_micros), int(row.spent_micros))


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
