"""Proposals: K policy alternatives plus the status quo, one funded LMSR market per branch.

Creating a proposal (lifecycle step 2 of the design):

1. the proposal binds to the adopted welfare metric version in force on the day trading
   opens and takes its tradable bounds ``[lo, hi]`` (`market.metric_binding`); then the
   definition is validated (`ProposalSpec`); any fault raises `InvalidProposal` with a
   sentence naming it;
2. the sponsor pays the subsidy ``F`` ONCE from unconditional cash (`InsufficientFunds`
   when short); the ``F`` becomes the proposal's collateral, which issues ``F`` of
   conditional cash in every branch (one full set), each branch's ``F`` going to that
   branch's market maker;
3. ``K + 1`` markets open (the alternatives in order, the status quo last), each an LMSR
   with ``q = 0`` and ``b = ⌊F / ln n⌋`` micro-units (`market.book.Book.from_subsidy`), so
   the maker's worst-case loss ``b ln n`` is at most ``F`` in every branch;
4. one balanced SUBSIDY operation is posted to the ledger::

       cash:        sponsor −F, collateral +F
       branch j:    collateral −F, maker_j +F        (for every branch j)

5. the audit log records it: ``market.opened`` in each new market's stream, then
   ``proposal.created`` in the governance stream (the terms, the rule document and its
   hash, the seed's commitment, the subsidy and sponsor, the branches and market ids).
   Closing a proposal appends ``proposal.closed`` to every branch's stream.

So right after creation, for every branch, ``Σ traders' branch cash + maker cash = F =
collateral``, which `market.conservation` checks at any later time (splits and merges
move both sides equally, trades move cash between a trader and the maker).

**The decision terms** (lifecycle step 4) are fixed at creation and never change
(`resolve_terms`): the decision time ``decides_at``, the decision rule
(`market.decision.DecisionRule`: averaging window, observation interval, cap, threshold δ,
exploration ε and its mode), the SHA-256 commitment to a secret seed (the sponsor's, or a
fresh one from `market.decision.new_seed`; revealed only by the decision) and what settles
the proposal (entity, period and cut-off of the bound metric version's measurement). The
rule hash `terms_hash` covers all of them but the secret seed. Each market starts its
capped time-weighted average at the opening price (`market.decision.initial_state`).

**Exploration costs liquidity.** With ``ε > 0`` in mode ``ipw`` the executed branch's net
profits are scaled by ``1 / d(executed) ≤ 1 / d_min`` with ``d_min = ε / (K + 1)``, so
the maker's worst case scales too. To keep the sponsor's loss within ``F`` each branch's
liquidity is ``b = ⌊⌊F · d_min⌋ / ln n⌋`` instead of ``⌊F / ln n⌋``: with ``ε = 0.1`` and
three branches, ``d_min = 1/30`` and prices move thirty times as far per share traded.
(``randomised_only`` settles unscaled and keeps ``b = ⌊F / ln n⌋``; it pays instead by
settling only when the draw explored.)

Services only flush; the caller's transaction commits (or rolls back on a refusal, so a
refused creation changes nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from db import audit, canonical
from db.audit_chain import GENESIS, iso_instant, market_of_stream
from db.identity import get_account
from db.types import utcnow
from market import audit_trail
from market import repository as repo
from market.assets import BinnedAsset, ScalarAsset
from market.book import format_micros
from market.branch import asset_of as asset_of  # re-exported: callers read the asset here
from market.branch import liquidity_micros, opening_state, state_of, twap_list
from market.decision import (
    MAX_SEED_BYTES,
    MIN_SEED_BYTES,
    TIME_LIMIT,
    DecisionRule,
    InvalidDecisionRule,
    commitment,
    new_seed,
)
from market.errors import (
    InsufficientFunds,
    InvalidMarketInput,
    InvalidProposal,
    MarketClosed,
)
from market.funding import MAX_AMOUNT_MICROS
from market.ledger import Holder, Leg, OperationKind, post
from market.metric_binding import bind_metric, bounds_for
from market.models import AssetKind, Market, MarketStatus, Proposal, ProposalStatus
from market.proposal_rule import (
    DEFAULT_INTERVAL_SECONDS,
    default_rule,
    rule_document,
)
from welfare.errors import WelfareError
from welfare.metric_service import definition_of, get_version
from welfare.vintage import check_period

MAX_ALTERNATIVES = 20
"""Most policy alternatives one proposal may have (besides the status quo)."""

MAX_NAME_LENGTH = 200
"""Longest title or branch name, characters (the column width)."""

MAX_METRIC_ID_LENGTH = 100
"""Longest metric version id, characters (the column width)."""

MAX_BINS = 1000
"""Most bins a binned asset may have (outcomes per branch market)."""

MAX_DESCRIPTION_LENGTH = 10_000
"""Longest description, characters."""

MAX_ENTITY_LENGTH = 100
"""Longest entity name of what settles a proposal, characters (the column width)."""


@dataclass(frozen=True, kw_only=True)
class RuleSpec:
    """The decision rule as the sponsor states it; a field left None takes its default.

    Attributes:
        window_seconds: the averaging window ``W`` ending at ``decides_at`` (seconds).
            Default: the trading time before the decision rounded down to whole hours,
            between 1 h and 24 h; when trading lasts less than an hour before the decision,
            all of it. With ``interval_seconds`` given, the default is rounded down to a
            whole number of intervals (at least one).
        interval_seconds: the observation interval ``I`` (seconds). Default: 1 h, or the
            window when it is shorter; for a window that is no whole number of hours, the
            largest divisor of both the window and 1 h.
        cap: welfare units an observation moves per interval at most. Default
            ``(hi − lo) / 100``.
        threshold: ``δ``, welfare units an alternative must beat the status quo by.
            Default 0.
        epsilon: ``ε``, the exploration probability. Default 0.
        exploration_mode: ``"none"`` (default; exactly when ``ε = 0``), ``"ipw"`` or
            ``"randomised_only"`` (see `market.decision.ExplorationMode`).
    """

    window_seconds: int | None = None
    interval_seconds: int | None = None
    cap: float | None = None
    threshold: float | None = None
    epsilon: float | None = None
    exploration_mode: str | None = None


@dataclass(frozen=True, kw_only=True)
class SettlesOnSpec:
    """What settles a proposal: the bound metric version's certified measurement.

    Attributes:
        period: the measured period (``"2007"``, ``"2007-Q3"``, ``"2007-09"``).
        entity: the measured entity; default the metric version's own entity.
        cutoff: the measurement's data cut-off; None: whichever certified measurement of
            the version, entity and period there is (at most one is ever certified).
    """

    period: str
    entity: str | None = None
    cutoff: date | None = None


@dataclass(frozen=True)
class SettlesOnTerms:
    """The stored ``settles_on`` terms (entity always set; cutoff optional)."""

    entity: str
    period: str
    cutoff: date | None

    def to_dict(self) -> dict[str, str | None]:
        """``{"entity", "period", "cutoff": "YYYY-MM-DD" or null}``."""
        cutoff = None if self.cutoff is None else self.cutoff.isoformat()
        return {"entity": self.entity, "period": self.period, "cutoff": cutoff}


@dataclass(frozen=True, kw_only=True)
class ProposalSpec:
    """The definition of a proposal, as an admin submits it.

    Attributes:
        title: a short name, 1..200 characters.
        alternatives: the K ≥ 1 policy alternatives' names (unique, non-empty, none equal
            to ``status_quo_name``); branch ``j < K`` is alternative ``j``.
        metric_version_id: the welfare metric version the markets bind to; None binds to
            the adopted version in force on the opening day, and a version named must be
            that one (`market.metric_binding.bind_metric`).
        asset_kind: `AssetKind.SCALAR` (LONG/SHORT on ``[lo, hi]``) or `AssetKind.BINNED`.
        lo, hi: tradable welfare bounds, finite, ``lo < hi`` (welfare units); `create_proposal`
            takes them from the metric version (None), and bounds given must equal them.
        opens_at, closes_at: the trading window, timezone-aware, ``opens_at < closes_at``
            and ``closes_at`` in the future; trading is allowed for
            ``opens_at ≤ now < closes_at``.
        subsidy_micros: ``F``, the maker's loss budget per branch (micro-units, > 0); the
            sponsor pays it once.
        bin_edges: binned only: ``n + 1 ≥ 3`` strictly increasing edges, the first ``lo``
            and the last ``hi``; must be None for a scalar asset.
        description: free text.
        status_quo_name: the name of the last branch.
        decides_at: the decision time ``T`` (timezone-aware); default ``closes_at``. It must
            lie in the future, no later than ``closes_at``, and at least one observation
            interval after ``opens_at`` (the markets need an interval of trading to
            average).
        decision: the decision rule (`RuleSpec`; None: every default).
        seed: the sponsor's secret seed (16 to 1024 bytes); None: the server draws one with
            `market.decision.new_seed` and keeps it. Only its commitment is published until
            the decision reveals it.
        settles_on: what settles the proposal (`SettlesOnSpec`); None: nothing does, so it
            can be decided and unwound but never settled.
    """

    title: str
    alternatives: tuple[str, ...]
    asset_kind: AssetKind
    opens_at: datetime
    closes_at: datetime
    subsidy_micros: int
    metric_version_id: str | None = None
    lo: float | None = None
    hi: float | None = None
    bin_edges: tuple[float, ...] | None = None
    description: str = ""
    status_quo_name: str = "Status quo"
    decides_at: datetime | None = None
    decision: RuleSpec | None = None
    seed: bytes | None = None
    settles_on: SettlesOnSpec | None = None


@dataclass(frozen=True)
class ValidatedSpec:
    """A definition that passed `validate_spec`: stripped names, every branch's name (the
    status quo last), the outcome names, the liquidity ``b`` (micro-units, after the
    exploration discount), the decision rule and time, and the settlement's period, entity
    (None: the metric version's) and cut-off."""

    title: str
    branch_names: tuple[str, ...]
    metric_version_id: str
    asset_kind: AssetKind
    lo: float
    hi: float
    bin_edges: tuple[float, ...] | None
    outcomes: tuple[str, ...]
    b_micros: int
    rule: DecisionRule
    decides_at: datetime
    settles_period: str | None = None
    settles_entity: str | None = None
    settles_cutoff: date | None = None


def _name(value: object, what: str, limit: int = MAX_NAME_LENGTH) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidProposal(f"the {what} must be a non-empty text")
    name = value.strip()
    if len(name) > limit:
        raise InvalidProposal(f"the {what} is {len(name)} characters long; the limit is {limit}")
    return name


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidProposal(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidProposal(f"{what} must be a finite number, got {number}")
    return number


def _branch_names(spec: ProposalSpec) -> tuple[str, ...]:
    alternatives = spec.alternatives
    if isinstance(alternatives, str) or not isinstance(alternatives, Sequence):
        raise InvalidProposal("the alternatives must be a list of names")
    if not 1 <= len(alternatives) <= MAX_ALTERNATIVES:
        raise InvalidProposal(
            f"a proposal needs between 1 and {MAX_ALTERNATIVES} policy alternatives besides "
            f"the status quo, got {len(alternatives)}"
        )
    names = [_name(a, f"name of alternative {i + 1}") for i, a in enumerate(alternatives)]
    names.append(_name(spec.status_quo_name, "name of the status quo"))
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise InvalidProposal(
                f"the branch name {name!r} appears twice; every alternative and the status "
                "quo need distinct names"
            )
        seen.add(name.casefold())
    return tuple(names)


def _asset(
    spec: ProposalSpec,
) -> tuple[AssetKind, float, float, tuple[float, ...] | None, tuple[str, ...]]:
    try:
        kind = AssetKind(spec.asset_kind)
    except ValueError:
        raise InvalidProposal(
            f"the asset kind must be one of {', '.join(k.value for k in AssetKind)}, "
            f"got {spec.asset_kind!r}"
        ) from None
    lo = _finite(spec.lo, "the lower bound lo")
    hi = _finite(spec.hi, "the upper bound hi")
    if not lo < hi:
        raise InvalidProposal(f"the bounds must satisfy lo < hi, got lo = {lo:g} and hi = {hi:g}")
    if kind is AssetKind.SCALAR:
        if spec.bin_edges is not None:
            raise InvalidProposal("bin edges belong to a binned asset; a scalar asset has none")
        return kind, lo, hi, None, ScalarAsset(lo, hi).outcomes
    if spec.bin_edges is None:
        raise InvalidProposal("a binned asset needs its bin edges (n + 1 increasing numbers)")
    if isinstance(spec.bin_edges, str | bytes) or not isinstance(spec.bin_edges, Sequence):
        raise InvalidProposal("the bin edges must be a list of numbers")
    edges = tuple(_finite(e, "a bin edge") for e in spec.bin_edges)
    if len(edges) - 1 > MAX_BINS:
        raise InvalidProposal(f"a binned asset has at most {MAX_BINS} bins, got {len(edges) - 1}")
    try:
        asset = BinnedAsset(edges)
    except InvalidMarketInput as exc:
        raise InvalidProposal(str(exc).rstrip(".")) from None
    if edges[0] != lo or edges[-1] != hi:
        raise InvalidProposal(
            f"the first bin edge must equal lo and the last hi: edges run from {edges[0]:g} "
            f"to {edges[-1]:g} but the bounds are [{lo:g}, {hi:g}]"
        )
    return kind, lo, hi, edges, asset.outcomes


def _window(spec: ProposalSpec, now: datetime) -> None:
    for what, value in (("opening time", spec.opens_at), ("closing time", spec.closes_at)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidProposal(f"the {what} must be a date and time with a time zone")
    if not spec.opens_at < spec.closes_at:
        raise InvalidProposal(
            f"the trading window must open before it closes, got opens_at "
            f"{spec.opens_at.isoformat()} and closes_at {spec.closes_at.isoformat()}"
        )
    if spec.closes_at <= now:
        raise InvalidProposal(
            f"the trading window closes at {spec.closes_at.isoformat()}, which has passed"
        )


def _decides_at(spec: ProposalSpec, now: datetime) -> datetime:
    """``decides_at`` (default ``closes_at``), checked against the trading window."""
    decides_at = spec.closes_at if spec.decides_at is None else spec.decides_at
    if not isinstance(decides_at, datetime) or decides_at.tzinfo is None:
        raise InvalidProposal("decides_at: the decision time must be a date and time with a zone")
    if decides_at > spec.closes_at:
        raise InvalidProposal(
            f"decides_at: the decision time {decides_at.isoformat()} is after trading closes "
            f"at {spec.closes_at.isoformat()}; the markets must still trade when they decide"
        )
    if decides_at <= spec.opens_at:
        raise InvalidProposal(
            f"decides_at: the decision time {decides_at.isoformat()} must come after trading "
            f"opens at {spec.opens_at.isoformat()}"
        )
    if decides_at <= now:
        raise InvalidProposal(f"decides_at: the decision time {decides_at.isoformat()} has passed")
    if decides_at.timestamp() > TIME_LIMIT:
        default = " (by default the close of trading)" if spec.decides_at is None else ""
        raise InvalidProposal(
            f"decides_at: the decision time {decides_at.isoformat()}{default} is too far "
            f"ahead; it must come before {datetime.fromtimestamp(TIME_LIMIT, UTC).year}"
        )
    return decides_at


def _whole_seconds(value: object) -> int | None:
    """``value`` if it is a positive whole number (else None: the rule will name it)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _default_window(opens_at: datetime, decides_at: datetime, lo: float, hi: float) -> int:
    trading = int((decides_at - opens_at).total_seconds())
    if trading < DEFAULT_INTERVAL_SECONDS:
        return max(trading, 1)  # less than an hour of trading: average over all of it
    return default_rule(opens_at, decides_at, lo, hi).window_seconds


def _default_interval(window: object) -> object:
    w = _whole_seconds(window)
    if w is None:
        return DEFAULT_INTERVAL_SECONDS  # the window is invalid; the rule names it
    if w <= DEFAULT_INTERVAL_SECONDS:
        return w
    return math.gcd(w, DEFAULT_INTERVAL_SECONDS)


def _decision_rule(
    given: RuleSpec | None, opens_at: datetime, decides_at: datetime, lo: float, hi: float
) -> DecisionRule:
    """The rule from the sponsor's fields and the defaults (`RuleSpec`).

    Raises:
        InvalidProposal: ``decision.<field>: …`` naming the field that is out of range.
    """
    if given is None:
        given = RuleSpec()
    if not isinstance(given, RuleSpec):
        raise InvalidProposal("decision: the decision rule must be given as a RuleSpec")
    window: object = given.window_seconds
    interval: object = given.interval_seconds
    if window is None:
        window = _default_window(opens_at, decides_at, lo, hi)
        step = _whole_seconds(interval)
        if step is not None and isinstance(window, int):
            window = max(step, window // step * step)
    if interval is None:
        interval = _default_interval(window)
    cap: object = given.cap
    if cap is None:
        cap = default_rule(opens_at, decides_at, lo, hi).cap
    fields: dict[str, Any] = {
        "window_seconds": window,
        "interval_seconds": interval,
        "cap": cap,
        "threshold": 0.0 if given.threshold is None else given.threshold,
        "epsilon": 0.0 if given.epsilon is None else given.epsilon,
        "exploration_mode": "none" if given.exploration_mode is None else given.exploration_mode,
    }
    try:
        return DecisionRule(**fields)
    except InvalidDecisionRule as exc:
        raise InvalidProposal(f"decision.{exc.field}: {str(exc).rstrip('.')}") from None


def _seed(seed: object) -> bytes:
    if seed is None:
        return new_seed()
    if not isinstance(seed, bytes):
        raise InvalidProposal("seed: the seed must be bytes (hex in the API)")
    if not MIN_SEED_BYTES <= len(seed) <= MAX_SEED_BYTES:
        raise InvalidProposal(
            f"seed: the seed must be {MIN_SEED_BYTES} to {MAX_SEED_BYTES} bytes long, got "
            f"{len(seed)}"
        )
    return seed


def _settles_on(given: SettlesOnSpec | None) -> tuple[str | None, str | None, date | None]:
    """``(period, entity or None, cutoff or None)``, or all None when nothing settles it."""
    if given is None:
        return None, None, None
    if not isinstance(given, SettlesOnSpec):
        raise InvalidProposal("settles_on: what settles the proposal must be a SettlesOnSpec")
    try:
        period = check_period(given.period)
    except WelfareError as exc:
        raise InvalidProposal(f"settles_on.period: {str(exc).rstrip('.')}") from None
    entity = None
    if given.entity is not None:
        entity = _name(given.entity, "entity it settles on (settles_on.entity)", MAX_ENTITY_LENGTH)
    cutoff = given.cutoff
    if cutoff is not None and (not isinstance(cutoff, date) or isinstance(cutoff, datetime)):
        raise InvalidProposal(f"settles_on.cutoff: the cut-off must be a date, got {cutoff!r}")
    return period, entity, cutoff


def _liquidity(n_outcomes: int, n_branches: int, subsidy: int, rule: DecisionRule) -> int:
    """``b = ⌊F / ln n⌋``, or ``⌊⌊F · d_min⌋ / ln n⌋`` with ipw exploration
    (`market.branch.liquidity_micros`).

    Raises:
        InvalidProposal: the (discounted) subsidy is too small to give ``b ≥ 1`` micro-unit.
    """
    return liquidity_micros(n_outcomes, n_branches, subsidy, rule)


def terms_document(
    rule: DecisionRule,
    decides_at: datetime,
    seed_commitment: str,
    settles_on: SettlesOnTerms | None,
) -> dict[str, Any]:
    """The rule document of a proposal (`market.proposal_rule`), whose ``settles_on`` is
    `SettlesOnTerms.to_dict` (null cut-off allowed) or null."""
    document = rule_document(rule, decides_at, seed_commitment, None)
    if settles_on is not None:
        document["settles_on"] = settles_on.to_dict()
    return document


def terms_hash(
    rule: DecisionRule,
    decides_at: datetime,
    seed_commitment: str,
    settles_on: SettlesOnTerms | None,
) -> str:
    """The rule hash of a proposal: SHA-256 of the canonical JSON of `terms_document`. With a
    cut-off it is exactly `market.proposal_rule.rule_hash` (the same document)."""
    return canonical.digest(terms_document(rule, decides_at, seed_commitment, settles_on))


def settles_on_of(proposal: Proposal) -> SettlesOnTerms | None:
    """The stored ``settles_on`` terms of a proposal, or None when nothing settles it."""
    if proposal.settle_entity is None or proposal.settle_period is None:
        return None
    return SettlesOnTerms(proposal.settle_entity, proposal.settle_period, proposal.settle_cutoff)


def rule_of(proposal: Proposal) -> DecisionRule | None:
    """The stored decision rule of a proposal (None only for a row without terms)."""
    return (
        None if proposal.decision_rule is None else DecisionRule.from_dict(proposal.decision_rule)
    )


def validate_spec(spec: ProposalSpec, *, now: datetime | None = None) -> ValidatedSpec:
    """Check a definition without touching the database.

    Raises:
        InvalidProposal: the first fault found, as a sentence (title, names, metric id,
            asset kind, bounds, bins, window, a subsidy that is not positive, too large,
            or too small to give ``b ≥ 1`` micro-unit; the decision terms, each named:
            ``decides_at: …``, ``decision.cap: …``, ``seed: …``, ``settles_on.period: …``).
    """
    title = _name(spec.title, "title")
    if not isinstance(spec.description, str):
        raise InvalidProposal("the description must be a text")
    if len(spec.description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidProposal(
            f"the description is {len(spec.description)} characters long; "
            f"the limit is {MAX_DESCRIPTION_LENGTH}"
        )
    names = _branch_names(spec)
    metric = _name(spec.metric_version_id, "metric version id", MAX_METRIC_ID_LENGTH)
    kind, lo, hi, edges, outcomes = _asset(spec)
    at = utcnow() if now is None else now
    _window(spec, at)
    decides_at = _decides_at(spec, at)
    rule = _decision_rule(spec.decision, spec.opens_at, decides_at, lo, hi)
    if (decides_at - spec.opens_at).total_seconds() < rule.interval_seconds:
        raise InvalidProposal(
            f"decides_at: the decision at {decides_at.isoformat()} comes less than one "
            f"observation interval ({rule.interval_seconds} s) after trading opens at "
            f"{spec.opens_at.isoformat()}; the markets need an interval of trading to average"
        )
    _seed(spec.seed)
    period, entity, cutoff = _settles_on(spec.settles_on)
    subsidy = spec.subsidy_micros
    if isinstance(subsidy, bool) or not isinstance(subsidy, int) or subsidy <= 0:
        raise InvalidProposal(f"the subsidy must be a positive amount, got {subsidy!r} micro-units")
    if subsidy > MAX_AMOUNT_MICROS:
        raise InvalidProposal(
            f"the subsidy {format_micros(subsidy)} exceeds the limit of "
            f"{format_micros(MAX_AMOUNT_MICROS)}"
        )
    b = _liquidity(len(outcomes), len(names), subsidy, rule)
    return ValidatedSpec(
        title,
        names,
        metric,
        kind,
        lo,
        hi,
        edges,
        outcomes,
        b,
        rule,
        decides_at,
        period,
        entity,
        cutoff,
    )


def create_proposal(
    session: Session,
    sponsor_account_id: int,
    spec: ProposalSpec,
    *,
    now: datetime | None = None,
) -> Proposal:
    """Create a proposal, charge its sponsor ``F`` once and open one funded market per branch.

    Writes: the proposal (collateral ``F``; its decision terms: rule, hash, ``decides_at``,
    seed and commitment, what settles it), ``K + 1`` markets (``q = 0``,
    ``b = ⌊F / ln n⌋`` or the ipw exploration's smaller ``b``, maker cash ``F``, the window
    copied, the averaging state started at the opening price), the sponsor's cash ``−F``
    and one SUBSIDY ledger operation (see the module docstring). Flushes only.

    Args:
        now: the instant of creation (default: now, UTC): the trading window must close and
            the decision come after it. A replay of history (the demo's finished proposal)
            passes the past instant it replays.

    Returns:
        The new proposal (its markets via `markets_of`).

    Raises:
        InvalidProposal: the definition is malformed (see `validate_spec`), or its bounds
            differ from the metric version's.
        UnknownMetricVersion: the metric version named does not exist.
        MetricNotInForce: no adopted version is in force when trading opens, or the one
            named is not it.
        UnknownAccount: no such sponsor.
        InsufficientFunds: the sponsor holds less cash than ``F``.
    """
    at = utcnow() if now is None else now
    _window(spec, at)  # before binding, which reads the opening day from opens_at
    binding = bind_metric(session, spec.metric_version_id, spec.opens_at)
    lo, hi = bounds_for(binding, spec.lo, spec.hi)
    checked = validate_spec(
        replace(spec, metric_version_id=binding.version_id, lo=lo, hi=hi), now=at
    )
    get_account(session, sponsor_account_id)
    settles_on = None
    if checked.settles_period is not None:
        entity = checked.settles_entity
        if entity is None:
            entity = definition_of(get_version(session, binding.version_id)).entity
        settles_on = SettlesOnTerms(entity, checked.settles_period, checked.settles_cutoff)
    seed = _seed(spec.seed)
    committed = commitment(seed)
    subsidy = spec.subsidy_micros
    if repo.take_cash(session, sponsor_account_id, subsidy) is None:
        raise InsufficientFunds(
            f"the subsidy of {format_micros(subsidy)} is more than the sponsor's cash of "
            f"{format_micros(repo.cash_of(session, sponsor_account_id))}"
        )
    proposal = Proposal(
        title=checked.title,
        description=spec.description,
        metric_version_id=checked.metric_version_id,
        asset_kind=checked.asset_kind.value,
        lo=checked.lo,
        hi=checked.hi,
        bin_edges=None if checked.bin_edges is None else list(checked.bin_edges),
        opens_at=spec.opens_at,
        closes_at=spec.closes_at,
        subsidy_micros=subsidy,
        sponsor_account_id=sponsor_account_id,
        collateral_micros=subsidy,
        status=ProposalStatus.OPEN.value,
        created_at=at,
        decision_rule=checked.rule.to_dict(),
        decision_rule_hash=terms_hash(checked.rule, checked.decides_at, committed, settles_on),
        decides_at=checked.decides_at,
        seed_commitment=committed,
        seed_hex=seed.hex(),
        settle_entity=None if settles_on is None else settles_on.entity,
        settle_period=None if settles_on is None else settles_on.period,
        settle_cutoff=None if settles_on is None else settles_on.cutoff,
    )
    session.add(proposal)
    session.flush()
    n_branches = len(checked.branch_names)
    asset = asset_of(checked.asset_kind, checked.lo, checked.hi, checked.bin_edges)
    twap = opening_state(
        checked.rule, asset, spec.opens_at.timestamp(), checked.decides_at.timestamp()
    )
    markets = [
        Market(
            proposal_id=proposal.id,
            branch_index=j,
            branch_name=name,
            is_status_quo=j == n_branches - 1,
            outcomes=list(checked.outcomes),
            q_micros=[0] * len(checked.outcomes),
            b_micros=checked.b_micros,
            subsidy_micros=subsidy,
            maker_cash_micros=subsidy,
            status=MarketStatus.OPEN.value,
            opens_at=spec.opens_at,
            closes_at=spec.closes_at,
            trade_count=0,
            created_at=proposal.created_at,
            twap_observation=twap.observation,
            twap_observed_at=twap.observed_at,
            twap_cum_weighted=twap.cum_weighted,
            twap_window_start=twap.window_start,
            twap_last_live=twap.last_live,
            audit_seq=0,
            audit_hash=GENESIS,
        )
        for j, name in enumerate(checked.branch_names)
    ]
    session.add_all(markets)
    session.flush()
    legs = [
        Leg(Holder.ACCOUNT, -subsidy, account_id=sponsor_account_id, proposal_id=proposal.id),
        Leg(Holder.COLLATERAL, subsidy, proposal_id=proposal.id),
    ]
    for market in markets:
        legs.append(Leg(Holder.COLLATERAL, -subsidy, market.id, proposal_id=proposal.id))
        legs.append(Leg(Holder.MAKER, subsidy, market.id, proposal_id=proposal.id))
    post(session, OperationKind.SUBSIDY, legs)
    document = terms_document(checked.rule, checked.decides_at, committed, settles_on)
    _record_creation(session, proposal, markets, document, at)
    return proposal


def _asset_data(proposal: Proposal) -> dict[str, Any]:
    """The welfare asset as audit data: ``{"kind", "lo", "hi", "bin_edges"}``."""
    return {
        "kind": proposal.asset_kind,
        "lo": float(proposal.lo),
        "hi": float(proposal.hi),
        "bin_edges": None if proposal.bin_edges is None else [float(e) for e in proposal.bin_edges],
    }


def _record_creation(
    session: Session,
    proposal: Proposal,
    markets: list[Market],
    document: dict[str, Any],
    at: datetime,
) -> None:
    """Append ``market.opened`` to each new market's stream, then ``proposal.created`` to the
    governance stream (its head is the last lock), with the data of docs/audit.md."""
    asset = _asset_data(proposal)
    times = {
        "opens_at": iso_instant(proposal.opens_at),
        "closes_at": iso_instant(proposal.closes_at),
        "decides_at": None if proposal.decides_at is None else iso_instant(proposal.decides_at),
    }
    opened = [
        (
            "market.opened",
            {
                "proposal_id": proposal.id,
                "branch_index": m.branch_index,
                "branch": m.branch_name,
                "status_quo": m.is_status_quo,
                "asset": asset,
                "outcomes": list(m.outcomes),
                "b_micros": m.b_micros,
                "subsidy_micros": m.subsidy_micros,
                "q_micros": list(m.q_micros),
                "maker_cash_micros": m.maker_cash_micros,
                "rule_hash": proposal.decision_rule_hash,
                **times,
                "twap": twap_list(state_of(m)),
            },
        )
        for m in markets
    ]
    audit_trail.append_to_markets(session, markets, opened, at)
    session.flush()
    audit.record(
        session,
        "proposal.created",
        {
            "proposal_id": proposal.id,
            "title": proposal.title,
            "description": proposal.description,
            "sponsor": proposal.sponsor_account_id,
            "subsidy_micros": proposal.subsidy_micros,
            "metric_version_id": proposal.metric_version_id,
            "asset": asset,
            "outcomes": list(markets[0].outcomes),
            "branches": [m.branch_name for m in markets],
            "markets": [m.id for m in markets],
            "b_micros": markets[0].b_micros,
            "opens_at": times["opens_at"],
            "closes_at": times["closes_at"],
            "terms": document,
            "rule_hash": proposal.decision_rule_hash,
        },
        at=at,
    )


def get_proposal(session: Session, proposal_id: int) -> Proposal:
    """The proposal with this id.

    Raises:
        UnknownProposal: there is none.
    """
    return repo.get_proposal(session, proposal_id)


def markets_of(session: Session, proposal_id: int) -> list[Market]:
    """The proposal's markets by branch (alternatives first, the status quo last)."""
    return list(repo.markets_of(session, [proposal_id]))


def close_proposal(session: Session, proposal_id: int) -> Proposal:
    """Stop trading on a proposal now: the proposal and all its markets become closed.

    Locks the proposal row, then its market rows in id order (the global locking order),
    so a trade in flight finishes first and every later trade sees the market closed;
    appends ``proposal.closed`` to every branch's audit stream. Closing a closed proposal
    changes nothing (and appends nothing). Merges remain allowed until settlement; splits
    stop.

    Raises:
        UnknownProposal: there is none.
        MarketClosed: the proposal is past closing (decided, settled or unwound): its
            lifecycle never goes back.
    """
    proposal = repo.get_proposal(session, proposal_id, for_update=True)
    if proposal.status not in (ProposalStatus.OPEN, ProposalStatus.CLOSED):
        raise MarketClosed(
            f"proposal {proposal_id} is {proposal.status}; it cannot be closed again"
        )
    if proposal.status == ProposalStatus.CLOSED:
        return proposal
    heads = audit_trail.lock_heads(session, proposal_id)
    proposal.status = ProposalStatus.CLOSED.value
    # an ORM-enabled UPDATE also refreshes market objects already loaded in this session
    session.execute(
        update(Market)
        .where(Market.proposal_id == proposal_id)
        .values(status=MarketStatus.CLOSED.value)
    )
    markets = [market_of_stream(h.stream) for h in heads]
    audit_trail.append(
        session,
        heads,
        ("proposal.closed", {"proposal_id": proposal_id, "markets": markets}),
        utcnow(),
    )
    session.flush()
    return proposal
