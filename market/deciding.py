"""Deciding (lifecycle step 4): the average on the trade path, the crank, the decision.

**The average on the trade path.** Each branch market carries its capped time-weighted
averaging state (`market.decision.TwapState`) in its ``twap_*`` columns. A trade advances
it in the SAME UPDATE that records the trade (`market.repository.record_trade_on_market`):
the state is read with the locked market row, which brings the proposal's immutable terms
along by a join (`market.repository.lock_market_for_trade`), advanced in Python with the
expected welfare AFTER the trade (`advance_market`, which lives in the pure
`market.branch` so the audit replay runs the same step), and written back. No extra round trip,
no scan of past trades: O(1) at any history length. A market whose state is still null (one
older than the averaging state) starts it lazily at its first trade or crank, counting the
value then in force back to the window start.

**The ipw margin.** While ``ε > 0`` in mode ``ipw``, the executed branch's net profit is
scaled by ``1 / d(executed) ≤ 1 / d_min`` with ``d_min = ε / (K + 1)``, and so are losses.
A buy is therefore accepted only if the conditional cash the trader keeps in that branch
covers ``M = 1 / d_min − 1`` times its net spend there (``branch_cash.spent_micros`` after
the buy): ``cash_after ≥ M · spent_after`` (`margin_multiple`), checked by the trade's own
conditional UPDATE (`market.repository.take_branch_cash`); else `InsufficientMargin`.

**The crank** (`crank`, permissionless) advances quiet markets to now with their current
live value, so the stored states stay current; it never changes an average that is
already determined (time after ``decides_at`` never counts) and does nothing once decided.

**The decision** (`decide`), once ``now ≥ decides_at``:

1. lock the proposal, then its markets in id order (the global locking order);
2. close trading: every market ``closed``, so a trade waiting for a market lock meets a
   closed market (409) and never lands after the decision;
3. advance every branch to ``max(decides_at, last update)`` with its live value and read
   its average ``A_j`` (`market.decision.average`; time after ``decides_at`` never counts);
4. check the stored terms: the rule document hashes to ``decision_rule_hash`` and the
   revealed seed to ``seed_commitment`` (else `BrokenTerms`, nothing decided);
5. ``market.decision.decide(rule, A, status quo, seed, proposal id)``: greedy choice,
   distribution ``d``, the public uniform ``u = SHA-256(seed ‖ id)`` and the executed
   branch;
6. record it in `market.settlement_models.Decision` (unique per proposal) and set the
   proposal ``decided``.

**The audit log.** A crank appends a ``crank`` event (the live welfare and the state after)
to each market it moved; the decision appends one ``decision`` event to every branch's
stream (the averages, the revealed seed, the whole `market.decision.Decision` and each
market's final state), in market id order, in the same transaction (docs/audit.md).

Exactly once: a decided proposal returns its recorded decision to every later caller; two
callers at once queue on the proposal's row lock (PostgreSQL) or the write lock (SQLite),
and the decision's unique ``proposal_id`` settles any race that slipped past both.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.errors import ConflictError, FutarchyError, NotFoundError
from db.session import Database
from db.types import utcnow
from market import audit_trail
from market import repository as repo
from market.assets import Asset
from market.audit_trail import Entry

# re-exported: the averaging step moved to the pure `market.branch` and keeps its old name
from market.branch import advance_market as advance_market
from market.branch import asset_of, twap_list
from market.branch import live_welfare as live_welfare
from market.branch import state_of as state_of
from market.decision import (
    DecisionRule,
    TwapState,
    average,
    commitment,
    initial_state,
    margin_multiple,
)
from market.decision import decide as decide_rule
from market.errors import InvalidMarketInput, MarketError
from market.models import Market, MarketStatus, Proposal, ProposalStatus
from market.proposal_rule import iso_utc
from market.proposals import rule_of, settles_on_of, terms_hash
from market.settlement_models import Decision

log = logging.getLogger(__name__)

UNDECIDED = frozenset({ProposalStatus.OPEN, ProposalStatus.CLOSED})
"""Statuses in which a proposal can still be decided (and its averages still move)."""


# --- errors --------------------------------------------------------------------------------
#
#     MarketError
#     ├── DecisionNotDue       (also ConflictError -> 409): before decides_at
#     ├── CannotDecide         (also ConflictError -> 409): unwound before any decision
#     ├── BrokenTerms          (also ConflictError -> 409): stored terms fail their hash
#     ├── InsufficientMargin   (also ConflictError -> 409): the ipw margin would not hold
#     └── NotDecided           (also NotFoundError -> 404): no decision recorded yet


class DecisionNotDue(MarketError, ConflictError):
    """The proposal's decision time has not come yet."""


class CannotDecide(MarketError, ConflictError):
    """The proposal ended (was unwound) without a decision; there is nothing to decide."""


class BrokenTerms(MarketError, ConflictError):
    """The stored decision terms do not match their hash, or the seed its commitment."""


class NotDecided(MarketError, NotFoundError):
    """No decision is recorded for the proposal yet."""


# --- the terms a market row carries --------------------------------------------------------

_CACHE_LIMIT = 4096
_RULES: dict[str, DecisionRule] = {}
_ASSETS: dict[tuple[Any, ...], Asset] = {}


def _rule(rule_hash: str | None, document: Mapping[str, Any] | None) -> DecisionRule | None:
    """The rule of a stored document, parsed once per rule hash (the hash covers the rule,
    and the rule never changes after creation)."""
    if document is None:
        return None
    if rule_hash is None:
        return DecisionRule.from_dict(document)
    rule = _RULES.get(rule_hash)
    if rule is None:
        rule = DecisionRule.from_dict(document)
        if len(_RULES) >= _CACHE_LIMIT:
            _RULES.clear()
        _RULES[rule_hash] = rule
    return rule


def _asset(kind: str, lo: float, hi: float, edges: Sequence[float] | None) -> Asset:
    """`market.proposals.asset_of`, kept per content (bins are validated once, not per trade)."""
    key = (kind, lo, hi, None if edges is None else tuple(edges))
    asset = _ASSETS.get(key)
    if asset is None:
        asset = asset_of(kind, lo, hi, edges)
        if len(_ASSETS) >= _CACHE_LIMIT:
            _ASSETS.clear()
        _ASSETS[key] = asset
    return asset


@dataclass(frozen=True)
class MarketTerms:
    """What a trade or a crank needs of its proposal, read with the market row.

    Attributes:
        rule: the decision rule (None only for a proposal without terms).
        decides_at: the decision time ``T``, seconds since the Unix epoch.
        asset: the welfare asset (reads prices into expected welfare).
        margin: the ipw margin multiple `margin_multiple`, or None.
    """

    rule: DecisionRule | None
    decides_at: float | None
    asset: Asset
    margin: float | None


def terms_of_row(row: Any) -> MarketTerms:
    """The `MarketTerms` of a row of `market.repository.lock_market_for_trade`."""
    rule = _rule(row.decision_rule_hash, row.decision_rule)
    return MarketTerms(
        rule=rule,
        decides_at=None if row.decides_at is None else row.decides_at.timestamp(),
        asset=_asset(row.asset_kind, row.lo, row.hi, row.bin_edges),
        margin=margin_multiple(rule, int(row.n_branches)),
    )


def _write_state(market: Market, state: TwapState) -> None:
    market.twap_observation = state.observation
    market.twap_observed_at = state.observed_at
    market.twap_cum_weighted = state.cum_weighted
    market.twap_window_start = state.window_start
    market.twap_last_live = state.last_live


# --- time ----------------------------------------------------------------------------------


def time_left(delta: timedelta) -> str:
    """A duration in its two largest units, rounded up: ``"3 h 12 min"``, ``"2 d 4 h"``,
    ``"45 s"``."""
    total = max(0, math.ceil(delta.total_seconds()))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{value} {unit}"
        for value, unit in ((days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s"))
        if value
    ]
    return " ".join(parts[:2]) or "0 s"


def _instant(value: datetime | None) -> datetime:
    return utcnow() if value is None else value


# --- the crank -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchAverage:
    """One branch's averaging state after a crank.

    Attributes:
        market_id, branch_index, branch_name, is_status_quo: which branch.
        live: welfare units; the expected welfare its prices imply now.
        observation: welfare units; the last recorded (capped) observation.
        observed_at: the instant the state accounts for.
        average: welfare units; the capped time-weighted average over the window if
            nothing trades until ``decides_at`` (once decided: the decision's average).
    """

    market_id: int
    branch_index: int
    branch_name: str
    is_status_quo: bool
    live: float
    observation: float
    observed_at: datetime
    average: float


@dataclass(frozen=True)
class CrankResult:
    """What a crank did and each branch's average.

    Attributes:
        proposal_id: the proposal.
        decides_at: its decision time.
        at: the instant the states were advanced to (or read at, once decided).
        advanced: whether the states moved (false once the proposal is decided or ended).
        branches: the branches cranked, by branch index.
    """

    proposal_id: int
    decides_at: datetime
    at: datetime
    advanced: bool
    branches: tuple[BranchAverage, ...]


def _verified_rule(proposal: Proposal) -> tuple[DecisionRule, datetime]:
    rule = rule_of(proposal)
    if rule is None or proposal.decides_at is None:
        raise BrokenTerms(
            f"proposal {proposal.id} has no decision terms; it can be unwound but not decided"
        )
    return rule, proposal.decides_at


def crank(
    session: Session,
    *,
    proposal_id: int | None = None,
    market_id: int | None = None,
    now: datetime | None = None,
) -> CrankResult:
    """Advance the averaging state of a proposal's markets (or of one market) to ``now``.

    Permissionless and idempotent: each market's state moves to ``now`` with its current
    live value (the value in force since its last trade), which changes no average that is
    already determined. Locks the markets in id order (never the proposal row); once the
    proposal is decided, settled or unwound the states are frozen and only read.

    Args:
        proposal_id: crank every market of this proposal; or
        market_id: crank this market only.
        now: the instant (default: now, UTC).

    Raises:
        UnknownProposal, UnknownMarket: no such proposal or market.
        InvalidMarketInput: neither or both of ``proposal_id`` and ``market_id``.
        BrokenTerms: the proposal has no decision terms.
    """
    if (proposal_id is None) == (market_id is None):
        raise InvalidMarketInput("crank one proposal or one market: give exactly one id")
    at = _instant(now)
    if market_id is not None:
        proposal_id = repo.get_market(session, market_id).proposal_id
    assert proposal_id is not None
    proposal = repo.get_proposal(session, proposal_id)
    rule, decides_at = _verified_rule(proposal)
    asset = asset_of(proposal.asset_kind, proposal.lo, proposal.hi, proposal.bin_edges)
    advancing = proposal.status in UNDECIDED
    if advancing:
        markets = list(repo.lock_markets_of(session, proposal_id, market_id=market_id))
        # a decision that committed while we waited for the locks froze the states
        advancing = repo.proposal_status(session, proposal_id) in UNDECIDED
    else:
        markets = [m for m in repo.markets_of(session, [proposal_id]) if market_id in (None, m.id)]
    branches = []
    cranked: dict[int, Entry] = {}
    t = at.timestamp()
    for market in sorted(markets, key=lambda m: m.branch_index):
        live = live_welfare(asset, market.q_micros, market.b_micros)
        state = state_of(market)
        if advancing:
            state = advance_market(rule, decides_at.timestamp(), state, t, live, live)
            _write_state(market, state)
            event = {"proposal_id": proposal_id, "live": live, "twap": twap_list(state)}
            cranked[market.id] = ("crank", event)
        if state is None:  # a legacy market never traded nor cranked, read after the end
            state = initial_state(rule, decides_at.timestamp(), decides_at.timestamp(), live)
        branches.append(
            BranchAverage(
                market_id=market.id,
                branch_index=market.branch_index,
                branch_name=market.branch_name,
                is_status_quo=market.is_status_quo,
                live=live,
                observation=state.observation,
                observed_at=datetime.fromtimestamp(state.observed_at, UTC),
                average=average(state, rule),
            )
        )
    if cranked:
        ordered = sorted((m for m in markets if m.id in cranked), key=lambda m: m.id)
        audit_trail.append_to_markets(session, ordered, [cranked[m.id] for m in ordered], at)
    session.flush()
    return CrankResult(proposal_id, decides_at, at, advancing, tuple(branches))


# --- the decision --------------------------------------------------------------------------


def _seed_checked(proposal: Proposal, rule: DecisionRule, decides_at: datetime) -> bytes:
    """The revealed seed, after checking the terms' hash and the seed's commitment."""
    stored = terms_hash(rule, decides_at, proposal.seed_commitment or "", settles_on_of(proposal))
    if proposal.seed_commitment is None or stored != proposal.decision_rule_hash:
        raise BrokenTerms(
            f"the stored decision terms of proposal {proposal.id} do not match their "
            "published hash; refusing to decide on altered terms"
        )
    try:
        seed = bytes.fromhex(proposal.seed_hex or "")
        matches = commitment(seed) == proposal.seed_commitment
    except (ValueError, InvalidMarketInput):
        matches = False
    if not matches:
        raise BrokenTerms(
            f"the stored seed of proposal {proposal.id} does not match its published "
            "commitment; refusing to decide with it"
        )
    return seed


def _not_due(proposal: Proposal, decides_at: datetime, now: datetime) -> DecisionNotDue:
    return DecisionNotDue(
        f"proposal {proposal.id} decides at {iso_utc(decides_at)}, in "
        f"{time_left(decides_at - now)}; it cannot be decided before then"
    )


def decide(
    session: Session,
    proposal_id: int,
    caller_account_id: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide a proposal once its decision time has come (see the module docstring).

    Idempotent: once decided, every call returns the recorded decision and changes
    nothing. Flushes only; the caller's transaction commits the decision, the closed
    markets and their final averaging states together.

    Args:
        proposal_id: the proposal.
        caller_account_id: who asked (recorded; None for the server's own timer or CLI).
        now: the instant (default: now, UTC).

    Returns:
        The recorded decision (`market.settlement_models.Decision`).

    Raises:
        UnknownProposal: no such proposal.
        DecisionNotDue: ``now`` is before ``decides_at`` (says how long is left).
        CannotDecide: the proposal was unwound before any decision.
        BrokenTerms: the stored terms do not match their hash or the seed its commitment.
    """
    at = _instant(now)
    proposal = repo.get_proposal(session, proposal_id, for_update=True)
    existing = repo.decision_of(session, proposal_id)
    if existing is not None:
        return existing
    if proposal.status not in UNDECIDED:
        raise CannotDecide(
            f"proposal {proposal_id} is {proposal.status} without a decision; there is "
            "nothing to decide"
        )
    rule, decides_at = _verified_rule(proposal)
    if at < decides_at:
        raise _not_due(proposal, decides_at, at)
    seed = _seed_checked(proposal, rule, decides_at)
    markets = repo.lock_markets_of(session, proposal_id)
    asset = asset_of(proposal.asset_kind, proposal.lo, proposal.hi, proposal.bin_edges)
    t_decide = decides_at.timestamp()
    averaged: dict[int, float] = {}
    states: list[TwapState] = []
    status_quo = len(markets) - 1
    for market in markets:
        market.status = MarketStatus.CLOSED.value  # trading stops before anything is read
        live = live_welfare(asset, market.q_micros, market.b_micros)
        state = advance_market(rule, t_decide, state_of(market), t_decide, live, live)
        _write_state(market, state)
        states.append(state)
        averaged[market.branch_index] = average(state, rule)
        if market.is_status_quo:
            status_quo = market.branch_index
    outcome = decide_rule(
        rule, [averaged[j] for j in sorted(averaged)], status_quo, seed, proposal_id
    )
    record = Decision(
        proposal_id=proposal_id,
        rule_hash=proposal.decision_rule_hash,
        averaged=list(outcome.averaged),
        best_index=outcome.best_alternative,
        margin=outcome.margin,
        greedy_index=outcome.greedy,
        distribution=list(outcome.distribution),
        seed_hex=seed.hex(),
        draw_u=outcome.u,
        executed_index=outcome.executed,
        explored=outcome.explored,
        settles=outcome.settles,
        decided_at=at,
        decided_by_account_id=caller_account_id,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        # a decision recorded by a caller that got past the proposal lock: it stands
        first = repo.decision_of(session, proposal_id)
        if first is None:
            raise
        return first
    proposal.status = ProposalStatus.DECIDED.value
    event = {
        "proposal_id": proposal_id,
        "markets": [m.id for m in markets],
        "rule_hash": proposal.decision_rule_hash,
        "seed_hex": seed.hex(),
        "decided_by": caller_account_id,
        "decision": outcome.to_dict(),
        "twap": [twap_list(state) for state in states],
    }
    audit_trail.append_to_markets(session, markets, [("decision", event)] * len(markets), at)
    session.flush()
    return record


def get_decision(session: Session, proposal_id: int, now: datetime | None = None) -> Decision:
    """The recorded decision of a proposal.

    Raises:
        UnknownProposal: no such proposal.
        NotDecided: none recorded yet (says when it decides, or that it is due).
    """
    proposal = repo.get_proposal(session, proposal_id)
    decision = repo.decision_of(session, proposal_id)
    if decision is not None:
        return decision
    at = _instant(now)
    if proposal.status not in UNDECIDED:
        raise NotDecided(f"proposal {proposal_id} was {proposal.status} without a decision")
    if proposal.decides_at is None:
        raise NotDecided(f"proposal {proposal_id} is not decided and has no decision time")
    when = iso_utc(proposal.decides_at)
    if at < proposal.decides_at:
        raise NotDecided(
            f"proposal {proposal_id} is not decided yet; it decides at {when}, in "
            f"{time_left(proposal.decides_at - at)}"
        )
    raise NotDecided(
        f"proposal {proposal_id} is not decided yet; it was due at {when} "
        f"({time_left(at - proposal.decides_at)} ago) and anyone may decide it now"
    )


def decide_due(session: Session, now: datetime | None = None) -> list[Decision]:
    """Decide every undecided proposal whose ``decides_at ≤ now``, by id, in this session.

    Returns:
        The decisions made, by proposal id.

    Raises:
        Whatever `decide` raises for one of them (the caller's transaction then rolls all
        of them back; `decide_each_due` isolates them instead).
    """
    at = _instant(now)
    decided: list[Decision] = []
    after = 0
    while ids := repo.due_proposal_ids(session, at, after_id=after, limit=100):
        decided.extend(decide(session, pid, None, at) for pid in ids)
        after = ids[-1]
    return decided


@dataclass(frozen=True)
class DueOutcome:
    """What became of one due proposal: its decision, or the refusal's message."""

    proposal_id: int
    decision: Decision | None
    error: str | None


def decide_each_due(database: Database, now: datetime | None = None) -> list[DueOutcome]:
    """`decide_due`, but each proposal in its own write transaction, so one refusal (say,
    broken terms) neither rolls back nor blocks the others. For the CLI and the timer."""
    at = _instant(now)
    outcomes: list[DueOutcome] = []
    after = 0
    while True:
        with database.read() as session:
            ids = repo.due_proposal_ids(session, at, after_id=after, limit=100)
        if not ids:
            return outcomes
        for pid in ids:
            try:
                with database.write() as session:
                    outcomes.append(DueOutcome(pid, decide(session, pid, None, at), None))
            except FutarchyError as exc:
                outcomes.append(DueOutcome(pid, None, str(exc)))
        after = ids[-1]


def decide_due_every(database: Database, every_seconds: float, stop: threading.Event) -> None:
    """Decide due proposals every ``every_seconds`` until ``stop`` is set (a timer thread's
    body). Each round runs `decide_each_due`; refusals and failures are logged, never
    raised, so the timer keeps going."""
    while not stop.wait(every_seconds):
        try:
            for outcome in decide_each_due(database):
                if outcome.error is not None:
                    log.warning("decide_due: proposal %s: %s", outcome.proposal_id, outcome.error)
                else:
                    log.info("decide_due: proposal %s decided", outcome.proposal_id)
        except Exception:  # the timer must survive a lost connection; the next round retries
            log.exception("decide_due: a round failed")
