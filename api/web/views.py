"""What the proposal pages show, read from the services (never a second copy of a rule).

- the home page's summaries (`home`): each open proposal's leading branch, its margin over
  the status quo against ``δ`` and the time to the decision; each ended one's decision,
  and for a settled one the executed branch's prediction beside the measured welfare;
- a signed-in trader's holdings in one proposal (`holdings`).

The figures are those of the JSON API: prices and expected welfare from
`api.schemas.proposals.ProposalRead`, a decision from `api.schemas.decisions.DecisionRead`,
the margin and the greedy choice from the decision rule itself
(`market.decision.best_alternative`, `greedy_choice`) applied to the averages the crank
would read (`market.deciding.advance_market`, in memory: a page never writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.schemas.funds import BalancesRead
from api.schemas.proposals import ProposalRead
from api.schemas.trades import PositionRead
from market import funding
from market import repository as repo
from market.deciding import UNDECIDED, advance_market, live_welfare, state_of
from market.decision import average, best_alternative, greedy_choice
from market.models import Market, Proposal, ProposalStatus
from market.proposals import asset_of, rule_of
from market.settlement_models import Decision, Settlement

HOME_LIMIT = 20
"""Proposals the home page lists per group (open; ended), newest first."""


@dataclass(frozen=True)
class Leaning:
    """Where the markets lean: the decision rule applied to each branch's average.

    Attributes:
        averages: welfare units, by branch index: the capped time-weighted average over the
            window as it will stand at the decision time if nothing trades until then.
        best_index: the best alternative by average.
        margin: ``average[best] − average[status quo]``, welfare units.
        threshold: ``δ``.
        greedy_index: the branch the rule picks: ``best`` if ``margin > δ``, else the
            status quo.
    """

    averages: tuple[float, ...]
    best_index: int
    margin: float
    threshold: float
    greedy_index: int


@dataclass(frozen=True)
class Summary:
    """One proposal on the home page."""

    proposal: ProposalRead
    leaning: Leaning | None
    decision: Decision | None
    settlement: Settlement | None

    @property
    def leading_branch(self) -> str:
        """The branch the markets favour now (or the one executed)."""
        markets = self.proposal.markets
        if self.decision is not None:
            return markets[self.decision.executed_index].branch_name
        if self.leaning is not None:
            return markets[self.leaning.greedy_index].branch_name
        return max(markets, key=lambda m: m.expected_welfare).branch_name

    @property
    def predicted(self) -> float | None:
        """The executed branch's averaged expected welfare at the decision."""
        if self.decision is None:
            return None
        return float(self.decision.averaged[self.decision.executed_index])


def leaning(proposal: Proposal, markets: Sequence[Market], now: datetime) -> Leaning | None:
    """The would-be decision of an undecided proposal at ``now`` (None without terms).

    Each branch's state is advanced in memory to ``now`` with its live value, exactly as
    `market.deciding.crank` would advance it (and as `reports.read_model` projects it), and
    the rule is applied to the averages. The home page uses this light form: the report's
    read model also replays each branch's trades for its charts and bands."""
    rule = rule_of(proposal)
    if rule is None or proposal.decides_at is None or not markets:
        return None
    asset = asset_of(proposal.asset_kind, proposal.lo, proposal.hi, proposal.bin_edges)
    decides_at = proposal.decides_at.timestamp()
    t = now.timestamp()  # as reports.read_model moves it: time after T never counts
    ordered = sorted(markets, key=lambda m: m.branch_index)
    averages = []
    for market in ordered:
        live = live_welfare(asset, market.q_micros, market.b_micros)
        state = advance_market(rule, decides_at, state_of(market), t, live, live)
        averages.append(average(state, rule))
    status_quo = next((m.branch_index for m in ordered if m.is_status_quo), len(ordered) - 1)
    best, margin = best_alternative(averages, status_quo)
    greedy = greedy_choice(averages, status_quo, rule.threshold)
    return Leaning(tuple(averages), int(best), float(margin), rule.threshold, int(greedy))


def _newest(session: Session, statuses: Sequence[str], limit: int) -> list[Proposal]:
    stmt = (
        select(Proposal)
        .where(Proposal.status.in_(list(statuses)))
        .order_by(Proposal.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _summaries(session: Session, proposals: list[Proposal], now: datetime) -> list[Summary]:
    ids = [p.id for p in proposals]
    by_proposal: dict[int, list[Market]] = {i: [] for i in ids}
    for market in repo.markets_of(session, ids):
        by_proposal[market.proposal_id].append(market)
    decisions = {
        d.proposal_id: d
        for d in session.scalars(select(Decision).where(Decision.proposal_id.in_(ids)))
    }
    settlements = {
        s.proposal_id: s
        for s in session.scalars(select(Settlement).where(Settlement.proposal_id.in_(ids)))
    }
    out = []
    for p in proposals:
        markets = sorted(by_proposal[p.id], key=lambda m: m.branch_index)
        undecided = ProposalStatus(p.status) in UNDECIDED
        out.append(
            Summary(
                proposal=ProposalRead.of(p, markets, now),
                leaning=leaning(p, markets, now) if undecided else None,
                decision=decisions.get(p.id),
                settlement=settlements.get(p.id),
            )
        )
    return out


def home(session: Session, now: datetime) -> tuple[list[Summary], list[Summary]]:
    """``(open, ended)``: the newest `HOME_LIMIT` undecided proposals and the newest
    `HOME_LIMIT` decided, settled or unwound ones, each newest first."""
    open_ = _newest(session, [s.value for s in UNDECIDED], HOME_LIMIT)
    ended = _newest(
        session,
        [ProposalStatus.DECIDED.value, ProposalStatus.SETTLED.value, ProposalStatus.UNWOUND.value],
        HOME_LIMIT,
    )
    return _summaries(session, open_, now), _summaries(session, ended, now)


@dataclass(frozen=True)
class Holdings:
    """A trader's cash, conditional cash per branch and positions in one proposal."""

    balances: BalancesRead
    positions: list[PositionRead]


def holdings(session: Session, account_id: int, proposal_id: int) -> Holdings:
    """What ``account_id`` holds in ``proposal_id`` (as ``GET /me/balances`` and
    ``GET /me/positions`` answer; a proposal has at most a few markets, one page)."""
    rows = repo.positions_of(
        session, account_id, proposal_id=proposal_id, after_market_id=0, limit_markets=1000
    )
    return Holdings(
        balances=BalancesRead.of(funding.balances(session, account_id, proposal_id)),
        positions=[
            PositionRead(
                market_id=r.market_id,
                proposal_id=r.proposal_id,
                branch_index=r.branch_index,
                branch_name=r.branch_name,
                outcome=r.outcome,
                outcome_name=str(list(r.outcomes)[r.outcome]),
                shares=int(r.shares_micros),
            )
            for r in rows
        ],
    )
