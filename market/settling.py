"""Settling and unwinding a proposal: the end of its life (lifecycle step 6), exactly once.

`settle` does what the proposal's state says, once, whoever calls it and however often:

- **declared void** (a passed ``void_proposal`` council motion names it; any status before
  settlement: open, closed or decided): trading is closed first, then the proposal is
  **unwound**: every trader gets back ``max(0, D_i)``, its deposit (splits − merges), and
  the sponsor the rest of the collateral (``F`` when no deposit is negative);
- **decided, and the decision settles** (no exploration, ``ipw``, or a ``randomised_only``
  draw that explored): once the certified measurement of the bound metric version for the
  proposal's ``settle_entity`` and ``settle_period`` exists (computed at its
  ``settle_cutoff``), the executed branch ``e`` **settles** against its welfare value
  ``W``: each trader's conditional cash in ``e`` redeems 1:1 and its shares pay
  ``⌊s · π_k / 1e6⌋`` (`market.assets`); under ``ipw`` the net profit is scaled by
  ``1/d_e``; every other branch is void; the sponsor gets what is left
  (`market.settlement` holds the arithmetic);
- **decided, and a ``randomised_only`` draw did not explore**: unwound as above;
- otherwise `CannotSettleYet` (409) says why and what is missing: not decided yet, no
  measurement named, or no certified measurement yet.

A second call returns the first `Settlement` unchanged (a settled market never changes).

Order of work (one transaction; services only flush, the caller commits): lock the
proposal row, then its markets in id order (``FOR UPDATE``: a trade in flight finishes
first, and every later one finds the market closed); read the proposal's stakes (index on
``stake.proposal_id``), its branch cash (index on ``branch_cash.proposal_id``) and the
positions of the executed market (index on ``position.market_id``) — never the trades or
the ledger; compute the plan (pure); insert the `Settlement` row (the claim: its unique
``proposal_id`` decides a race); credit every trader's and the sponsor's cash; insert one
`Payout` per trader; post one balanced ledger operation; zero every branch cash, position
and maker cash of the proposal and its collateral; set the statuses (proposal ``settled``,
the executed market ``settled``, the others ``void``; or everything ``unwound``); append
one ``settlement`` event to every branch's audit stream, in market id order (the ending,
the measurement or void motion, every payout and the sponsor's: docs/audit.md). An
exception anywhere rolls the whole transaction back, so an interrupted settlement rerun
gives exactly the result of one clean run.

The ledger operation (kind ``settle`` or ``unwind``, amounts in micro-units; ``C`` is the
collateral, ``c_ij`` trader ``i``'s conditional cash in branch ``j``, ``M_j`` the maker's,
``s_i`` what trader ``i``'s shares in ``e`` pay, ``V_i = c_ie + s_i``, ``P_i`` what the
trader is paid and ``P_s`` the sponsor)::

    executed branch e:  account i +s_i (the maker pays its shares), account i −V_i
                        (redeemed), maker −M_e, collateral +C
    every void branch:  account i −c_ij, maker −M_j, collateral +C
    cash:               collateral −C, account i +P_i, sponsor +P_s

Each line sums to zero because every branch is fully backed (``Σ_i c_ij + M_j = C``,
checked before anything is paid) and ``Σ P_i + P_s = C``. An unwind voids every branch.
Afterwards the proposal holds nothing: collateral, every branch cash, position and maker
cash are 0; what each branch held at the end is read back from this operation
(`settlement_report`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Table, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.errors import ConflictError, NotFoundError
from db.paging import DEFAULT_PAGE, MAX_PAGE
from db.types import utcnow
from market import audit_trail
from market import repository as repo
from market.assets import BinnedAsset, ScalarAsset
from market.book import Book, format_micros
from market.decision import DecisionRule
from market.errors import MarketError, SettlementShortfall, UnknownProposal
from market.ledger import Holder, LedgerEntry, Leg, OperationKind, post
from market.models import AssetKind, Market, MarketStatus, Proposal, ProposalStatus
from market.settlement import Outcome, SettlementPlan, TraderState
from market.settlement import settle as plan_settlement
from market.settlement import unwind as plan_unwind
from market.settlement_models import Decision, Payout, Settlement
from welfare.council import EffectStatus, Motion, MotionKind, MotionResult
from welfare.council import Outcome as MotionOutcome
from welfare.measurement_service import certified_measurement, get_measurement
from welfare.records import Measurement

PAYOUT = cast(Table, Payout.__table__)
LEDGER = cast(Table, LedgerEntry.__table__)

_ENDED = frozenset({ProposalStatus.SETTLED.value, ProposalStatus.UNWOUND.value})
_BEFORE_DECISION = frozenset({ProposalStatus.OPEN.value, ProposalStatus.CLOSED.value})


class CannotSettleYet(MarketError, ConflictError):
    """The proposal cannot be settled or unwound now; the message says why and what is
    missing (the decision, the terms naming a measurement, or its certification)."""


class NotSettled(MarketError, NotFoundError):
    """The proposal has not been settled or unwound, so it has no settlement to show."""


# --- reading the state ---------------------------------------------------------------------


def settlement_of(session: Session, proposal_id: int) -> Settlement | None:
    """The recorded settlement of a proposal, if it has ended."""
    return session.scalar(select(Settlement).where(Settlement.proposal_id == proposal_id))


def decision_of(session: Session, proposal_id: int) -> Decision | None:
    """The recorded decision of a proposal, if it has been decided."""
    return session.scalar(select(Decision).where(Decision.proposal_id == proposal_id))


def _void_motions() -> Any:
    payload = cast(Any, Motion.payload)
    return (
        select(Motion.id, payload["proposal_id"].as_integer().label("proposal_id"))
        .join(MotionResult, MotionResult.motion_id == Motion.id)
        .where(
            Motion.kind == MotionKind.VOID_PROPOSAL.value,
            MotionResult.outcome == MotionOutcome.PASSED.value,
            MotionResult.effect_status == EffectStatus.APPLIED.value,
        )
    )


def void_motion_of(session: Session, proposal_id: int) -> int | None:
    """The first passed ``void_proposal`` motion declaring the proposal unmeasurable, or
    None. (Motions are governance records, few; their payload is read in SQL.)"""
    motions = _void_motions().subquery()
    return session.scalar(
        select(motions.c.id)
        .where(motions.c.proposal_id == proposal_id)
        .order_by(motions.c.id)
        .limit(1)
    )


@dataclass(frozen=True)
class _Ending:
    """How a proposal ends, decided before anything is written."""

    outcome: Outcome
    reason: str
    executed_index: int | None = None
    measurement: Measurement | None = None
    probability: Fraction | None = None
    void_motion_id: int | None = None


def _measurement_for(session: Session, proposal: Proposal) -> Measurement:
    """The certified measurement that settles the proposal, or `CannotSettleYet` naming
    what is missing."""
    pid = proposal.id
    void_hint = (
        "; the council can instead declare it unmeasurable with a void_proposal motion, "
        "which unwinds it"
    )
    if proposal.metric_version_id is None:
        raise CannotSettleYet(
            f"proposal {pid} is bound to no metric version (its stored id named none), so "
            f"no measurement can settle it{void_hint}"
        )
    entity, period = proposal.settle_entity, proposal.settle_period
    if entity is None or period is None:
        raise CannotSettleYet(
            f"proposal {pid} cannot settle: its terms name no entity and period to be "
            f"measured{void_hint}"
        )
    version = proposal.metric_version_id
    found = certified_measurement(session, version, period, entity)
    cutoff = proposal.settle_cutoff
    if found is None:
        at = "" if cutoff is None else f" with the data known at {cutoff.isoformat()}"
        raise CannotSettleYet(
            f"proposal {pid} cannot settle yet: no certified measurement of version "
            f"{version}, entity {entity}, period {period} yet: compute one{at} "
            "(POST /measurements) and certify it by council motion"
        )
    if cutoff is not None and found.cutoff != cutoff:
        raise CannotSettleYet(
            f"proposal {pid} settles on the measurement of version {version}, entity "
            f"{entity}, period {period} with the data known at {cutoff.isoformat()}, but the "
            f"certified one (measurement {found.id}) used the data known at "
            f"{found.cutoff.isoformat()}, so it cannot settle{void_hint}"
        )
    return found


def _ending(session: Session, proposal: Proposal) -> _Ending:
    """What `settle` would do to this (locked, not yet ended) proposal now.

    Raises:
        CannotSettleYet: it can be neither settled nor unwound now.
    """
    pid = proposal.id
    motion_id = void_motion_of(session, pid)
    if motion_id is not None:
        return _Ending(
            Outcome.UNWOUND,
            f"declared unmeasurable by council motion {motion_id}",
            void_motion_id=motion_id,
        )
    if proposal.status in _BEFORE_DECISION:
        when = "" if proposal.decides_at is None else f", due at {proposal.decides_at.isoformat()}"
        raise CannotSettleYet(
            f"proposal {pid} is {proposal.status}: it settles only once decided (POST "
            f"/proposals/{pid}/decide{when}) and its measurement is certified"
        )
    decision = decision_of(session, pid)
    if decision is None:
        raise CannotSettleYet(f"proposal {pid} is {proposal.status} but has no recorded decision")
    if not decision.settles:
        u = "" if decision.draw_u is None else f" (u = {decision.draw_u!r})"
        return _Ending(
            Outcome.UNWOUND,
            f"the randomised_only draw did not explore{u}: branch {decision.executed_index} "
            "was executed by the markets' choice, so every bet is unwound",
        )
    measurement = _measurement_for(session, proposal)
    probability = None
    reason = ""
    rule = (
        None if proposal.decision_rule is None else DecisionRule.from_dict(proposal.decision_rule)
    )
    if rule is not None and rule.exploration_mode == "ipw":
        d = float(decision.distribution[decision.executed_index])
        probability = Fraction(d)
        reason = f"ipw: each trader's net profit in the executed branch is scaled by 1/d = 1/{d!r}"
    return _Ending(
        Outcome.SETTLED,
        reason,
        executed_index=decision.executed_index,
        measurement=measurement,
        probability=probability,
    )


# --- settling ------------------------------------------------------------------------------


def _lock(session: Session, proposal_id: int) -> tuple[Proposal, list[Market]]:
    """Lock the proposal row, then its market rows in id order (the global lock order)."""
    fresh = {"populate_existing": True}
    proposal = session.scalar(
        select(Proposal)
        .where(Proposal.id == proposal_id)
        .with_for_update()
        .execution_options(**fresh)
    )
    if proposal is None:
        raise UnknownProposal(f"no proposal with id {proposal_id}")
    markets = list(
        session.scalars(
            select(Market)
            .where(Market.proposal_id == proposal_id)
            .order_by(Market.id)
            .with_for_update()
            .execution_options(**fresh)
        )
    )
    return proposal, markets


def settle(session: Session, proposal_id: int, now: datetime | None = None) -> Settlement:
    """Settle or unwind the proposal as its state says (module docstring), exactly once.

    Args:
        proposal_id: the proposal.
        now: the settlement time recorded (default: now, UTC).

    Returns:
        The settlement: this call's, or the one recorded by an earlier call.

    Raises:
        UnknownProposal: no such proposal.
        CannotSettleYet: not decided yet, nothing named to settle on, or no certified
            measurement yet (the message says which and what to do).
        SettlementShortfall: the books are inconsistent (a branch not fully backed, or
            payouts beyond the collateral); nothing is paid.
    """
    at = utcnow() if now is None else now
    proposal, markets = _lock(session, proposal_id)
    existing = settlement_of(session, proposal_id)
    if existing is not None:
        return existing
    if proposal.status in _ENDED:
        raise CannotSettleYet(
            f"proposal {proposal_id} is {proposal.status} but no settlement is recorded"
        )
    ending = _ending(session, proposal)
    return _finish(session, proposal, markets, ending, at)


@dataclass(frozen=True)
class _Holdings:
    """What the proposal's traders hold, read once under the locks."""

    stakes: dict[int, int]
    cash: dict[tuple[int, int], int]  # (account, market) → conditional cash, non-zero only
    shares: dict[int, list[int]]  # account → shares per outcome of the executed market


def _holdings(session: Session, proposal_id: int, executed: Market | None) -> _Holdings:
    st, bc, pos = repo.STAKE.c, repo.BRANCH_CASH.c, repo.POSITION.c
    stakes = {
        int(a): int(d)
        for a, d in session.execute(
            select(st.account_id, st.deposit_micros).where(st.proposal_id == proposal_id)
        )
    }
    cash = {
        (int(a), int(m)): int(c)
        for a, m, c in session.execute(
            select(bc.account_id, bc.market_id, bc.cash_micros).where(
                bc.proposal_id == proposal_id, bc.cash_micros != 0
            )
        )
    }
    shares: dict[int, list[int]] = {}
    if executed is not None:
        n = len(executed.outcomes)
        for a, k, s in session.execute(
            select(pos.account_id, pos.outcome, pos.shares_micros).where(
                pos.market_id == executed.id, pos.shares_micros != 0
            )
        ):
            shares.setdefault(int(a), [0] * n)[int(k)] = int(s)
    return _Holdings(stakes, cash, shares)


def _per_share(proposal: Proposal, welfare: float) -> tuple[int, ...]:
    """``π_k``: what one whole share of each outcome pays at ``W``, micro-units."""
    if proposal.asset_kind == AssetKind.BINNED.value:
        return BinnedAsset(tuple(proposal.bin_edges or ())).payout_micros(welfare)
    return ScalarAsset(proposal.lo, proposal.hi).payout_micros(welfare)


def _check_backed(proposal: Proposal, markets: Sequence[Market], holdings: _Holdings) -> None:
    traders: defaultdict[int, int] = defaultdict(int)
    for (_account, market_id), c in holdings.cash.items():
        traders[market_id] += c
    for m in markets:
        backed = traders[m.id] + m.maker_cash_micros
        if backed != proposal.collateral_micros:
            raise SettlementShortfall(
                f"branch {m.branch_index} of proposal {proposal.id} holds "
                f"{format_micros(backed)} of conditional cash but its collateral is "
                f"{format_micros(proposal.collateral_micros)}; nothing was paid"
            )


def _plan(
    proposal: Proposal, executed: Market | None, holdings: _Holdings, ending: _Ending
) -> SettlementPlan:
    accounts = set(holdings.stakes) | {a for a, _ in holdings.cash} | set(holdings.shares)
    collateral = proposal.collateral_micros
    if ending.outcome is Outcome.UNWOUND or executed is None:
        traders = [TraderState(a, holdings.stakes.get(a, 0), 0, ()) for a in sorted(accounts)]
        return plan_unwind(traders, collateral)
    assert ending.measurement is not None
    n = len(executed.outcomes)
    traders = [
        TraderState(
            a,
            holdings.stakes.get(a, 0),
            holdings.cash.get((a, executed.id), 0),
            tuple(holdings.shares.get(a, [0] * n)),
        )
        for a in sorted(accounts)
    ]
    per_share = _per_share(proposal, ending.measurement.value)
    return plan_settlement(traders, per_share, collateral, probability=ending.probability)


def _legs(
    proposal: Proposal,
    markets: Sequence[Market],
    executed: Market | None,
    holdings: _Holdings,
    plan: SettlementPlan,
) -> list[Leg]:
    pid, collateral = proposal.id, proposal.collateral_micros
    legs: list[Leg] = []
    for (account, market_id), c in sorted(holdings.cash.items()):
        if executed is not None and market_id == executed.id:
            continue
        legs.append(Leg(Holder.ACCOUNT, -c, market_id, account_id=account, proposal_id=pid))
    if executed is not None:
        for p in plan.payouts:
            redeemed = holdings.cash.get((p.account_id, executed.id), 0)
            shares_paid = p.value_micros - redeemed
            legs.append(
                Leg(Holder.ACCOUNT, shares_paid, executed.id, p.account_id, proposal_id=pid)
            )
            legs.append(
                Leg(Holder.ACCOUNT, -p.value_micros, executed.id, p.account_id, proposal_id=pid)
            )
    for m in markets:
        legs.append(Leg(Holder.MAKER, -m.maker_cash_micros, m.id, proposal_id=pid))
        legs.append(Leg(Holder.COLLATERAL, collateral, m.id, proposal_id=pid))
    legs.append(Leg(Holder.COLLATERAL, -collateral, proposal_id=pid))
    for p in plan.payouts:
        legs.append(Leg(Holder.ACCOUNT, p.paid_micros, account_id=p.account_id, proposal_id=pid))
    legs.append(
        Leg(
            Holder.ACCOUNT,
            plan.sponsor_micros,
            account_id=proposal.sponsor_account_id,
            proposal_id=pid,
        )
    )
    return legs


def _credit(session: Session, amounts: dict[int, int]) -> None:
    """Add each amount (> 0) to its account's cash: one upsert, executed for every row."""
    rows = [{"account_id": a, "cash_micros": v} for a, v in sorted(amounts.items()) if v > 0]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(repo.CASH)
    stmt = ins.on_conflict_do_update(
        index_elements=["account_id"],
        set_={"cash_micros": repo.CASH.c.cash_micros + ins.excluded.cash_micros},
    )
    session.execute(stmt, rows)


def _insert_payouts(session: Session, proposal_id: int, plan: SettlementPlan) -> None:
    rows = [
        {
            "proposal_id": proposal_id,
            "account_id": p.account_id,
            "deposit_micros": p.deposit_micros,
            "paid_micros": p.paid_micros,
        }
        for p in plan.payouts
    ]
    if rows:
        session.execute(insert(PAYOUT), rows)


def _zero_holdings(session: Session, proposal_id: int, market_ids: Sequence[int]) -> None:
    """Every branch cash and position of the proposal becomes 0 (redeemed or void)."""
    bc, pos = repo.BRANCH_CASH.c, repo.POSITION.c
    session.execute(
        update(repo.BRANCH_CASH)
        .where(bc.proposal_id == proposal_id, bc.cash_micros != 0)
        .values(cash_micros=0)
    )
    session.execute(
        update(repo.POSITION)
        .where(pos.market_id.in_(list(market_ids)), pos.shares_micros != 0)
        .values(shares_micros=0)
    )


def _finish(
    session: Session, proposal: Proposal, markets: list[Market], ending: _Ending, at: datetime
) -> Settlement:
    """Pay out as ``ending`` says (see the module docstring for the order and postings)."""
    by_index = {m.branch_index: m for m in markets}
    executed = None
    if ending.outcome is Outcome.SETTLED:
        assert ending.executed_index is not None
        executed = by_index.get(ending.executed_index)
        if executed is None:
            raise CannotSettleYet(
                f"proposal {proposal.id}'s decision executed branch {ending.executed_index}, "
                "which it does not have"
            )
    holdings = _holdings(session, proposal.id, executed)
    _check_backed(proposal, markets, holdings)
    plan = _plan(proposal, executed, holdings, ending)
    measurement = ending.measurement
    row = Settlement(
        proposal_id=proposal.id,
        kind=plan.outcome.value,
        reason=ending.reason,
        measurement_id=None if measurement is None else measurement.id,
        welfare_value=None if measurement is None else measurement.value,
        executed_index=ending.executed_index,
        paid_micros=plan.traders_micros,
        sponsor_paid_micros=plan.sponsor_micros,
        settled_at=at,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # the unique proposal_id: another settlement of this proposal committed first
        first = settlement_of(session, proposal.id)
        if first is None:
            raise
        return first
    credits: defaultdict[int, int] = defaultdict(int)
    for p in plan.payouts:
        credits[p.account_id] += p.paid_micros
    credits[proposal.sponsor_account_id] += plan.sponsor_micros
    _credit(session, credits)
    _insert_payouts(session, proposal.id, plan)
    kind = OperationKind.SETTLE if plan.outcome is Outcome.SETTLED else OperationKind.UNWIND
    post(session, kind, _legs(proposal, markets, executed, holdings, plan))
    _zero_holdings(session, proposal.id, [m.id for m in markets])
    event = _settlement_event(proposal, markets, ending, plan)
    for m in markets:
        m.maker_cash_micros = 0
        if executed is None:
            m.status = MarketStatus.UNWOUND.value
        else:
            m.status = (MarketStatus.SETTLED if m is executed else MarketStatus.VOID).value
    proposal.collateral_micros = 0
    proposal.status = plan.outcome.value
    audit_trail.append_to_markets(session, markets, [("settlement", event)] * len(markets), at)
    session.flush()
    return row


def _settlement_event(
    proposal: Proposal, markets: Sequence[Market], ending: _Ending, plan: SettlementPlan
) -> dict[str, Any]:
    """The ``data`` of a ``settlement`` event (docs/audit.md, "Market streams"), the same in
    every branch's stream; read before the markets are emptied."""
    measurement = ending.measurement
    return {
        "proposal_id": proposal.id,
        "markets": [m.id for m in markets],
        "kind": plan.outcome.value,
        "void_motion_id": ending.void_motion_id,
        "measurement_id": None if measurement is None else measurement.id,
        "welfare_value": None if measurement is None else float(measurement.value),
        "executed_index": ending.executed_index if plan.outcome is Outcome.SETTLED else None,
        "probability": None if ending.probability is None else float(ending.probability),
        "collateral_micros": plan.collateral_micros,
        "maker_cash_micros": [m.maker_cash_micros for m in markets],
        "payouts": [
            {
                "account": p.account_id,
                "deposit_micros": p.deposit_micros,
                "value_micros": p.value_micros,
                "paid_micros": p.paid_micros,
            }
            for p in plan.payouts
        ],
        "paid_micros": plan.traders_micros,
        "sponsor": proposal.sponsor_account_id,
        "sponsor_paid_micros": plan.sponsor_micros,
    }


# --- what is due ---------------------------------------------------------------------------


def due_proposals(session: Session, *, after_id: int = 0, limit: int = DEFAULT_PAGE) -> list[int]:
    """Ids ``> after_id`` of the proposals `settle` would settle or unwind now, ascending,
    at most ``limit``: every decided proposal whose decision unwinds it or whose measurement
    is certified, and every not yet ended proposal the council declared void.

    Reads the decided proposals and the void declarations in id order, a page at a time,
    so it stops after ``limit`` due ones (never reading every proposal at once).
    """
    limit = max(1, min(limit, MAX_PAGE))
    due: list[int] = []
    cursor = after_id
    while len(due) < limit:
        void_ids = select(_void_motions().subquery().c.proposal_id)
        candidates = list(
            session.scalars(
                select(Proposal)
                .where(
                    Proposal.id > cursor,
                    (Proposal.status == ProposalStatus.DECIDED.value)
                    | (Proposal.status.not_in(_ENDED) & Proposal.id.in_(void_ids)),
                )
                .order_by(Proposal.id)
                .limit(limit)
            )
        )
        if not candidates:
            break
        for proposal in candidates:
            try:
                _ending(session, proposal)
            except CannotSettleYet:
                continue
            due.append(proposal.id)
            if len(due) == limit:
                break
        cursor = candidates[-1].id
    return due


# --- reading a settlement ------------------------------------------------------------------


@dataclass(frozen=True)
class BranchResult:
    """What one branch held when the proposal ended, and what became of it (micro-units).

    Attributes:
        status: ``settled`` (the executed branch), ``void`` or ``unwound``.
        traders_cash_micros: ``Σ_i c_ij``, the traders' conditional cash (redeemed 1:1 in
            the executed branch; void elsewhere).
        maker_cash_micros: ``M_j``, the maker's conditional cash.
        shares_paid_micros: ``Σ_i s_i``, what the traders' shares paid (executed branch
            only; 0 elsewhere).
        maker_result_micros: the maker's realised result in the executed branch,
            ``M_e − Σ s_i − F`` (≥ ``−b ln n``); None where bets were called off.
        maker_loss_bound_micros: ``b ln n`` of this market, the most the maker can lose.
    """

    market_id: int
    branch_index: int
    branch_name: str
    status: str
    traders_cash_micros: int
    maker_cash_micros: int
    shares_paid_micros: int
    maker_result_micros: int | None
    maker_loss_bound_micros: int


@dataclass(frozen=True)
class SettlementReport:
    """A settlement with what it settled against and how each branch ended.

    Attributes:
        traders: traders paid (one payout each, possibly 0).
        traders_paid: those paid more than 0.
        deposits_micros: ``Σ_i D_i``.
        decision: the recorded decision (None for a proposal voided before it).
        void_motion_id: the motion that declared it unmeasurable, if that is why it was
            unwound.
    """

    settlement: Settlement
    proposal: Proposal
    measurement: Measurement | None
    decision: Decision | None
    void_motion_id: int | None
    branches: tuple[BranchResult, ...]
    traders: int
    traders_paid: int
    deposits_micros: int

    @property
    def ipw_probability(self) -> float | None:
        """``d_e`` when the payouts were scaled by ``1/d_e`` (ipw), else None."""
        if self.decision is None or self.settlement.kind != Outcome.SETTLED.value:
            return None
        rule = self.proposal.decision_rule
        if rule is None or DecisionRule.from_dict(rule).exploration_mode != "ipw":
            return None
        return float(self.decision.distribution[self.decision.executed_index])


def settlement_report(session: Session, proposal_id: int) -> SettlementReport:
    """The settlement of a proposal with its per-branch figures.

    Per branch, the figures are the sums of the proposal's ``settle``/``unwind`` ledger
    operation (found by the ledger's proposal index), grouped by market and holder.

    Raises:
        UnknownProposal: no such proposal.
        NotSettled: it has not ended yet.
    """
    proposal = repo.get_proposal(session, proposal_id)
    row = settlement_of(session, proposal_id)
    if row is None:
        raise NotSettled(
            f"proposal {proposal_id} is {proposal.status}; it has no settlement yet "
            f"(POST /proposals/{proposal_id}/settle once it is due)"
        )
    markets = sorted(repo.markets_of(session, [proposal_id]), key=lambda m: m.branch_index)
    entry = LEDGER.c
    gains = func.sum(case((entry.amount_micros > 0, entry.amount_micros), else_=0))
    losses = func.sum(case((entry.amount_micros < 0, entry.amount_micros), else_=0))
    sums: dict[tuple[int, str], tuple[int, int]] = {}
    for market_id, holder, plus, minus in session.execute(
        select(entry.market_id, entry.holder, gains, losses)
        .where(
            entry.proposal_id == proposal_id,
            entry.kind.in_((OperationKind.SETTLE.value, OperationKind.UNWIND.value)),
            entry.market_id.is_not(None),
        )
        .group_by(entry.market_id, entry.holder)
    ):
        sums[(int(market_id), str(holder))] = (int(plus or 0), int(minus or 0))
    branches = []
    for m in markets:
        plus, minus = sums.get((m.id, Holder.ACCOUNT.value), (0, 0))
        maker = -sum(sums.get((m.id, Holder.MAKER.value), (0, 0)))
        traders_cash = -(plus + minus)
        executed = m.status == MarketStatus.SETTLED.value
        bound = Book((0,) * len(m.outcomes), m.b_micros).max_loss_micros
        branches.append(
            BranchResult(
                market_id=m.id,
                branch_index=m.branch_index,
                branch_name=m.branch_name,
                status=m.status,
                traders_cash_micros=traders_cash,
                maker_cash_micros=maker,
                shares_paid_micros=plus if executed else 0,
                maker_result_micros=maker - plus - m.subsidy_micros if executed else None,
                maker_loss_bound_micros=bound,
            )
        )
    p = PAYOUT.c
    traders, paid, deposits = session.execute(
        select(
            func.count(),
            func.count(case((p.paid_micros > 0, 1))),
            func.coalesce(func.sum(p.deposit_micros), 0),
        ).where(p.proposal_id == proposal_id)
    ).one()
    return SettlementReport(
        settlement=row,
        proposal=proposal,
        measurement=(
            None if row.measurement_id is None else get_measurement(session, row.measurement_id)
        ),
        decision=decision_of(session, proposal_id),
        void_motion_id=(
            void_motion_of(session, proposal_id) if row.kind == Outcome.UNWOUND.value else None
        ),
        branches=tuple(branches),
        traders=int(traders),
        traders_paid=int(paid),
        deposits_micros=int(deposits),
    )


@dataclass(frozen=True)
class AccountSettlement:
    """What one ended proposal paid one account (micro-units).

    Attributes:
        deposit_micros, paid_micros: as a trader (0 and 0 when it only sponsored).
        traded: it had a stake in the proposal (a payout row).
        sponsor_subsidy_micros, sponsor_paid_micros: as the sponsor: ``F`` paid in and
            what came back; None when it did not sponsor the proposal.
    """

    proposal_id: int
    title: str
    kind: str
    settled_at: datetime
    deposit_micros: int
    paid_micros: int
    traded: bool
    sponsor_subsidy_micros: int | None
    sponsor_paid_micros: int | None

    @property
    def profit_micros(self) -> int:
        """``paid − deposit`` as a trader."""
        return self.paid_micros - self.deposit_micros


def settlements_of_account(
    session: Session, account_id: int, *, after_id: int = 0, limit: int = DEFAULT_PAGE
) -> list[AccountSettlement]:
    """The ended proposals an account traded in or sponsored, by proposal id ``> after_id``,
    at most ``limit`` (`db.paging`): the account's payout rows (index on
    ``payout.account_id``) and the settlements of the proposals it sponsored."""
    limit = max(1, min(limit, MAX_PAGE))
    payouts = {
        int(pid): (int(d), int(paid))
        for pid, d, paid in session.execute(
            select(PAYOUT.c.proposal_id, PAYOUT.c.deposit_micros, PAYOUT.c.paid_micros)
            .where(PAYOUT.c.account_id == account_id, PAYOUT.c.proposal_id > after_id)
            .order_by(PAYOUT.c.proposal_id)
            .limit(limit)
        )
    }
    sponsored = set(
        session.scalars(
            select(Settlement.proposal_id)
            .join(Proposal, Proposal.id == Settlement.proposal_id)
            .where(Proposal.sponsor_account_id == account_id, Settlement.proposal_id > after_id)
            .order_by(Settlement.proposal_id)
            .limit(limit)
        )
    )
    ids = sorted(set(payouts) | sponsored)[:limit]
    if not ids:
        return []
    rows = session.execute(
        select(Settlement, Proposal)
        .join(Proposal, Proposal.id == Settlement.proposal_id)
        .where(Settlement.proposal_id.in_(ids))
        .order_by(Settlement.proposal_id)
    ).all()
    out = []
    for settlement, proposal in rows:
        deposit, paid = payouts.get(proposal.id, (0, 0))
        sponsor = proposal.sponsor_account_id == account_id
        out.append(
            AccountSettlement(
                proposal_id=proposal.id,
                title=proposal.title,
                kind=settlement.kind,
                settled_at=settlement.settled_at,
                deposit_micros=deposit,
                paid_micros=paid,
                traded=proposal.id in payouts,
                sponsor_subsidy_micros=proposal.subsidy_micros if sponsor else None,
                sponsor_paid_micros=settlement.sponsor_paid_micros if sponsor else None,
            )
        )
    return out
