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

So right after creation, for every branch, ``Σ traders' branch cash + maker cash = F =
collateral``, which `market.conservation` checks at any later time (splits and merges
move both sides equally, trades move cash between a trader and the maker).

Services only flush; the caller's transaction commits (or rolls back on a refusal, so a
refused creation changes nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from db.identity import get_account
from db.types import utcnow
from market import repository as repo
from market.assets import BinnedAsset, ScalarAsset
from market.book import Book, format_micros
from market.errors import (
    InsufficientFunds,
    InvalidMarketInput,
    InvalidProposal,
    MarketClosed,
)
from market.funding import MAX_AMOUNT_MICROS
from market.ledger import Holder, Leg, OperationKind, post
from market.metric_binding import bind_metric, bounds_for
from market.models import AssetKind, Market, MarketStatus, Proposal

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


@dataclass(frozen=True)
class ValidatedSpec:
    """A definition that passed `validate_spec`: stripped names, every branch's name (the
    status quo last), the outcome names and the liquidity ``b`` (micro-units)."""

    title: str
    branch_names: tuple[str, ...]
    metric_version_id: str
    asset_kind: AssetKind
    lo: float
    hi: float
    bin_edges: tuple[float, ...] | None
    outcomes: tuple[str, ...]
    b_micros: int


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


def validate_spec(spec: ProposalSpec, *, now: datetime | None = None) -> ValidatedSpec:
    """Check a definition without touching the database.

    Raises:
        InvalidProposal: the first fault found, as a sentence (title, names, metric id,
            asset kind, bounds, bins, window, or a subsidy that is not positive, too large,
            or too small to give ``b ≥ 1`` micro-unit).
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
    _window(spec, utcnow() if now is None else now)
    subsidy = spec.subsidy_micros
    if isinstance(subsidy, bool) or not isinstance(subsidy, int) or subsidy <= 0:
        raise InvalidProposal(f"the subsidy must be a positive amount, got {subsidy!r} micro-units")
    if subsidy > MAX_AMOUNT_MICROS:
        raise InvalidProposal(
            f"the subsidy {format_micros(subsidy)} exceeds the limit of "
            f"{format_micros(MAX_AMOUNT_MICROS)}"
        )
    try:
        b = Book.from_subsidy(len(outcomes), subsidy).b_micros
    except InvalidMarketInput as exc:
        raise InvalidProposal(str(exc).rstrip(".")) from None
    return ValidatedSpec(title, names, metric, kind, lo, hi, edges, outcomes, b)


def create_proposal(session: Session, sponsor_account_id: int, spec: ProposalSpec) -> Proposal:
    """Create a proposal, charge its sponsor ``F`` once and open one funded market per branch.

    Writes: the proposal (collateral ``F``), ``K + 1`` markets (``q = 0``,
    ``b = ⌊F / ln n⌋``, maker cash ``F``, the window copied), the sponsor's cash ``−F``
    and one SUBSIDY ledger operation (see the module docstring). Flushes only.

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
    _window(spec, utcnow())  # before binding, which reads the opening day from opens_at
    binding = bind_metric(session, spec.metric_version_id, spec.opens_at)
    lo, hi = bounds_for(binding, spec.lo, spec.hi)
    checked = validate_spec(replace(spec, metric_version_id=binding.version_id, lo=lo, hi=hi))
    get_account(session, sponsor_account_id)
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
        status=MarketStatus.OPEN.value,
        created_at=utcnow(),
    )
    session.add(proposal)
    session.flush()
    n_branches = len(checked.branch_names)
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
    return proposal


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

    Locks the proposal row, then its market rows (the global locking order), so a trade
    in flight finishes first and every later trade sees the market closed. Closing a
    closed proposal changes nothing. Merges remain allowed until settlement; splits stop.

    Raises:
        UnknownProposal: there is none.
        MarketClosed: the proposal is settled (a settled market never changes).
    """
    proposal = repo.get_proposal(session, proposal_id, for_update=True)
    if proposal.status == MarketStatus.SETTLED:
        raise MarketClosed(f"proposal {proposal_id} is settled; it cannot be closed again")
    if proposal.status == MarketStatus.CLOSED:
        return proposal
    proposal.status = MarketStatus.CLOSED.value
    # an ORM-enabled UPDATE also refreshes market objects already loaded in this session
    session.execute(
        update(Market)
        .where(Market.proposal_id == proposal_id)
        .values(status=MarketStatus.CLOSED.value)
    )
    session.flush()
    return proposal
