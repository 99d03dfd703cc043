"""Replay a real proposal's recorded trades under another decision rule.

What would another rule have decided, and by what margin? `load` reads what a proposal
recorded (its terms, each branch's price path, the decision if there is one); `replay`
recomputes each branch's capped time-weighted average and the decision under a rule built
from the proposal's own with some fields changed (`Overrides`); `replay_proposal` does both.

**The same steps as the service.** A branch's averaging state moves only by
`market.branch.advance_market` (`market.decision.advance` underneath):

1. it opens at `market.branch.opening_state` when the proposal is created;
2. each trade at ``t`` advances it to ``t`` with the expected welfare after the trade,
   ``asset.expected_welfare(prices_after)`` (`market.branch.after_trade`);
3. each crank advances it to its time with the welfare then in force (`market.deciding.crank`);
4. the decision advances it to ``T`` with the live welfare of the market's book
   (`market.branch.live_welfare`) and reads `market.decision.average`.

`replay` runs exactly these calls, in the order the service ran them, with the replayed
rule in place of the recorded one. So with no overrides it reproduces the recorded averages
and decision bit for bit; the overrides change only the rule's numbers, never the path. A
crank changes no price, but splitting one advance in two can change the last bit of a sum,
so cranks are replayed too. Their times are read from the market's audit stream: the
effective time each recorded, ``max(crank time, last update)``. Trades run in id order,
which is time order (they are stamped under the market lock), and a crank goes before a
trade exactly when its effective time is earlier; at equal times the order changes nothing
(the second advance crosses no boundary).

**Time and memory.** Trades are read a page at a time (`reports.queries.trade_pages`, a
keyset scan of the ``(market_id, id)`` index), cranks likewise (a keyset scan of the
market's audit stream that keeps only ``crank`` events), so memory holds a page whatever the
history; the work is one O(1) `advance` per step (a few microseconds in Python).

**What is compared.** The recorded average of a decided proposal is the decision's; of an
undecided one, the average its stored state would give if nothing traded until ``T``
(as `reports.read_model` and `market.deciding.crank` report it), and the replayed state is
projected the same way. The replayed decision is `market.decision.decide`'s when it can be
taken: always for ``ε = 0``; with exploration only once the decision has revealed the seed
(a draw before it would use the server's secret). Otherwise it is the greedy choice and the
distribution ``d``, without a draw.

A market whose averaging state was still null at its first trade (a legacy one from before
the averaging state) started it lazily; its replay, which opens every market at
`opening_state`, agrees with it only to rounding.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import AuditEvent
from db.audit_chain import market_stream
from db.paging import MAX_PAGE
from db.types import utcnow
from market import repository as repo
from market.assets import Asset
from market.branch import advance_market, asset_of, live_welfare, opening_state, state_of
from market.deciding import UNDECIDED, BrokenTerms
from market.decision import (
    Decision,
    DecisionRule,
    ExplorationMode,
    TwapState,
    average,
    best_alternative,
    decide,
    decision_distribution,
    greedy_choice,
    initial_state,
)
from market.proposals import rule_of
from reports.queries import trade_pages

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

CRANK: Final = "crank"
"""The kind of the audit event a crank appends to each market it moves."""


# --- the rule under test ------------------------------------------------------------------


@dataclass(frozen=True)
class Overrides:
    """Fields of the recorded `DecisionRule` to change; None keeps the recorded value.

    Attributes:
        window_seconds: ``W``, whole seconds ending at the decision time.
        interval_seconds: ``I``, whole seconds; ``W`` must be a whole multiple of it.
        cap: ``c``, welfare units an observation moves per interval at most (``> 0``).
        threshold: ``δ``, welfare units an alternative must beat the status quo by (``≥ 0``).
        epsilon: ``ε``, the exploration probability, ``0 ≤ ε < 1``.
        exploration_mode: ``"none"``, ``"ipw"`` or ``"randomised_only"``.
    """

    window_seconds: int | None = None
    interval_seconds: int | None = None
    cap: float | None = None
    threshold: float | None = None
    epsilon: float | None = None
    exploration_mode: ExplorationMode | None = None

    def apply(self, recorded: DecisionRule) -> DecisionRule:
        """The recorded rule with these fields changed (validated as any rule is).

        ``epsilon = 0`` given without a mode also sets the mode to ``"none"`` (no exploration
        is the only mode ``ε = 0`` admits); ``ε > 0`` on a rule without exploration needs
        the mode too.

        Raises:
            InvalidDecisionRule: naming the first field out of range (``window_seconds``
                when the window is no whole multiple of the interval).
        """
        changes: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }
        if self.epsilon == 0 and self.exploration_mode is None:
            changes["exploration_mode"] = "none"
        return dataclasses.replace(recorded, **changes)


# --- what a proposal recorded -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PathPage:
    """One page of a branch's recorded steps, oldest first (parallel arrays).

    Attributes:
        times: seconds since the Unix epoch, non-decreasing.
        welfare: welfare units; the live expected welfare in force from ``times[i]`` on.
        crank: True where the step is a crank (the value in force unchanged), False where
            it is a trade.
    """

    times: FloatArray
    welfare: FloatArray
    crank: BoolArray


@dataclass(frozen=True)
class RecordedDecision:
    """The decision a proposal recorded (`market.settlement_models.Decision`).

    Attributes:
        averaged: welfare units, one per branch.
        best_alternative, margin, greedy, distribution: as `market.decision.Decision`.
        executed: the executed branch; explored, settles: as `market.decision.Decision`.
        seed: the seed the decision revealed.
    """

    averaged: tuple[float, ...]
    best_alternative: int
    margin: float
    greedy: int
    distribution: tuple[float, ...]
    executed: int
    explored: bool
    settles: bool
    seed: bytes


@dataclass(frozen=True)
class RecordedBranch:
    """One branch market as recorded.

    Attributes:
        market_id, index, name, is_status_quo: which branch.
        live: welfare units; the expected welfare its book implies now (the value the
            decision reads, or a projection to ``T`` carries).
        recorded_average: welfare units; the recorded decision's average, or undecided the
            average its stored state gives projected to ``T`` (as the report shows it).
        path: the recorded steps (`PathPage`), re-iterable; from `load` it reads the
            database each time it is iterated, in the transaction `load` read the proposal
            in (iterating it after that transaction ended raises RuntimeError).
    """

    market_id: int
    index: int
    name: str
    is_status_quo: bool
    live: float
    recorded_average: float
    path: Iterable[PathPage]


@dataclass(frozen=True)
class Recorded:
    """What `replay` needs of one proposal (no ORM object; `load` gives lazy paths).

    Attributes:
        proposal_id, title, status: the proposal.
        rule: the recorded decision rule.
        terms_hash: the proposal's published ``decision_rule_hash`` (the rule with the
            decision time, the seed's commitment and what settles it).
        asset: the welfare asset its markets trade.
        opens_at, decides_at, now: seconds since the Unix epoch; ``now`` is when it was read.
        branches: by branch index.
        decision: the recorded decision, or None.
    """

    proposal_id: int
    title: str
    status: str
    rule: DecisionRule
    terms_hash: str
    asset: Asset
    opens_at: float
    decides_at: float
    now: float
    branches: tuple[RecordedBranch, ...]
    decision: RecordedDecision | None

    @property
    def status_quo_index(self) -> int:
        """The status quo's branch index (the last branch unless one says otherwise)."""
        return next((b.index for b in self.branches if b.is_status_quo), len(self.branches) - 1)

    @property
    def undecided(self) -> bool:
        """Whether the proposal can still be decided (open or closed, no decision)."""
        return self.decision is None and self.status in UNDECIDED


# --- the I/O ------------------------------------------------------------------------------


def _crank_times(session: Session, market_id: int, size: int) -> Iterator[float]:
    """The effective time of each crank of a market (seconds), in stream order.

    A keyset scan of the market's audit stream (primary key ``(stream, seq)``) that keeps
    only ``crank`` events, a page at a time; the time is the crank's recorded averaging
    state's ``observed_at``, ``max(crank time, last update)``.
    """
    stream = market_stream(market_id)
    after = 0
    while True:
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.body)
            .where(AuditEvent.stream == stream, AuditEvent.kind == CRANK, AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(size)
        ).all()
        for row in rows:
            yield float(json.loads(row.body)["data"]["twap"][1])
        if len(rows) < size:
            return
        after = int(rows[-1].seq)


def _welfare(asset: Asset, prices: FloatArray) -> FloatArray:
    """``asset.expected_welfare`` of each row, called row by row: the very function the
    trading service applies to the prices after a trade, so the value is the same float."""
    return np.array([asset.expected_welfare(row) for row in prices.tolist()], dtype=np.float64)


class _PagedPath:
    """A branch's recorded steps read from the database: its trades (in id order, which is
    time order: trades are stamped under the market lock) merged with its cranks."""

    def __init__(
        self, session: Session, market_id: int, asset: Asset, opening_live: float, size: int
    ) -> None:
        self._session = session
        self._market_id = market_id
        self._asset = asset
        self._opening_live = opening_live
        self._size = size

    def __iter__(self) -> Iterator[PathPage]:
        if self._session.get_transaction() is None:
            # a closed session would silently open (and leak) a new transaction, reading
            # a different snapshot from the one the proposal was read in
            raise RuntimeError(
                "a recorded path is read in the transaction that loaded it: replay inside "
                "the session block"
            )
        size = self._size
        cranks = _crank_times(self._session, self._market_id, size)
        crank = next(cranks, None)
        live = self._opening_live  # the value a crank before any trade reads
        times: list[float] = []
        values: list[float] = []
        kinds: list[bool] = []

        def page() -> PathPage:
            out = PathPage(
                np.array(times, dtype=np.float64),
                np.array(values, dtype=np.float64),
                np.array(kinds, dtype=np.bool_),
            )
            times.clear()
            values.clear()
            kinds.clear()
            return out

        n = self._asset.n
        for trades in trade_pages(self._session, self._market_id, n, page_size=size):
            welfare = _welfare(self._asset, trades.prices)
            for t, w in zip(trades.times.tolist(), welfare.tolist(), strict=True):
                while crank is not None and crank < t:
                    times.append(crank)
                    values.append(live)
                    kinds.append(True)
                    crank = next(cranks, None)
                    if len(times) >= size:
                        yield page()
                times.append(t)
                values.append(w)
                kinds.append(False)
                live = w
                if len(times) >= size:
                    yield page()
        while crank is not None:
            times.append(crank)
            values.append(live)
            kinds.append(True)
            crank = next(cranks, None)
            if len(times) >= size:
                yield page()
        if times:
            yield page()


def _recorded_decision(row: Any) -> RecordedDecision:
    return RecordedDecision(
        averaged=tuple(float(a) for a in row.averaged),
        best_alternative=int(row.best_index),
        margin=float(row.margin),
        greedy=int(row.greedy_index),
        distribution=tuple(float(d) for d in row.distribution),
        executed=int(row.executed_index),
        explored=bool(row.explored),
        settles=bool(row.settles),
        seed=bytes.fromhex(row.seed_hex),
    )


def _stored_average(
    rule: DecisionRule,
    decides_at: float,
    state: TwapState | None,
    live: float,
    now: float,
    undecided: bool,
) -> float:
    """An undecided branch's average as `market.deciding.crank` would report it at ``now``
    (its stored state moved to ``now`` with its live value, not written); after an ending
    without a decision, as stored."""
    if undecided:
        state = advance_market(rule, decides_at, state, now, live, live)
    elif state is None:
        state = initial_state(rule, decides_at, decides_at, live)
    return average(state, rule)


def load(
    session: Session,
    proposal_id: int,
    *,
    now: datetime | None = None,
    page_size: int = MAX_PAGE,
) -> Recorded:
    """Read what a proposal recorded: its terms, its branches and their paths, its decision.

    Reads the proposal, its markets and its decision now (a few rows); each branch's
    `RecordedBranch.path` reads its trades and cranks lazily, ``page_size`` rows at a time
    (at most `db.paging.MAX_PAGE`), whenever it is iterated in this same transaction.

    Args:
        session: an open session (a read transaction is enough: nothing is written).
        proposal_id: the proposal.
        now: the instant an undecided proposal's averages are projected from (default: now).
        page_size: rows per page.

    Raises:
        UnknownProposal: no proposal with that id.
        BrokenTerms: the proposal has no decision terms (nothing was ever averaged).
    """
    proposal = repo.get_proposal(session, proposal_id)
    rule = rule_of(proposal)
    if rule is None or proposal.decides_at is None:
        raise BrokenTerms(
            f"proposal {proposal_id} has no decision terms; there is nothing to replay"
        )
    asset = asset_of(proposal.asset_kind, proposal.lo, proposal.hi, proposal.bin_edges)
    at = (utcnow() if now is None else now).timestamp()
    decides_at = proposal.decides_at.timestamp()
    row = repo.decision_of(session, proposal_id)
    decision = None if row is None else _recorded_decision(row)
    undecided = decision is None and proposal.status in UNDECIDED
    size = max(1, min(page_size, MAX_PAGE))
    branches = []
    for market in repo.markets_of(session, [proposal_id]):
        live = live_welfare(asset, market.q_micros, market.b_micros)
        recorded_average = (
            decision.averaged[market.branch_index]
            if decision is not None
            else _stored_average(rule, decides_at, state_of(market), live, at, undecided)
        )
        opening_live = live_welfare(asset, [0] * asset.n, market.b_micros)
        branches.append(
            RecordedBranch(
                market_id=market.id,
                index=market.branch_index,
                name=market.branch_name,
                is_status_quo=market.is_status_quo,
                live=live,
                recorded_average=recorded_average,
                path=_PagedPath(session, market.id, asset, opening_live, size),
            )
        )
    return Recorded(
        proposal_id=proposal.id,
        title=proposal.title,
        status=proposal.status,
        rule=rule,
        terms_hash=proposal.decision_rule_hash or "",
        asset=asset,
        opens_at=proposal.opens_at.timestamp(),
        decides_at=decides_at,
        now=at,
        branches=tuple(branches),
        decision=decision,
    )


# --- the replay (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class BranchReplay:
    """One branch's averages, recorded and replayed.

    Attributes:
        index, name, is_status_quo: which branch.
        recorded_average: welfare units; see `RecordedBranch.recorded_average`.
        replayed_average: welfare units; the capped time-weighted average under the
            replayed rule, from the same path (projected the same way when undecided).
        trades, cranks: steps replayed.
    """

    index: int
    name: str
    is_status_quo: bool
    recorded_average: float
    replayed_average: float
    trades: int
    cranks: int


@dataclass(frozen=True)
class Replay:
    """What a rule would have decided on a proposal's recorded path, beside the record.

    Attributes:
        proposal_id, title, status: the proposal.
        branch_names: by branch index; status_quo_index: the status quo's.
        rule, rule_hash: the replayed rule and its content hash (`DecisionRule.content_hash`).
        recorded_rule, recorded_rule_hash: the recorded rule and its content hash; the two
            hashes are equal exactly when the rules are.
        terms_hash: the proposal's published terms hash (`Recorded.terms_hash`).
        decided: whether a decision is recorded; read_at: when the record was read
            (undecided averages are projected to ``T`` from then).
        branches: per branch, the recorded and the replayed average.
        best_alternative, margin: the alternative with the highest replayed average and
            ``averaged[best] − averaged[status quo]`` (welfare units).
        greedy: the replayed greedy choice: ``best`` if ``margin > δ``, else the status quo.
        distribution: ``d = (1 − ε) · onehot(greedy) + ε / (K + 1)`` under the replayed rule.
        decision: the replayed `market.decision.Decision` (executed branch, draw) when it
            can be taken: ``ε = 0``, or a revealed seed; else None.
        recorded_margin: welfare units; the margin of the recorded averages.
        recorded_greedy: the recorded decision's greedy choice, or undecided the greedy
            choice the recorded rule gives the recorded averages now.
        recorded_executed: the recorded executed branch, or None when undecided.
        changed: whether the greedy choice differs from ``recorded_greedy``.
        trades, cranks: steps replayed, over all branches.
    """

    proposal_id: int
    title: str
    status: str
    branch_names: tuple[str, ...]
    status_quo_index: int
    rule: DecisionRule
    rule_hash: str
    recorded_rule: DecisionRule
    recorded_rule_hash: str
    terms_hash: str
    decided: bool
    read_at: float
    branches: tuple[BranchReplay, ...]
    best_alternative: int
    margin: float
    greedy: int
    distribution: tuple[float, ...]
    decision: Decision | None
    recorded_margin: float
    recorded_greedy: int
    recorded_executed: int | None
    changed: bool
    trades: int
    cranks: int

    @property
    def recorded_averaged(self) -> tuple[float, ...]:
        """Welfare units, by branch index."""
        return tuple(b.recorded_average for b in self.branches)

    @property
    def replayed_averaged(self) -> tuple[float, ...]:
        """Welfare units, by branch index."""
        return tuple(b.replayed_average for b in self.branches)

    @property
    def executed(self) -> int | None:
        """The replayed executed branch, or None while the draw waits for the seed."""
        return None if self.decision is None else self.decision.executed

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (floats as numbers, exactly; times as ISO 8601 UTC)."""
        sq = self.status_quo_index
        return {
            "proposal_id": self.proposal_id,
            "title": self.title,
            "status": self.status,
            "decided": self.decided,
            "read_at": datetime.fromtimestamp(self.read_at, UTC).isoformat(),
            "status_quo_index": sq,
            "rule": self.rule.to_dict(),
            "rule_hash": self.rule_hash,
            "recorded_rule": self.recorded_rule.to_dict(),
            "recorded_rule_hash": self.recorded_rule_hash,
            "terms_hash": self.terms_hash,
            "branches": [dataclasses.asdict(b) for b in self.branches],
            "replayed": {
                "best_alternative": self.best_alternative,
                "margin": self.margin,
                "threshold": self.rule.threshold,
                "greedy": self.greedy,
                "distribution": list(self.distribution),
                "executed": self.executed,
                "explored": None if self.decision is None else self.decision.explored,
                "settles": None if self.decision is None else self.decision.settles,
            },
            "recorded": {
                "margin": self.recorded_margin,
                "threshold": self.recorded_rule.threshold,
                "greedy": self.recorded_greedy,
                "executed": self.recorded_executed,
            },
            "changed": self.changed,
            "trades": self.trades,
            "cranks": self.cranks,
        }


def replay_branch(recorded: Recorded, branch: RecordedBranch, rule: DecisionRule) -> BranchReplay:
    """One branch's average under ``rule``, by the service's own steps (module docstring).

    The state opens at `opening_state`, every recorded step ``(t, w)`` is
    ``advance_market(rule, T, state, t, w, w)`` (a trade moves the live value to ``w``, a
    crank keeps it), and then: decided, the decision's step to ``T`` with the book's live
    value; undecided, the projection from ``now`` (`market.deciding.crank`'s step, not
    written); ended without a decision, nothing more. O(steps), one page in memory.
    """
    decides_at = recorded.decides_at
    state = opening_state(rule, recorded.asset, recorded.opens_at, decides_at)
    trades = cranks = 0
    for page in branch.path:
        for t, w in zip(page.times.tolist(), page.welfare.tolist(), strict=True):
            state = advance_market(rule, decides_at, state, t, w, w)
        turned = int(np.count_nonzero(page.crank))
        cranks += turned
        trades += int(page.times.size) - turned
    if recorded.decision is not None:
        state = advance_market(rule, decides_at, state, decides_at, branch.live, branch.live)
    elif recorded.undecided:
        state = advance_market(rule, decides_at, state, recorded.now, branch.live, branch.live)
    return BranchReplay(
        index=branch.index,
        name=branch.name,
        is_status_quo=branch.is_status_quo,
        recorded_average=branch.recorded_average,
        replayed_average=average(state, rule),
        trades=trades,
        cranks=cranks,
    )


def replay(recorded: Recorded, rule: DecisionRule) -> Replay:
    """Recompute a proposal's averages and decision under ``rule`` (pure but for iterating
    the branches' paths).

    The decision is `market.decision`'s: `best_alternative`, `greedy_choice`,
    `decision_distribution`, and `decide` (the executed branch, drawn with the seed exactly
    as the service draws) when ``ε = 0`` or the recorded decision revealed the seed.

    Args:
        recorded: from `load` (or built by hand, with lists of `PathPage` as paths).
        rule: the rule to replay, e.g. ``Overrides(...).apply(recorded.rule)``.
    """
    branches = tuple(
        replay_branch(recorded, b, rule) for b in sorted(recorded.branches, key=lambda b: b.index)
    )
    sq = recorded.status_quo_index
    averaged = [b.replayed_average for b in branches]
    best, margin = best_alternative(averaged, sq)
    greedy = int(greedy_choice(averaged, sq, rule.threshold))
    distribution = decision_distribution(np.int64(greedy), len(averaged), rule.epsilon)
    seed = None if recorded.decision is None else recorded.decision.seed
    decision = (
        decide(rule, averaged, sq, seed, recorded.proposal_id)
        if rule.epsilon == 0.0 or seed is not None
        else None
    )
    kept = [b.recorded_average for b in branches]
    _, recorded_margin = best_alternative(kept, sq)
    if recorded.decision is not None:
        recorded_greedy: int = recorded.decision.greedy
        recorded_executed: int | None = recorded.decision.executed
    else:
        recorded_greedy = int(greedy_choice(kept, sq, recorded.rule.threshold))
        recorded_executed = None
    return Replay(
        proposal_id=recorded.proposal_id,
        title=recorded.title,
        status=recorded.status,
        branch_names=tuple(b.name for b in branches),
        status_quo_index=sq,
        rule=rule,
        rule_hash=rule.content_hash(),
        recorded_rule=recorded.rule,
        recorded_rule_hash=recorded.rule.content_hash(),
        terms_hash=recorded.terms_hash,
        decided=recorded.decision is not None,
        read_at=recorded.now,
        branches=branches,
        best_alternative=int(best),
        margin=float(margin),
        greedy=greedy,
        distribution=tuple(float(d) for d in distribution),
        decision=decision,
        recorded_margin=float(recorded_margin),
        recorded_greedy=recorded_greedy,
        recorded_executed=recorded_executed,
        changed=greedy != recorded_greedy,
        trades=sum(b.trades for b in branches),
        cranks=sum(b.cranks for b in branches),
    )


def replay_proposal(
    session: Session,
    proposal_id: int,
    overrides: Overrides | None = None,
    *,
    now: datetime | None = None,
) -> Replay:
    """`load` a proposal and `replay` it under its rule with ``overrides`` applied.

    Raises:
        UnknownProposal: no proposal with that id.
        BrokenTerms: the proposal has no decision terms.
        InvalidDecisionRule: an override out of range, naming the field.
    """
    recorded = load(session, proposal_id, now=now)
    rule = (overrides or Overrides()).apply(recorded.rule)
    return replay(recorded, rule)
