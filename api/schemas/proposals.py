"""Schemas for proposals: K policy alternatives plus the status quo, one market per branch,
and the decision terms fixed at creation (decision time, rule, seed commitment, what
settles it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, FiniteFloat

from api.money import Amount, PositiveAmount
from api.schemas.base import FreeText, RequestModel
from api.schemas.markets import MarketRead
from market.decision import MAX_WINDOW_SECONDS, VALUE_LIMIT, DecisionRule
from market.models import AssetKind, Market, Proposal, ProposalStatus
from market.proposals import ProposalSpec, RuleSpec, SettlesOnSpec, rule_of, settles_on_of

PERIOD_PATTERN = r"^[0-9]{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$"
"""A year (``2007``), a quarter (``2007-Q3``) or a month (``2007-09``)."""

SEED_PATTERN = r"^([0-9a-fA-F]{2}){16,512}$"
"""A seed in hex: 16 to 512 bytes (32 to 1024 hex digits)."""

Mode = Literal["none", "ipw", "randomised_only"]

_REVEALED = frozenset({ProposalStatus.DECIDED, ProposalStatus.SETTLED, ProposalStatus.UNWOUND})
"""Statuses after which the seed is public (the decision revealed it, or none can come)."""


class DecisionRuleIn(RequestModel):
    """The decision rule; every field may be left out for its default."""

    window_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW_SECONDS,
        description=(
            "W: the averaging window, seconds, ending at decides_at. Default: the trading "
            "time before the decision rounded down to whole hours, between 1 h and 24 h "
            "(all of it when shorter than an hour); a whole number of intervals."
        ),
    )
    interval_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW_SECONDS,
        description=(
            "I: the observation interval, seconds; W must be a whole multiple of it. "
            "Default 3600, or the window when shorter."
        ),
    )
    cap: FiniteFloat | None = Field(
        default=None,
        gt=0,
        le=VALUE_LIMIT,
        description=(
            "Welfare units an interval's observation moves toward the live value at most "
            "(absolute, never a percentage). Default (hi − lo) / 100."
        ),
    )
    threshold: FiniteFloat | None = Field(
        default=None,
        ge=0,
        le=VALUE_LIMIT,
        description=(
            "δ, welfare units: an alternative is adopted only if its average beats the "
            "status quo's by MORE than δ. Default 0 (ties keep the status quo)."
        ),
    )
    epsilon: FiniteFloat | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="ε: the exploration probability spread over all branches. Default 0.",
    )
    exploration_mode: Mode | None = Field(
        default=None,
        description=(
            "none (exactly when ε = 0, the default); ipw: the executed branch is drawn from "
            "d and profits there are scaled by 1/d (costs liquidity: b = F·d_min/ln n with "
            "d_min = ε/(K+1), and buys need a margin); randomised_only: with probability ε "
            "a uniformly drawn branch settles, otherwise every bet is unwound."
        ),
    )

    def spec(self) -> RuleSpec:
        """The service's form."""
        return RuleSpec(**self.model_dump())


class SettlesOnIn(RequestModel):
    """What settles the proposal: the bound metric version's certified measurement."""

    period: str = Field(
        pattern=PERIOD_PATTERN,
        description="The measured period: a year, a quarter or a month.",
        examples=["2007"],
    )
    entity: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The measured entity; default the metric version's own entity.",
    )
    cutoff: date | None = Field(
        default=None,
        description=(
            "The measurement's data cut-off; default none: whichever measurement of the "
            "version, entity and period the council certifies (at most one ever is)."
        ),
    )

    def spec(self) -> SettlesOnSpec:
        """The service's form."""
        return SettlesOnSpec(period=self.period, entity=self.entity, cutoff=self.cutoff)


class ProposalCreate(RequestModel):
    """A new proposal. The sponsor (the calling admin) pays the subsidy ``F`` once."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(examples=["Raise the school leaving age"])
    description: FreeText = ""
    alternatives: list[str] = Field(
        description="The K ≥ 1 policy alternatives (unique names); the status quo is added.",
        examples=[["Leave at 17", "Leave at 18"]],
    )
    status_quo_name: str = "Status quo"
    metric_version_id: str | None = Field(
        default=None,
        max_length=100,
        description=(
            "The welfare metric version the markets bind to. Default: the adopted version "
            "in force on the day trading opens; a version named must be that one (409 "
            "otherwise)."
        ),
    )
    asset_kind: AssetKind = Field(
        default=AssetKind.SCALAR,
        description="scalar: LONG/SHORT on [lo, hi]; binned: one outcome per bin.",
    )
    lo: FiniteFloat | None = Field(
        default=None,
        description="The metric version's lower tradable bound (default); if sent, must equal it.",
    )
    hi: FiniteFloat | None = Field(
        default=None,
        description="The metric version's upper tradable bound (default); if sent, must equal it.",
    )
    bin_edges: list[FiniteFloat] | None = Field(
        default=None,
        description="Binned only: n + 1 increasing edges, the first = lo, the last = hi.",
        examples=[[0.0, 0.25, 0.5, 0.75, 1.0]],
    )
    opens_at: AwareDatetime | None = Field(
        default=None, description="Start of trading (default: now). With a time zone."
    )
    closes_at: AwareDatetime = Field(description="End of trading, with a time zone.")
    subsidy: PositiveAmount = Field(
        description="F: the market maker's loss budget in each branch, paid once by the sponsor."
    )
    decides_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the markets decide (default: closes_at). In the future, no later than "
            "closes_at, and at least one observation interval after opens_at."
        ),
    )
    decision: DecisionRuleIn | None = Field(
        default=None, description="The decision rule (default: every field's default)."
    )
    seed: str | None = Field(
        default=None,
        pattern=SEED_PATTERN,
        description=(
            "Your secret seed for the exploration draw, hex (32 to 1024 digits). Default: the "
            "server draws 32 random bytes and keeps them. Only SHA-256(seed) is shown until "
            "the decision reveals the seed."
        ),
    )
    settles_on: SettlesOnIn | None = Field(
        default=None,
        description=(
            "What settles the proposal. Without it the proposal can be decided and unwound "
            "but never settled."
        ),
    )

    def spec(self, now: datetime) -> ProposalSpec:
        """The service's definition (``opens_at`` defaults to ``now``)."""
        return ProposalSpec(
            title=self.title,
            alternatives=tuple(self.alternatives),
            metric_version_id=self.metric_version_id,
            asset_kind=self.asset_kind,
            lo=self.lo,
            hi=self.hi,
            opens_at=self.opens_at or now,
            closes_at=self.closes_at,
            subsidy_micros=self.subsidy,
            bin_edges=None if self.bin_edges is None else tuple(self.bin_edges),
            description=self.description,
            status_quo_name=self.status_quo_name,
            decides_at=self.decides_at,
            decision=None if self.decision is None else self.decision.spec(),
            seed=None if self.seed is None else bytes.fromhex(self.seed),
            settles_on=None if self.settles_on is None else self.settles_on.spec(),
        )


class DecisionRuleRead(BaseModel):
    """A decision rule (`market.decision.DecisionRule`), fixed at creation."""

    window_seconds: int = Field(description="W: the averaging window, seconds.")
    interval_seconds: int = Field(description="I: the observation interval, seconds.")
    cap: float = Field(description="Welfare units an observation moves per interval at most.")
    threshold: float = Field(description="δ, welfare units.")
    epsilon: float = Field(description="ε, the exploration probability.")
    exploration_mode: Mode

    @classmethod
    def of(cls, rule: DecisionRule) -> DecisionRuleRead:
        """The API form of a rule."""
        return cls(
            window_seconds=rule.window_seconds,
            interval_seconds=rule.interval_seconds,
            cap=rule.cap,
            threshold=rule.threshold,
            epsilon=rule.epsilon,
            exploration_mode=rule.exploration_mode,
        )


class SettlesOnRead(BaseModel):
    """What settles a proposal."""

    entity: str
    period: str
    cutoff: date | None = Field(description="null: whichever measurement is certified.")


class ProposalRead(BaseModel):
    """A proposal with its branch markets (alternatives in order, the status quo last)."""

    id: int
    title: str
    description: str
    metric_version_id: str | None = Field(
        description="null only for older proposals whose id named no stored version."
    )
    asset_kind: AssetKind
    lo: float
    hi: float
    bin_edges: list[float] | None
    opens_at: datetime
    closes_at: datetime
    subsidy: Amount = Field(description="F per branch.")
    collateral: Amount = Field(description="Cash locked behind the conditional cash.")
    sponsor_account_id: int
    status: ProposalStatus = Field(description="open → closed → decided → settled | unwound.")
    created_at: datetime
    decides_at: datetime | None = Field(description="When the markets decide.")
    decision_rule: DecisionRuleRead | None = Field(description="Fixed at creation.")
    decision_rule_hash: str | None = Field(
        description=(
            "SHA-256 of the canonical JSON of {decision, decides_at, seed_commitment, settles_on}."
        )
    )
    seed_commitment: str | None = Field(description="SHA-256 of the secret seed, hex.")
    seed: str | None = Field(
        description="The seed, hex: null until the decision reveals it (GET …/decision)."
    )
    settles_on: SettlesOnRead | None = Field(
        description="What settles it; null: it can never settle, only be unwound."
    )
    liquidity: Amount = Field(
        description=(
            "b of every branch: F / ln n, or F · d_min / ln n with ipw exploration "
            "(exploration costs liquidity)."
        )
    )
    markets: list[MarketRead]

    @classmethod
    def of(cls, proposal: Proposal, markets: list[Market], now: datetime) -> ProposalRead:
        """The API form of a proposal and its markets."""
        rule = rule_of(proposal)
        settles_on = settles_on_of(proposal)
        status = ProposalStatus(proposal.status)
        return cls(
            id=proposal.id,
            title=proposal.title,
            description=proposal.description,
            metric_version_id=proposal.metric_version_id,
            asset_kind=AssetKind(proposal.asset_kind),
            lo=proposal.lo,
            hi=proposal.hi,
            bin_edges=None if proposal.bin_edges is None else list(proposal.bin_edges),
            opens_at=proposal.opens_at,
            closes_at=proposal.closes_at,
            subsidy=int(proposal.subsidy_micros),
            collateral=int(proposal.collateral_micros),
            sponsor_account_id=proposal.sponsor_account_id,
            status=status,
            created_at=proposal.created_at,
            decides_at=proposal.decides_at,
            decision_rule=None if rule is None else DecisionRuleRead.of(rule),
            decision_rule_hash=proposal.decision_rule_hash,
            seed_commitment=proposal.seed_commitment,
            seed=proposal.seed_hex if status in _REVEALED else None,
            settles_on=None
            if settles_on is None
            else SettlesOnRead(
                entity=settles_on.entity, period=settles_on.period, cutoff=settles_on.cutoff
            ),
            liquidity=int(markets[0].b_micros) if markets else 0,
            markets=[MarketRead.of(m, proposal, now) for m in markets],
        )


class ProposalPage(BaseModel):
    """A page of proposals by id. To read on, pass ``after_id`` = ``next_after_id``."""

    proposals: list[ProposalRead]
    next_after_id: int | None
