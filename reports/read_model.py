"""Build the policy-decision report's read model (`reports.model.PolicyReport`) of a proposal.

``build(session, proposal_id, now=None)`` is the one entry point: the HTML, JSON and
Markdown renderings, the ``GET /proposals/{id}/report`` route, the ``futarchy report``
command and the web pages all call it and only read what it returns (pure data, no ORM
objects; see `reports.model`).

Where each figure comes from (nothing is recomputed that a service already owns):

- prices and expected welfare: the market row's ``q`` and ``b`` (`market.book.Book`) read
  through the welfare asset (`market.assets`);
- averages: the recorded decision's; before it, the market's stored averaging state moved
  to ``now`` exactly as `market.deciding.crank` moves it (`market.deciding.advance_market`,
  `market.decision.average`), but without writing it: the projection to ``T`` if nothing
  trades until then;
- the would-be decision: the decision rule's own functions (`market.decision.
  best_alternative`, `greedy_choice`, `decision_distribution`); the draw waits for the
  seed, which only the decision reveals;
- activity: SQL aggregates (`reports.queries.market_totals`); the charts and the bands:
  one paged pass over each market's trades into bounded accumulators (`reports.series`);
- after the end: `market.settling.settlement_report`;
- the maker's worst case: ``⌊b ln n⌋`` (`market.book.Book.max_loss_micros`).

Reads only: it runs in a read-only transaction and changes no row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.orm import Session

from db.types import utcnow
from market import repository as repo
from market import settling
from market.assets import Asset, BinnedAsset
from market.book import Book
from market.deciding import UNDECIDED, advance_market, live_welfare, state_of
from market.decision import (
    DecisionRule,
    average,
    best_alternative,
    decision_distribution,
    greedy_choice,
    initial_state,
)
from market.models import Market, MarketStatus, Proposal, ProposalStatus
from market.proposals import asset_of, rule_of
from market.settlement_models import Decision
from market.settling import BranchResult, SettlementReport
from reports import flags as flag_rules
from reports import queries
from reports.fmt import when
from reports.model import (
    SCHEMA,
    Activity,
    Band,
    BranchOutcome,
    BranchReport,
    ChartSpan,
    DecisionState,
    DecisionSummary,
    Flag,
    LastMove,
    MakerSummary,
    MetricSummary,
    PathPoint,
    PolicyReport,
    RuleSummary,
    SettlementSummary,
    VolumeBucket,
)
from reports.series import (
    MAX_PATH_POINTS,
    FloatArray,
    LastInterval,
    ObservationRange,
    PathSampler,
    VolumeBuckets,
)
from welfare.metric_service import definition_of, find_version

QUANTILE_LEVELS = (0.1, 0.9)
"""The band of a binned branch: these quantiles of its current distribution."""

DEFAULT_INTERVAL_SECONDS = 3600
"""The "last interval" of a proposal without a decision rule (one hour)."""

WELFARE_UNITS = "welfare units"
"""The unit named when the metric version names none."""


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _metric(session: Session, proposal: Proposal) -> MetricSummary:
    version = (
        None
        if proposal.metric_version_id is None
        else find_version(session, proposal.metric_version_id)
    )
    definition = None if version is None else definition_of(version)
    edges = None if proposal.bin_edges is None else tuple(float(e) for e in proposal.bin_edges)
    return MetricSummary(
        version_id=proposal.metric_version_id,
        name=None if version is None else version.name,
        unit=None if definition is None else definition.unit,
        entity=None if definition is None else definition.entity,
        definition_path=(
            None
            if proposal.metric_version_id is None
            else f"/metric-versions/{proposal.metric_version_id}"
        ),
        lo=float(proposal.lo),
        hi=float(proposal.hi),
        bin_edges=edges,
    )


def _rule(proposal: Proposal, rule: DecisionRule | None) -> RuleSummary | None:
    if rule is None or proposal.decides_at is None:
        return None
    return RuleSummary(
        window_seconds=rule.window_seconds,
        interval_seconds=rule.interval_seconds,
        cap=rule.cap,
        threshold=rule.threshold,
        epsilon=rule.epsilon,
        exploration_mode=rule.exploration_mode,
        rule_hash=proposal.decision_rule_hash or "",
        seed_commitment=proposal.seed_commitment or "",
        decides_at=proposal.decides_at,
        window_starts_at=_at(proposal.decides_at.timestamp() - rule.window_seconds),
    )


def _averaged_now(
    proposal: Proposal, market: Market, rule: DecisionRule, live: float, now: float
) -> float:
    """The branch's average as `market.deciding.crank` would report it at ``now``: moved
    to ``now`` with its live value while undecided (never written), else as stored."""
    assert proposal.decides_at is not None
    decides_at = proposal.decides_at.timestamp()
    state = state_of(market)
    if proposal.status in UNDECIDED:
        state = advance_market(rule, decides_at, state, now, live, live)
    elif state is None:
        state = initial_state(rule, decides_at, decides_at, live)
    return average(state, rule)


def welfare_reader(asset: Asset) -> Callable[[FloatArray], FloatArray]:
    """``E[W]`` of many price vectors at once (rows of ``prices``), welfare units: the
    vectorised twin of ``asset.expected_welfare`` (same formula, prices normalised by their
    sum; bit for bit the same for a LONG/SHORT asset, to rounding for bins)."""
    if isinstance(asset, BinnedAsset):
        edges = np.asarray(asset.edges, dtype=np.float64)
        middles = (edges[:-1] + edges[1:]) / 2.0

        def binned(prices: FloatArray) -> FloatArray:
            result: FloatArray = (prices @ middles) / prices.sum(axis=1)
            return result

        return binned
    lo, width = asset.lo, asset.hi - asset.lo

    def scalar(prices: FloatArray) -> FloatArray:
        result: FloatArray = lo + width * (prices[:, 0] / prices.sum(axis=1))
        return result

    return scalar


class _Stream:
    """The accumulators one market's trades are pushed through (`reports.series`)."""

    def __init__(
        self,
        asset: Asset,
        opening: float,
        span: tuple[float, float],
        move_end: float,
        interval: float,
        observation: ObservationRange | None,
    ) -> None:
        self.welfare = welfare_reader(asset)
        self.n = asset.n
        self.path = PathSampler(span[0], span[1], opening)
        self.volume = VolumeBuckets(span[0], span[1])
        self.last = LastInterval(move_end, interval, opening)
        self.observation = observation

    def read(self, session: Session, market_id: int) -> None:
        for page in queries.trade_pages(session, market_id, self.n):
            values = self.welfare(page.prices)
            self.path.add(page.times, values)
            self.volume.add(page.times, page.cash_micros)
            self.last.add(page.times, values)
            if self.observation is not None:
                self.observation.add(page.times, values)


def _band(asset: Asset, prices: Sequence[float], stream: _Stream, averaged: float) -> Band:
    if isinstance(asset, BinnedAsset):
        low_level, high_level = QUANTILE_LEVELS
        return Band(
            low=asset.quantile(prices, low_level),
            high=asset.quantile(prices, high_level),
            method="quantiles",
            low_level=low_level,
            high_level=high_level,
        )
    if stream.observation is None:
        return Band(averaged, averaged, "observation_range", None, None)
    low, high = stream.observation.finish()
    # the replay and the stored state may differ by float rounding; A lies in the range
    return Band(min(low, averaged), max(high, averaged), "observation_range", None, None)


def _maker(
    market: Market, prices: Sequence[float], ended: bool, realised: int | None
) -> MakerSummary:
    q = [int(x) for x in market.q_micros]
    current = None
    if not ended:
        liability = math.fsum(qk * pk for qk, pk in zip(q, prices, strict=True))
        current = round(liability) - (market.maker_cash_micros - market.subsidy_micros)
    return MakerSummary(
        subsidy_micros=market.subsidy_micros,
        liquidity_micros=market.b_micros,
        worst_case_loss_micros=Book((0,) * len(q), market.b_micros).max_loss_micros,
        current_loss_micros=current,
        realised_result_micros=realised,
    )


def _decision(
    proposal: Proposal,
    rule: DecisionRule | None,
    recorded: Decision | None,
    averaged: list[float],
    status_quo: int,
    names: Sequence[str],
    at: datetime,
) -> DecisionSummary:
    if recorded is not None:
        executed = recorded.executed_index
        how = "the markets settle in it" if recorded.settles else "every bet is unwound"
        chance = "chance (exploration) picked it" if recorded.explored else "the markets chose it"
        return DecisionSummary(
            state="decided",
            label=(
                f"Decided at {when(recorded.decided_at)}: branch {executed} "
                f"{names[executed]!r} is executed; {chance}, and {how}."
            ),
            as_of=recorded.decided_at,
            averaged=tuple(float(a) for a in recorded.averaged),
            best_index=recorded.best_index,
            margin=recorded.margin,
            threshold=None if rule is None else rule.threshold,
            margin_over_threshold=None if rule is None else recorded.margin - rule.threshold,
            greedy_index=recorded.greedy_index,
            distribution=tuple(float(d) for d in recorded.distribution),
            executed_index=executed,
            explored=recorded.explored,
            settles=recorded.settles,
            u=recorded.draw_u,
            seed=recorded.seed_hex,
            decided_at=recorded.decided_at,
        )
    if rule is None or proposal.decides_at is None or proposal.status not in UNDECIDED:
        why = (
            f"the proposal was {proposal.status} before any decision"
            if proposal.status not in UNDECIDED
            else "the proposal has no decision terms"
        )
        return DecisionSummary(
            state="none",
            label=f"No decision: {why}.",
            as_of=at,
            averaged=(),
            best_index=None,
            margin=None,
            threshold=None,
            margin_over_threshold=None,
            greedy_index=None,
            distribution=(),
            executed_index=None,
            explored=None,
            settles=None,
            u=None,
            seed=None,
            decided_at=None,
        )
    best, margin = best_alternative(averaged, status_quo)
    greedy = greedy_choice(averaged, status_quo, rule.threshold)
    d = decision_distribution(greedy, len(averaged), rule.epsilon)
    g = int(greedy)
    due = when(proposal.decides_at)
    state: DecisionState
    if at < proposal.decides_at:
        state = "would_be"
        label = (
            f"Not decided yet. The decision as it would be if taken now ({when(at)}): "
            f"branch {g} {names[g]!r}; each average assumes nothing trades until the "
            f"decision at {due}."
        )
    else:
        state = "due"
        label = (
            f"Not decided yet: the decision was due at {due} and anyone may take it now. "
            f"The rule gives branch {g} {names[g]!r} as the greedy choice."
        )
    if rule.epsilon > 0:
        label += " The exploration draw waits for the seed the decision reveals."
    return DecisionSummary(
        state=state,
        label=label,
        as_of=at,
        averaged=tuple(averaged),
        best_index=int(best),
        margin=float(margin),
        threshold=rule.threshold,
        margin_over_threshold=float(margin) - rule.threshold,
        greedy_index=g,
        distribution=tuple(float(x) for x in d),
        executed_index=None,
        explored=None,
        settles=None,
        u=None,
        seed=None,
        decided_at=None,
    )


@dataclass(frozen=True)
class _Frame:
    """What every branch of one report shares: the proposal's terms and its time axis
    (seconds since the Unix epoch).

    Attributes:
        now: the report's instant; opens, closes: the trading window.
        decides_at: ``T`` (None without decision terms).
        trading_end: ``min(now, close)``, where the price paths end.
        span: the charts' time axis, the opening to the later of ``trading_end`` and ``T``.
        move_end: the end of the "last interval", ``min(now, T)``; interval: its length.
        opening: the expected welfare at uniform prices (every market's opening value).
    """

    proposal: Proposal
    asset: Asset
    rule: DecisionRule | None
    now: float
    opens: float
    closes: float
    decides_at: float | None
    trading_end: float
    span: tuple[float, float]
    move_end: float
    interval: float
    opening: float

    @classmethod
    def of(cls, proposal: Proposal, at: datetime) -> _Frame:
        rule = rule_of(proposal)
        asset = asset_of(proposal.asset_kind, proposal.lo, proposal.hi, proposal.bin_edges)
        now = at.timestamp()
        opens, closes = proposal.opens_at.timestamp(), proposal.closes_at.timestamp()
        decides_at = (
            proposal.decides_at.timestamp()
            if rule is not None and proposal.decides_at is not None
            else None
        )
        trading_end = min(now, closes)
        span_end = max(trading_end, trading_end if decides_at is None else decides_at)
        return cls(
            proposal=proposal,
            asset=asset,
            rule=rule,
            now=now,
            opens=opens,
            closes=closes,
            decides_at=decides_at,
            trading_end=trading_end,
            span=(opens, span_end if span_end > opens else opens + 1.0),
            move_end=min(now, closes if decides_at is None else decides_at),
            interval=float(DEFAULT_INTERVAL_SECONDS if rule is None else rule.interval_seconds),
            opening=asset.expected_welfare([1.0 / asset.n] * asset.n),
        )


@dataclass(frozen=True)
class _Read:
    """One market as read: its prices, live and averaged welfare, and its trade stream."""

    market: Market
    prices: tuple[float, ...]
    live: float
    averaged: float
    stream: _Stream


def _read(session: Session, frame: _Frame, market: Market, recorded: Decision | None) -> _Read:
    """Read one market: its row's prices and average, then its trades, page by page."""
    asset, rule = frame.asset, frame.rule
    prices = Book(tuple(int(x) for x in market.q_micros), market.b_micros).prices()
    live = live_welfare(asset, market.q_micros, market.b_micros)
    if recorded is not None:
        averaged = float(recorded.averaged[market.branch_index])
    elif rule is not None and frame.decides_at is not None:
        averaged = _averaged_now(frame.proposal, market, rule, live, frame.now)
    else:
        averaged = live
    observation = None
    if rule is not None and frame.decides_at is not None and not isinstance(asset, BinnedAsset):
        observation = ObservationRange(rule, frame.opens, frame.decides_at, frame.opening)
    stream = _Stream(asset, frame.opening, frame.span, frame.move_end, frame.interval, observation)
    stream.read(session, market.id)
    return _Read(market, prices, live, averaged, stream)


def _activity(total: queries.MarketTotals) -> Activity:
    return Activity(
        trades=total.trades,
        volume_micros=total.volume_micros,
        traders=total.traders,
        top_trader_volume_micros=total.top_trader_volume_micros,
        top_trader_share=(
            total.top_trader_volume_micros / total.volume_micros if total.volume_micros else 0.0
        ),
    )


def _outcome(
    ending: SettlementReport, result: BranchResult, recorded: Decision | None
) -> BranchOutcome:
    """One branch after the end: predicted vs measured, and what its traders earned."""
    settled_here = result.status == MarketStatus.SETTLED
    measured = ending.settlement.welfare_value
    predicted = None if recorded is None else float(recorded.averaged[result.branch_index])
    return BranchOutcome(
        status=result.status,
        predicted_welfare=predicted,
        error=(
            measured - predicted
            if settled_here and measured is not None and predicted is not None
            else None
        ),
        traders_earned_micros=(
            ending.settlement.paid_micros - ending.deposits_micros if settled_here else 0
        ),
        shares_paid_micros=result.shares_paid_micros,
    )


def _branch(
    frame: _Frame,
    read: _Read,
    activity: Activity,
    decision: DecisionSummary,
    ending: SettlementReport | None,
    recorded: Decision | None,
) -> BranchReport:
    market, prices, stream = read.market, read.prices, read.stream
    j = market.branch_index
    proposal = frame.proposal
    scalar = not isinstance(frame.asset, BinnedAsset)
    result = (
        None if ending is None else next((b for b in ending.branches if b.branch_index == j), None)
    )
    last = stream.last
    edges = stream.volume.edges()
    return BranchReport(
        index=j,
        name=market.branch_name,
        market_id=market.id,
        is_status_quo=market.is_status_quo,
        market_status=market.status,
        outcomes=tuple(str(o) for o in market.outcomes),
        prices=tuple(prices),
        price=prices[0] if scalar else None,
        expected_welfare=read.live,
        averaged_welfare=read.averaged,
        averaged_price=(
            (read.averaged - proposal.lo) / (proposal.hi - proposal.lo) if scalar else None
        ),
        band=_band(frame.asset, prices, stream, read.averaged),
        activity=activity,
        maker=_maker(
            market,
            prices,
            ending is not None,
            None if result is None else result.maker_result_micros,
        ),
        last_move=LastMove(
            starts_at=_at(last.start),
            ends_at=_at(last.end),
            before=last.before,
            after=last.after,
            change=last.after - last.before,
        ),
        probability=decision.distribution[j] if decision.distribution else None,
        executed=None if decision.executed_index is None else j == decision.executed_index,
        path=tuple(PathPoint(_at(t), v) for t, v in stream.path.points(frame.trading_end)),
        volume=tuple(
            VolumeBucket(_at(a), _at(b), n, v)
            for a, b, n, v in zip(
                edges[:-1], edges[1:], stream.volume.trades, stream.volume.volume, strict=True
            )
        ),
        outcome=None if ending is None or result is None else _outcome(ending, result, recorded),
    )


def _settlement(ending: SettlementReport) -> SettlementSummary:
    row = ending.settlement
    return SettlementSummary(
        kind=row.kind,
        reason=row.reason,
        settled_at=row.settled_at,
        measurement_id=row.measurement_id,
        measured_welfare=row.welfare_value,
        executed_index=row.executed_index,
        traders_paid_micros=row.paid_micros,
        sponsor_paid_micros=row.sponsor_paid_micros,
        deposits_micros=ending.deposits_micros,
        traders_earned_micros=row.paid_micros - ending.deposits_micros,
        traders=ending.traders,
        ipw_probability=ending.ipw_probability,
    )


def _flags(
    frame: _Frame, branches: Sequence[BranchReport], decision: DecisionSummary, unit: str
) -> tuple[Flag, ...]:
    rule = frame.rule
    found: list[Flag] = []
    for b in branches:
        found += flag_rules.branch_flags(
            b.index,
            b.name,
            b.activity,
            b.last_move,
            frame.proposal.subsidy_micros,
            None if rule is None else rule.cap,
            unit,
            None if rule is None else rule.interval_seconds,
        )
    status_quo = next((b for b in branches if b.is_status_quo), None)
    if decision.best_index is not None and decision.margin is not None and status_quo:
        best = branches[decision.best_index]
        flag = flag_rules.margin_in_band(
            decision.margin,
            decision.threshold or 0.0,
            (best.name, best.band),
            (status_quo.name, status_quo.band),
            unit,
        )
        if flag is not None:
            found.append(flag)
    return flag_rules.ordered(found)


def build(session: Session, proposal_id: int, now: datetime | None = None) -> PolicyReport:
    """The policy-decision report of a proposal as of ``now`` (default: now, UTC).

    Reads only. Memory is bounded by the report (a page of trades at a time and at most
    `reports.series.MAX_PATH_POINTS` points per branch), not by the trade history.

    Raises:
        UnknownProposal: no such proposal (a `db.errors.NotFoundError`, HTTP 404).
    """
    at = utcnow() if now is None else now
    proposal = repo.get_proposal(session, proposal_id)
    frame = _Frame.of(proposal, at)
    markets = sorted(repo.markets_of(session, [proposal_id]), key=lambda m: m.branch_index)
    metric = _metric(session, proposal)
    unit = metric.unit or WELFARE_UNITS
    recorded = repo.decision_of(session, proposal_id)
    ended = proposal.status in (ProposalStatus.SETTLED, ProposalStatus.UNWOUND)
    ending = settling.settlement_report(session, proposal_id) if ended else None
    totals = queries.market_totals(session, [m.id for m in markets])

    reads = [_read(session, frame, m, recorded) for m in markets]
    names = [m.branch_name for m in markets]
    status_quo = next((m.branch_index for m in markets if m.is_status_quo), len(markets) - 1)
    decision = _decision(
        proposal, frame.rule, recorded, [r.averaged for r in reads], status_quo, names, at
    )
    branches = tuple(
        _branch(frame, r, _activity(totals[r.market.id]), decision, ending, recorded) for r in reads
    )
    total_trades = sum(b.activity.trades for b in branches)
    rule_summary = _rule(proposal, frame.rule)
    return PolicyReport(
        schema=SCHEMA,
        generated_at=at,
        proposal_id=proposal.id,
        title=proposal.title,
        description=proposal.description,
        status=proposal.status,
        trading_open=(
            proposal.status == ProposalStatus.OPEN and frame.opens <= frame.now < frame.closes
        ),
        asset_kind=proposal.asset_kind,
        opens_at=proposal.opens_at,
        closes_at=proposal.closes_at,
        decides_at=None if rule_summary is None else rule_summary.decides_at,
        alternatives=tuple(m.branch_name for m in markets if not m.is_status_quo),
        status_quo=names[status_quo] if names else "",
        metric=metric,
        rule=rule_summary,
        subsidy_micros=proposal.subsidy_micros,
        sponsor_account_id=proposal.sponsor_account_id,
        branches=branches,
        decision=decision,
        settlement=None if ending is None else _settlement(ending),
        chart=ChartSpan(
            starts_at=proposal.opens_at,
            ends_at=_at(frame.span[1]),
            window_starts_at=None if rule_summary is None else rule_summary.window_starts_at,
            decides_at=None if rule_summary is None else rule_summary.decides_at,
            max_points_per_branch=MAX_PATH_POINTS,
        ),
        flags=_flags(frame, branches, decision, unit),
        total_trades=total_trades,
        has_trades=total_trades > 0,
    )
