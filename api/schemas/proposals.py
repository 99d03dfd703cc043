"""Schemas for proposals: K policy alternatives plus the status quo, one market per branch."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, FiniteFloat

from api.money import Amount, PositiveAmount
from api.schemas.base import FreeText, RequestModel
from api.schemas.markets import MarketRead
from market.models import AssetKind, Market, MarketStatus, Proposal
from market.proposals import ProposalSpec


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
        )


class ProposalRead(BaseModel):
    """A proposal with its branch markets (alternatives in order, the status quo last)."""

    id: int
    title: str
    description: str
    metric_version_id: str
    asset_kind: AssetKind
    lo: float
    hi: float
    bin_edges: list[float] | None
    opens_at: datetime
    closes_at: datetime
    subsidy: Amount = Field(description="F per branch.")
    collateral: Amount = Field(description="Cash locked behind the conditional cash.")
    sponsor_account_id: int
    status: MarketStatus
    created_at: datetime
    markets: list[MarketRead]

    @classmethod
    def of(cls, proposal: Proposal, markets: list[Market], now: datetime) -> ProposalRead:
        """The API form of a proposal and its markets."""
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
            status=MarketStatus(proposal.status),
            created_at=proposal.created_at,
            markets=[MarketRead.of(m, proposal, now) for m in markets],
        )


class ProposalPage(BaseModel):
    """A page of proposals by id. To read on, pass ``after_id`` = ``next_after_id``."""

    proposals: list[ProposalRead]
    next_after_id: int | None
