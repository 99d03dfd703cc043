"""Conservation audit: the stored balances agree with the ledger and with each other.

`check_conservation` reads everything (it scans the ledger and the trades, so it is an
audit for tests, benchmarks and operators, never part of a request's hot path) and checks,
to the micro-unit:

1. every ledger operation sums to zero per asset, and carries one kind;
2. stored balances equal the ledger's sums per (holder, asset): each account's cash and
   branch cash, each maker's cash, each proposal's collateral (which has issued
   ``collateral`` of every branch's conditional cash: its branch sums are ``−collateral``);
3. per branch: ``Σ traders' branch cash + maker cash = proposal collateral`` (the branch's
   conditional cash is fully backed);
4. globally: ``Σ account cash + Σ collateral = Σ credits − Σ debits`` (no money is made or
   lost inside the engine);
5. per market: ``q = Σ trades' share deltas = Σ positions`` per outcome, ``trade_count`` is
   the number of trades, and ``maker cash = F + Σ trades' cash``;
6. nothing is negative (cash, branch cash, shares, maker cash, collateral);
7. the maker's worst case: ``maker cash − max_i q_i ≥ F − b ln n`` (a micro-share pays at
   most a micro-unit, so after resolution the maker has lost at most ``b ln n ≤ F``);
8. the running sums settling reads instead of the history: each account's stake in a
   proposal equals the ledger's ``Σ splits − Σ merges`` of its cash into that proposal, and
   each account's ``spent`` in a branch equals ``Σ`` of its trades' cash in that market;
9. an ended market (``settled``, ``void`` or ``unwound``, `market.settling`) holds nothing:
   its maker cash and every position are 0 (checks 5 and 7 then read: ``q = Σ trades``,
   positions 0, maker cash 0), and in the executed (``settled``) branch the maker's
   realised result ``Σ trades' cash − what the shares paid`` (the positive account legs of
   the ``settle`` operation there) is at least ``−b ln n``.

With a ``proposal_id`` only that proposal's markets, branch cash, stakes, collateral and
operations are checked (checks 1–3 and 5–9); the global check 4 and the accounts' cash
need the whole database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from market import repository as repo
from market.book import Book, format_micros
from market.ledger import Holder, LedgerEntry, OperationKind
from market.models import Market, MarketStatus, Proposal, as_int_list

_ENDED = frozenset(
    {MarketStatus.SETTLED.value, MarketStatus.VOID.value, MarketStatus.UNWOUND.value}
)
"""Market statuses after settlement: the market holds nothing any more."""


@dataclass(frozen=True)
class ConservationReport:
    """The audit's outcome.

    Attributes:
        ok: no problem found.
        problems: one sentence per broken invariant (empty when ``ok``).
        totals: micro-unit totals of what was checked: ``credits``, ``debits``, ``cash``
            (accounts), ``collateral``, ``branch_cash``, ``stakes``, ``maker_cash``, ``maker_pnl``
            (``Σ maker cash − Σ F``), ``trade_cash``, and counts ``proposals``,
            ``markets``, ``trades``, ``operations``, ``entries``.
    """

    ok: bool
    problems: tuple[str, ...]
    totals: dict[str, int] = field(default_factory=dict)


L = LedgerEntry


def _ledger_scope(proposal_id: int | None, market_ids: list[int]) -> list[Any]:
    """Entries of one proposal: those naming it or one of its markets (trades name only
    their market)."""
    if proposal_id is None:
        return []
    return [or_(L.proposal_id == proposal_id, L.market_id.in_(market_ids))]


def _check_operations(
    session: Session, proposal_id: int | None, market_ids: list[int], problems: list[str]
) -> int:
    """Check 1; returns the number of operations seen."""
    scope: list[Any] = []
    if proposal_id is not None:
        ops = select(L.operation).where(*_ledger_scope(proposal_id, market_ids)).distinct()
        scope = [L.operation.in_(ops.scalar_subquery())]
    unbalanced = session.execute(
        select(L.operation, L.market_id, func.sum(L.amount_micros))
        .where(*scope)
        .group_by(L.operation, L.market_id)
        .having(func.sum(L.amount_micros) != 0)
    ).all()
    for op, market_id, total in unbalanced:
        asset = "cash" if market_id is None else f"branch cash of market {market_id}"
        problems.append(f"operation {op} does not balance in {asset}: it sums to {total}")
    mixed = session.execute(
        select(L.operation)
        .where(*scope)
        .group_by(L.operation)
        .having(func.count(func.distinct(L.kind)) > 1)
    ).all()
    for (op,) in mixed:
        problems.append(f"operation {op} mixes entries of several kinds")
    return int(session.scalar(select(func.count(func.distinct(L.operation))).where(*scope)) or 0)


def check_conservation(session: Session, proposal_id: int | None = None) -> ConservationReport:
    """Audit the whole database, or one proposal (see the module docstring for the checks).

    Read-only. Raises `UnknownProposal` when ``proposal_id`` names no proposal.
    """
    problems: list[str] = []
    totals: dict[str, int] = {}

    # services update balances with Core statements, so reload ORM objects the session holds
    fresh = {"populate_existing": True}
    stmt_p = select(Proposal).order_by(Proposal.id).execution_options(**fresh)
    if proposal_id is not None:
        repo.get_proposal(session, proposal_id)
        stmt_p = stmt_p.where(Proposal.id == proposal_id)
    proposals = list(session.scalars(stmt_p))
    proposal_by_id = {p.id: p for p in proposals}
    markets = list(
        session.scalars(
            select(Market)
            .where(*([] if proposal_id is None else [Market.proposal_id == proposal_id]))
            .order_by(Market.proposal_id, Market.branch_index)
            .execution_options(**fresh)
        )
    )
    market_ids = [m.id for m in markets]

    def of_markets(column: Any) -> list[Any]:
        # the whole database needs no filter (and no IN list of every market)
        return [] if proposal_id is None else [column.in_(market_ids)]

    totals["operations"] = _check_operations(session, proposal_id, market_ids, problems)

    # --- ledger sums per (holder, asset) -------------------------------------------------
    account_cash_l: defaultdict[int, int] = defaultdict(int)
    branch_cash_l: defaultdict[tuple[int, int], int] = defaultdict(int)
    maker_l: defaultdict[int, int] = defaultdict(int)
    collateral_cash_l: defaultdict[int, int] = defaultdict(int)
    collateral_branch_l: defaultdict[int, int] = defaultdict(int)
    stake_l: defaultdict[tuple[int, int], int] = defaultdict(int)
    credits = debits = entries = 0
    rows: Sequence[Any] = session.execute(
        select(
            L.holder,
            L.kind,
            L.market_id,
            L.account_id,
            L.proposal_id,
            func.sum(L.amount_micros),
            func.count(),
        )
        .where(*_ledger_scope(proposal_id, market_ids))
        .group_by(L.holder, L.kind, L.market_id, L.account_id, L.proposal_id)
    ).all()
    for holder, kind, market_id, account_id, pid, total, count in rows:
        total, entries = int(total), entries + int(count)
        if holder == Holder.ACCOUNT:
            if market_id is None:
                account_cash_l[account_id] += total
                if kind in (OperationKind.SPLIT, OperationKind.MERGE):
                    stake_l[(account_id, pid)] -= total
            else:
                branch_cash_l[(account_id, market_id)] += total
        elif holder == Holder.MAKER:
            maker_l[market_id] += total
        elif holder == Holder.COLLATERAL:
            if market_id is None:
                collateral_cash_l[pid] += total
            else:
                collateral_branch_l[market_id] += total
        elif kind == OperationKind.CREDIT:
            credits -= total
        elif kind == OperationKind.DEBIT:
            debits += total
        else:
            problems.append(f"{kind} operations must not move money to or from outside")
    totals["entries"] = entries

    # --- accounts' unconditional cash (whole database only) -------------------------------
    if proposal_id is None:
        stored_cash = {
            int(a): int(c)
            for a, c in session.execute(select(repo.CASH.c.account_id, repo.CASH.c.cash_micros))
        }
        for account_id in sorted(set(stored_cash) | set(account_cash_l)):
            stored, ledger = stored_cash.get(account_id, 0), account_cash_l.get(account_id, 0)
            if stored != ledger:
                problems.append(
                    f"account {account_id} holds {format_micros(stored)} of cash but the "
                    f"ledger says {format_micros(ledger)}"
                )
            if stored < 0:
                problems.append(f"account {account_id} has negative cash {format_micros(stored)}")
        totals["cash"] = sum(stored_cash.values())
        totals["credits"], totals["debits"] = credits, debits

    # --- branch cash -----------------------------------------------------------------------
    bc = repo.BRANCH_CASH.c
    stmt = select(bc.account_id, bc.market_id, bc.cash_micros, bc.spent_micros)
    if proposal_id is not None:
        stmt = stmt.where(bc.proposal_id == proposal_id)
    stored_branch: dict[tuple[int, int], int] = {}
    stored_spent: dict[tuple[int, int], int] = {}
    for a, m, c, spent in session.execute(stmt):
        stored_branch[(int(a), int(m))] = int(c)
        stored_spent[(int(a), int(m))] = int(spent)
    branch_sum: defaultdict[int, int] = defaultdict(int)
    for key in sorted(set(stored_branch) | set(branch_cash_l)):
        stored, ledger = stored_branch.get(key, 0), branch_cash_l.get(key, 0)
        account_id, market_id = key
        branch_sum[market_id] += stored
        if stored != ledger:
            problems.append(
                f"account {account_id} holds {format_micros(stored)} of conditional cash in "
                f"market {market_id} but the ledger says {format_micros(ledger)}"
            )
        if stored < 0:
            problems.append(
                f"account {account_id} has negative conditional cash in market {market_id}"
            )
    totals["branch_cash"] = sum(stored_branch.values())

    # --- stakes ------------------------------------------------------------------------------
    st = repo.STAKE.c
    stakes = select(st.account_id, st.proposal_id, st.deposit_micros)
    if proposal_id is not None:
        stakes = stakes.where(st.proposal_id == proposal_id)
    stored_stake = {(int(a), int(p)): int(d) for a, p, d in session.execute(stakes)}
    for key in sorted(set(stored_stake) | set(stake_l)):
        stored, ledger = stored_stake.get(key, 0), stake_l.get(key, 0)
        if stored != ledger:
            problems.append(
                f"account {key[0]} has a stake of {format_micros(stored)} in proposal {key[1]} "
                f"but its splits minus merges in the ledger come to {format_micros(ledger)}"
            )
    totals["stakes"] = sum(stored_stake.values())

    # --- collateral --------------------------------------------------------------------------
    for p in proposals:
        ledger = collateral_cash_l.get(p.id, 0)
        if p.collateral_micros != ledger:
            problems.append(
                f"proposal {p.id} has {format_micros(p.collateral_micros)} of collateral but "
                f"the ledger says {format_micros(ledger)}"
            )
        if p.collateral_micros < 0:
            problems.append(f"proposal {p.id} has negative collateral")
    totals["collateral"] = sum(p.collateral_micros for p in proposals)
    totals["proposals"] = len(proposals)

    # --- trades and positions per market -----------------------------------------------------
    trade_shares: defaultdict[tuple[int, int], int] = defaultdict(int)
    trade_cash: defaultdict[int, int] = defaultdict(int)
    trade_count: defaultdict[int, int] = defaultdict(int)
    spent_t: defaultdict[tuple[int, int], int] = defaultdict(int)
    position_sum: defaultdict[tuple[int, int], int] = defaultdict(int)
    if market_ids:
        t = repo.TRADE.c
        for m, account_id, outcome, shares, cash, count in session.execute(
            select(
                t.market_id,
                t.account_id,
                t.outcome,
                func.sum(t.shares_micros),
                func.sum(t.cash_micros),
                func.count(),
            )
            .where(*of_markets(t.market_id))
            .group_by(t.market_id, t.account_id, t.outcome)
        ):
            trade_shares[(m, outcome)] += int(shares)
            trade_cash[m] += int(cash)
            trade_count[m] += int(count)
            spent_t[(int(account_id), int(m))] += int(cash)
        pos = repo.POSITION.c
        for account_id, m, outcome, shares in session.execute(
            select(pos.account_id, pos.market_id, pos.outcome, pos.shares_micros).where(
                *of_markets(pos.market_id)
            )
        ):
            position_sum[(m, outcome)] += int(shares)
            if shares < 0:
                problems.append(
                    f"account {account_id} holds negative shares of outcome {outcome} in market {m}"
                )
    totals["trades"] = sum(trade_count.values())
    totals["trade_cash"] = sum(trade_cash.values())
    for key in sorted(set(stored_spent) | set(spent_t)):
        account_id, m = key
        stored, traded = stored_spent.get(key, 0), spent_t.get(key, 0)
        if stored != traded:
            problems.append(
                f"account {account_id} has spent {format_micros(stored)} in market {m} but "
                f"its trades there come to {format_micros(traded)}"
            )

    # what the shares of each settled market paid: the settle operation's credits to accounts
    shares_paid: dict[int, int] = {}
    if market_ids:
        for paid_in, total in session.execute(
            select(L.market_id, func.sum(L.amount_micros))
            .where(
                L.kind == OperationKind.SETTLE.value,
                L.holder == Holder.ACCOUNT.value,
                L.amount_micros > 0,
                L.market_id.is_not(None),
                *of_markets(L.market_id),
            )
            .group_by(L.market_id)
        ):
            if paid_in is not None:
                shares_paid[paid_in] = int(total)

    # --- per market ----------------------------------------------------------------------------
    for market in markets:
        m = market.id
        p = proposal_by_id[market.proposal_id]
        q = as_int_list(market.q_micros)
        name = f"market {m} (proposal {p.id}, branch {market.branch_index})"
        if market.maker_cash_micros != maker_l.get(m, 0):
            problems.append(
                f"{name}: the maker holds {format_micros(market.maker_cash_micros)} but the "
                f"ledger says {format_micros(maker_l.get(m, 0))}"
            )
        if collateral_branch_l.get(m, 0) != -p.collateral_micros:
            problems.append(
                f"{name}: the collateral has issued {format_micros(-collateral_branch_l.get(m, 0))}"
                f" of this branch's cash but holds {format_micros(p.collateral_micros)}"
            )
        backed = branch_sum.get(m, 0) + market.maker_cash_micros
        if backed != p.collateral_micros:
            problems.append(
                f"{name}: traders' branch cash plus maker cash is {format_micros(backed)} but "
                f"the collateral is {format_micros(p.collateral_micros)}"
            )
        ended = market.status in _ENDED
        for i, q_i in enumerate(q):
            if q_i != trade_shares.get((m, i), 0):
                problems.append(
                    f"{name}: outcome {i} has {q_i} micro-shares outstanding but its trades "
                    f"sum to {trade_shares.get((m, i), 0)}"
                )
            if ended:
                if position_sum.get((m, i), 0) != 0:
                    problems.append(
                        f"{name} is {market.status} but positions still hold "
                        f"{position_sum.get((m, i), 0)} micro-shares of outcome {i}"
                    )
            elif q_i != position_sum.get((m, i), 0):
                problems.append(
                    f"{name}: outcome {i} has {q_i} micro-shares outstanding but positions "
                    f"sum to {position_sum.get((m, i), 0)}"
                )
        if market.trade_count != trade_count.get(m, 0):
            problems.append(
                f"{name}: trade_count is {market.trade_count} but {trade_count.get(m, 0)} "
                "trades are stored"
            )
        max_loss = Book((0,) * len(q), market.b_micros).max_loss_micros
        if ended:
            if market.maker_cash_micros != 0:
                problems.append(
                    f"{name} is {market.status} but its maker still holds "
                    f"{format_micros(market.maker_cash_micros)}"
                )
            realised = trade_cash.get(m, 0) - shares_paid.get(m, 0)
            if market.status == MarketStatus.SETTLED.value and realised < -max_loss:
                problems.append(
                    f"{name}: the maker's realised result {format_micros(realised)} is a loss "
                    f"beyond b ln n = {format_micros(max_loss)}"
                )
            continue
        if market.maker_cash_micros != market.subsidy_micros + trade_cash.get(m, 0):
            problems.append(
                f"{name}: maker cash {format_micros(market.maker_cash_micros)} is not the "
                f"subsidy plus the trades' cash ({format_micros(trade_cash.get(m, 0))})"
            )
        if market.maker_cash_micros < 0:
            problems.append(f"{name}: the maker's cash is negative")
        worst = market.maker_cash_micros - max(q)
        if worst < market.subsidy_micros - max_loss:
            problems.append(
                f"{name}: after resolution the maker could hold {format_micros(worst)}, less "
                f"than F − b ln n = {format_micros(market.subsidy_micros - max_loss)}"
            )
    totals["markets"] = len(markets)
    totals["maker_cash"] = sum(m.maker_cash_micros for m in markets)
    totals["maker_pnl"] = totals["maker_cash"] - sum(m.subsidy_micros for m in markets)

    # --- global: no money made or lost ------------------------------------------------------
    if proposal_id is None:
        inside = totals["cash"] + totals["collateral"]
        if inside != credits - debits:
            problems.append(
                f"accounts' cash plus collateral is {format_micros(inside)} but credits minus "
                f"debits is {format_micros(credits - debits)}"
            )

    return ConservationReport(ok=not problems, problems=tuple(problems), totals=totals)
